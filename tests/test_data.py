"""utils.data: local folders checked by structure, downloads verified and written atomically."""
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import utils
from utils import data
from conftest import idx_bytes, write_fake_fashion_mnist


def batches_to_numpy(batches):
    xs, ys = zip(*[(X.asnumpy(), y.asnumpy()) for X, y in batches])
    return np.concatenate(xs), np.concatenate(ys)


# ---------------------------------------------------------------- local folder, batches

def test_batches_have_the_documented_shape_type_and_range(fake_data_dir):
    folder, arrays = fake_data_dir
    train, test = utils.load_data_fashion_mnist(8, root=folder, train_examples=None, test_examples=None)
    X, y = next(iter(train))
    assert X.shape == (8, 1, 28, 28) and X.dtype == np.float32 and y.shape == (8,)
    assert len(train) == 5 and len(test) == 3 and train.num_examples == 40
    Xt, yt = batches_to_numpy(test)
    images, labels = arrays['t10k']
    # test split: file order, exact values scaled to [0, 1], last batch may be short
    np.testing.assert_allclose(Xt[:, 0], images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(yt, labels)
    assert 0.0 <= Xt.min() and Xt.max() <= 1.0


def test_train_batches_are_reshuffled_every_epoch_and_test_batches_are_not(fake_data_dir):
    folder, arrays = fake_data_dir
    train, test = utils.load_data_fashion_mnist(8, root=folder, train_examples=None, test_examples=None)
    (X1, y1), (X2, y2) = batches_to_numpy(train), batches_to_numpy(train)
    assert not np.array_equal(X1, X2), "train order must change between epochs"
    images = arrays['train'][0] / 255.0
    key = lambda a: sorted(map(bytes, (a * 255).round().astype(np.uint8).reshape(len(a), -1)))
    assert key(X1[:, 0]) == key(X2[:, 0]) == key(images), "each epoch covers every example once"
    np.testing.assert_array_equal(batches_to_numpy(test)[1], batches_to_numpy(test)[1])


def test_resize_works_on_whole_batches(fake_data_dir):
    folder, _ = fake_data_dir
    train, _ = utils.load_data_fashion_mnist(16, resize=96, root=folder, train_examples=None)
    X, _ = next(iter(train))
    assert X.shape == (16, 1, 96, 96) and train.image_size == 96
    assert 0.0 <= X.min().asscalar() and X.max().asscalar() <= 1.0 + 1e-6


def test_resize_of_a_flat_image_stays_flat(tmp_path):
    folder = tmp_path / 'flat'
    write_fake_fashion_mnist(folder)
    flat = np.full((10, 28, 28), 200, np.uint8)
    (folder / 't10k-images-idx3-ubyte.gz').write_bytes(gzip.compress(idx_bytes(flat, 2051)))
    (folder / 't10k-labels-idx1-ubyte.gz').write_bytes(gzip.compress(idx_bytes(np.arange(10), 2049)))
    _, test = utils.load_data_fashion_mnist(10, resize=224, root=folder, test_examples=None)
    X, _ = next(iter(test))
    np.testing.assert_allclose(X.asnumpy(), 200 / 255.0, atol=1e-5)


def test_environment_variable_names_the_folder(fake_data_dir, monkeypatch):
    folder, _ = fake_data_dir
    monkeypatch.setattr(utils.config, '_current',
                        utils.config.from_environment({'FASHION_MNIST_DIR': str(folder)}))
    train, test = utils.load_data_fashion_mnist(4)
    assert (train.num_examples, test.num_examples) == (40, 24)


def test_sizes_come_from_the_arguments_only(real_data_dir, monkeypatch):
    for profile in ('smoke', 'cpu'):  # the profile in force changes nothing here
        monkeypatch.setattr(utils.config, '_current',
                            utils.config.from_environment({'COURSE_PROFILE': profile}))
        train, test = utils.load_data_fashion_mnist(64, root=real_data_dir)
        assert (train.num_examples, test.num_examples) == (60000, 10000)
    train, test = utils.load_data_fashion_mnist(64, root=real_data_dir, train_examples=1000,
                                                test_examples=None)
    assert (train.num_examples, test.num_examples) == (1000, 10000)
    labels = batches_to_numpy(train)[1]
    assert set(labels.tolist()) == set(range(10))
    again, _ = utils.load_data_fashion_mnist(64, root=real_data_dir, train_examples=1000)
    assert (again.labels.asnumpy() == train.labels.asnumpy()).all()  # the same subset each time


@pytest.mark.parametrize('bad', ['profile', 0, -5, 2.5, True])
def test_a_size_that_is_not_a_count_says_what_to_pass(fake_data_dir, bad):
    folder, _ = fake_data_dir
    with pytest.raises(ValueError, match=r'positive whole number.*None for all.*settings\.train_examples'):
        utils.load_data_fashion_mnist(8, root=folder, train_examples=bad)


@pytest.mark.parametrize('damage, message', [
    ('missing', 'is missing'),
    ('truncated_gzip', 'damaged'),
    ('wrong_magic', 'magic number'),
    ('short_body', 'truncated'),
    ('count_mismatch', 'labels'),
    ('bad_label', 'labels must be 0..9'),
    ('wrong_size', '28x28'),
])
def test_a_damaged_folder_gives_an_error_that_names_the_file(tmp_path, damage, message):
    folder = tmp_path / damage
    write_fake_fashion_mnist(folder)
    images = folder / 'train-images-idx3-ubyte.gz'
    labels = folder / 'train-labels-idx1-ubyte.gz'
    raw = gzip.decompress(images.read_bytes())
    if damage == 'missing':
        images.unlink()
    elif damage == 'truncated_gzip':
        images.write_bytes(images.read_bytes()[:500])
    elif damage == 'wrong_magic':
        images.write_bytes(gzip.compress(b'\x00\x00\x08\x01' + raw[4:]))
    elif damage == 'short_body':
        images.write_bytes(gzip.compress(raw[:-100]))
    elif damage == 'count_mismatch':
        labels.write_bytes(gzip.compress(idx_bytes(np.zeros(39), 2049)))
    elif damage == 'bad_label':
        labels.write_bytes(gzip.compress(idx_bytes(np.full(40, 10), 2049)))
    elif damage == 'wrong_size':
        images.write_bytes(gzip.compress(idx_bytes(np.zeros((40, 27, 27)), 2051)))
    with pytest.raises(data.DatasetError, match=message) as err:
        utils.load_data_fashion_mnist(8, root=folder)
    assert 'train-' in str(err.value)


def test_a_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(data.DatasetError, match='does not exist.*unset'):
        utils.load_data_fashion_mnist(8, root=tmp_path / 'nowhere')


def test_bad_arguments_are_refused(fake_data_dir):
    folder, _ = fake_data_dir
    with pytest.raises(ValueError, match='batch_size'):
        utils.load_data_fashion_mnist(0, root=folder)
    with pytest.raises(ValueError, match='resize'):
        utils.load_data_fashion_mnist(8, resize=-3, root=folder)


# ---------------------------------------------------------------- downloads over real HTTP

class Mirror:
    """A real HTTP server on 127.0.0.1 serving a folder; `mode` damages what it sends."""

    def __init__(self, folder, mode='good'):
        self.folder, self.mode, self.requests = Path(folder), mode, []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                mirror.requests.append(self.path)
                path = mirror.folder / self.path.lstrip('/').split('/')[-1]
                if mirror.mode == '404' or not path.exists():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                if mirror.mode == 'corrupt':
                    mid = len(body) // 2
                    body = body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1:]
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if mirror.mode == 'truncated':  # promise the whole file, send half, hang up
                    body = body[:len(body) // 2]
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/fashion/'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def dead_url():
    """An address where nothing listens (a port that was just free)."""
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return f'http://127.0.0.1:{port}/'


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Official-looking files on disk, their MD5s installed as the 'official' ones, an empty cache."""
    source = tmp_path / 'upstream'
    write_fake_fashion_mnist(source)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in source.glob('*.gz')}
    monkeypatch.setattr(data, 'OFFICIAL_MD5', md5)
    cache = tmp_path / 'cache'
    # as if the notebook started without FASHION_MNIST_DIR and with this cache (read by utils.config)
    monkeypatch.setattr(utils.config, '_current',
                        utils.config.from_environment({'XDG_CACHE_HOME': str(cache)}))
    mirrors = []

    def start(mode):
        m = Mirror(source, mode)
        mirrors.append(m)
        return m
    yield source, cache / 'lenet-to-alexnet' / 'fashion-mnist', start
    for m in mirrors:
        m.close()


def cache_listing(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_falls_back_to_the_second_mirror_and_never_downloads_twice(served, monkeypatch):
    source, cache, start = served
    good = start('good')
    monkeypatch.setattr(data, 'MIRRORS', [dead_url(), good.url])
    train, test = utils.load_data_fashion_mnist(8, train_examples=None, test_examples=None)
    assert (train.num_examples, test.num_examples) == (40, 24)
    assert cache_listing(cache) == sorted(data.OFFICIAL_MD5)  # no partial files left
    for name in data.OFFICIAL_MD5:
        assert (cache / name).read_bytes() == (source / name).read_bytes()
    assert len(good.requests) == 4
    utils.load_data_fashion_mnist(8)
    assert len(good.requests) == 4, "verified files must not be downloaded again"


def test_a_corrupted_download_is_rejected_and_the_next_mirror_used(served, monkeypatch):
    _, cache, start = served
    bad, good = start('corrupt'), start('good')
    monkeypatch.setattr(data, 'MIRRORS', [bad.url, good.url])
    utils.load_data_fashion_mnist(8)
    assert len(bad.requests) == 4 and len(good.requests) == 4
    assert cache_listing(cache) == sorted(data.OFFICIAL_MD5)


@pytest.mark.parametrize('mode', ['truncated', 'corrupt', '404'])
def test_when_every_mirror_fails_the_error_names_the_file_and_nothing_is_left(served, monkeypatch, mode):
    _, cache, start = served
    m1, m2 = start(mode), start(mode)
    monkeypatch.setattr(data, 'MIRRORS', [m1.url, m2.url])
    with pytest.raises(data.DatasetError) as err:
        utils.load_data_fashion_mnist(8)
    text = str(err.value)
    first = next(iter(data.OFFICIAL_MD5))  # the first file it tried
    assert f'Could not download {first}' in text and m1.url in text and m2.url in text
    assert 'FASHION_MNIST_DIR' in text
    assert cache_listing(cache) == [], "no partial or unverified file may stay in the cache"


def test_no_network_gives_a_clear_error(served, monkeypatch):
    _, cache, _ = served
    monkeypatch.setattr(data, 'MIRRORS', [dead_url(), dead_url()])
    with pytest.raises(data.DatasetError, match='internet connection'):
        utils.load_data_fashion_mnist(8)
    assert cache_listing(cache) == []


def test_a_damaged_cached_file_is_downloaded_again(served, monkeypatch):
    source, cache, start = served
    good = start('good')
    monkeypatch.setattr(data, 'MIRRORS', [good.url])
    utils.load_data_fashion_mnist(8)
    (cache / 't10k-labels-idx1-ubyte.gz').write_bytes(b'garbage')
    utils.load_data_fashion_mnist(8)
    assert good.requests.count('/fashion/t10k-labels-idx1-ubyte.gz') == 2
    assert len(good.requests) == 5
    assert (cache / 't10k-labels-idx1-ubyte.gz').read_bytes() == (source / 't10k-labels-idx1-ubyte.gz').read_bytes()


def test_the_official_checksums_are_the_published_ones():
    # a typo here would make every real download fail its check
    assert data.OFFICIAL_MD5['train-images-idx3-ubyte.gz'] == '8d4fb7e6c68d591d4c3dfef9ec88bf0d'
    assert set(data.OFFICIAL_MD5) == {n for pair in data.SPLITS.values() for n in pair}
