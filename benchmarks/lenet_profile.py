"""Where one LeNet epoch's time goes: data, forward, backward, update, host reads; then per operator.

The `lenet28` case of vs_d2l.py (chapter 1's `utils.lenet()`, Xavier, batch 256, SGD lr 0.5,
seed 0, 28x28, all 60,000 training images), trained three ways in one process:

1. **split**: one epoch with `nd.waitall()` after each phase of every batch, so each phase's
   time is its own (MXNet queues work asynchronously; without the waits a phase's time would
   land in whichever later call first waits for it). The sum is slower than a real epoch (no
   overlap of Python and computation) but shows the proportions;
2. **as utils.train**: one epoch of the same loop with only `utils.train`'s waits (on a CPU one
   `nd.waitall()` after each batch's update, a host read every `SYNC_EVERY` batches), for the real
   speed, with the process's CPU time per batch beside the wall time; then one epoch of
   `utils.train` itself (its seconds include evaluating the 256 test images);
3. **operators**: one epoch under MXNet's profiler (`mx.profiler`, aggregate statistics), with
   the graph's operator bulking off (bulk size 1) so that each operator is timed on its own.

    .venv/bin/python -m benchmarks.lenet_profile              # ~1-2 minutes on 2 idle cores
    .venv/bin/python -m benchmarks.lenet_profile --batches 40 # a check

Prints markdown tables (milliseconds per batch). Nothing is written to disk except MXNet's profile
in the temporary folder.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

from tests.offline_data import fashion_mnist_dir

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('FASHION_MNIST_DIR', str(fashion_mnist_dir()))  # before utils reads it

import utils  # noqa: E402

mx = utils.mx
nd, autograd, gluon = mx.nd, mx.autograd, mx.gluon
PHASES = ('data', 'forward', 'backward', 'update', 'metrics', 'host read')


def setup(n_batches, seed=0):
    mx.random.seed(seed)
    train, _ = utils.load_data_fashion_mnist(256, train_examples=n_batches and 256 * n_batches,
                                             test_examples=256, ctx=mx.cpu(), seed=seed)
    net = utils.lenet()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.hybridize(static_alloc=True, static_shape=True)  # what utils.train makes of net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})
    return train, net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer


def split_epoch(train, net, loss, trainer):
    """ms per batch of each phase, each phase waited for; the host read is utils.train's one
    read every SYNC_EVERY batches, here made every batch at its cost / SYNC_EVERY."""
    totals, batches = dict.fromkeys(PHASES, 0.0), 0
    total_loss, correct = nd.zeros((1,)), nd.zeros((1,))
    batch_iter, clock = iter(train), time.perf_counter()

    def lap(phase):
        nonlocal clock
        nd.waitall()
        now = time.perf_counter()
        totals[phase] += now - clock
        clock = now
    for X, y in batch_iter:
        lap('data')
        with autograd.record():
            output = net(X)
            batch_loss = loss(output, y)
        lap('forward')
        batch_loss.backward()
        lap('backward')
        trainer.step(X.shape[0])
        lap('update')
        total_loss += batch_loss.sum()
        correct += (output.argmax(axis=1) == y.astype('float32')).sum()
        lap('metrics')
        if batches % utils.training.SYNC_EVERY == 0:
            total_loss.asscalar()
        lap('host read')
        batches += 1
    return {phase: 1000 * seconds / batches for phase, seconds in totals.items()}, batches


def async_epoch(train, net, loss, trainer):
    """Wall and process CPU ms per batch of an epoch with utils.train's waits: on a CPU one
    nd.waitall() after each batch's update, a host read every SYNC_EVERY batches."""
    total_loss, batches = nd.zeros((1,)), 0
    wait_each_batch = utils.training._wait_each_batch(mx.cpu())
    nd.waitall()
    start, cpu_start = time.perf_counter(), time.process_time()
    for X, y in train:
        with autograd.record():
            batch_loss = loss(net(X), y)
        batch_loss.backward()
        trainer.step(X.shape[0])
        total_loss += batch_loss.sum()
        batches += 1
        if wait_each_batch:
            nd.waitall()
        if batches % utils.training.SYNC_EVERY == 0:
            total_loss.asscalar()
    nd.waitall()
    return (1000 * (time.perf_counter() - start) / batches,
            1000 * (time.process_time() - cpu_start) / batches)


def utils_train_epoch(train, net, loss, trainer):
    """Seconds and images/s of one epoch of utils.train itself, as it reports them."""
    _, test = utils.load_data_fashion_mnist(256, test_examples=256, train_examples=256,
                                            ctx=mx.cpu(), seed=0)
    row = utils.train(train, test, net, loss, trainer, mx.cpu(), 1, progress=False).iloc[-1]
    return row['seconds'], row['examples_per_sec']


def operator_table(train, net, loss, trainer, top=12):
    path = os.path.join(tempfile.gettempdir(), 'lenet_profile.json')
    mx.profiler.set_config(profile_imperative=True, profile_symbolic=True, aggregate_stats=True,
                           filename=path)
    net.hybridize(static_alloc=True, static_shape=True, forward_bulk_size=1, backward_bulk_size=1)
    async_epoch(train, net, loss, trainer)  # builds the unbulked graph
    mx.profiler.set_state('run')
    batches = len(train)
    async_epoch(train, net, loss, trainer)
    mx.profiler.set_state('stop')
    rows = []
    for line in mx.profiler.dumps(reset=True).split('operator\n', 1)[1].splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[1].isdigit():
            rows.append((float(parts[2]) / batches, parts[0], int(parts[1]) // batches))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    lines = ['| operator | calls per batch | ms per batch | share |', '|---|---|---|---|']
    lines += [f'| {name} | {calls} | {ms:.2f} | {ms / total:.0%} |' for ms, name, calls in rows[:top]]
    lines.append(f'| all {len(rows)} operators | | {total:.2f} | 100% |')
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--batches', type=int, default=None, help='batches (default: all 235)')
    args = parser.parse_args()
    train, net, loss, trainer = setup(args.batches)
    async_epoch(train, net, loss, trainer)  # warm-up: graphs built, memory planned
    split, batches = split_epoch(train, net, loss, trainer)
    real, real_cpu = async_epoch(train, net, loss, trainer)
    seconds, images_per_second = utils_train_epoch(train, net, loss, trainer)
    print(f"LeNet, batch 256, {batches} batches, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
          f", MXNET_CPU_PARALLEL_SIZE={os.environ.get('MXNET_CPU_PARALLEL_SIZE')}"
          f", load average {os.getloadavg()[0]:.2f}\n")
    print('| phase (each waited for) | ms per batch | share |\n|---|---|---|')
    for phase, ms in split.items():
        print(f'| {phase} | {ms:.2f} | {ms / sum(split.values()):.0%} |')
    print(f'| sum | {sum(split.values()):.2f} | 100% |')
    print(f'\nEpoch with utils.train\'s waits: {real:.2f} ms per batch ({real_cpu:.2f} ms of CPU), '
          f'{256_000 / real:,.0f} images/s')
    print(f'utils.train, one epoch: {seconds:.2f} s, {images_per_second:,.0f} images/s\n')
    print('\n'.join(operator_table(train, net, loss, trainer)))


if __name__ == '__main__':
    main()
