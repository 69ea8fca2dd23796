"""utils.compat: the numpy shim, the GPU check and the CUDA-11 preload.

No GPU here, so the preload and the GPU check run against stand-in shared libraries compiled with gcc
in the test: libraries with MXNet's real CUDA-11 sonames that NEED each other, a stand-in libmxnet.so
that NEEDs them all (found only through the preload: no rpath, no LD_LIBRARY_PATH), and a stand-in
libcuda.so.1 that reports a chosen GPU. Each case runs in a fresh Python process, because what the
dynamic loader has loaded cannot be undone.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
from utils import compat

pytestmark = pytest.mark.skipif(not shutil.which('gcc') or not sys.platform.startswith('linux'),
                                reason='needs gcc on Linux for the stand-in libraries')

# Which stand-in library NEEDs which (as the real ones do: cublas needs cublasLt, cuDNN's train
# parts need their infer parts, ...).
DEPENDS = {
    'libcublas.so.11': ['libcublasLt.so.11'],
    'libcusolver.so.11': ['libcublas.so.11', 'libcublasLt.so.11'],
    'libcudnn_ops_train.so.8': ['libcudnn_ops_infer.so.8'],
    'libcudnn_cnn_infer.so.8': ['libcudnn_ops_infer.so.8'],
    'libcudnn_cnn_train.so.8': ['libcudnn_cnn_infer.so.8', 'libcudnn_ops_train.so.8'],
    'libcudnn_adv_infer.so.8': ['libcudnn_ops_infer.so.8'],
    'libcudnn_adv_train.so.8': ['libcudnn_adv_infer.so.8', 'libcudnn_ops_train.so.8'],
}

FAKE_LIBCUDA_C = r'''
#include <stdlib.h>
#include <string.h>
/* Stand-in for the NVIDIA driver API: one GPU whose name and compute capability come from the
   environment (FAKE_GPU_NAME, FAKE_GPU_CC="major.minor"). */
int cuInit(unsigned flags) { return getenv("FAKE_GPU_CC") ? 0 : 100; /* CUDA_ERROR_NO_DEVICE */ }
int cuDeviceGetCount(int *n) { *n = 1; return 0; }
int cuDeviceGet(int *dev, int i) { *dev = i; return 0; }
int cuDeviceGetName(char *name, int len, int dev) {
    strncpy(name, getenv("FAKE_GPU_NAME") ? getenv("FAKE_GPU_NAME") : "Fake GPU", len - 1);
    name[len - 1] = 0; return 0; }
int cuDeviceGetAttribute(int *value, int attr, int dev) {
    const char *cc = getenv("FAKE_GPU_CC");
    if (attr == 75) { *value = atoi(cc); return 0; }
    if (attr == 76) { *value = atoi(strchr(cc, '.') + 1); return 0; }
    return 1; }
'''


def _ident(soname):
    return re.sub(r'\W', '_', soname)


def _build(path, soname, c_source, needs=(), search=()):
    path.parent.mkdir(parents=True, exist_ok=True)
    src = path.parent / f'{_ident(soname)}.c'
    src.write_text(c_source)
    cmd = ['gcc', '-shared', '-fPIC', '-o', str(path), str(src), f'-Wl,-soname,{soname}',
           '-Wl,--no-as-needed']
    cmd += [f'-L{d}' for d in search] + [f'-l:{n}' for n in needs]
    subprocess.run(cmd, check=True, capture_output=True)
    src.unlink()
    return path


def _library_source(soname, value, needs):
    decls = ''.join(f'int value_{_ident(n)}(void);\n' for n in needs)
    total = ' + '.join([str(value)] + [f'value_{_ident(n)}()' for n in needs])
    return f'{decls}int value_{_ident(soname)}(void) {{ return {total}; }}\n'


@pytest.fixture(scope='session')
def standins(tmp_path_factory):
    """Stand-ins for the 17 CUDA-11 libraries (real sonames, real folder layout), a libmxnet.so that
    needs them all, and a libcuda.so.1."""
    base = tmp_path_factory.mktemp('standins')
    folder = base / 'cuda11'
    dirs = sorted({str(folder / 'nvidia' / sub / 'lib') for sub, _ in compat.CUDA11_LIBRARIES})
    expected = 0
    for position, (sub, name) in enumerate(compat.CUDA11_LIBRARIES, start=1):
        needs = DEPENDS.get(name, [])
        _build(folder / 'nvidia' / sub / 'lib' / name, name, _library_source(name, position, needs),
               needs, dirs)
    names = [name for _, name in compat.CUDA11_LIBRARIES]
    # value of each library = its position + the values of what it needs
    values = {}
    for position, (_, name) in enumerate(compat.CUDA11_LIBRARIES, start=1):
        values[name] = position + sum(values[n] for n in DEPENDS.get(name, []))
    expected = sum(values.values())
    mxnet = _build(base / 'mxnet' / 'libmxnet.so', 'libmxnet.so',
                   ''.join(f'int value_{_ident(n)}(void);\n' for n in names)
                   + 'int mxnet_sum(void) { return '
                   + ' + '.join(f'value_{_ident(n)}()' for n in names) + '; }\n',
                   names, dirs)
    libcuda = _build(base / 'driver' / 'libcuda.so.1', 'libcuda.so.1', FAKE_LIBCUDA_C)
    return types.SimpleNamespace(base=base, folder=folder, mxnet=mxnet, expected=expected,
                                 libcuda=libcuda)


PRELUDE = '''
import ctypes, json, sys
from utils import compat  # `import utils` loads no MXNet (run in the repository root)
def report(**kw):
    print('RESULT ' + json.dumps(kw))
def attempt(fn):
    try:
        return fn()
    except compat.CompatError as err:
        report(error=type(err).__name__, message=str(err))
        sys.exit(0)
'''


def run_compat(code, **env):
    """Run `code` in a fresh Python that has loaded utils/compat.py; return its RESULT dict."""
    full_env = {k: v for k, v in os.environ.items() if k not in ('COURSE_CUDA11_DIR', 'LD_LIBRARY_PATH')}
    full_env.update({k: str(v) for k, v in env.items()})
    out = subprocess.run([sys.executable, '-c', PRELUDE + textwrap.dedent(code)], capture_output=True,
                         text=True, env=full_env, timeout=120, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith('RESULT ')]
    assert out.returncode == 0 and lines, f'stdout:\n{out.stdout}\nstderr:\n{out.stderr}'
    return json.loads(lines[-1][len('RESULT '):])


# ---------------------------------------------------------------- the preload

def test_libmxnet_loads_only_through_the_preload(standins):
    result = run_compat(f'''
        try:
            ctypes.CDLL({str(standins.mxnet)!r})
            before = 'loaded'
        except OSError as err:
            before = str(err)
        loaded = compat.preload_cuda11({str(standins.folder)!r})
        lib = ctypes.CDLL({str(standins.mxnet)!r})
        report(before=before, loaded=loaded, total=lib.mxnet_sum())
    ''')
    assert 'cannot open shared object file' in result['before']
    assert [Path(p).name for p in result['loaded']] == [n for _, n in compat.CUDA11_LIBRARIES]
    assert result['total'] == standins.expected


def test_missing_file_says_how_to_install(standins, tmp_path):
    partial = tmp_path / 'partial'
    shutil.copytree(standins.folder, partial)
    (partial / 'nvidia' / 'curand' / 'lib' / 'libcurand.so.10').unlink()
    result = run_compat(f'''
        attempt(lambda: compat.preload_cuda11({str(partial)!r}))
        report(error=None)
    ''')
    assert result['error'] == 'CudaLibrariesMissing'
    assert 'libcurand.so.10' in result['message']
    assert f'pip install --upgrade --no-deps --target {partial}' in result['message']
    assert 'nvidia-curand-cu11==' in result['message']


def test_import_names_the_missing_file_of_an_incomplete_folder(standins, tmp_path):
    # What `import utils` reports (prepare_gpu_mxnet), not only the lower-level preload_cuda11.
    partial = tmp_path / 'partial'
    shutil.copytree(standins.folder, partial)
    (partial / 'nvidia' / 'cudnn' / 'lib' / 'libcudnn_cnn_infer.so.8').unlink()
    result = run_compat(GPU_BUILD + textwrap.dedent('''
        attempt(compat.prepare_gpu_mxnet)
        report(error=None)
    '''), COURSE_LIBCUDA=standins.libcuda, FAKE_GPU_CC='7.5', COURSE_CUDA11_DIR=partial)
    assert result['error'] == 'CudaLibrariesMissing'
    assert str(partial / 'nvidia' / 'cudnn' / 'lib' / 'libcudnn_cnn_infer.so.8') in result['message']
    assert f'pip install --upgrade --no-deps --target {partial}' in result['message']


def test_import_names_the_missing_file_in_site_packages_too(standins, tmp_path):
    # A local `pip install nvidia-*-cu11` puts them in site-packages (a sys.path entry).
    site = tmp_path / 'site-packages'
    shutil.copytree(standins.folder, site)
    (site / 'nvidia' / 'cublas' / 'lib' / 'libcublas.so.11').unlink()
    result = run_compat(GPU_BUILD + textwrap.dedent(f'''
        sys.path.append({str(site)!r})
        attempt(compat.prepare_gpu_mxnet)
        report(error=None)
    '''), COURSE_LIBCUDA=standins.libcuda, FAKE_GPU_CC='7.5')
    assert result['error'] == 'CudaLibrariesMissing'
    assert str(site / 'nvidia' / 'cublas' / 'lib' / 'libcublas.so.11') in result['message']


def test_cuda12_files_at_the_same_paths_do_not_count_as_an_incomplete_folder(tmp_path, monkeypatch):
    site = tmp_path / 'site-packages'
    for sub, name in compat.CUDA11_LIBRARIES:
        if name in compat.SHARED_WITH_CUDA12:
            (site / 'nvidia' / sub / 'lib').mkdir(parents=True, exist_ok=True)
            (site / 'nvidia' / sub / 'lib' / name).write_bytes(b'cuda 12 copy')
    monkeypatch.setattr(compat, 'cuda11_dir_candidates', lambda: [str(site)])
    assert compat.incomplete_cuda11_dir() is None
    (site / 'nvidia' / 'cudnn' / 'lib').mkdir(parents=True)
    (site / 'nvidia' / 'cudnn' / 'lib' / 'libcudnn.so.8').write_bytes(b'cuda 11 only')
    assert compat.incomplete_cuda11_dir()[0] == str(site)


def _tiny_wheel(folder, files):
    """A minimal valid wheel 'tinycuda 1.0' holding `files` (path inside -> bytes)."""
    import base64, hashlib, zipfile
    wheel = folder / 'tinycuda-1.0-py3-none-any.whl'
    records = []
    entries = dict(files)
    entries['tinycuda-1.0.dist-info/METADATA'] = b'Metadata-Version: 2.1\nName: tinycuda\nVersion: 1.0\n'
    entries['tinycuda-1.0.dist-info/WHEEL'] = (b'Wheel-Version: 1.0\nGenerator: test\n'
                                               b'Root-Is-Purelib: true\nTag: py3-none-any\n')
    with zipfile.ZipFile(wheel, 'w') as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
            records.append(f'{name},sha256={digest},{len(data)}')
        records.append('tinycuda-1.0.dist-info/RECORD,,')
        zf.writestr('tinycuda-1.0.dist-info/RECORD', '\n'.join(records) + '\n')
    return wheel


def test_only_upgrade_repairs_a_target_folder_missing_a_library(tmp_path):
    """Real pip, a tiny local wheel laid out like nvidia-curand-cu11: into an existing --target
    folder, pip without --upgrade leaves a deleted library missing; install_command's flags restore it."""
    lib = 'nvidia/curand/lib/libcurand.so.10'
    wheel = _tiny_wheel(tmp_path, {lib: b'not really a library', 'nvidia/curand/__init__.py': b''})
    target = tmp_path / 'cuda11'

    def pip(*flags):
        return subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-index',
                               '--disable-pip-version-check', *flags, '--target', str(target),
                               str(wheel)], capture_output=True, text=True, timeout=300)
    first = pip('--no-deps')
    assert first.returncode == 0 and (target / lib).is_file(), first.stderr
    (target / lib).unlink()
    again = pip('--no-deps')
    assert not (target / lib).exists(), 'pip without --upgrade repaired it after all'
    assert 'already exists' in again.stderr + again.stdout
    flags = compat.install_command('DIR').split('--target')[0].split()[2:]
    assert flags == ['--upgrade', '--no-deps']
    repaired = pip(*flags)
    assert repaired.returncode == 0 and (target / lib).read_bytes() == b'not really a library'


def test_missing_system_library_is_told_apart_from_a_wrong_order(standins, tmp_path):
    gone = _build(tmp_path / 'gone' / 'libnotthere.so.7', 'libnotthere.so.7', 'int value_gone(void) { return 1; }\n')
    _build(tmp_path / 'extra' / 'nvidia' / 'extra' / 'lib' / 'libextra.so.1', 'libextra.so.1',
           'int value_gone(void);\nint value_extra(void) { return value_gone(); }\n',
           ['libnotthere.so.7'], [gone.parent])
    gone.unlink()
    result = run_compat(f'''
        attempt(lambda: compat.preload_cuda11({str(tmp_path / 'extra')!r}, (('extra', 'libextra.so.1'),)))
        report(error=None)
    ''')
    assert result['error'] == 'CudaPreloadFailed'
    assert 'libnotthere.so.7' in result['message'] and 'not installed on this system' in result['message']
    assert 'order' not in result['message']


def test_a_copy_loaded_first_means_restart(standins, tmp_path):
    other = tmp_path / 'torch' / 'lib'
    other.mkdir(parents=True)
    shutil.copy(standins.folder / 'nvidia' / 'curand' / 'lib' / 'libcurand.so.10', other)
    result = run_compat(f'''
        ctypes.CDLL({str(other / 'libcurand.so.10')!r}, mode=ctypes.RTLD_GLOBAL)
        attempt(lambda: compat.preload_cuda11({str(standins.folder)!r}))
        report(error=None)
    ''')
    assert result['error'] == 'FrameworkAlreadyLoaded'
    assert str(other / 'libcurand.so.10') in result['message']
    assert 'Restart the runtime' in result['message']


def test_torch_imported_first_means_restart(standins):
    result = run_compat(f'''
        import types
        sys.modules['torch'] = types.ModuleType('torch')   # as if the notebook imported torch first
        attempt(lambda: compat.preload_cuda11({str(standins.folder)!r}))
        report(error=None)
    ''')
    assert result['error'] == 'FrameworkAlreadyLoaded'
    assert 'torch is already imported' in result['message'] and 'Restart the runtime' in result['message']


# ---------------------------------------------------------------- GPU check and decision

GPU_BUILD = "compat.mxnet_distribution = lambda: ('mxnet-cu117', '1.9.1')\n"


@pytest.mark.parametrize('name, cc, usable', [
    ('NVIDIA H100 80GB HBM3', '9.0', False),
    ('NVIDIA L4', '8.9', True),
    ('Tesla T4', '7.5', True),
])
def test_gpu_build_preloads_then_decides_by_compute_capability(standins, name, cc, usable):
    result = run_compat(GPU_BUILD + textwrap.dedent(f'''
        status = attempt(compat.prepare_gpu_mxnet)
        lib = ctypes.CDLL({str(standins.mxnet)!r})
        report(usable=status.usable, message=status.message, gpus=[str(g) for g in status.gpus],
               preloaded=len(status.preloaded), total=lib.mxnet_sum())
    '''), COURSE_LIBCUDA=standins.libcuda, COURSE_CUDA11_DIR=standins.folder,
        FAKE_GPU_NAME=name, FAKE_GPU_CC=cc)
    assert result['gpus'] == [f'{name} (compute capability {cc})']
    assert result['preloaded'] == len(compat.CUDA11_LIBRARIES)
    assert result['total'] == standins.expected
    assert result['usable'] is usable
    if not usable:
        assert name in result['message'] and cc in result['message']
        assert 'no code' in result['message'] and 'Using the CPU' in result['message']
    else:
        assert result['message'] == ''


def test_gpu_build_without_driver_says_what_to_do(tmp_path):
    result = run_compat(GPU_BUILD + textwrap.dedent('''
        attempt(compat.prepare_gpu_mxnet)
        report(error=None)
    '''), COURSE_LIBCUDA=tmp_path / 'no-libcuda.so.1', PATH=tmp_path)  # no nvidia-smi either
    assert result['error'] == 'CompatError'
    assert 'no NVIDIA GPU or driver' in result['message']
    assert 'pip install --no-deps mxnet==1.9.1' in result['message']


def test_gpu_build_without_cuda11_libraries_says_how_to_install(standins, tmp_path):
    result = run_compat(GPU_BUILD + textwrap.dedent('''
        attempt(compat.prepare_gpu_mxnet)
        report(error=None)
    '''), COURSE_LIBCUDA=standins.libcuda, FAKE_GPU_CC='7.5', COURSE_CUDA11_DIR=tmp_path / 'empty')
    assert result['error'] == 'CudaLibrariesMissing'
    assert f"pip install --upgrade --no-deps --target {tmp_path / 'empty'}" in result['message']
    assert 'nvidia-cudnn-cu11==8.9.6.50' in result['message']


def test_cuda_driver_without_gpu_counts_as_no_gpu(standins):
    result = run_compat(f'''
        report(gpus=compat.hardware.gpus_via_libcuda({str(standins.libcuda)!r}))
    ''')  # FAKE_GPU_CC unset: cuInit fails as on a machine without a GPU
    assert result['gpus'] is None


def test_nvidia_smi_is_the_fallback(tmp_path, monkeypatch):
    smi = tmp_path / 'nvidia-smi'
    smi.write_text('#!/bin/sh\nprintf "0, NVIDIA L4, 8.9\\n1, Tesla T4, 7.5\\n"\n')
    smi.chmod(0o755)
    monkeypatch.setenv('PATH', f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    gpus = compat.find_gpus(libcuda=str(tmp_path / 'absent.so'))
    assert [(g.index, g.name, g.capability) for g in gpus] == [(0, 'NVIDIA L4', (8, 9)), (1, 'Tesla T4', (7, 5))]


@pytest.mark.parametrize('cc, arch', [
    ((3, 7), None), ((5, 2), (5, 0)), ((6, 1), (6, 0)), ((7, 0), (7, 0)), ((7, 5), (7, 0)),
    ((8, 0), (8, 0)), ((8, 6), (8, 6)), ((8, 9), (8, 6)), ((9, 0), None), ((10, 0), None),
    ((12, 0), None),
])
def test_which_machine_code_a_gpu_runs(cc, arch):
    assert compat.Gpu(0, 'x', cc).mxnet_arch == arch


def test_cpu_build_with_a_usable_gpu_says_how_to_get_the_gpu_build():
    status = compat.plan_gpu([compat.Gpu(0, 'Tesla T4', (7, 5))], 'cpu')
    assert not status.usable and 'CPU build' in status.message and compat.MXNET_GPU_WHEEL in status.message
    assert compat.plan_gpu([compat.Gpu(0, 'NVIDIA H100', (9, 0))], 'cpu').message == ''


def test_try_gpu_trusts_the_compat_decision(monkeypatch):
    import utils
    from utils import devices
    calls = []
    monkeypatch.setattr(devices, '_chosen', None)
    monkeypatch.setattr(utils.compat, 'GPU_STATUS', compat.plan_gpu([compat.Gpu(0, 'NVIDIA H100', (9, 0))], 'gpu'))
    monkeypatch.setattr(devices.mx.context, 'num_gpus', lambda: calls.append(1) or 1)
    assert devices.try_gpu() == devices.mx.cpu()
    assert calls == []  # never asked MXNet about a GPU it has no code for


# ---------------------------------------------------------------- numpy shim and import errors

def _names_mxnet_reads_from_numpy():
    import mxnet
    src = Path(mxnet.__file__).parent
    names = set()
    for rel in ('numpy/fallback.py', 'numpy/utils.py'):
        names |= set(re.findall(r'\bonp\.([A-Za-z_]\w*)', (src / rel).read_text()))
    return names


def test_shim_provides_every_numpy_name_mxnet_reads():
    import numpy as np
    compat.patch_numpy()
    names = _names_mxnet_reads_from_numpy()
    assert {'mirr', 'bool', 'msort'} <= names  # the scan itself found what it should
    missing = [n for n in sorted(names) if not compat._has(np, n)]
    assert missing == []


def test_shim_adds_only_what_is_missing_and_is_idempotent():
    import warnings
    import numpy as np
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # numpy 1.2x warns on its deprecated names
        before = {name: getattr(np, name) for name in dir(np) if not name.startswith('_')}
        compat.patch_numpy()
        assert compat.patch_numpy() == []
        assert all(getattr(np, name) is value for name, value in before.items())  # nothing replaced


def test_shim_wrappers_on_a_numpy_without_the_old_names():
    import numpy as np
    # The names numpy 2.4 still has, and none of the removed ones.
    modern = types.SimpleNamespace(nan=np.nan, inf=np.inf, any=np.any, all=np.all, round=np.round,
                                   prod=np.prod, sort=np.sort, isin=np.isin, ravel=np.ravel,
                                   trapezoid=getattr(np, 'trapezoid', np.trapz))
    added = compat._missing_numpy_names(modern)
    assert {'bool', 'NaN', 'NINF', 'sometrue', 'alltrue', 'round_', 'product', 'msort', 'in1d',
            'trapz', 'mirr'} <= set(added)
    for name, target in (('sometrue', np.any), ('alltrue', np.all), ('round_', np.round), ('product', np.prod)):
        assert added[name] is not target  # new functions: MXNet's dispatch table is keyed by object
    assert added['sometrue']([0, 1]) and not added['alltrue']([0, 1])
    assert added['product']([2, 3]) == 6 and added['round_'](2.6) == 3
    assert added['in1d']([[1, 5]], [5]).tolist() == [False, True]
    assert added['trapz']([1.0, 1.0]) == 1.0 and added['NINF'] == -np.inf
    with pytest.raises(NotImplementedError, match='numpy_financial'):
        added['mirr']([1], 0.1, 0.1)


def test_mxnet_not_installed_says_how_to_install():
    result = run_compat('''
        sys.modules['mxnet'] = None   # as if it were not installed
        try:
            compat.import_mxnet()
            report(error=None)
        except ModuleNotFoundError as err:
            report(error='ModuleNotFoundError', message=str(err))
    ''')
    assert result['error'] == 'ModuleNotFoundError'
    assert 'MXNet is not installed' in result['message']
    assert 'pip install --no-deps mxnet==1.9.1' in result['message']


def test_gpu_probe_script_reports_the_decision(standins, tmp_path):
    smi = tmp_path / 'nvidia-smi'
    smi.write_text('#!/bin/sh\necho "0, NVIDIA H100 80GB HBM3, 9.0"\n')
    smi.chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
               COURSE_LIBCUDA=str(standins.libcuda), FAKE_GPU_CC='9.0', FAKE_GPU_NAME='NVIDIA H100 80GB HBM3')
    out = subprocess.run([sys.executable, '-m', 'scripts.gpu_probe'], capture_output=True,
                         text=True, env=env, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout[:out.stdout.index('\n}\n') + 2])
    assert report['via_libcuda'] == report['via_nvidia_smi'] == [
        {'gpu': 'NVIDIA H100 80GB HBM3 (compute capability 9.0)', 'mxnet_code': None}]
    assert report['colab_cell_would_install'] == 'mxnet==1.9.1'
    assert report['with_gpu_build']['usable'] is False and 'Using the CPU' in report['with_gpu_build']['message']


def test_mxnet_gets_one_thread_per_physical_core_unless_the_user_chose(monkeypatch):
    from utils import config, hardware
    cores = hardware.physical_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    assert hardware.set_cpu_threads(config.from_environment({})) == cores
    assert os.environ['OMP_NUM_THREADS'] == str(cores)
    monkeypatch.setenv('OMP_NUM_THREADS', '7')
    assert hardware.set_cpu_threads(config.from_environment({'OMP_NUM_THREADS': '7'})) == 7
    with pytest.raises(config.ConfigError, match='OMP_NUM_THREADS'):
        config.from_environment({'OMP_NUM_THREADS': 'all'})


def test_physical_cores_counts_hyperthread_siblings_once(tmp_path, monkeypatch):
    from utils import hardware
    info = tmp_path / 'cpuinfo'
    info.write_text(''.join(f'processor\t: {cpu}\nphysical id\t: 0\ncore id\t\t: {cpu // 2}\n'
                            'flags\t\t: fpu avx2\n\n' for cpu in range(4)))
    monkeypatch.setattr(hardware, 'allowed_cpus', lambda: {0, 1, 2, 3})
    assert hardware.physical_cores(str(info)) == 2
    monkeypatch.setattr(hardware, 'allowed_cpus', lambda: {0, 2})  # one thread of each core allowed
    assert hardware.physical_cores(str(info)) == 2
    monkeypatch.setattr(hardware, 'allowed_cpus', lambda: {0, 1})  # both threads of core 0
    assert hardware.physical_cores(str(info)) == 1
    assert hardware.cpu_flags(str(info)) == {'fpu', 'avx2'}


def test_compat_does_nothing_at_import(tmp_path):
    """No output and no environment change when compat is imported, only when MXNet is."""
    out = subprocess.run([sys.executable, '-c', textwrap.dedent('''
        import os, sys
        before = dict(os.environ)
        from utils import compat
        assert dict(os.environ) == before and 'mxnet' not in sys.modules and 'numpy' not in sys.modules
    ''')], capture_output=True, text=True, timeout=60, cwd=ROOT, env={k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'})
    assert out.returncode == 0 and out.stdout == '' and out.stderr == '', out.stderr


def test_a_large_copy_from_python_starts_no_second_openmp_team(tmp_path):
    """MXNet copies an array of more than MXNET_CPU_PARALLEL_SIZE bytes with an OpenMP loop in
    the calling (Python) thread: a second team of threads beside the engine's, which makes libgomp
    cut every thread's spin-wait short (LeNet's step 50-55 ms instead of 33 on 2 cores, see
    utils/hardware.py). utils raises the threshold, so the copy adds no thread; a user's own
    setting is kept."""
    script = (
        "import os, sys, numpy as np\n"
        "sys.path.insert(0, os.getcwd())\n"
        "import utils\n"
        "mx = utils.mx\n"
        "x = mx.nd.ones((256, 20, 24, 24)); (x * 2).wait_to_read()  # the engine's team exists\n"
        "before = len(os.listdir('/proc/self/task'))\n"
        "big = mx.nd.array(np.zeros((4000, 784), np.float32)); big.wait_to_read()\n"
        "print(before, len(os.listdir('/proc/self/task')), os.environ['MXNET_CPU_PARALLEL_SIZE'])\n")
    env = {k: v for k, v in os.environ.items() if k != 'MXNET_CPU_PARALLEL_SIZE'}
    env['OMP_NUM_THREADS'] = '2'
    out = subprocess.run([sys.executable, '-c', script], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == out[1], f'the copy started {int(out[1]) - int(out[0])} thread(s)'
    assert out[2] == str(2**31 - 1)
    # The same copy with MXNet's own threshold does start a team: the check above can fail.
    env['MXNET_CPU_PARALLEL_SIZE'] = '200000'
    out = subprocess.run([sys.executable, '-c', script], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    assert int(out[1]) > int(out[0]) and out[2] == '200000'


def test_openmp_threads_spin_briefly_unless_the_user_chose(tmp_path):
    """libgomp's default spin-wait burns the CPU other programs need (benchmarks/README.md, "The
    second OpenMP team"): utils sets a short one before MXNet loads libgomp; a user's value stays."""
    script = ("import os, sys\nsys.path.insert(0, os.getcwd())\nimport utils\nutils.mx.nd.ones(1).wait_to_read()\n"
              "maps = open('/proc/self/maps').read()\n"
              "print(os.environ.get('GOMP_SPINCOUNT'), 'libgomp' in maps)\n")
    env = {k: v for k, v in os.environ.items() if k != 'GOMP_SPINCOUNT'}
    out = subprocess.run([sys.executable, '-c', script], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ['1000', 'True']  # set, and libgomp (which reads it at load) is MXNet's runtime
    env['GOMP_SPINCOUNT'] = '50000'
    out = subprocess.run([sys.executable, '-c', script], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ['50000', 'True']
