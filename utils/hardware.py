"""What this machine is: its CPU (model, cores, instruction sets), its NVIDIA GPUs, its threads.

Every probe of the machine lives here: /proc/cpuinfo, the process's CPU affinity, the NVIDIA driver
library and nvidia-smi. Standard library only, so `utils.compat` and the Colab bootstrap can use it
before MXNet is installed or imported. Measurements of speed, which need MXNet, are in utils.speed.
"""
import ctypes
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass

from . import config

CPUINFO = '/proc/cpuinfo'


# ---------------------------------------------------------------- CPU

def _cpuinfo_records(path=CPUINFO):
    """One dict per logical CPU in /proc/cpuinfo ([] when it cannot be read)."""
    records, record = [], {}
    try:
        with open(path) as info:
            for line in info:
                key, sep, value = line.partition(':')
                if not sep:
                    if record:
                        records.append(record)
                    record = {}
                    continue
                record[key.strip()] = value.strip()
    except OSError:
        return []
    if record:
        records.append(record)
    return records


def allowed_cpus():
    """The logical CPUs this process may run on (a container or CI runner may allow fewer)."""
    if hasattr(os, 'sched_getaffinity'):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def physical_cores(cpuinfo=CPUINFO):
    """Physical CPU cores this process may use (hyperthread siblings counted once)."""
    allowed = allowed_cpus()
    cores = {(r.get('physical id'), r['core id']) for r in _cpuinfo_records(cpuinfo)
             if 'core id' in r and r.get('processor', '').isdigit() and int(r['processor']) in allowed}
    return len(cores) or len(allowed)


def cpu_model(cpuinfo=CPUINFO):
    for record in _cpuinfo_records(cpuinfo):
        if record.get('model name'):
            return record['model name']
    return platform.processor() or platform.machine()


def cpu_flags(cpuinfo=CPUINFO):
    """The instruction-set flags the kernel reports for the first CPU (e.g. 'avx2', 'avx512bw')."""
    for record in _cpuinfo_records(cpuinfo):
        if 'flags' in record:
            return set(record['flags'].split())
    return set()


def cpu_info():
    """{'model', 'logical_cores', 'memory_gb'} of this machine's CPU side (best effort)."""
    try:
        memory_gb = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1e9
    except (ValueError, OSError, AttributeError):
        memory_gb = float('nan')
    return {'model': cpu_model(), 'logical_cores': len(allowed_cpus()), 'memory_gb': memory_gb}


def set_cpu_threads(cfg=None):
    """Give MXNet one OpenMP thread per physical core unless the user chose (OMP_NUM_THREADS).

    MXNet 1.9 otherwise uses half the logical CPUs, assuming hyperthreading: on a 2-core machine
    without it that is one thread, half the machine. Takes effect only before `import mxnet`
    (utils/__init__ calls it first). Returns the thread count."""
    cfg = cfg or config.current()
    # MXNet copies an array of more than 200,000 bytes (nd.array of the dataset, asnumpy of a big
    # one) with an OpenMP loop in the calling Python thread. That starts a second OpenMP team
    # beside the engine's; with more OpenMP threads than CPUs, libgomp cuts its spin-wait short
    # (its "throttled" spin), so the engine's threads sleep and wake around every operator:
    # LeNet's training step took 50-55 ms instead of 33 on 2 cores (benchmarks/README.md, "The
    # second OpenMP team"). Serial copies start no team; they are memory-bound anyway.
    defaults = {'MXNET_CPU_PARALLEL_SIZE': str(2**31 - 1)}
    # How long an idle OpenMP thread spins before it sleeps. libgomp's default (300,000 spins)
    # burns the CPU that other programs need: with one busy program beside it, LeNet's step took
    # 133 ms against 68 with the short spin of before. 1,000 spins was the fastest alone (35-37 ms
    # against 40-48 for the default) and 98-105 ms beside one or two busy programs
    # (benchmarks/README.md, "The second OpenMP team"). Read by libgomp when MXNet loads it.
    defaults['GOMP_SPINCOUNT'] = '1000'
    for name, value in defaults.items():
        if name not in cfg.openmp_chosen:
            os.environ[name] = value
    if cfg.omp_threads is not None:
        return cfg.omp_threads
    threads = physical_cores()
    os.environ['OMP_NUM_THREADS'] = str(threads)  # read by MXNet's OpenMP runtime when it starts
    return threads


# ---------------------------------------------------------------- NVIDIA GPUs

# Machine code in mxnet-cu117 1.9.1's libmxnet.so (upstream build config "5.0;6.0;7.0;8.0;8.6"),
# and no PTX, so nothing can be compiled for a newer GPU at run time.
MXNET_GPU_ARCHS = ((5, 0), (6, 0), (7, 0), (8, 0), (8, 6))
_CU_DEVICE_ATTRIBUTE_CC_MAJOR, _CU_DEVICE_ATTRIBUTE_CC_MINOR = 75, 76


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    capability: tuple  # (major, minor)

    @property
    def mxnet_arch(self):
        """The MXNet machine code this GPU runs, or None.

        CUDA runs code built for X.y on any GPU X.z with z >= y (same major version), so a T4 (7.5)
        runs the 7.0 code, an L4 (8.9) the 8.6 code, and an H100 (9.0) nothing.
        """
        major, minor = self.capability
        fits = [arch for arch in MXNET_GPU_ARCHS if arch[0] == major and arch[1] <= minor]
        return max(fits) if fits else None

    def __str__(self):
        return f"{self.name} (compute capability {self.capability[0]}.{self.capability[1]})"


def unsupported_gpu_message(gpu):
    archs = ', '.join(f'{a}.{b}' for a, b in MXNET_GPU_ARCHS)
    return (f"MXNet 1.9.1 has no code for the {gpu}: its GPU build carries machine code for compute "
            f"capabilities {archs} only, each usable on GPUs of the same major version, and no PTX "
            "to compile for newer ones. Using the CPU. For GPU training choose a T4, L4 or A100 "
            "(on Colab: Runtime > Change runtime type).")


def gpus_via_libcuda(libcuda=None):
    """The GPUs the NVIDIA driver reports, or None when the driver library cannot be used.

    libcuda: the driver library, default $COURSE_LIBCUDA or libcuda.so.1 (tests use a stand-in)."""
    try:
        cuda = ctypes.CDLL(libcuda or config.current().libcuda or 'libcuda.so.1')
    except OSError:
        return None
    count, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return None
    gpus = []
    for index in range(count.value):
        device, name = ctypes.c_int(), ctypes.create_string_buffer(256)
        if (cuda.cuDeviceGet(ctypes.byref(device), index) != 0
                or cuda.cuDeviceGetAttribute(ctypes.byref(major), _CU_DEVICE_ATTRIBUTE_CC_MAJOR, device) != 0
                or cuda.cuDeviceGetAttribute(ctypes.byref(minor), _CU_DEVICE_ATTRIBUTE_CC_MINOR, device) != 0):
            return None
        cuda.cuDeviceGetName(name, len(name), device)
        gpus.append(Gpu(index, name.value.decode(errors='replace') or 'NVIDIA GPU',
                        (major.value, minor.value)))
    return gpus


def gpus_via_nvidia_smi():
    """The GPUs nvidia-smi lists, or None when it is missing or fails."""
    if not shutil.which('nvidia-smi'):
        return None
    try:
        out = subprocess.run(['nvidia-smi', '--query-gpu=index,name,compute_cap',
                              '--format=csv,noheader'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    gpus = []
    for line in out.stdout.strip().splitlines():
        index, name, cap = (part.strip() for part in line.rsplit(',', 2)) if line.count(',') >= 2 else ('', '', '')
        try:
            major, minor = (int(x) for x in cap.split('.'))
            gpus.append(Gpu(int(index), name, (major, minor)))
        except ValueError:
            return None
    return gpus


def find_gpus(libcuda=None):
    """NVIDIA GPUs on this machine with their compute capability, read without MXNet ([] if none).

    Asks the driver library first (see gpus_via_libcuda), then nvidia-smi."""
    gpus = gpus_via_libcuda(libcuda)
    if gpus is None:
        gpus = gpus_via_nvidia_smi()
    return gpus or []


def gpu_name(index):
    """The name of GPU `index` as the driver reports it, or None."""
    for gpu in find_gpus():
        if gpu.index == index:
            return gpu.name
    return None
