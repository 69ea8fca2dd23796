"""LeNet's training step computed different ways: which costs least on this CPU (issue 19).

The `lenet28` case of vs_d2l.py (chapter 1's LeNet, batch 256, 28x28, SGD lr 0.5) trained on the
same real batches by each variant, each in its own process, once with one OpenMP thread and once
with two. Per variant it prints:

  cpu ms/batch   process CPU time per batch with ONE thread: the work itself. It hardly depends on
                 what other programs do (one thread never waits for a second one), so it compares
                 variants on a shared machine where wall times do not;
  wall ms/batch  median wall time per batch over chunks of batches, with 1 and with 2 threads
                 (`utils` gives MXNet one thread per physical core: 2 here). Depends on the load;
  cpu ms/batch, 2 threads
                 the same with two threads: above the one-thread figure by what the threads spend
                 spinning while they wait for each other;
  same function  largest difference of the network's outputs from `utils.lenet()`'s on one batch,
                 both with the same parameters ('-': a different network, for timing only).

Variants:
  gluon-static      utils.lenet() hybridized with static memory (what utils.train runs today)
  gluon-imperative  utils.lenet() not hybridized (as d2l's chapters run it)
  mkldnn-off        gluon-static with MXNET_MKLDNN_ENABLED=0 (MXNet's im2col + OpenBLAS GEMM)
  im2col-fc         both convolutions as im2col + one FullyConnected GEMM, same parameters
  im2col-dot        both as im2col + one dot over the whole batch (the weight gradient becomes
                    one GEMM whose inner size is batch x positions), same parameters
  channels-16       NOT the same network: 32 and 64 channels, multiples of 16. MXNet 1.9 only
                    accepts oneDNN layouts of the array's own size, so for 20 and 50 channels
                    oneDNN's blocked direct convolutions (which pad to 16) are refused and its
                    im2col + GEMM kernel runs; this shows what zero-padding the channels to 16
                    could at best give.
  zero-padded       both convolutions computed with zero channels appended (32 and 64), the extra
                    outputs cut off: the same function and parameters as utils.lenet()

The same network as gluon-static under other OpenMP settings (environment variables, see ENV):
  parallel-copy     MXNET_CPU_PARALLEL_SIZE=200000, MXNet's default, as before commit 37eff2c: the
                    loader's large copy starts a second OpenMP team and libgomp throttles its
                    spin-wait (benchmarks/README.md, "The second OpenMP team")
  spin-1k, spin-10k, spin-100k
                    GOMP_SPINCOUNT=1000, 10000, 100000: how long libgomp's idle threads spin
                    before they sleep (default 300,000 when no second team throttles it)

Each batch is waited for (`nd.waitall()`) as `utils.train` does on a CPU. `--busy N` runs N
busy-looping processes beside the measurements, to see on an idle machine what other programs'
load does to each variant (a shared machine's own load varies too much to compare runs).

    .venv/bin/python -m benchmarks.lenet_variants                 # ~5 minutes on 2 idle cores
    .venv/bin/python -m benchmarks.lenet_variants --batches 8 --chunks 2   # a check
    .venv/bin/python -m benchmarks.lenet_variants --variants gluon-static,parallel-copy,spin-10k --busy 2
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.offline_data import fashion_mnist_dir

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('FASHION_MNIST_DIR', str(fashion_mnist_dir()))  # before utils reads it
# Variants that are gluon-static run with extra environment variables (read when MXNet and its
# OpenMP runtime load, so each run is a fresh process).
ENV = {'mkldnn-off': {'MXNET_MKLDNN_ENABLED': '0'},
       'parallel-copy': {'MXNET_CPU_PARALLEL_SIZE': '200000'},
       'spin-1k': {'GOMP_SPINCOUNT': '1000'},
       'spin-10k': {'GOMP_SPINCOUNT': '10000'},
       'spin-100k': {'GOMP_SPINCOUNT': '100000'}}
VARIANTS = ('gluon-static', 'gluon-imperative', 'im2col-fc', 'im2col-dot', 'channels-16',
            'zero-padded', *ENV)


def im2col_conv(nn, how):
    """A Conv2D (stride 1, no padding; LeNet's) computed as im2col + one matrix product.

    Same parameters (names, shapes) as nn.Conv2D, so it loads utils.lenet()'s parameters."""
    class Im2colConv2D(nn.Conv2D):
        def hybrid_forward(self, F, x, weight, bias=None):
            kh, kw = self._kwargs['kernel']
            cout = self._channels
            cols = F.im2col(x, kernel=(kh, kw))                        # (N, C*kh*kw, positions)
            if how == 'fc':
                out = F.FullyConnected(F.transpose(cols, axes=(0, 2, 1)), weight.reshape((cout, -1)),
                                       bias, num_hidden=cout, flatten=False)  # (N, positions, C')
                out = F.transpose(out, axes=(0, 2, 1))
            else:
                out = F.dot(weight.reshape((cout, -1)), F.swapaxes(cols, 0, 1))  # (C', N, positions)
                out = F.broadcast_add(F.swapaxes(out, 0, 1), bias.reshape((1, -1, 1)))
            # the output's height and width, taken from a one-channel slice of the input
            ref = F.slice(x, begin=(None, 0, 0, 0), end=(None, 1, 1 - kh, 1 - kw))
            out = F.reshape_like(out, ref, lhs_begin=2, lhs_end=3, rhs_begin=2, rhs_end=4)
            return self.act(out)
    return Im2colConv2D


def zero_padded_conv(nn):
    """A Conv2D whose channels are padded with zeros to multiples of 16 for the computation only.

    Same parameters as nn.Conv2D; input, weight and bias get zero channels appended, the result's
    extra channels (all zero) are cut off again, so the function and the gradients are unchanged."""
    class ZeroPaddedConv2D(nn.Conv2D):
        # Padding and cutting go through dot and take, not concat and slice: on a 16-blocked
        # layout MXNet's oneDNN slice (and concat's gradient) cannot cut at 20 or 50 channels.
        def hybrid_forward(self, F, x, weight, bias=None):
            kh, kw = self._kwargs['kernel']
            cout, cin = self._channels, self._in_channels
            wide_out, wide_in = cout + -cout % 16, (cin + -cin % 16 if cin > 1 else cin)
            if wide_in > cin:  # channels cin.. of the input are copies of one zero channel
                zero = F.zeros_like(F.slice_axis(x, axis=1, begin=0, end=1))
                x = F.take(F.concat(x, zero, dim=1),
                           F.minimum(F.arange(wide_in), cin), axis=1)
                weight = F.dot(F.eye(wide_in, cin),
                               weight.transpose((1, 0, 2, 3)).reshape((cin, -1)))
                weight = weight.reshape((wide_in, cout, kh, kw)).transpose((1, 0, 2, 3))
            weight = F.dot(F.eye(wide_out, cout), weight.reshape((cout, -1)))
            weight = weight.reshape((wide_out, wide_in, kh, kw))
            bias = F.dot(F.eye(wide_out, cout), bias.reshape((cout, 1))).reshape((wide_out,))
            out = F.Convolution(x, weight, bias, kernel=(kh, kw), num_filter=wide_out)
            return self.act(F.take(out, F.arange(cout), axis=1))
    return ZeroPaddedConv2D


def build(utils, variant):
    nn = utils.mx.gluon.nn
    if variant in ('im2col-fc', 'im2col-dot'):
        conv = im2col_conv(nn, variant.split('-')[1])
        channels = ((20, 5, 1), (50, 3, 20))
    elif variant == 'zero-padded':
        conv, channels = zero_padded_conv(nn), ((20, 5, 1), (50, 3, 20))
    elif variant == 'channels-16':
        conv, channels = nn.Conv2D, ((32, 5, 1), (64, 3, 32))
    else:
        return utils.lenet()
    net = nn.HybridSequential()
    for out, kernel, inputs in channels:
        net.add(conv(channels=out, kernel_size=kernel, activation='relu', in_channels=inputs),
                nn.MaxPool2D(pool_size=2, strides=2))
    net.add(nn.Flatten(), nn.Dense(128, activation='relu'), nn.Dense(10))
    return net


def trial(variant, batches, chunks, seed=0):
    """One variant in this process: (cpu ms/batch, median wall ms/batch, same-function difference)."""
    import utils
    mx = utils.mx
    nd, autograd, gluon = mx.nd, mx.autograd, mx.gluon
    mx.random.seed(seed)
    train, _ = utils.load_data_fashion_mnist(256, train_examples=256 * batches, test_examples=256,
                                             ctx=mx.cpu(), seed=seed)
    reference = utils.lenet()
    reference.initialize(mx.init.Xavier())
    X0 = next(iter(train))[0]
    net = build(utils, variant)
    net.initialize(mx.init.Xavier())
    difference = None
    if variant != 'channels-16':
        path = os.path.join(os.environ.get('TMPDIR', '/tmp'), f'lenet_variants_{os.getpid()}.params')
        reference(X0)
        reference.save_parameters(path)
        net.load_parameters(path)
        os.remove(path)
        difference = float(nd.abs(net(X0) - reference(X0)).max().asscalar())
    if variant != 'gluon-imperative':
        net.hybridize(static_alloc=True, static_shape=True)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})

    def chunk():
        """ms per batch (CPU, wall) of one pass over the batches, as utils.train runs them."""
        nd.waitall()
        cpu, wall = time.process_time(), time.perf_counter()
        for X, y in train:
            with autograd.record():
                batch_loss = loss(net(X), y)
            batch_loss.backward()
            trainer.step(X.shape[0])
            nd.waitall()  # as utils.train does on a CPU
        return (1000 * (time.process_time() - cpu) / batches,
                1000 * (time.perf_counter() - wall) / batches)
    chunk()  # warm-up: graph built, memory planned, oneDNN kernels generated
    runs = sorted(chunk() for _ in range(chunks))
    walls = sorted(r[1] for r in runs)
    return dict(cpu_ms=min(r[0] for r in runs), wall_ms=walls[len(walls) // 2],
                difference=difference, load=os.getloadavg()[0])


def run(variant, threads, batches, chunks):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MXNET_STORAGE_FALLBACK_LOG_VERBOSE='0',
               **ENV.get(variant, {}))
    cmd = [sys.executable, '-m', 'benchmarks.lenet_variants', '--trial', variant, '--batches', str(batches),
           '--chunks', str(chunks)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--variants', default=','.join(VARIANTS), help=f'comma list of {VARIANTS}')
    parser.add_argument('--batches', type=int, default=20, help='batches per chunk (default 20)')
    parser.add_argument('--chunks', type=int, default=5, help='timed chunks per run (default 5)')
    parser.add_argument('--busy', type=int, default=0,
                        help='busy-looping processes to run beside the measurements (default 0)')
    parser.add_argument('--trial', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trial:
        print(json.dumps(trial(args.trial, args.batches, args.chunks)))
        return
    variants = [v for v in args.variants.split(',') if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {sorted(unknown)}; choose from {VARIANTS}")
    print(f"LeNet, batch 256, {args.chunks} chunks of {args.batches} batches per run, "
          f"{args.busy} busy processes beside; load average at the start {os.getloadavg()[0]:.2f}\n")
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(args.busy)]
    try:
        print_table(variants, args.batches, args.chunks)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()


def print_table(variants, batches, chunks):
    print('| variant | cpu ms/batch (1 thread) | wall ms/batch, 1 thread | wall ms/batch, 2 threads '
          '| cpu ms/batch, 2 threads | same function (largest output difference) | load average at the end |')
    print('|---|---|---|---|---|---|---|')
    for variant in variants:
        one, two = run(variant, 1, batches, chunks), run(variant, 2, batches, chunks)
        same = '-' if one['difference'] is None else f"{one['difference']:.1e}"
        print(f"| {variant} | {one['cpu_ms']:.1f} | {one['wall_ms']:.1f} | {two['wall_ms']:.1f} "
              f"| {two['cpu_ms']:.1f} | {same} | {two['load']:.1f} |", flush=True)


if __name__ == '__main__':
    main()
