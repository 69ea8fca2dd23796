"""utils.cpu_sgd: SGD updates large CPU arrays with MXNet's single-array kernel, to the same bits."""
import numpy as np
import pytest

import utils
from utils import cpu_sgd

mx = utils.mx
from mxnet import autograd, gluon, nd  # noqa: E402


def _net():
    """A small network with one array over cpu_sgd.LARGE elements (the 300 x 300 dense weight)."""
    utils.compat.import_mxnet()  # as every module of utils does: it must not undo the comparison
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(300, activation='relu', in_units=30),
            gluon.nn.Dense(300, activation='relu', in_units=300), gluon.nn.Dense(10, in_units=300))
    mx.random.seed(3)
    net.initialize(mx.init.Xavier())
    return net


def _train(options, steps=4):
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', options)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        X = nd.array(rng.standard_normal((16, 30)).astype(np.float32))
        y = nd.array(rng.integers(0, 10, 16))
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(16)
    return [p.data().asnumpy() for p in net.collect_params().values()]


@pytest.mark.parametrize('options', [
    {'learning_rate': 0.1},
    {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 1e-3, 'clip_gradient': 0.05},
], ids=['plain', 'momentum-wd-clip'])
def test_large_cpu_arrays_take_the_single_array_kernel_and_end_with_the_same_bits(monkeypatch, options):
    patched = mx.optimizer.SGD._update_impl
    assert mx.optimizer.SGD.course_cpu_sgd and patched.grouped, 'utils did not install cpu_sgd'
    large = sum(p.data().size >= cpu_sgd.LARGE for p in _net().collect_params().values())
    assert large == 1

    kernel = 'sgd_mom_update' if options.get('momentum') else 'sgd_update'
    calls = []
    real = getattr(nd, kernel)
    monkeypatch.setattr(nd, kernel, lambda *a, **k: calls.append(a[0].shape) or real(*a, **k))
    ours = _train(options)
    assert calls == [(300, 300)] * 4  # the large weight, once per step; the rest stays grouped

    monkeypatch.setattr(mx.optimizer.SGD, '_update_impl', patched.grouped)
    calls.clear()
    theirs = _train(options)
    assert calls == []  # MXNet's own grouped kernel this time, even after utils' next import
    assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(ours, theirs))
    assert not all(np.array_equal(a, b) for a, b in zip(ours, _train(options, steps=3)))


def test_installing_twice_keeps_one_layer():
    before = mx.optimizer.SGD._update_impl
    cpu_sgd.install(mx)
    assert mx.optimizer.SGD._update_impl is before
