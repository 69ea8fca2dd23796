"""The course's training loop in mixed precision (MXNet's AMP): float16 on a GPU, bfloat16 on a CPU.

No chapter or exercise trains in mixed precision, so it lives here, beside the benchmark that
measures what it would give (`python -m benchmarks.vs_d2l --extras amp`, benchmarks/README.md).
`train(...)` is `utils.train`'s loop with MXNet's AMP (`mxnet.contrib.amp`) and its dynamic loss
scaling: float16 on a GPU; bfloat16 on a CPU whose oneDNN can compute in it (AVX-512, see
`cpu_bfloat16_support`; MXNet has no float16 matrix multiply on CPUs); elsewhere the run stays in
float32 and says so in one line. AMP changes MXNet for the whole process and cannot be switched
off: run it in a process of its own.
"""
import functools
import os

from utils import hardware, training

# What MXNet 1.9.1's oneDNN (v2.4.4) needs to run bfloat16 convolutions and matrix products:
# `platform::has_data_type_support(bf16)` is `mayiuse(avx512_core)`, i.e. AVX-512 F, BW, VL and DQ
# (src/cpu/platform.cpp, src/cpu/x64/cpu_isa_traits.hpp). With AVX512_BF16 (Cooper Lake, Sapphire
# Rapids, Zen 4) the conversions are native instructions, otherwise oneDNN emulates them. Without
# AVX-512 it has no bf16 kernel: "could not create a primitive descriptor iterator".
BF16_FLAGS = ('avx512f', 'avx512bw', 'avx512vl', 'avx512dq')
# DNNL_MAX_CPU_ISA values below avx512_core (oneDNN then behaves as on a CPU without AVX-512).
ISAS_WITHOUT_BF16 = ('sse41', 'avx', 'avx2', 'avx2_vnni', 'avx512_mic', 'avx512_mic_4ops')


def cpu_bfloat16_support(flags=None, max_isa=None, onednn=None):
    """(True, why) when MXNet's oneDNN can compute in bfloat16 on this CPU, else (False, why).

    flags: the CPU's flags (default: read /proc/cpuinfo); max_isa: oneDNN's cap (default:
    $DNNL_MAX_CPU_ISA); onednn: whether MXNet uses oneDNN at all (default: not
    MXNET_MKLDNN_ENABLED=0). Setting DNNL_MAX_CPU_ISA=AVX2 makes any CPU answer no, which is how
    the tests check the float32 fallback on an AVX-512 machine."""
    flags = hardware.cpu_flags() if flags is None else set(flags)
    if max_isa is None:
        max_isa = os.environ.get('DNNL_MAX_CPU_ISA') or os.environ.get('MKLDNN_MAX_CPU_ISA') or ''
    if onednn is None:
        onednn = os.environ.get('MXNET_MKLDNN_ENABLED', '1').strip() != '0'
    if not onednn:
        return False, ("MXNET_MKLDNN_ENABLED=0 turns oneDNN off, and MXNet's own CPU kernels have no "
                       "bfloat16")
    missing = [f for f in BF16_FLAGS if f not in flags]
    if missing:
        return False, (f"this CPU lacks AVX-512 ({', '.join(missing)}), which MXNet 1.9.1's oneDNN "
                       "needs for bfloat16")
    if max_isa.strip().lower() in ISAS_WITHOUT_BF16:
        return False, (f"DNNL_MAX_CPU_ISA={max_isa} keeps oneDNN below AVX-512, which it needs "
                       "for bfloat16")
    native = 'avx512_bf16' in flags or 'amx_bf16' in flags
    return True, f"AVX-512{' with native bfloat16' if native else ' (bfloat16 emulated by oneDNN)'}"


def mixed_precision_dtype(ctx, cpu_support=None):
    """(dtype, why): the low-precision type AMP uses on `ctx`, or None where there is none.

    float16 on a GPU; bfloat16 on a CPU that oneDNN can run it on; None otherwise, with the reason.
    cpu_support: (bool, why) as from cpu_bfloat16_support() (default: ask it)."""
    if ctx.device_type == 'gpu':
        return 'float16', 'GPU'
    supported, why = cpu_support or cpu_bfloat16_support()
    return ('bfloat16' if supported else None), why


def enable_amp(ctx):
    """Switch on MXNet's automatic mixed precision for this Python process (it cannot be undone).

    Call it before the network first runs; `train` calls it for you. Returns the
    `mxnet.contrib.amp` module, or raises RuntimeError where `ctx` has no low-precision type.
    """
    from mxnet.contrib import amp as mxnet_amp
    dtype, why = mixed_precision_dtype(ctx)
    if dtype is None:
        raise RuntimeError(f"No mixed precision on {ctx}: {why}. Train in float32 instead.")
    if not mxnet_amp.amp._amp_initialized:
        mxnet_amp.init(target_dtype=dtype)
    return mxnet_amp


def _prepare(net, trainer, ctx):
    """AMP on, the trainer given a loss scaler; a hybridized network's already-built graph (made
    in full precision before AMP was on) is dropped so the next call rebuilds it with AMP."""
    from mxnet.contrib import amp as mxnet_amp
    if not mxnet_amp.amp._amp_initialized:
        enable_amp(ctx)
        net.apply(lambda block: block._clear_cached_op()
                  if isinstance(block, training.mx.gluon.HybridBlock) else None)
    if getattr(trainer, '_amp_loss_scaler', None) is None:
        mxnet_amp.init_trainer(trainer)
    return mxnet_amp


def train(train_data, test_data, net, loss, trainer, ctx, num_epochs, *, progress=False):
    """`utils.train` in mixed precision where `ctx` has a low-precision type, else in float32,
    saying which in one line first. MXNet's loss scaler reads one overflow flag from the device
    per batch. Returns the history as `utils.train` does."""
    dtype, why = mixed_precision_dtype(ctx)
    if dtype is None:
        print(f"Mixed precision is not available here ({why}): training in float32.")
        scaler = None
    else:
        print(f"Training in mixed precision ({dtype})")
        scaler = _prepare(net, trainer, ctx)
    # the course's own loop, its batches' backward pass through the loss scaler
    return training._train(train_data, test_data, net, loss, trainer, ctx, num_epochs,
                           progress=progress,
                           run_epoch=functools.partial(training._train_epoch, scaler=scaler))
