"""Evidence the grader computes itself: a notebook's trained parameters, re-evaluated.

Two sides, one format:
- In the student's kernel, an exercise's grader probe (a master cell tagged `grader-probe`, which
  the grader runs after the notebook's last cell) calls `pack_parameters(net)` or
  `sample_parameters(net, seed)`. The result is plain data (lists of numpy arrays), which the
  sandbox exports like the notebook's own variables: big arrays in float16 and in chunks, because
  the export caps one array at 5 million elements and all of them at 200 MB (AlexNet's second
  dense layer alone has 16.8 million weights).
- In the grader's test process, hidden tests call `load_parameters`, `seeded_parameters`,
  `grader_examples` and `loss_and_accuracy`: they put the exported numbers into the course's own
  network (`utils.alexnet()`, `utils.lenet()`), never the notebook's code, and evaluate it on
  examples the grader draws with its own seed. Whatever the notebook reports is only a claim
  compared with that.
Nothing here trusts the packed data: every shape, size and type is checked (`EvidenceError`).

Several hidden tests of one exercise re-score the same networks on the same examples (exercise 1's
q1 and q2 both score each network on the training and test subsets): within one test process,
`unpack`, `load_parameters`, `grader_examples` and `loss_and_accuracy` (prediction mode) give the
same object or number for the same inputs again instead of recomputing it (`_Memo`). Objects are
held while cached, so an `id` is never reused for another one.
"""
import hashlib
import os

import numpy as np

from . import config

CHUNK = 4_000_000          # elements per exported array (the sandbox allows 5 million)
HALF_ABOVE = 100_000       # arrays larger than this travel as float16 (precision 5e-4)


class EvidenceError(ValueError):
    """The exported evidence is missing or malformed."""


# ----------------------------------------------------------------------------- probe side

def _arrays(net):
    params = list(net.collect_params().values())
    return [p.data().asnumpy() for p in params]


def pack_parameters(net):
    """{'shapes': [[...], ...], 'data': [[chunk, ...], ...]} of every parameter of `net`, in
    `collect_params()` order; None if `net` is not an initialized Gluon network."""
    try:
        arrays = _arrays(net)
    except Exception:  # not a network, or parameters not created yet
        return None
    shapes, data = [], []
    for a in arrays:
        flat = a.astype(np.float16 if a.size > HALF_ABOVE else np.float32).ravel()
        shapes.append([int(n) for n in a.shape])
        data.append([flat[i:i + CHUNK] for i in range(0, max(flat.size, 1), CHUNK)])
    return {'shapes': shapes, 'data': data}


def sample_indices(shape, seed, count):
    """`count` flat positions of an array of `shape`, drawn from `seed` (the grader's)."""
    size = int(np.prod(shape))
    rng = np.random.default_rng([int(seed) % 2**32, size])
    return rng.choice(size, size=min(count, size), replace=False)


def sample_parameters(net, seed, count=512):
    """A small, unforeseeable sample of `net`'s parameters: for each, its shape and its values
    (float32) at `sample_indices(shape, seed, count)`; None if `net` has no parameters yet."""
    try:
        arrays = _arrays(net)
    except Exception:
        return None
    return {'shapes': [[int(n) for n in a.shape] for a in arrays],
            'values': [a.ravel()[sample_indices(a.shape, seed, count)].astype(np.float32)
                       for a in arrays]}


def pack_or_sample(net, seed):
    """`pack_parameters(net)` when every parameter is finite, else (a diverged run, whose
    values say nothing more) only `sample_parameters(net, seed)`: small, and it shows the
    non-finite values."""
    packed = pack_parameters(net)
    if packed is None or all(np.isfinite(c).all() for chunks in packed['data'] for c in chunks):
        return packed
    return sample_parameters(net, seed)


def _nbytes(packed):
    if packed is None:
        return 0
    if 'data' in packed:
        return sum(c.nbytes for chunks in packed['data'] for c in chunks)
    return sum(v.nbytes for v in packed['values'])


def pack_several(nets, seed, budget=150 * 2**20):
    """{'names': sorted names, 'nets': {name: pack_or_sample(net)}} of a dict of networks, as
    many as fit in `budget` bytes, starting at the one the grader's `seed` picks (always
    included), so that a notebook cannot know which of its networks will be re-scored."""
    if not isinstance(nets, dict) or not nets or not all(isinstance(k, str) for k in nets):
        return None
    names = sorted(nets)
    start = int(seed) % len(names)
    out = {}
    for name in names[start:] + names[:start]:
        packed = pack_or_sample(nets[name], seed)
        if out and _nbytes(packed) > budget:
            break
        out[name] = packed
        budget -= _nbytes(packed)
    return {'names': names, 'nets': out}


# ----------------------------------------------------------------------------- test side

class _Memo:
    """Results by key, for the life of the (test) process: the inputs keyed by `id` are held in
    the entry, so that their ids cannot be reused while the entry exists."""

    def __init__(self):
        self.entries = {}

    def get(self, key, compute, *held):
        if key not in self.entries:
            self.entries[key] = (compute(), held)
        return self.entries[key][0]


_memo = _Memo()


def _shapes(packed, what):
    if not isinstance(packed, dict) or not isinstance(packed.get('shapes'), list):
        raise EvidenceError(f"no {what} from the grader's probe (did the notebook define it?)")
    shapes = []
    for s in packed['shapes']:
        if not isinstance(s, (list, tuple)) or not all(isinstance(n, int) and n >= 0 for n in s):
            raise EvidenceError(f"malformed {what}")
        shapes.append(tuple(s))
    return shapes


def _per_array(packed, key, what):
    """[(shape, packed[key][i])]: each array's shape beside its entry under `key`, checked to be
    as many as the shapes."""
    shapes = _shapes(packed, what)
    entries = packed.get(key)
    if not isinstance(entries, list) or len(entries) != len(shapes):
        raise EvidenceError(f"malformed {what}")
    return list(zip(shapes, entries))


def _flat_floats(value):
    """Whether `value` is a one-dimensional array of floats (as the probe packs them)."""
    return isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind == 'f'


def unpack(packed, what='parameters'):
    """The float32 arrays of `pack_parameters`'s output, checked (the same list for the same
    `packed` object again)."""
    return _memo.get(('unpack', id(packed), what), lambda: _unpack(packed, what), packed)


def _unpack(packed, what):
    out = []
    for shape, chunks in _per_array(packed, 'data', what):
        if not isinstance(chunks, list) or not all(_flat_floats(c) for c in chunks):
            raise EvidenceError(f"malformed {what}")
        flat = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
        if flat.size != int(np.prod(shape)):
            raise EvidenceError(f"malformed {what}: {flat.size} values for shape {shape}")
        out.append(flat.reshape(shape))
    return out


def unpack_sample(packed, seed, what='parameter sample'):
    """[(shape, flat positions, values)] of `sample_parameters`'s output, checked against the
    positions the grader's seed gives."""
    out = []
    for shape, v in _per_array(packed, 'values', what):
        index = sample_indices(shape, seed, len(v) if isinstance(v, np.ndarray) else 0)
        if not _flat_floats(v) or v.size != index.size or v.size == 0:
            raise EvidenceError(f"malformed {what}")
        out.append((shape, index, v.astype(np.float32)))
    return out


def _mx():
    from .compat import import_mxnet
    return import_mxnet()


def open_evidence(packed, seed, what='parameters'):
    """(arrays or None, finite) of `pack_or_sample`'s output: all the parameters when they were
    finite, else None and whether the sample holds a non-finite value (False when it does)."""
    if isinstance(packed, dict) and 'data' in packed:
        arrays = unpack(packed, what)
        return arrays, all_finite(arrays)
    sample = unpack_sample(packed, seed, what)
    return None, all(np.isfinite(values).all() for _, _, values in sample)


def _build(make_net, side):
    mx = _mx()
    net = make_net()
    net.initialize(mx.init.Zero())  # every value is replaced by set_data: no random draws needed
    net(mx.nd.zeros((1, 1, side, side)))
    return net


def load_parameters(make_net, arrays, side):
    """`make_net()` (the course's own architecture) holding `arrays`, for inputs side x side (the
    same network for the same `arrays` list again: `unpack` returns one list per export)."""
    return _memo.get(('net', make_net, id(arrays), side), lambda: _load(make_net, arrays, side), arrays)


def _load(make_net, arrays, side):
    mx = _mx()
    net = _build(make_net, side)
    params = list(net.collect_params().values())
    if [tuple(p.shape) for p in params] != [a.shape for a in arrays]:
        raise EvidenceError(f"the parameters do not fit {make_net.__name__}() at {side}x{side} "
                            f"inputs: {len(arrays)} arrays, shapes {[a.shape for a in arrays][:4]}...")
    for p, a in zip(params, arrays):
        p.set_data(mx.nd.array(a))
    return net


_seeded = {}


def seeded_parameters(make_net, initializer, side):
    """The parameters a notebook gets from `mx.random.seed(0)`, `make_net()`,
    `net.initialize(initializer)` and a first forward pass (on the CPU, as in the grader's
    sandbox): a list of numpy arrays. `initializer` is the name of an `mx.init` class with its
    arguments, e.g. ('Xavier',) or ('Uniform', 0.07), so that results can be cached (in this
    process, and in the grader's cache folder: `_disk_cached`)."""
    key = (make_net.__name__, initializer, side)
    if key not in _seeded:
        def draw():
            mx = _mx()
            mx.random.seed(0)
            net = make_net()
            net.initialize(getattr(mx.init, initializer[0])(*initializer[1:]))
            net(mx.nd.zeros((1, 1, side, side)))
            return [p.data().asnumpy() for p in net.collect_params().values()]
        _seeded[key] = _disk_cached(('seeded', _mx().__version__, *key), draw)
    return _seeded[key]


CACHE_ENV = 'COURSE_EVIDENCE_CACHE'  # read by utils.config


def _disk_cached(key, compute):
    """compute() (a list of numpy arrays), kept in the folder $COURSE_EVIDENCE_CACHE under a
    name made from `key` when that variable is set. The grader's test processes set it to a
    folder of the grading process (grading/testproc.py), outside every sandbox, so that each
    test process of a batch does not redraw the same seeded networks or decode the same
    Fashion-MNIST files again (seconds each). Written atomically; an unreadable entry is
    computed again."""
    folder = config.current().evidence_cache
    if not folder or not os.path.isdir(folder):
        return compute()
    path = os.path.join(folder, hashlib.sha256(repr(key).encode()).hexdigest()[:32] + '.npz')
    try:
        with np.load(path, allow_pickle=False) as stored:
            return [stored[f'a{i}'] for i in range(len(stored.files))]
    except (OSError, ValueError, KeyError):
        pass
    arrays = compute()
    import tempfile
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, **{f'a{i}': a for i, a in enumerate(arrays)})
        os.replace(tmp, path)
    except OSError:
        if os.path.exists(tmp):
            os.remove(tmp)
    return arrays


def relative_change(arrays, reference):
    """Largest relative change of one array: max over arrays of |a - r| / (|r| + 1e-12) (norms)."""
    if [a.shape for a in arrays] != [r.shape for r in reference]:
        return float('inf')
    return max(float(np.linalg.norm(a - r) / (np.linalg.norm(r) + 1e-12))
               for a, r in zip(arrays, reference))


def biases_moved(arrays):
    """True if some bias (a 1-D parameter: every initializer of MXNet starts them at zero) is
    not zero: the network took a training step, whatever its initialization was."""
    return any(a.ndim == 1 and np.any(a != 0) for a in arrays)


def trained(arrays, reference=None):
    """The parameters moved: some bias left zero and, given the seeded initialization
    (`seeded_parameters`), some array changed by more than 0.1 % of its size."""
    return biases_moved(arrays) and (reference is None or relative_change(arrays, reference) > 1e-3)


def all_finite(arrays):
    return all(np.isfinite(a).all() for a in arrays)


def grader_examples(settings, split, count, seed, resize=None, batch_size=256,
                    subset_size_key=None):
    """Up to `count` examples of the notebook's `split` ('train' or 'test') subset (as
    `load_data_fashion_mnist` makes it from `settings`), drawn with the grader's `seed`, as
    batches of (X, y) at `resize`. All of them (in order) when the subset has at most `count`;
    the same batches object for the same examples again."""
    sizes = (settings.train_examples, settings.test_examples)
    images, labels = _memo.get(('subset', sizes, split), lambda: _subset(settings, split))
    if count is not None and count >= len(labels):
        count = None   # every example: the same batches whatever `count` asked for
    key = ('examples', sizes, split, count, None if count is None else int(seed) % 2**32, resize,
           batch_size)
    return _memo.get(key, lambda: _batches(images, labels, count, seed, resize, batch_size))


def _subset(settings, split):
    """(images, labels), numpy, of the notebook's `split` subset (read once per process, and kept
    in the grader's cache folder, keyed by the data files: `_disk_cached`)."""
    from . import data
    folder = data.dataset_folder()
    files = [(name, os.stat(folder / name).st_size, os.stat(folder / name).st_mtime_ns)
             for name in data.SPLITS[split]]

    def read():
        train, test = data.load_data_fashion_mnist(
            256, train_examples=settings.train_examples, test_examples=settings.test_examples,
            ctx=_mx().cpu())
        source = train if split == 'train' else test
        return [source.images.asnumpy(), source.labels.asnumpy()]
    sizes = (settings.train_examples, settings.test_examples)
    return tuple(_disk_cached(('subset', str(folder), files, sizes, split), read))


def _batches(images, labels, count, seed, resize, batch_size):
    from . import data
    if count is not None:
        pick = np.sort(np.random.default_rng([int(seed) % 2**32, 7]).choice(len(labels), count,
                                                                               replace=False))
        images, labels = images[pick], labels[pick]
    return data.Batches(images, labels, batch_size, resize, shuffle=False, ctx=_mx().cpu())


def loss_and_accuracy(net, examples, training=False):
    """(mean cross-entropy, accuracy) of `net` on `examples`, in prediction mode (dropout off), or
    with training=True as a training step sees them (dropout on: what a curve's first batch
    records), without changing the network. In prediction mode, the same pair for the same
    network and examples objects again (the parameters of a loaded network are not changed)."""
    if training:
        return _score(net, examples, training)
    return _memo.get(('score', id(net), id(examples)), lambda: _score(net, examples, False), net, examples)


def _score(net, examples, training):
    mx = _mx()
    loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    total, correct, count = 0.0, 0.0, 0
    for X, y in examples:
        if training:
            with mx.autograd.train_mode():
                out = net(X)
        else:
            out = net(X)
        total += float(loss(out, y).sum().asscalar())
        correct += float((out.argmax(axis=1) == y.astype('float32')).sum().asscalar())
        count += X.shape[0]
    return total / max(count, 1), correct / max(count, 1)


def agrees(measured, claimed):
    """The tolerance between a loss the grader measures from the parameters (after the last step,
    dropout off) and the loss a curve or history reports (during training, dropout on): within
    0.5 or 30 %; both above 100 (an explosion) also agree."""
    if measured > 100 and claimed > 100:
        return True
    return abs(measured - claimed) <= max(0.5, 0.3 * abs(claimed))


def exploded(net, examples):
    """The network diverged: its loss on `examples` is not finite or above 100."""
    value = loss_and_accuracy(net, examples)[0]
    return not np.isfinite(value) or value > 100


def sampling_tolerance(count, population):
    """Four standard errors of an accuracy measured on `count` of `population` examples (zero
    when all are used), so that a grader-drawn sample cannot fail an honest run by chance."""
    if count is None or count >= population:
        return 0.0
    return 4 * float(np.sqrt(0.25 / count * (1 - count / population)))


def digest(arrays):
    """A short fingerprint of a list of arrays (to cache evaluations of the same parameters)."""
    h = hashlib.sha1()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
