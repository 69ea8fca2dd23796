"""How fast this machine is, measured with MXNet: matrix multiplies, memory copies, training steps.

Used to turn a network's FLOPs into "how long one epoch would take here". Every timing runs the
operation once untimed first (MXNet allocates and picks kernels on the first call) and reports the
best of `repeats` runs, which is the least disturbed by other programs. What the machine *is*
(CPU model, cores, GPUs) is read in utils.hardware. Each measurement records how loaded the
machine was (`utils.shared_results.last_load()`, shown by `utils.notes.load_note()`), and in the
book build it is made once for both editions (utils.shared_results).
"""
import time

from . import hardware, shared_results
from .compat import import_mxnet

mx = import_mxnet()
nd = mx.nd


def gpu_info(ctx=None):
    """{'model', 'memory_gb'} of a GPU context, or None for a CPU context / no GPU."""
    ctx = ctx or mx.gpu(0)
    if ctx.device_type != 'gpu':
        return None
    try:
        _free, total = mx.context.gpu_memory_info(ctx.device_id)
    except mx.base.MXNetError:
        return None
    return {'model': hardware.gpu_name(ctx.device_id) or 'GPU', 'memory_gb': total / 1e9}


def _best_seconds(fn, repeats):
    fn()  # untimed warm-up
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_flops(ctx=None, n=1024, repeats=5):
    """Measured float32 matrix-multiply speed on `ctx` in FLOP/s (an n x n by n x n product is
    2 n^3 floating-point operations). This is close to the best a device does on dense math."""
    if n < 1 or repeats < 1:
        raise ValueError(f"n and repeats must be positive, got n={n}, repeats={repeats}")
    ctx = ctx or mx.cpu()
    a = nd.random.uniform(shape=(n, n), ctx=ctx)
    b = nd.random.uniform(shape=(n, n), ctx=ctx)
    seconds = shared_results.remember(
        'matmul', lambda: _best_seconds(lambda: nd.dot(a, b).wait_to_read(), repeats),
        str(ctx), n, repeats)
    return 2 * n ** 3 / seconds


def memory_bandwidth(ctx=None, megabytes=128, repeats=5):
    """Measured memory bandwidth on `ctx` in bytes/s: copying an array reads and writes each byte."""
    if megabytes <= 0 or repeats < 1:
        raise ValueError(f"megabytes and repeats must be positive, got {megabytes}, {repeats}")
    ctx = ctx or mx.cpu()
    count = int(megabytes * 1e6 // 4)
    src = nd.ones((count,), ctx=ctx)
    dst = nd.zeros((count,), ctx=ctx)
    seconds = shared_results.remember(
        'bandwidth', lambda: _best_seconds(lambda: (src.copyto(dst), dst.wait_to_read()), repeats),
        str(ctx), count, repeats)
    return 2 * 4 * count / seconds


def training_speed(net, input_shape, batch_size, steps=3, ctx=None):
    """Measured training throughput in images/s: forward, backward and an SGD step on random
    images of `input_shape` (one image, e.g. (1, 224, 224)). `net` must be initialized on `ctx`;
    the step uses learning rate 0, so its weights do not change."""
    if batch_size < 1 or steps < 1:
        raise ValueError(f"batch_size and steps must be positive, got {batch_size}, {steps}")
    ctx = ctx or mx.cpu()
    X = nd.random.uniform(shape=(batch_size,) + tuple(input_shape), ctx=ctx)
    y = nd.array([i % 10 for i in range(batch_size)], ctx=ctx)
    loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = mx.gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.0})

    def step():
        with mx.autograd.record():
            out = loss(net(X), y)
        out.backward()
        trainer.step(batch_size)
        out.wait_to_read()
        nd.waitall()

    seconds = shared_results.remember('training_speed', lambda: _best_seconds(step, steps),
                                      repr(net), tuple(input_shape), batch_size, steps, str(ctx))
    return batch_size / seconds
