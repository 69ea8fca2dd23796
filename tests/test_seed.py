"""The original tutorial's code, unchanged, runs against `utils` (offline data).

The seed loads "all" of Fashion-MNIST (it passes no sizes, and the loader never shrinks a run on
its own), so the test points FASHION_MNIST_DIR at a small but real copy: the first 256 training and
128 test images of the offline dataset, in the official file format.
"""
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import idx_bytes

ROOT = Path(__file__).resolve().parents[1]
SIZES = {'train': 256, 't10k': 128}

# The seed's cells, as published (nn.Sequential + name_scope, batch 64, resize 224, 1 epoch).
SEED = '''
from mxnet.gluon import nn

net = nn.Sequential()
with net.name_scope():
    net.add(
        nn.Conv2D(channels=96, kernel_size=11, strides=4, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        nn.Conv2D(channels=256, kernel_size=5, padding=2, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        nn.Conv2D(channels=384, kernel_size=3, padding=1, activation='relu'),
        nn.Conv2D(channels=384, kernel_size=3, padding=1, activation='relu'),
        nn.Conv2D(channels=256, kernel_size=3, padding=1, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        nn.Flatten(),
        nn.Dense(4096, activation="relu"),
        nn.Dropout(.5),
        nn.Dense(4096, activation="relu"),
        nn.Dropout(.5),
        nn.Dense(10)
    )

import sys
sys.path.append('..')
import utils
train_data, test_data = utils.load_data_fashion_mnist(batch_size=64, resize=224)

from mxnet import init
from mxnet import gluon

ctx = utils.try_gpu()
net.initialize(ctx=ctx, init=init.Xavier())

loss = gluon.loss.SoftmaxCrossEntropyLoss()
trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
utils.train(train_data, test_data, net, loss, trainer, ctx, num_epochs=1)
'''


def small_copy(real_data_dir, folder):
    """The first SIZES images of each split, written as the four official .gz files."""
    folder.mkdir()
    for split, n in SIZES.items():
        for kind, magic, header in (('images-idx3', 2051, 16), ('labels-idx1', 2049, 8)):
            name = f'{split}-{kind}-ubyte.gz'
            raw = gzip.decompress((real_data_dir / name).read_bytes())
            body = raw[header:]
            shape = (n, 28, 28) if kind.startswith('images') else (n,)
            array = np.frombuffer(body, np.uint8)[:int(np.prod(shape))].reshape(shape)
            (folder / name).write_bytes(gzip.compress(idx_bytes(array, magic)))
    return folder


def test_the_seed_alexnet_code_runs_unchanged(real_data_dir, tmp_path):
    # Exactly as published: mxnet is imported before utils (fine with the canonical numpy 1.23.5;
    # on numpy 2 every course notebook's first cell imports utils, and so the shim, first).
    code = SEED
    env = dict(os.environ, FASHION_MNIST_DIR=str(small_copy(real_data_dir, tmp_path / 'fmnist')))
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT / 'notebooks', env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith('Training on cpu(0) | 256 train images at 224x224 / 128 test images')
    assert lines[-1].startswith('Epoch 1. Loss: ') and ', Test acc ' in lines[-1]
