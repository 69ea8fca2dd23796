"""The training and evaluation loops (`train`, `evaluate_accuracy`).

Metrics are accumulated on the device and read back only every `SYNC_EVERY` batches (to watch for
NaN and to keep MXNet's asynchronous queue short) and once per epoch. On a CPU each batch's update
is waited for (no read: `nd.waitall`) before the next batch is queued; see `_wait_each_batch`. The
caller's network is used as given: nothing here initializes or re-initializes it, and a network the
caller did not hybridize stays imperative; one the caller hybridized is switched to MXNet's static
memory planning (see `_plan_memory_once`). Everything a run does comes from its arguments (the
profile is never consulted). Mixed precision is benchmarks/mixed_precision.py's (no chapter uses
it).
"""
import math
import time

import numpy as np
import pandas as pd

from . import config, shared_results
from .i18n import translate
from .compat import import_mxnet

mx = import_mxnet()
nd, autograd = mx.nd, mx.autograd

SYNC_EVERY = 20
HISTORY_COLUMNS = ['epoch', 'loss', 'train_acc', 'test_acc', 'seconds', 'examples_per_sec']


def _correct(output, y):
    """Number of correct predictions, as a 1-element NDArray on the device (no host sync)."""
    if output.dtype != np.float32:  # AMP outputs float16/bfloat16: compare in float32
        output = output.astype('float32')
    return (output.argmax(axis=1) == y.astype('float32')).sum()


def _plan_memory_once(net):
    """Re-hybridize a network the caller hybridized with static_alloc and static_shape.

    MXNet then plans the graph's memory once and reuses it every batch instead of allocating per
    call (benchmarks/README.md: about 10% faster LeNet epochs on the CPU); a batch of another size
    (the last one, the test set) still works, it re-plans. The caller's other flags are kept.
    A network that is not hybridized (or not a HybridBlock) is left alone.
    """
    if not (isinstance(net, mx.gluon.HybridBlock) and net._active):
        return
    flags = dict(net._flags)
    if flags.get('static_alloc') and flags.get('static_shape'):
        return
    flags.update(static_alloc=True, static_shape=True)
    net.hybridize(backend=net._backend, **flags, **net._backend_opts)


def _wait_each_batch(ctx):
    """Whether the loop waits for each batch's update before queueing the next (CPUs only).

    On a CPU MXNet's operators run on OpenMP threads, one per core: a Python thread that keeps
    queueing work meanwhile takes a core from one of them, and the other waits for it at every
    parallel region. Waiting after each batch leaves the cores to the operators (benchmarks/
    README.md, "Waiting for each batch on a CPU": LeNet's epoch 1.09-1.81x faster on 2 busy cores,
    the same numbers). On a GPU the queue runs ahead as before: the GPU never waits for Python."""
    return ctx.device_type == 'cpu'


def evaluate_accuracy(data, net, ctx):
    """Fraction of examples in `data` that `net` classifies correctly (one read from the device)."""
    correct, count = nd.zeros((1,), ctx=ctx), 0
    for X, y in data:
        X, y = X.as_in_context(ctx), y.as_in_context(ctx)
        correct += _correct(net(X), y)
        count += X.shape[0]
    return correct.asscalar() / max(count, 1)


def _describe(train_data, test_data, num_epochs):
    parts = []
    for data in (train_data, test_data):
        if hasattr(data, 'describe'):
            parts.append(data.describe())
        elif hasattr(data, '__len__'):
            parts.append(translate("{n} batches").format(n=len(data)))
    size = getattr(train_data, 'batch_size', None)
    batch = translate(", batch {size}").format(size=size) if size else ""
    epochs = translate("{n} epochs" if num_epochs != 1 else "{n} epoch").format(n=num_epochs)
    return translate("{loaders}{batch}, {epochs}").format(loaders=' / '.join(parts), batch=batch,
                                                          epochs=epochs)


def _progress(total, desc, enabled):
    if enabled is None:
        # The book build sets COURSE_PROGRESS=0: a notebook progress widget needs JavaScript from
        # the internet on the static site. Students running a notebook get the bar.
        enabled = config.current().progress
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit='batch', leave=False)


class _Diverged(Exception):
    pass


def train(train_data, test_data, net, loss, trainer, ctx, num_epochs, *, progress=None):
    """Train `net` for `num_epochs` epochs; print one line per epoch; return the history.

    Returns a pandas DataFrame with columns epoch, loss, train_acc, test_acc, seconds,
    examples_per_sec (seconds is wall time including data loading), indexed by the epoch (from 1). Stops early, returning the
    epochs so far, if the loss becomes NaN/infinite (message says why) or on Ctrl-C.
    progress: tqdm bar over the batches (default: on, unless $COURSE_PROGRESS is 0).
    In the book build the run is made once for both editions (utils.shared_results).
    """
    return shared_results.train_once(_train, train_data, test_data, net, loss, trainer, ctx,
                                     num_epochs, progress=progress)


def _train(train_data, test_data, net, loss, trainer, ctx, num_epochs, *, progress, run_epoch=None):
    """train()'s loop; run_epoch (default: train one epoch) is how an epoch's row is obtained."""
    run_epoch = run_epoch or _train_epoch
    _plan_memory_once(net)
    print(translate("Training on {ctx} | {what}").format(
        ctx=ctx, what=_describe(train_data, test_data, num_epochs)))
    rows = []
    for epoch in range(1, num_epochs + 1):  # epochs count from 1 (printout, history, plots)
        try:
            row = run_epoch(train_data, test_data, net, loss, trainer, ctx, epoch, progress)
        except _Diverged as stop:
            print(stop.args[0])
            break
        except KeyboardInterrupt:
            print(translate("Interrupted during epoch {epoch}; returning the history of the "
                            "epochs finished before it ({done}).").format(epoch=epoch, done=len(rows)))
            break
        rows.append(row)
        print(translate("Epoch {epoch}. Loss: {loss:.3f}, Train acc {train_acc:.2f}, "
                        "Test acc {test_acc:.2f}, Time {seconds:.1f} sec").format(
            epoch=epoch, loss=row['loss'], train_acc=row['train_acc'], test_acc=row['test_acc'],
            seconds=row['seconds']))
    return _history(rows)


def _history(rows):
    """The DataFrame `train` returns: one row per finished epoch, its index the epoch (1, 2, ...)
    so that a displayed table numbers its rows as the printout does; the epoch column stays."""
    epochs = pd.Index([row['epoch'] for row in rows], dtype='int64')
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS, index=epochs)


def _train_epoch(train_data, test_data, net, loss, trainer, ctx, epoch, progress, scaler=None):
    """One epoch's row. scaler: MXNet's AMP module, which scales the loss before the backward pass
    (benchmarks/mixed_precision.py), or None."""
    total_loss = nd.zeros((1,), ctx=ctx)
    correct = nd.zeros((1,), ctx=ctx)
    count, batches, pending = 0, 0, None
    wait_each_batch = _wait_each_batch(ctx)
    bar = _progress(len(train_data) if hasattr(train_data, '__len__') else None,
                    f'epoch {epoch}', progress)
    start = time.time()
    try:
        for X, y in train_data:
            X, y = X.as_in_context(ctx), y.as_in_context(ctx)
            with autograd.record():
                output = net(X)
                batch_loss = loss(output, y)
                if scaler is not None:
                    with scaler.scale_loss(batch_loss, trainer) as scaled:
                        to_differentiate = scaled
                else:
                    to_differentiate = batch_loss
            to_differentiate.backward()
            trainer.step(X.shape[0])
            total_loss += batch_loss.sum()
            correct += _correct(output, y)
            count += X.shape[0]
            batches += 1
            if wait_each_batch:
                nd.waitall()
            if bar is not None:
                bar.update(1)  # counts batches queued; no device read
            if batches % SYNC_EVERY == 0:
                # Read the snapshot taken SYNC_EVERY batches ago: the queue never drains completely.
                if pending is not None:
                    _check_finite(pending, epoch, batches - SYNC_EVERY, bar)
                pending = (total_loss / count).copy()
        mean_loss = (total_loss / max(count, 1)).asscalar()
        if not math.isfinite(mean_loss):
            _stop(mean_loss, epoch, batches)
        train_acc = correct.asscalar() / max(count, 1)
        test_acc = evaluate_accuracy(test_data, net, ctx)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.time() - start
    return dict(epoch=epoch, loss=mean_loss, train_acc=train_acc, test_acc=test_acc,
                seconds=seconds, examples_per_sec=count / seconds)


def _check_finite(snapshot, epoch, batch, bar):
    value = snapshot.asscalar()
    if not math.isfinite(value):
        _stop(value, epoch, batch)
    if bar is not None:
        bar.set_postfix(loss=f'{value:.3f}')


def _stop(value, epoch, batch):
    raise _Diverged(translate(
        "Stopped: the training loss became {value} in epoch {epoch} (by batch {batch}). "
        "The learning rate is probably too large for this network (try 10x smaller), or the "
        "initialization is poor (try init.Xavier()). Returning the history of the finished epochs."
    ).format(value=value, epoch=epoch, batch=batch))
