#!/usr/bin/env python
"""On a machine with an NVIDIA GPU: what utils.hardware detects and utils.compat decides, without MXNet.

    python -m scripts.gpu_probe          # needs only the standard library (numpy not required)

Prints the GPUs as the driver (libcuda) and nvidia-smi report them, which MXNet 1.9.1 machine code
each would run, what the Colab set-up cell would install, and what `import utils` would do with
the GPU build installed. Exit status 0 when both detection paths agree, 1 otherwise.
"""
import json
import sys

from utils import compat, hardware  # standard library only: `import utils` loads no MXNet


def describe(gpus):
    if gpus is None:
        return 'unavailable'
    return [{'gpu': str(g), 'mxnet_code': '%d.%d' % g.mxnet_arch if g.mxnet_arch else None} for g in gpus]


via_libcuda, via_smi = hardware.gpus_via_libcuda(), hardware.gpus_via_nvidia_smi()
gpus = hardware.find_gpus()
status = compat.plan_gpu(gpus, 'gpu')
report = {
    'via_libcuda': describe(via_libcuda),
    'via_nvidia_smi': describe(via_smi),
    'colab_cell_would_install': (compat.MXNET_GPU_WHEEL + ' + CUDA-11 wheels')
    if gpus and gpus[0].mxnet_arch else compat.MXNET_CPU_WHEEL,
    'with_gpu_build': {'usable': status.usable, 'message': status.message},
    'installed_mxnet': compat.mxnet_distribution(),
    'cuda11_dir_found': compat.find_cuda11_dir(),
}
print(json.dumps(report, indent=2))
if status.message:
    print('\n' + status.message)
agree = (via_libcuda is not None and via_smi is not None
         and [g.capability for g in via_libcuda] == [g.capability for g in via_smi])
print('\nlibcuda and nvidia-smi agree' if agree else '\nlibcuda and nvidia-smi DISAGREE (or one is unavailable)')
sys.exit(0 if agree else 1)
