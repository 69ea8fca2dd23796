"""The GPU path (data kept and resized on the training device, no copies to the host inside the
loop, optional mixed precision), exercised with the same code on CPU contexts.

MXNet cannot use a GPU on the test machines, so `cpu(1)` stands in for "a device that is not the
default one": anything that silently moved data to `cpu(0)` (or to numpy) would show up.
"""
import os
import subprocess
import sys
import textwrap

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


def test_mixed_precision_type_per_device():
    assert training.mixed_precision_dtype(mx.gpu(0))[0] == 'float16'
    assert training.mixed_precision_dtype(mx.cpu(), (True, 'AVX-512'))[0] == 'bfloat16'
    assert training.mixed_precision_dtype(mx.cpu(), (False, 'no AVX-512')) == (None, 'no AVX-512')


AVX512 = {'fpu', 'sse4_2', 'avx', 'avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'}


@pytest.mark.parametrize('flags, max_isa, supported, says', [
    ({'fpu', 'sse4_2', 'avx', 'avx2', 'fma'}, None, False, 'avx512f, avx512bw, avx512vl, avx512dq'),
    (AVX512 - {'avx512bw'}, None, False, 'avx512bw'),          # AVX-512 F without BW: not enough
    (AVX512, None, True, 'emulated'),
    (AVX512 | {'avx512_bf16'}, None, True, 'native'),
    (AVX512 | {'avx512_bf16'}, 'AVX2', False, 'DNNL_MAX_CPU_ISA=AVX2'),
    (AVX512, 'avx512_core', True, 'emulated'),
])
def test_which_cpus_can_compute_in_bfloat16(flags, max_isa, supported, says):
    ok, why = utils.hardware.cpu_bfloat16_support(flags, max_isa or '', onednn=True)
    assert ok is supported and says in why


def test_without_onednn_there_is_no_bfloat16():
    ok, why = utils.hardware.cpu_bfloat16_support(AVX512 | {'avx512_bf16'}, '', onednn=False)
    assert not ok and 'MXNET_MKLDNN_ENABLED=0' in why


def test_this_cpus_answer_comes_from_its_flags():
    flags = utils.hardware.cpu_flags()
    ok, why = utils.hardware.cpu_bfloat16_support(max_isa='', onednn=True)
    assert ok == all(f in flags for f in utils.hardware.BF16_FLAGS), why


AMP_SCRIPT = textwrap.dedent('''
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np
    import utils
    mx = utils.mx
    gluon = mx.gluon
    train, test = utils.load_data_fashion_mnist(32, root={data!r}, train_examples=1280,
                                                test_examples=256)
    mx.random.seed(0)
    net = utils.lenet()
    net.initialize(mx.init.Xavier())
    net.hybridize()
    X, _ = next(iter(test))
    assert net(X).dtype == np.float32          # graph built in full precision before AMP is on
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {{'learning_rate': 0.1}})
    history = utils.train(train, test, net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer,
                          mx.cpu(), 3, progress=False, amp=True)
    print('OUTPUT_DTYPE', np.dtype(net(X).dtype).name if net(X).dtype != np.float32 else 'float32')
    print('SCALER', getattr(trainer, '_amp_loss_scaler', None) is not None)
    print('LOSSES', *history['loss'].round(4))
    print('TEST_ACC', history['test_acc'].iloc[-1])
''')


def run_amp(real_data_dir, tmp_path, **env):
    # AMP changes MXNet for the whole process and cannot be switched off: run it in its own.
    script = tmp_path / 'amp_run.py'
    script.write_text(AMP_SCRIPT.format(root=str(data_module.Path(utils.__file__).parents[1]),
                                        data=str(real_data_dir)))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, **env))
    assert run.returncode == 0, run.stderr[-3000:]
    out = dict(line.split(' ', 1) for line in run.stdout.splitlines()
               if line.split(' ', 1)[0] in ('OUTPUT_DTYPE', 'SCALER', 'LOSSES', 'TEST_ACC'))
    losses = [float(v) for v in out['LOSSES'].split()]
    assert len(losses) == 3 and all(np.isfinite(losses)) and losses[-1] < losses[0] < 2.35
    assert float(out['TEST_ACC']) > 0.4
    return run.stdout, out


BF16_OK, BF16_WHY = utils.hardware.cpu_bfloat16_support()


@pytest.mark.skipif(not BF16_OK, reason=f"{utils.hardware.cpu_model()}: {BF16_WHY}")
def test_mixed_precision_trains_in_bfloat16_on_an_avx512_cpu(real_data_dir, tmp_path):
    shown, out = run_amp(real_data_dir, tmp_path)
    assert 'mixed precision (bfloat16)' in shown
    assert out['OUTPUT_DTYPE'] != 'float32', "the network still runs in full precision"
    assert out['SCALER'] == 'True'


# oneDNN's own cap on instruction sets: below AVX-512 it behaves as on a CPU without it.
WITHOUT_AVX512 = {'DNNL_MAX_CPU_ISA': 'AVX2'}
WITHOUT_BF16 = {  # environment -> what MXNet says when asked for bfloat16 anyway, and our line
    'avx2': (WITHOUT_AVX512, 'could not create a primitive descriptor',
             'DNNL_MAX_CPU_ISA=AVX2 keeps oneDNN below AVX-512, which it needs for bfloat16'),
    'no-onednn': ({'MXNET_MKLDNN_ENABLED': '0'}, 'Unknown type enum 12',
                  "MXNET_MKLDNN_ENABLED=0 turns oneDNN off, and MXNet's own CPU kernels have no "
                  "bfloat16"),
}


@pytest.mark.parametrize('case', sorted(WITHOUT_BF16))
def test_without_avx512_bfloat16_really_fails_in_mxnet(tmp_path, case):
    """What the fallback avoids: MXNet's bfloat16 convolution on oneDNN without AVX-512."""
    script = tmp_path / 'bf16_anyway.py'
    script.write_text(textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(data_module.Path(utils.__file__).parents[1])!r})
        import utils
        from mxnet.contrib import amp
        mx = utils.mx
        amp.init(target_dtype='bfloat16')
        net = mx.gluon.nn.Conv2D(4, 3, in_channels=1)
        net.initialize()
        net(mx.nd.ones((2, 1, 8, 8))).wait_to_read()
    '''))
    env, error, _ = WITHOUT_BF16[case]
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, **env))
    assert run.returncode != 0 and error in run.stderr


@pytest.mark.parametrize('case', sorted(WITHOUT_BF16))
def test_mixed_precision_falls_back_to_float32_without_bfloat16_and_says_so(real_data_dir, tmp_path,
                                                                            case):
    env, _, why = WITHOUT_BF16[case]
    shown, out = run_amp(real_data_dir, tmp_path, **env)
    notes = [line for line in shown.splitlines() if 'Mixed precision' in line]
    assert notes == [f'Mixed precision is not available here ({why}): training in float32.']
    assert 'mixed precision (' not in shown
    assert out['OUTPUT_DTYPE'] == 'float32' and out['SCALER'] == 'False'
