"""SGD's parameter update on a CPU: MXNet 1.9.1's grouped kernel against its single-array one.

    .venv/bin/python -m benchmarks.sgd_update [--threads 1] [--steps 10]

Prints two tables (best of several runs, milliseconds):
  1. one 4096 x 4096 weight updated by `multi_sgd_update` (what `gluon.Trainer('sgd')` calls) and
     by `sgd_update`, and whether they give the same bits;
  2. AlexNet's training step at 67x67, batch 32 (exercise 1's smoke settings) with MXNet's own
     update (`SGD._update_impl.grouped`) and with utils.cpu_sgd's, on the same random batch.
"""
import argparse
import os
import time


def best_ms(fn, repeats):
    fn()  # warm-up: memory, primitives
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def kernels(mx, repeats):
    import numpy as np
    nd = mx.nd
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4096, 4096)).astype(np.float32)
    g = nd.array(rng.standard_normal((4096, 4096)).astype(np.float32))
    single, grouped = nd.array(w0), nd.array(w0)
    kw = dict(rescale_grad=1 / 32)
    t_single = best_ms(lambda: nd.sgd_update(single, g, lr=0.03, wd=0.0, out=single, **kw).wait_to_read(), repeats)
    t_grouped = best_ms(lambda: nd.multi_sgd_update(grouped, g, lrs=(0.03,), wds=(0.0,), num_weights=1,
                                                    out=[grouped], **kw)[0].wait_to_read(), repeats)
    same = bool((single.asnumpy() == grouped.asnumpy()).all())
    return t_grouped, t_single, same


def alexnet_step(mx, utils, update_impl, steps):
    from mxnet import autograd, gluon, init, nd
    mx.optimizer.SGD._update_impl = update_impl
    mx.random.seed(0)
    net = utils.alexnet()
    net.initialize(init.Xavier())
    net.hybridize(static_alloc=True, static_shape=True)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.03})
    X, y = nd.random.uniform(shape=(32, 1, 67, 67)), nd.array([i % 10 for i in range(32)])

    def step():
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(32)
        nd.waitall()
    step()
    return sorted(best_ms(step, 1) for _ in range(steps))[steps // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', default='1', help='OMP_NUM_THREADS (default 1: a grading kernel at --jobs 2)')
    p.add_argument('--steps', type=int, default=10)
    args = p.parse_args()
    os.environ['OMP_NUM_THREADS'] = args.threads
    import utils
    mx = utils.mx
    ours = mx.optimizer.SGD._update_impl
    grouped, single, same = kernels(mx, args.steps)
    print(f'OMP_NUM_THREADS={args.threads}, load average {os.getloadavg()[0]:.2f}\n')
    print('| one 4096 x 4096 weight | ms |\n|---|---|')
    print(f'| multi_sgd_update (grouped) | {grouped:.1f} |\n| sgd_update (single) | {single:.1f} |')
    print(f'| same bits | {same} |\n')
    before = alexnet_step(mx, utils, ours.grouped, args.steps)
    after = alexnet_step(mx, utils, ours, args.steps)
    print('| AlexNet step, 67x67, batch 32 (median) | ms |\n|---|---|')
    print(f"| MXNet's grouped update | {before:.1f} |\n| utils.cpu_sgd | {after:.1f} |")


if __name__ == '__main__':
    main()
