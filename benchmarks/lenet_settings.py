"""Which LeNet settings train on every seed? Prints one row per (setting, seed) and a summary.

Chapter 1's LeNet (`utils.lenet()`) at 28x28 on the whole training set, scored on the whole test
set, for each candidate (initialization, learning rate, batch) and each seed: the test accuracy
after every epoch, and how many of the 20 first-layer filters are dead at the end (their ReLU
output is zero on all of the first 1,000 test images). A run "dies" when its final test accuracy
is below 0.2 (chance is 0.1). The seed sets Python's, numpy's and MXNet's generators and the
training data's shuffling.

    .venv/bin/python -m benchmarks.lenet_settings                      # 3 settings x 5 seeds x 3 epochs
    .venv/bin/python -m benchmarks.lenet_settings --seeds 2 --epochs 1 --train 6000   # a quick check

Writes benchmarks/results/lenet_settings.csv (full runs only).
"""
import argparse
import os
import random
import time
from pathlib import Path

from tests.offline_data import fashion_mnist_dir

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('COURSE_PROGRESS', '0')
os.environ.setdefault('FASHION_MNIST_DIR', str(fashion_mnist_dir()))  # before utils reads it

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import utils  # noqa: E402

mx = utils.mx
gluon, init, nd = mx.gluon, mx.init, mx.nd

# (label, initializer name, learning rate, batch size)
CANDIDATES = [('default', 0.5, 256), ('default', 0.2, 256), ('default', 0.1, 256)]
INITIALIZERS = {'default': lambda: init.Uniform(0.07), 'xavier': lambda: init.Xavier()}


def dead_filters(net, images):
    response = net[0](images)                      # first conv + ReLU: (N, 20, 24, 24)
    return int((response.max(axis=(0, 2, 3)) <= 0).sum().asscalar())


def trial(init_name, lr, batch, seed, epochs, n_train, probe):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)
    ctx = utils.try_gpu()
    train_data, test_data = utils.load_data_fashion_mnist(batch, train_examples=n_train,
                                                          test_examples=None, seed=seed)
    net = utils.lenet()
    net.initialize(INITIALIZERS[init_name](), ctx=ctx)
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})
    start = time.time()
    history = utils.train(train_data, test_data, net, gluon.loss.SoftmaxCrossEntropyLoss(),
                          trainer, ctx, epochs, progress=False)
    row = dict(init=init_name, lr=lr, batch=batch, seed=seed, epochs=len(history),
               seconds=round(time.time() - start, 1),
               dead_filters=dead_filters(net, probe.as_in_context(ctx)))
    for i, acc in enumerate(history['test_acc'], 1):
        row[f'test_acc_{i}'] = round(float(acc), 4)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--train', type=int, default=None, help='training images (default: all)')
    parser.add_argument('--only', default=None,
                        help="comma-separated candidate indices to run, e.g. '0,2'")
    args = parser.parse_args()
    candidates = CANDIDATES if args.only is None else [
        CANDIDATES[int(i)] for i in args.only.split(',')]
    _, test = utils.load_data_fashion_mnist(1000, train_examples=256, test_examples=None)
    probe = next(iter(test))[0]
    rows = []
    pd.set_option('display.width', 160)
    out = ROOT / 'benchmarks' / 'results' / 'lenet_settings.csv'
    full_run = args.train is None and args.only is None
    for init_name, lr, batch in candidates:
        for seed in range(args.seeds):
            rows.append(trial(init_name, lr, batch, seed, args.epochs, args.train, probe))
            print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1),
                  flush=True)
            if full_run:  # written after every run, so an interrupted run keeps what it measured
                pd.DataFrame(rows).to_csv(out, index=False)
    table = pd.DataFrame(rows)
    last = f'test_acc_{args.epochs}'
    summary = table.groupby(['init', 'lr', 'batch'], sort=False).agg(
        runs=('seed', 'size'), died=(last, lambda s: int((s < 0.2).sum())),
        min_test_acc=(last, 'min'), median_test_acc=(last, 'median'),
        max_test_acc=(last, 'max'), median_dead_filters=('dead_filters', 'median'))
    print(f"\nAll {len(table)} runs ({args.epochs} epochs, "
          f"{'all' if args.train is None else args.train} training images, 10,000 test images):")
    print(table.to_string(index=False))
    print("\nSummary (a run died: final test accuracy below 0.2):")
    print(summary.to_string())
    if full_run:
        print(f"wrote {out}")


if __name__ == '__main__':
    main()
