"""Make MXNet 1.9.1 (the last release) importable on today's Python, numpy and Colab GPUs.

Every notebook reaches MXNet through `import utils`, which calls `import_mxnet()` from here before
anything else touches `mxnet`. This module does nothing when imported (no output, no settings
changed); it needs only the standard library (numpy is imported when the shim runs), so the Colab
bootstrap and scripts/gpu_probe.py can load it before MXNet is installed. Its jobs:

1. numpy shim: numpy >= 1.24 and 2.x removed names MXNet still reads. We add *only* the names the
   installed numpy lacks, so nothing changes on numpy 1.23.5. `sometrue`, `alltrue`, `round_` and
   `product` must be new wrapper functions, not the objects `np.any`/`np.all`/`np.round`/`np.prod`:
   MXNet keys its `__array_function__` table by function object and would otherwise re-map those.
2. The GPU decision: from the GPUs utils.hardware finds (without MXNet) and the MXNet build
   installed, whether MXNet may run on the GPU (its GPU build has no code for, e.g., an H100).
3. CUDA-11 preload: the GPU wheel (mxnet-cu117) links against CUDA-11 libraries that Colab (CUDA 12)
   does not have. They are pip-installed into their own folder, and loaded here, in dependency
   order, with RTLD_GLOBAL before `import mxnet`: the dynamic loader then resolves libmxnet.so's
   NEEDED sonames to these already-loaded copies (LD_LIBRARY_PATH cannot change inside a kernel).
4. After the import: SGD's update of large CPU arrays through MXNet's faster single-array kernel
   (utils.cpu_sgd: the same results, bit for bit).
"""
import ctypes
import importlib.metadata
import os
import sys
import warnings
from dataclasses import dataclass

from . import config, cpu_sgd, hardware


class CompatError(RuntimeError):
    """MXNet cannot be set up on this machine as it is; the message says what to do."""


# ---------------------------------------------------------------- 1. numpy shim

def _wrapper(name, target):
    def fn(*args, **kwargs):
        return target(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"Compatibility wrapper for the removed numpy.{name}; calls numpy.{target.__name__}."
    return fn


def _removed_financial(name):
    # numpy 2 moved these to the numpy-financial package; MXNet only re-exports them.
    def fn(*args, **kwargs):
        raise NotImplementedError(f"numpy.{name} was removed in numpy 2; use numpy_financial.{name} "
                                  "from the numpy-financial package instead.")
    fn.__name__ = name
    return fn


def _missing_numpy_names(np):
    """name -> value for every name MXNet needs that this numpy lacks."""
    plain = {
        'bool': bool,
        'NaN': np.nan, 'NAN': np.nan, 'Inf': np.inf, 'PINF': np.inf, 'NINF': -np.inf,
        'PZERO': 0.0, 'NZERO': -0.0,
        'msort': lambda a: np.sort(a, axis=0),
    }
    plain.update({name: _removed_financial(name) for name in ('mirr', 'npv', 'pmt', 'ppmt', 'pv', 'rate')})
    wrapped = {'sometrue': np.any, 'alltrue': np.all, 'round_': np.round, 'product': np.prod}
    if hasattr(np, 'trapezoid'):
        wrapped['trapz'] = np.trapezoid
    names = {}
    for name, value in plain.items():
        if not _has(np, name):
            names[name] = value
    for name, target in wrapped.items():
        if not _has(np, name):
            names[name] = _wrapper(name, target)
    if not _has(np, 'in1d') and hasattr(np, 'isin'):
        names['in1d'] = lambda ar1, ar2, assume_unique=False, invert=False: np.isin(
            np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)
    return names


def _has(np, name):
    # numpy 1.2x still answers deprecated names (with a warning): those are not missing.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return hasattr(np, name)


def patch_numpy():
    """Add the missing names to numpy (idempotent). Returns the list of names added."""
    import numpy as np
    added = []
    for name, value in _missing_numpy_names(np).items():
        setattr(np, name, value)
        added.append(name)
    if not hasattr(np, 'compat'):
        import types
        np.compat = types.SimpleNamespace(basestring=str, long=int, unicode=str)
        added.append('compat')
    elif not hasattr(np.compat, 'basestring'):
        np.compat.basestring = str
        added.append('compat.basestring')
    return added


# ---------------------------------------------------------------- 2. which GPUs MXNet can run on
# (probed in utils.hardware; named here too because the GPU decision below is stated in them)
Gpu, MXNET_GPU_ARCHS = hardware.Gpu, hardware.MXNET_GPU_ARCHS
find_gpus, unsupported_gpu_message = hardware.find_gpus, hardware.unsupported_gpu_message


# ---------------------------------------------------------------- 3. CUDA-11 libraries

# The wheels that provide mxnet-cu117's CUDA-11 libraries (versions known to work; nvrtc 11.8 because
# 11.7 cannot compile MXNet's fused kernels for an L4, compute capability 8.9). ~1.85 GB download.
CUDA11_WHEELS = (
    'nvidia-cuda-runtime-cu11==11.8.89',
    'nvidia-cublas-cu11==11.11.3.6',
    'nvidia-cufft-cu11==10.9.0.58',
    'nvidia-curand-cu11==10.3.0.86',
    'nvidia-cusparse-cu11==11.7.5.86',
    'nvidia-cusolver-cu11==11.4.1.48',
    'nvidia-cuda-nvrtc-cu11==11.8.89',
    'nvidia-nvtx-cu11==11.8.86',
    'nvidia-nccl-cu11==2.21.5',
    'nvidia-cudnn-cu11==8.9.6.50',
)
MXNET_GPU_WHEEL = 'mxnet-cu117==1.9.1'
MXNET_CPU_WHEEL = 'mxnet==1.9.1'

# (folder under <dir>/nvidia/, file in its lib/), in load order: each library's NEEDED CUDA
# libraries come before it. cudnn_cnn_infer also needs the system's libz.so.1.
CUDA11_LIBRARIES = (
    ('cuda_runtime', 'libcudart.so.11.0'),
    ('cublas', 'libcublasLt.so.11'),
    ('cublas', 'libcublas.so.11'),
    ('cufft', 'libcufft.so.10'),
    ('curand', 'libcurand.so.10'),
    ('cusparse', 'libcusparse.so.11'),
    ('cusolver', 'libcusolver.so.11'),
    ('cuda_nvrtc', 'libnvrtc.so.11.2'),
    ('nvtx', 'libnvToolsExt.so.1'),
    ('nccl', 'libnccl.so.2'),
    ('cudnn', 'libcudnn_ops_infer.so.8'),
    ('cudnn', 'libcudnn_ops_train.so.8'),
    ('cudnn', 'libcudnn_cnn_infer.so.8'),
    ('cudnn', 'libcudnn_cnn_train.so.8'),
    ('cudnn', 'libcudnn_adv_infer.so.8'),
    ('cudnn', 'libcudnn_adv_train.so.8'),
    ('cudnn', 'libcudnn.so.8'),
)
CUDA11_DIR_ENV = 'COURSE_CUDA11_DIR'
COLAB_CUDA11_DIR = '/content/cuda11'  # where the Colab set-up cell installs them
# Frameworks that bring CUDA-12 or CUDA-13 copies of libcurand.so.10, libcusolver.so.11, libnccl.so.2 (same sonames).
CONFLICTING_FRAMEWORKS = ('torch', 'tensorflow', 'jax', 'cupy')


class FrameworkAlreadyLoaded(CompatError):
    pass


class CudaLibrariesMissing(CompatError):
    pass


class CudaPreloadFailed(CompatError):
    pass


def install_command(folder):
    """The pip command that installs (or repairs) the CUDA-11 libraries in `folder`.

    --upgrade matters: into an existing --target folder, pip without it only warns "Target directory
    ... already exists" and leaves a missing library missing; with it, pip replaces the packages."""
    return f"pip install --upgrade --no-deps --target {folder} " + ' '.join(CUDA11_WHEELS)


def _path(folder, entry):
    sub, name = entry
    return os.path.join(folder, 'nvidia', sub, 'lib', name)


def missing_libraries(folder, libraries=CUDA11_LIBRARIES):
    return [_path(folder, entry) for entry in libraries if not os.path.isfile(_path(folder, entry))]


def cuda11_dir_candidates():
    """Where to look: $COURSE_CUDA11_DIR, the Colab cell's folder, then every sys.path entry (a local
    `pip install nvidia-*-cu11` puts them in site-packages)."""
    found = [config.current().cuda11_dir, COLAB_CUDA11_DIR] + list(sys.path)
    return [d for d in dict.fromkeys(found) if d]


def find_cuda11_dir(libraries=CUDA11_LIBRARIES):
    """The first candidate folder holding every library, or None."""
    for folder in cuda11_dir_candidates():
        if not missing_libraries(folder, libraries):
            return folder
    return None


# Files that CUDA-12 wheels (Colab's torch) also put at the same paths in site-packages: finding only
# these says nothing about MXNet's CUDA-11 folder.
SHARED_WITH_CUDA12 = ('libcurand.so.10', 'libcusolver.so.11', 'libnccl.so.2', 'libnvToolsExt.so.1')


def incomplete_cuda11_dir(libraries=CUDA11_LIBRARIES):
    """(folder, missing paths) of the first candidate folder that holds part of the CUDA-11
    libraries (at least one that no CUDA-12 wheel provides), or None."""
    for folder in cuda11_dir_candidates():
        missing = missing_libraries(folder, libraries)
        present = {name for sub, name in libraries if _path(folder, (sub, name)) not in missing}
        if missing and present - set(SHARED_WITH_CUDA12):
            return folder, missing
    return None


def _loaded_libraries():
    """Paths of the shared libraries mapped into this process (Linux)."""
    try:
        with open('/proc/self/maps') as maps:
            return {line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6
                    and '.so' in line}
    except OSError:
        return set()


def check_no_conflicts(folder, libraries=CUDA11_LIBRARIES):
    """Raise FrameworkAlreadyLoaded if another copy of one of our sonames is already in the process:
    the loader would bind MXNet to that copy (first loaded wins) instead of ours."""
    wanted = {name: _path(folder, (sub, name)) for sub, name in libraries}
    foreign = sorted(path for path in _loaded_libraries()
                     if os.path.basename(path) in wanted
                     and os.path.realpath(path) != os.path.realpath(wanted[os.path.basename(path)]))
    frameworks = [name for name in CONFLICTING_FRAMEWORKS if name in sys.modules]
    if foreign or frameworks:
        what = []
        if frameworks:
            what.append(f"{', '.join(frameworks)} {'is' if len(frameworks) == 1 else 'are'} already imported")
        if foreign:
            what.append("other copies of MXNet's CUDA libraries are already loaded: " + ', '.join(foreign))
        raise FrameworkAlreadyLoaded(
            f"MXNet's CUDA-11 libraries must be loaded first, but {'; '.join(what)}. Those frameworks "
            "bring their own CUDA-12 or CUDA-13 libraries with the same sonames, and the first copy loaded wins, so MXNet "
            "would run on the wrong ones. "
            "Restart the runtime (Colab: Runtime > Restart session) and import utils (the notebook's "
            "first cells) before torch, tensorflow or jax.")


def preload_cuda11(folder, libraries=CUDA11_LIBRARIES):
    """Load every library in `libraries` from `folder`, in order, with RTLD_GLOBAL. Returns the paths.

    Raises CudaLibrariesMissing (files absent) or CudaPreloadFailed (the loader refused one; the
    message says whether the list's order or a system library is to blame).
    """
    missing = missing_libraries(folder, libraries)
    if missing:
        raise CudaLibrariesMissing(
            f"MXNet's CUDA-11 libraries are incomplete in {folder}: missing {', '.join(missing)}. "
            f"Install them with `{install_command(folder)}` (on Colab: run the notebook's first cell "
            f"again), or set {CUDA11_DIR_ENV} to the folder that holds them.")
    check_no_conflicts(folder, libraries)
    loaded = []
    for entry in libraries:
        path = _path(folder, entry)
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as err:
            raise CudaPreloadFailed(_explain_load_error(path, str(err))) from err
        loaded.append(path)
    return loaded


def _explain_load_error(path, error):
    # glibc: "<needed>: cannot open shared object file: No such file or directory". (The real
    # wheels find each other through their own RUNPATHs, so the list's order cannot cause this.)
    needed = error.split(':', 1)[0].strip() if 'cannot open shared object file' in error else ''
    needed = os.path.basename(needed)
    if needed and needed != os.path.basename(path):
        return (f"Loading {path} failed: it needs {needed}, which is not one of MXNet's CUDA-11 "
                f"libraries and is not installed on this system. Install the system package that "
                f"provides {needed} (for libz.so.1: `apt-get install zlib1g`) and restart the runtime "
                f"(loader said: {error}).")
    return (f"Loading {path} failed: {error}. The file may be damaged or for another platform; "
            f"reinstall with `{install_command(os.path.dirname(path).rsplit('/nvidia/', 1)[0])}`.")


# ---------------------------------------------------------------- 4. putting it together

@dataclass
class GpuStatus:
    """What the compat layer decided before importing MXNet (utils.devices reads it)."""
    mxnet_build: str          # 'gpu', 'cpu' or 'missing'
    gpus: tuple = ()
    usable: bool = False      # True only if MXNet may run on gpu(0)
    message: str = ''         # why not, when a GPU is there but cannot be used
    preloaded: tuple = ()     # library paths loaded by preload_cuda11


GPU_STATUS = None


def mxnet_distribution():
    """(name, version) of the installed MXNet distribution (mxnet, mxnet-cu117, ...), or None."""
    found = []
    for dist in importlib.metadata.distributions():
        name = (dist.metadata['Name'] or '').lower()
        if name == 'mxnet' or name.startswith('mxnet-'):
            found.append((name, dist.version))
    return sorted(found)[0] if found else None


def plan_gpu(gpus, mxnet_build):
    """Decide from the GPUs found and the MXNet build installed (pure: no side effects)."""
    gpus = tuple(gpus)
    if mxnet_build != 'gpu':
        msg = ''
        if gpus and mxnet_build == 'cpu' and gpus[0].mxnet_arch:
            msg = (f"{gpus[0]} found, but the installed MXNet is the CPU build: using the CPU. "
                   f"For the GPU install {MXNET_GPU_WHEEL} and its CUDA-11 libraries (see book/colab.md).")
        return GpuStatus(mxnet_build, gpus, False, msg)
    if not gpus:
        return GpuStatus('gpu', gpus, False, '')
    if gpus[0].mxnet_arch is None:
        return GpuStatus('gpu', gpus, False, unsupported_gpu_message(gpus[0]))
    return GpuStatus('gpu', gpus, True, '')


def prepare_gpu_mxnet(libcuda=None):
    """Before `import mxnet`: find out which build and GPU we have, preload CUDA 11 if needed."""
    dist = mxnet_distribution()
    build = 'missing' if dist is None else ('gpu' if dist[0].startswith('mxnet-cu') else 'cpu')
    gpus = find_gpus(libcuda) if build != 'missing' else []
    status = plan_gpu(gpus, build)
    if build == 'gpu':
        if not gpus:
            raise CompatError(
                f"The installed MXNet is the GPU build ({dist[0]}), but no NVIDIA GPU or driver was "
                "found, and that build cannot even be imported without one. On Colab choose a GPU "
                "runtime (Runtime > Change runtime type) and run the first cell again; elsewhere "
                f"replace it: `pip uninstall -y {dist[0]} && pip install --no-deps {MXNET_CPU_WHEEL}`.")
        folder = find_cuda11_dir()
        partial = incomplete_cuda11_dir() if folder is None else None
        if partial:
            folder, missing = partial
            raise CudaLibrariesMissing(
                f"The GPU build of MXNet ({dist[0]}) needs CUDA-11 libraries that are incomplete in "
                f"{folder}: missing {', '.join(missing)}. Repair them with "
                f"`{install_command(folder)}` (on Colab: run the notebook's first cell again), "
                "then restart the kernel.")
        if folder is None:
            target = config.current().cuda11_dir or COLAB_CUDA11_DIR
            raise CudaLibrariesMissing(
                f"The GPU build of MXNet ({dist[0]}) needs CUDA-11 libraries that were not found "
                f"(looked in ${CUDA11_DIR_ENV}, {COLAB_CUDA11_DIR} and sys.path). Install them with "
                f"`{install_command(target)}` (on Colab: run the notebook's first cell again), then "
                "restart the kernel.")
        status.preloaded = tuple(preload_cuda11(folder))
    return status


def prepare():
    """What MXNet needs before its import: numpy's removed names, and on a GPU machine the CUDA-11
    libraries preloaded (once; utils.devices shows the outcome when it picks a device)."""
    global GPU_STATUS
    patch_numpy()
    if 'mxnet' not in sys.modules and GPU_STATUS is None:
        GPU_STATUS = prepare_gpu_mxnet()


def import_mxnet():
    """Import MXNet through the compatibility layer and return the module."""
    prepare()
    try:
        import mxnet
    except ModuleNotFoundError as err:
        if err.name != 'mxnet':
            raise ModuleNotFoundError(
                f"MXNet 1.9.1 needs the module {err.name!r}, which is not installed. "
                f"Install it with `pip install {err.name if err.name != 'distutils' else 'setuptools'}` "
                "(on Python 3.12+ MXNet needs setuptools for distutils, and requests)."
            ) from err
        raise ModuleNotFoundError(
            "MXNet is not installed. Locally run the README's set-up command "
            "(`bash scripts/test.sh` or `bash scripts/build_book.sh`); on Colab run the notebook's "
            f"first cell; or install it with `pip install --no-deps {MXNET_CPU_WHEEL}`."
        ) from err
    cpu_sgd.install(mxnet)
    return mxnet
