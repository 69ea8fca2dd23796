"""utils.train / evaluate_accuracy on tiny networks and a small slice of the real data."""
import re
import time

import numpy as np
import pytest

import utils
from utils import training

mx = utils.mx
nd, gluon, init = mx.nd, mx.gluon, mx.init
EPOCH_LINE = re.compile(r'^Epoch \d+\. Loss: \d+\.\d{3}, Train acc \d\.\d{2}, Test acc \d\.\d{2}, '
                        r'Time \d+\.\d sec$')


def tiny_net(seed=0):
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Flatten(), gluon.nn.Dense(32, activation='relu', in_units=784),
            gluon.nn.Dense(10, in_units=32))
    net.initialize(init.Xavier())
    return net


@pytest.fixture
def small_data(real_data_dir):
    return utils.load_data_fashion_mnist(32, root=real_data_dir, train_examples=640, test_examples=320)


def fit(net, data, lr=0.1, epochs=3, loss=None, **kw):
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})
    return utils.train(*data, net, loss or gluon.loss.SoftmaxCrossEntropyLoss(), trainer, mx.cpu(),
                       num_epochs=epochs, progress=False, **kw)


def test_loss_goes_down_and_history_has_one_row_per_epoch(small_data, capsys):
    started = time.perf_counter()
    history = fit(tiny_net(), small_data)
    wall = time.perf_counter() - started
    assert list(history.columns) == ['epoch', 'loss', 'train_acc', 'test_acc', 'seconds',
                                     'examples_per_sec']
    assert history['epoch'].tolist() == history.index.tolist() == [1, 2, 3]
    assert history['loss'].iloc[-1] < history['loss'].iloc[0] < 2.5
    assert history['test_acc'].iloc[-1] > 0.5  # 10 classes: chance is 0.1
    # each epoch's seconds are its own share of the run (not milliseconds, not a running total)
    assert (history['seconds'] > 0).all() and history['seconds'].sum() <= wall
    np.testing.assert_allclose(history['examples_per_sec'] * history['seconds'], 640, rtol=1e-6)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith('Training on cpu(0) | 640 train images at 28x28')
    assert len(lines) == 4 and all(EPOCH_LINE.match(line) for line in lines[1:]), lines


def test_the_callers_parameters_are_not_reinitialized(small_data):
    net = tiny_net()
    for p in net.collect_params().values():
        p.set_data(nd.full(p.shape, 0.0123))
    fit(net, small_data, lr=0.0, epochs=1)
    for name, p in net.collect_params().items():
        assert np.allclose(p.data().asnumpy(), 0.0123), f"{name} was changed"


def test_accuracy_matches_a_direct_computation(small_data):
    net = tiny_net()
    _, test = small_data
    predicted, labels = [], []
    for X, y in test:
        predicted.append(net(X).argmax(axis=1).asnumpy())
        labels.append(y.asnumpy())
    expected = (np.concatenate(predicted) == np.concatenate(labels)).mean()
    assert utils.evaluate_accuracy(test, net, mx.cpu()) == pytest.approx(expected)


class NaNAfter(gluon.loss.SoftmaxCrossEntropyLoss):
    """A loss that turns NaN after `n` batches, and counts how many batches it saw."""

    def __init__(self, n):
        super().__init__()
        self.n, self.calls = n, 0

    def forward(self, output, label):
        self.calls += 1
        value = super().forward(output, label)
        return value * np.nan if self.calls > self.n else value


def test_a_nan_loss_stops_training_with_a_message_and_keeps_the_history(small_data, capsys):
    loss = NaNAfter(n=20 + 5)  # epoch 1 (20 batches) is fine, epoch 2 goes NaN at its 6th batch
    history = fit(tiny_net(), small_data, epochs=5, loss=loss)
    out = capsys.readouterr().out
    assert 'Stopped: the training loss became nan in epoch 2' in out
    assert 'learning rate' in out and 'initialization' in out
    assert history['epoch'].tolist() == history.index.tolist() == [1]
    assert loss.calls < 20 * 5, "training must stop soon after the NaN, not run every epoch"


def test_a_huge_learning_rate_diverges_and_stops(small_data, capsys):
    history = fit(tiny_net(), small_data, lr=1e20, epochs=3)
    assert 'Stopped' in capsys.readouterr().out
    assert len(history) < 3


def test_ctrl_c_returns_the_history_so_far(small_data, capsys):
    train, test = small_data

    class Interrupting:
        def __init__(self):
            self.epochs = 0

        def __len__(self):
            return len(train)

        def __iter__(self):
            self.epochs += 1
            for i, batch in enumerate(train):
                if self.epochs == 2 and i == 3:
                    raise KeyboardInterrupt
                yield batch
    history = fit(tiny_net(), (Interrupting(), test), epochs=4)
    assert history['epoch'].tolist() == [1]
    assert 'Interrupted during epoch 2' in capsys.readouterr().out


class RecordingBar:
    """Stands in for the tqdm bar: remembers how far it was advanced."""

    def __init__(self, total):
        self.total, self.n, self.closed_at = total, 0, None

    def update(self, n):
        self.n += n

    def set_postfix(self, **values):
        pass

    def close(self):
        self.closed_at = self.n


def test_the_progress_bar_counts_every_batch_including_the_last_few(real_data_dir, monkeypatch):
    bars = []
    monkeypatch.setattr(training, '_progress', lambda total, desc, enabled: bars.append(
        RecordingBar(total)) or bars[-1])
    data = utils.load_data_fashion_mnist(32, root=real_data_dir, train_examples=700,
                                         test_examples=64)
    fit(tiny_net(), data, epochs=2)
    assert len(data[0]) == 22  # not a multiple of SYNC_EVERY: the old bar stopped at 20
    assert [(bar.total, bar.closed_at) for bar in bars] == [(22, 22), (22, 22)]


def test_a_hybridized_network_gets_static_memory_and_an_imperative_one_stays_imperative(
        real_data_dir):
    def data():  # a fresh loader each: the same shuffled batches for both networks
        return utils.load_data_fashion_mnist(32, root=real_data_dir, train_examples=640,
                                             test_examples=64)
    hybrid, imperative = tiny_net(), tiny_net()
    hybrid.hybridize(inline_limit=5)
    fit(hybrid, data(), epochs=1)
    fit(imperative, data(), epochs=1)
    assert dict(hybrid._flags) == dict(static_alloc=True, static_shape=True, inline_limit=5)
    assert not imperative._active
    # same starting weights, same batches: the same network comes out either way
    for (name, p), q in zip(hybrid.collect_params().items(), imperative.collect_params().values()):
        np.testing.assert_allclose(p.data().asnumpy(), q.data().asnumpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_metrics_are_read_from_the_device_rarely(small_data, monkeypatch):
    reads = []  # asnumpy is the one way back to the host (asscalar calls it)
    original_np = nd.NDArray.asnumpy
    monkeypatch.setattr(nd.NDArray, 'asnumpy', lambda self: reads.append(1) or original_np(self))
    fit(tiny_net(), small_data, epochs=1)
    batches = len(small_data[0])
    # one read per SYNC_EVERY batches, plus loss, train acc and test acc at the end of the epoch
    assert len(reads) <= batches // training.SYNC_EVERY + 3 < batches



def test_on_a_cpu_each_batch_is_waited_for_and_on_a_gpu_the_queue_runs_ahead(small_data,
                                                                            monkeypatch):
    waits = []
    original = nd.waitall
    monkeypatch.setattr(nd, 'waitall', lambda: waits.append(1) or original())
    fit(tiny_net(), small_data, epochs=1)
    assert len(waits) == len(small_data[0])  # one per batch, none for the test set
    assert training._wait_each_batch(mx.cpu()) and training._wait_each_batch(mx.cpu(1))
    assert not training._wait_each_batch(mx.gpu(0))

def use_environment(monkeypatch, **env):
    """As if the notebook had started with exactly these variables (utils.config reads them once)."""
    monkeypatch.setattr(utils.config, '_current', utils.config.from_environment(env))


def test_the_profile_must_be_a_known_one():
    with pytest.raises(utils.config.ConfigError, match='smoke, cpu, full'):
        utils.config.from_environment({'COURSE_PROFILE': 'huge'})


def test_without_a_chosen_profile_the_device_decides(monkeypatch):
    use_environment(monkeypatch)
    assert utils.active_profile() == ('full' if utils.gpu_available() else 'cpu')


def test_training_never_consults_the_profile(small_data, monkeypatch, capsys):
    def asked():
        raise AssertionError('train() asked for the profile')
    monkeypatch.setattr(utils.settings, 'active_profile', asked)
    monkeypatch.setattr(utils, 'active_profile', asked)
    history = fit(tiny_net(), small_data, epochs=1)
    assert len(history) == 1 and 'profile' not in capsys.readouterr().out


def test_the_progress_bar_is_on_by_default_and_off_for_the_book_build(monkeypatch):
    use_environment(monkeypatch)
    bar = training._progress(10, 'epoch 0', None)
    assert bar is not None
    bar.close()
    use_environment(monkeypatch, COURSE_PROGRESS='0')  # set by scripts/build_book.sh
    assert training._progress(10, 'epoch 0', None) is None
    assert training._progress(10, 'epoch 0', False) is None



def test_the_im2col_lenets_of_the_variant_benchmark_compute_the_chapters_lenet():
    """benchmarks/lenet_variants.py times im2col rewrites of LeNet as 'the same network': with
    utils.lenet()'s parameters loaded they give its outputs and its parameter gradients."""
    from benchmarks import lenet_variants as variants
    mx.random.seed(0)
    X, y = nd.random.uniform(shape=(3, 1, 28, 28)), nd.array([1, 4, 7])
    reference = utils.lenet()
    reference.initialize(init.Xavier())
    reference(X)
    for name in ('im2col-fc', 'im2col-dot', 'zero-padded'):
        net = variants.build(utils, name)
        net.initialize()
        net(X)  # the dense layers' shapes are inferred on the first call
        for (key, mine), theirs in zip(net.collect_params().items(),
                                       reference.collect_params().values()):
            assert mine.shape == theirs.shape, key
            mine.set_data(theirs.data())
        net.hybridize()
        gradients = []
        for model in (net, reference):
            with mx.autograd.record():
                loss = gluon.loss.SoftmaxCrossEntropyLoss()(model(X), y)
            loss.backward()
            gradients.append([p.grad().asnumpy() for p in model.collect_params().values()])
        np.testing.assert_allclose(net(X).asnumpy(), reference(X).asnumpy(), rtol=1e-4, atol=1e-5)
        for mine, theirs in zip(*gradients):
            np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-5)
