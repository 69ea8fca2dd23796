"""The GPU path (data kept and resized on the training device, no copies to the host inside the
loop), exercised with the same code on CPU contexts.

MXNet cannot use a GPU on the test machines, so `cpu(1)` stands in for "a device that is not the
default one": anything that silently moved data to `cpu(0)` (or to numpy) would show up.
"""

import numpy as np
import pytest

import utils
from utils import data as data_module
from utils import training

mx = utils.mx
nd, gluon, init = mx.nd, mx.gluon, mx.init
DEVICE = mx.cpu(1)


def tiny_net():
    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Conv2D(4, kernel_size=3, activation='relu', in_channels=1),
            gluon.nn.MaxPool2D(2), gluon.nn.Flatten(), gluon.nn.Dense(10, in_units=4 * 13 * 13))
    return net


@pytest.fixture
def host_reads(monkeypatch):
    """Counts every copy from a device to numpy (asscalar goes through asnumpy)."""
    reads = []
    original = nd.NDArray.asnumpy
    monkeypatch.setattr(nd.NDArray, 'asnumpy', lambda self: reads.append(self.shape) or original(self))
    return reads


@pytest.fixture
def device_copies(monkeypatch):
    """Counts every copy between devices (as_in_context/copyto to another context)."""
    copies = []
    original = nd.NDArray.copyto

    def copyto(self, other):
        target = other if isinstance(other, mx.Context) else other.context
        if target != self.context:
            copies.append((self.context, target))
        return original(self, other)
    monkeypatch.setattr(nd.NDArray, 'copyto', copyto)
    return copies


def test_the_dataset_and_every_batch_stay_on_the_loader_device(fake_data_dir, host_reads, device_copies):
    folder, _ = fake_data_dir
    train, test = utils.load_data_fashion_mnist(8, resize=64, root=folder, train_examples=None,
                                                test_examples=None, ctx=DEVICE)
    assert train.images.context == DEVICE and train.images.dtype == np.uint8
    for data in (train, test):
        for X, y in data:
            assert X.context == DEVICE and y.context == DEVICE
            assert X.shape[1:] == (1, 64, 64)
    assert host_reads == [] and device_copies == [], "a batch went through the host or another device"


def test_the_loader_defaults_to_the_device_try_gpu_picks(fake_data_dir, monkeypatch):
    folder, _ = fake_data_dir
    monkeypatch.setattr(data_module.devices, 'try_gpu', lambda: DEVICE)
    train, test = utils.load_data_fashion_mnist(8, root=folder)
    X, y = next(iter(train))
    assert X.context == DEVICE and next(iter(test))[0].context == DEVICE


def test_batched_resize_matches_gluons_per_image_resize(real_data_dir):
    """Same pixels as Resize + ToTensor applied image by image (what d2l does), to within the
    rounding to uint8 that Resize does and the batch does not."""
    _, test = utils.load_data_fashion_mnist(16, resize=224, root=real_data_dir, test_examples=None)
    X, _ = next(iter(test))
    images, _ = data_module.read_split(real_data_dir, 'test')
    T = gluon.data.vision.transforms
    per_image = T.Compose([T.Resize(224), T.ToTensor()])
    expected = np.stack([per_image(nd.array(img[:, :, None], dtype='uint8')).asnumpy()
                         for img in images[:16]])
    difference = np.abs(X.asnumpy() - expected)
    assert difference.max() <= 1 / 255 + 1e-6
    assert difference.mean() < 0.25 / 255


def test_training_on_a_device_copies_nothing_to_the_host_per_batch(real_data_dir, host_reads,
                                                                    device_copies):
    train, test = utils.load_data_fashion_mnist(16, root=real_data_dir, train_examples=960,
                                                test_examples=160, ctx=DEVICE)
    net = tiny_net()
    net.initialize(init.Xavier(), ctx=DEVICE)  # Gluon makes weights on cpu(0), then copies them
    net.hybridize()
    device_copies.clear()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    history = utils.train(train, test, net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer, DEVICE,
                          1, progress=False)
    assert len(history) == 1 and history['loss'].iloc[0] < 2.3
    assert device_copies == [], f"copies between devices: {device_copies[:3]}"
    batches = len(train)
    assert len(host_reads) <= batches // training.SYNC_EVERY + 3 < batches
