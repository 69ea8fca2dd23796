"""One execution, two editions: the book build's expensive results, computed once and shared.

The book executes every notebook twice, once per language (the Chinese notebook's code is the
English code with one extra line). Training runs and speed measurements would then be made twice
and the two editions would print different numbers for the same experiment. When the build sets
COURSE_SHARED_RESULTS (read by utils.config) to a folder, `remember` keeps each such result there
the first time (with the trained parameters of a training run) and gives it back to the second
edition, which then shows the same numbers in its own language. Students never set it: then every
call simply computes.

A result is keyed by what produced it: its kind and inputs (network architecture and initial
weights, data loaders, optimizer, sizes), the code of every notebook cell run so far in the kernel
(normalised so that the two editions' one differing line compares equal) and how many identical
calls came before. Changed code before a call gives a new key, so it is computed again. After each
shared result the random generators are re-seeded from its key, so the code after it draws the same
random numbers whether the result was computed or read back.

Also kept for every measurement, shared or not: the machine's load when it was made
(`last_load()`), so a page can say next to a speed how busy the machine was.
"""
import hashlib
import os
import pickle
import random
import re
import tempfile
from collections import Counter, namedtuple
from pathlib import Path

import numpy as np

from . import config

Load = namedtuple('Load', 'average cores')  # 1-minute load average, logical cores
# The Chinese notebook's path line, with the comment it may carry (the Colab hint, in Chinese).
_LANGUAGE_LINE = re.compile(r"sys\.path\.append\('\.\./\.\.'\); from utils\.i18n import "
                            r"use_language; use_language\('\w+'\)[ \t]*(#[^\n]*)?")
# The `import utils` line: the English one carries the Colab hint as a comment, the Chinese one is
# bare (its path line above says it in Chinese; scripts/colab_cell.py).
_IMPORT_LINE = re.compile(r"^import utils[ \t]*(#[^\n]*)?$", re.MULTILINE)
_calls = Counter()
_last_load = None


def machine_load():
    """The load now: the 1-minute load average (processes running or waiting) and logical cores."""
    try:
        average = os.getloadavg()[0]
    except (OSError, AttributeError):  # not on this platform
        average = float('nan')
    return Load(average, os.cpu_count() or 1)


def last_load():
    """The machine's load when the latest measurement or training run was made (None before)."""
    return _last_load


def folder():
    """The shared results' folder (None when results are not shared: outside the book build)."""
    path = config.current().shared_results
    if path is None:
        return None
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


def cells_run_so_far():
    """The code of the notebook cells run so far in this kernel, the two editions made equal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return ''
    shell = get_ipython()
    cells = shell.user_ns.get('In', []) if shell is not None else []
    return '\n'.join(same_in_both_editions(cell) for cell in cells)


def same_in_both_editions(cell):
    """A cell's code with the Chinese notebook's path line written as the English one, and the
    `import utils` line without its comment."""
    return _IMPORT_LINE.sub('import utils', _LANGUAGE_LINE.sub("sys.path.append('..')", cell))


def key_for(kind, inputs):
    """The key of the next call of `kind` with `inputs` (counted: a repeated call gets its own)."""
    digest = hashlib.sha256(repr((kind, inputs)).encode())
    digest.update(cells_run_so_far().encode())
    base = digest.hexdigest()
    _calls[base] += 1
    return f'{kind}-{hashlib.sha256(f"{base}#{_calls[base]}".encode()).hexdigest()[:24]}'


def _reseed(key):
    seed = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    from .compat import import_mxnet
    import_mxnet().random.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _write_atomically(path, data):
    """Write bytes so that a reader sees the whole file or none (a killed build leaves no half)."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix='.tmp-')
    with os.fdopen(handle, 'wb') as out:
        out.write(data)
    os.replace(tmp, path)


def remember(kind, compute, *inputs, save=None, restore=None, keep=None):
    """compute()'s result: computed, or read back when the build already has it for these inputs.

    kind: a short name of what is computed; inputs: everything (repr-able) the result depends on
    besides the code run before. save(path_prefix) / restore(path_prefix, result): keep and bring
    back state the result does not hold (a network's trained weights); keep(result) False: not
    stored (computed again next time). Records the machine's load.
    """
    global _last_load
    where = folder()
    if where is None:
        result = compute()
        _last_load = machine_load()
        return result
    key = key_for(kind, inputs)
    stored = where / f'{key}.pkl'
    if stored.exists():
        result, _last_load = pickle.loads(stored.read_bytes())
        if restore is not None:
            restore(where / key, result)
    else:
        result = compute()
        _last_load = machine_load()
        if keep is not None and not keep(result):
            return result
        if save is not None:
            save(where / key)
        _write_atomically(stored, pickle.dumps((result, _last_load)))
    _reseed(key)
    return result


def describe_network(net):
    """A network as a cache input: its architecture and, where initialized, a digest of weights."""
    digest = hashlib.sha256()
    for name, param in sorted(net.collect_params().items()):
        try:
            digest.update(param.data().asnumpy().tobytes())
        except Exception:  # deferred initialization: shapes known only after the first batch
            digest.update(repr(param.shape).encode())
    return repr(net), digest.hexdigest()


def describe_loader(data):
    """A data loader as a cache input: kind, sizes and (the course's loader) labels and shuffling
    state. Not its describe(): that is in the reader's language."""
    inner = _course_loader(data)
    if inner is not None and inner is not data:  # a wrapper: its kind, then what it wraps
        return (type(data).__name__,) + describe_loader(inner)
    labels = getattr(data, 'labels', None)
    rng = getattr(data, '_rng', None)
    return (type(data).__name__, len(data) if hasattr(data, '__len__') else None,
            *(getattr(data, name, None) for name in ('batch_size', 'num_examples', 'image_size',
                                                      'shuffle', 'split')),
            hashlib.sha256(labels.asnumpy().tobytes()).hexdigest() if labels is not None else None,
            repr(rng.bit_generator.state) if rng is not None and data.shuffle else None)


def describe_trainer(trainer):
    optimizer = trainer.optimizer
    return (type(optimizer).__name__, optimizer.learning_rate, optimizer.wd,
            getattr(optimizer, 'momentum', None))


def _course_loader(data):
    """The course's loader inside `data` (a wrapper such as BlankImages keeps it as .data)."""
    for _ in range(3):
        if data is None or hasattr(data, '_rng'):
            return data
        data = getattr(data, 'data', None)
    return None


def _rng_states(loaders):
    """The shuffling generators' states of the course's loaders (they advance during training)."""
    return [loader._rng.bit_generator.state if loader is not None else None
            for loader in map(_course_loader, loaders)]


def trains_once(kind, compute, net, trainer, loaders, ctx, *inputs, replay=None, keep=None):
    """compute()'s result, where compute trains `net` with `trainer` on `loaders`: computed once
    per build; the second edition gets the result, the trained weights, the optimizer's state and
    the loaders' shuffling state. replay(result): what the second edition runs instead of
    compute (to print the run's lines in its language); its return value is the result."""
    if folder() is None:
        return remember(kind, compute)  # records the load
    inputs = (describe_network(net), *map(describe_loader, loaders), describe_trainer(trainer),
              str(ctx), *inputs)

    def save(prefix):
        net.save_parameters(f'{prefix}.params')
        trainer.save_states(f'{prefix}.states')

    def restore(prefix, stored):
        result, loader_states = stored
        replayed.append(replay(result) if replay is not None else result)
        net.load_parameters(f'{prefix}.params', ctx=ctx)
        trainer.load_states(f'{prefix}.states')
        for loader, state in zip(map(_course_loader, loaders), loader_states):
            if state is not None:
                loader._rng.bit_generator.state = state

    replayed = []
    stored = remember(kind, lambda: (compute(), _rng_states(loaders)), *inputs, save=save,
                      restore=restore, keep=keep and (lambda result: keep(result[0])))
    return replayed[0] if replayed else stored[0]


def train_once(run_training, train_data, test_data, net, loss, trainer, ctx, num_epochs,
               **options):
    """utils.train's result, trained once per build: the second edition gets the same epochs.

    run_training(..., run_epoch=None) is train's loop; the second edition runs it with the stored
    epochs instead of training (so its lines are printed in its own language). A run that stopped
    early (a diverging loss) is never stored: it runs again.
    """
    def train(run_epoch=None):
        return run_training(train_data, test_data, net, loss, trainer, ctx, num_epochs,
                            run_epoch=run_epoch, **options)

    def replay(history):
        epochs = iter(history.to_dict('records'))
        return train(run_epoch=lambda *args, **kwargs: next(epochs))

    return trains_once('train', train, net, trainer, (train_data, test_data), ctx, num_epochs,
                       replay=replay,
                       keep=lambda history: len(history) == num_epochs)


if config.current().shared_results:
    # The same random numbers in both editions from the first cell on (the notebooks set no seed).
    _reseed('start of the notebook')
