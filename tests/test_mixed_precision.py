"""benchmarks/mixed_precision.py: which device gets which low-precision type, and the course's
training loop in bfloat16 on an AVX-512 CPU or, elsewhere, in float32 with one line saying why."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import utils
from benchmarks import mixed_precision
from conftest import ROOT

mx = utils.mx


def test_mixed_precision_type_per_device():
    assert mixed_precision.mixed_precision_dtype(mx.gpu(0))[0] == 'float16'
    assert mixed_precision.mixed_precision_dtype(mx.cpu(), (True, 'AVX-512'))[0] == 'bfloat16'
    assert mixed_precision.mixed_precision_dtype(mx.cpu(), (False, 'no AVX-512')) == (None, 'no AVX-512')


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
    ok, why = mixed_precision.cpu_bfloat16_support(flags, max_isa or '', onednn=True)
    assert ok is supported and says in why


def test_without_onednn_there_is_no_bfloat16():
    ok, why = mixed_precision.cpu_bfloat16_support(AVX512 | {'avx512_bf16'}, '', onednn=False)
    assert not ok and 'MXNET_MKLDNN_ENABLED=0' in why


def test_this_cpus_answer_comes_from_its_flags():
    flags = utils.hardware.cpu_flags()
    ok, why = mixed_precision.cpu_bfloat16_support(max_isa='', onednn=True)
    assert ok == all(f in flags for f in mixed_precision.BF16_FLAGS), why


AMP_SCRIPT = textwrap.dedent('''
    import numpy as np
    import utils
    from benchmarks import mixed_precision
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
    history = mixed_precision.train(train, test, net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer,
                                    mx.cpu(), 3)
    print('OUTPUT_DTYPE', np.dtype(net(X).dtype).name if net(X).dtype != np.float32 else 'float32')
    print('SCALER', getattr(trainer, '_amp_loss_scaler', None) is not None)
    print('LOSSES', *history['loss'].round(4))
    print('TEST_ACC', history['test_acc'].iloc[-1])
''')


def run_amp(real_data_dir, **env):
    # AMP changes MXNet for the whole process and cannot be switched off: run it in its own.
    run = subprocess.run([sys.executable, '-c', AMP_SCRIPT.format(data=str(real_data_dir))], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, env=dict(os.environ, **env))
    assert run.returncode == 0, run.stderr[-3000:]
    out = dict(line.split(' ', 1) for line in run.stdout.splitlines()
               if line.split(' ', 1)[0] in ('OUTPUT_DTYPE', 'SCALER', 'LOSSES', 'TEST_ACC'))
    losses = [float(v) for v in out['LOSSES'].split()]
    assert len(losses) == 3 and all(np.isfinite(losses)) and losses[-1] < losses[0] < 2.35
    assert float(out['TEST_ACC']) > 0.4
    return run.stdout, out


BF16_OK, BF16_WHY = mixed_precision.cpu_bfloat16_support()


@pytest.mark.skipif(not BF16_OK, reason=f"{utils.hardware.cpu_model()}: {BF16_WHY}")
def test_mixed_precision_trains_in_bfloat16_on_an_avx512_cpu(real_data_dir):
    shown, out = run_amp(real_data_dir)
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
def test_without_avx512_bfloat16_really_fails_in_mxnet(case):
    """What the fallback avoids: MXNet's bfloat16 convolution on oneDNN without AVX-512."""
    script = textwrap.dedent('''
        import utils
        from mxnet.contrib import amp
        mx = utils.mx
        amp.init(target_dtype='bfloat16')
        net = mx.gluon.nn.Conv2D(4, 3, in_channels=1)
        net.initialize()
        net(mx.nd.ones((2, 1, 8, 8))).wait_to_read()
    ''')
    env, error, _ = WITHOUT_BF16[case]
    run = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, **env))
    assert run.returncode != 0 and error in run.stderr


@pytest.mark.parametrize('case', sorted(WITHOUT_BF16))
def test_mixed_precision_falls_back_to_float32_without_bfloat16_and_says_so(real_data_dir, case):
    env, _, why = WITHOUT_BF16[case]
    shown, out = run_amp(real_data_dir, **env)
    notes = [line for line in shown.splitlines() if 'Mixed precision' in line]
    assert notes == [f'Mixed precision is not available here ({why}): training in float32.']
    assert 'mixed precision (' not in shown
    assert out['OUTPUT_DTYPE'] == 'float32' and out['SCALER'] == 'False'
