"""Fashion-MNIST: download (or read a local copy), decode once, serve batches of the sizes asked.

The whole dataset is decoded once into memory as uint8 and kept as an NDArray on the chosen
device; a batch is gathered with one `take`, converted to float, and (if asked) resized as a whole
batch by MXNet. No per-image Python work, no worker processes.
"""
import gzip
import hashlib
import http.client
import os
import shutil
import struct
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from . import config, devices
from .i18n import translate
from .compat import import_mxnet

mx = import_mxnet()
nd = mx.nd

CLASS_NAMES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat',
               'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']

# name -> MD5 published by Zalando Research for the official files.
OFFICIAL_MD5 = {
    'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
    'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
    't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
    't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310',
}
MIRRORS = [
    'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
]
SPLITS = {'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
          'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}
DOWNLOAD_TIMEOUT_S = 60


class DatasetError(RuntimeError):
    """A dataset file is missing, damaged or could not be downloaded."""


def default_cache_dir():
    """Where downloads are kept (from $XDG_CACHE_HOME, read in utils.config)."""
    return config.current().cache_dir


# ---------------------------------------------------------------- download and verify

def _md5(path):
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _download_one(name, folder):
    """Fetch `name` into `folder` from the first mirror that serves a file with the official MD5.

    Each attempt writes to a temporary file in the same folder and renames it only once verified,
    so an interrupted or bad download never leaves a partial file under the real name.
    """
    target = folder / name
    problems = []
    for mirror in MIRRORS:
        url = mirror + name
        fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix='.part', dir=folder)
        try:
            with os.fdopen(fd, 'wb') as out, \
                    urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                shutil.copyfileobj(response, out)
            got = _md5(tmp)
            if got != OFFICIAL_MD5[name]:
                problems.append(f'{url}: checksum {got} is not the official {OFFICIAL_MD5[name]}')
                continue
            os.replace(tmp, target)
            return target
        except (OSError, ValueError, http.client.HTTPException) as err:
            # URLError, HTTPError and timeouts are OSErrors; a cut-off body is IncompleteRead.
            problems.append(f'{url}: {err}')
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise DatasetError(
        f"Could not download {name}; tried:\n  " + '\n  '.join(problems) +
        f"\nCheck your internet connection and try again, or download the four Fashion-MNIST files "
        f"yourself into one folder and point the course at it with "
        f"FASHION_MNIST_DIR=/that/folder (or root=...)."
    )


def ensure_downloaded(cache_dir=None):
    """Make sure the four official files are in the cache, verified; return the folder.

    A cached file whose MD5 matches is never downloaded again; one that does not match is replaced.
    """
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name, md5 in OFFICIAL_MD5.items():
        path = folder / name
        if path.exists() and _md5(path) == md5:
            continue
        _download_one(name, folder)
    return folder


# ---------------------------------------------------------------- decode and check structure

def _read_idx(path, magic, kind):
    try:
        with gzip.open(path, 'rb') as f:
            raw = f.read()
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing. Put the four Fashion-MNIST .gz files in "
                           f"{path.parent}, or unset FASHION_MNIST_DIR to download them.") from None
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DatasetError(f"{path} is damaged ({err}): it is not a complete gzip file. "
                           f"Replace it with a fresh copy of {path.name}.") from None
    header = 16 if kind == 'images' else 8
    if len(raw) < header or struct.unpack('>I', raw[:4])[0] != magic:
        raise DatasetError(f"{path} is not an IDX {kind} file (magic number should be {magic}). "
                           f"Check that the file names match their contents.")
    count = struct.unpack('>I', raw[4:8])[0]
    if kind == 'images':
        rows, cols = struct.unpack('>II', raw[8:16])
        if (rows, cols) != (28, 28):
            raise DatasetError(f"{path} holds {rows}x{cols} images; Fashion-MNIST is 28x28.")
        expected = count * 28 * 28
    else:
        expected = count
    body = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if body.size != expected:
        raise DatasetError(f"{path} says it holds {count} {kind} but has data for "
                           f"{body.size / (expected / max(count, 1)):.0f}: the file is truncated "
                           f"or padded. Replace it with a fresh copy.")
    return body.reshape(count, 28, 28) if kind == 'images' else body


_decoded = {}


def read_split(folder, split):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of 'train' or 'test', checked by structure."""
    image_file, label_file = (Path(folder) / n for n in SPLITS[split])
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else str(p)
                for p in (image_file, label_file))
    if key not in _decoded:
        images = _read_idx(image_file, 2051, 'images')
        labels = _read_idx(label_file, 2049, 'labels')
        if len(images) != len(labels):
            raise DatasetError(f"{image_file.name} has {len(images)} images but {label_file.name} "
                               f"has {len(labels)} labels. Use files from the same release.")
        if labels.size and labels.max() > 9:
            raise DatasetError(f"{label_file} has label {labels.max()}; labels must be 0..9.")
        _decoded[key] = (images, labels)
    return _decoded[key]


def dataset_folder(root=None):
    """The folder to read: root=, else $FASHION_MNIST_DIR (both used as-is), else the download cache."""
    root = root or config.current().fashion_mnist_dir
    if root:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise DatasetError(f"Fashion-MNIST folder {folder} does not exist. Fix root= / "
                               f"FASHION_MNIST_DIR, or unset it to download the official files.")
        return folder
    return ensure_downloaded()


# ---------------------------------------------------------------- batches

class Batches:
    """Iterable of (X, y): X float32 (batch, 1, H, W) in [0, 1], y int32 (batch,), on `ctx`.

    Train batches are reshuffled every epoch (each `iter()`); test batches keep file order.
    """

    def __init__(self, images, labels, batch_size, resize, shuffle, ctx, seed=None, split=''):
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if resize is not None and resize < 1:
            raise ValueError(f"resize must be a positive integer (pixels) or None, got {resize}")
        self.images = nd.array(images, ctx=ctx, dtype='uint8')  # decoded once, kept on the device
        self.labels = nd.array(labels, ctx=ctx, dtype='int32')
        self.num_examples = len(labels)
        self.batch_size = batch_size
        self.image_size = resize or 28
        self.shuffle = shuffle
        self.ctx = ctx
        self.split = split
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-self.num_examples // self.batch_size)

    def __iter__(self):
        order = (self._rng.permutation(self.num_examples) if self.shuffle
                 else np.arange(self.num_examples))
        order = nd.array(order, ctx=self.ctx, dtype='int32')
        for start in range(0, self.num_examples, self.batch_size):
            idx = order[start:start + self.batch_size]
            X = nd.take(self.images, idx).astype('float32') / 255
            if self.image_size != 28:
                X = _resize(X, self.image_size)
            else:
                X = X.reshape((-1, 1, 28, 28))  # a view: expand_dims would copy the batch
            yield X, nd.take(self.labels, idx)

    def describe(self):
        """One line for the reader (in the reader's language, see utils.i18n)."""
        if self.split not in ('train', 'test'):
            return f"{self.num_examples:,} {self.split} images at {self.image_size}x{self.image_size}"
        return translate("{n:,} train images at {size}x{size}" if self.split == 'train' else
                         "{n:,} test images at {size}x{size}").format(n=self.num_examples,
                                                                      size=self.image_size)


def _resize(X, size):
    """Bilinear resize of a whole batch (B, h, w) -> (B, 1, size, size) as two matrix products.

    Same pixels as Gluon's transforms.Resize (OpenCV's INTER_LINEAR: samples at pixel centres,
    edges clamped), which d2l applies image by image, to within 1/255 (Resize rounds to uint8; this
    stays float). Y = A X B^T with fixed interpolation matrices A (size x h), B (size x w): the
    second product is one large multiply whose result is already in (batch, row, column) order.
    Measured 3x faster than nd.contrib.BilinearResize2D, whose default (align_corners=True) also
    differs from Resize by up to 141/255.
    """
    batch, h, w = X.shape
    A, Bt = _interp_matrix(size, h, X.context), _interp_matrix(size, w, X.context, transpose=True)
    rows = nd.dot(A, X.transpose((1, 0, 2)).reshape((h, -1)))           # (size, batch * w)
    rows = rows.reshape((size, batch, w)).transpose((1, 0, 2))           # (batch, size, w)
    return nd.dot(rows.reshape((-1, w)), Bt).reshape((batch, 1, size, size))


_interp_matrices = {}


def _interp_matrix(n_out, n_in, ctx, transpose=False):
    """(n_out, n_in) matrix of OpenCV INTER_LINEAR weights (each row sums to 1), or its transpose.
    Cached per device."""
    key = (n_out, n_in, str(ctx), transpose)
    if key not in _interp_matrices:
        src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        weights = np.zeros((n_out, n_in), np.float32)
        np.add.at(weights, (np.arange(n_out), lo), 1 - (src - lo))
        np.add.at(weights, (np.arange(n_out), hi), src - lo)
        _interp_matrices[key] = nd.array(weights.T.copy() if transpose else weights, ctx=ctx)
    return _interp_matrices[key]


def _check_count(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"{name} must be a positive whole number of examples, or None for all of them; got "
            f"{value!r}. A notebook passes its profile's size, e.g. {name}=settings.{name}.")
    return int(value)


def _subset(images, labels, n, seed):
    """A fixed random subset of n examples (all of them if n is None)."""
    if n is None or n >= len(labels):
        return images, labels
    order = np.random.default_rng(seed).permutation(len(labels))[:n]
    return images[order], labels[order]


def load_data_fashion_mnist(batch_size, resize=None, root=None, *, train_examples=None,
                            test_examples=None, ctx=None, seed=0):
    """(train, test) batch iterables of Fashion-MNIST.

    batch_size: examples per batch. resize: side in pixels (e.g. 224) or None for 28x28.
    root: folder holding the four official .gz files (else $FASHION_MNIST_DIR, else download).
    train_examples / test_examples: use a fixed random subset of this many examples (the same for
      the same seed); None (the default) for all 60,000 / 10,000. Sizes come only from these
      arguments: a notebook passes its profile's sizes (`settings.train_examples`).
    ctx: device that holds the decoded dataset and makes the batches (default: `try_gpu()`, so on
      a GPU the images never leave it and are resized there, and a CPU-only machine uses the CPU).
    """
    train_examples = _check_count('train_examples', train_examples)
    test_examples = _check_count('test_examples', test_examples)
    folder = dataset_folder(root)
    ctx = ctx or devices.try_gpu()
    train_images, train_labels = _subset(*read_split(folder, 'train'), train_examples, seed)
    test_images, test_labels = _subset(*read_split(folder, 'test'), test_examples, seed + 1)
    train = Batches(train_images, train_labels, batch_size, resize, shuffle=True, ctx=ctx,
                    seed=seed, split='train')
    test = Batches(test_images, test_labels, batch_size, resize, shuffle=False, ctx=ctx,
                   split='test')
    return train, test
