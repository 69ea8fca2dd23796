"""The course on Python 3.12 and 3.13 with numpy 2 and CPU MXNet 1.9.1 (through utils.compat).

For each Python a virtual environment is made in the repository root (.venv-py312, .venv-py313;
gitignored, reused while its stamp matches) with the course's runtime pins from
requirements/base.txt plus requirements/nodeps.txt (mxnet, d2l with --no-deps, as setup_env.sh does).
Python 3.12 gets base.txt's numpy pin; Python 3.13 gets the newest numpy 2 release we checked
(NEWEST_NUMPY), so that what Colab may ship next is covered too. In each environment: import utils,
build the chapter's AlexNet, train a few batches through utils.train under the smoke profile,
evaluate accuracy, and execute one chapter notebook end to end.

Set COURSE_TEST_SETUP_ENV=1 to also run scripts/setup_env.sh itself with each Python (slower: it
installs the whole toolchain, Jupyter Book and otter included).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SHARED_DATA
PYENV = Path(os.environ.get('PYENV_ROOT', Path.home() / '.pyenv')) / 'versions'
PYTHONS = {'3.12': '3.12.1', '3.13': '3.13.0'}
NEWEST_NUMPY = 'numpy==2.5.5'
NUMPY_FOR = {'3.13': NEWEST_NUMPY}  # '3.12': base.txt's pin
# What the notebooks and utils need at run time (the rest of base.txt builds the book and tests).
RUNTIME = ('numpy', 'pandas', 'matplotlib', 'matplotlib-inline', 'requests', 'graphviz', 'setuptools',
           'tqdm', 'ipykernel', 'nbformat', 'nbclient')
CHAPTER = ROOT / 'notebooks' / '01_lenet.ipynb'


def find_python(version):
    for candidate in (os.environ.get(f"COURSE_TEST_PYTHON{version.replace('.', '')}"),
                      PYENV / PYTHONS[version] / 'bin' / 'python', shutil.which(f'python{version}')):
        if candidate and Path(candidate).exists():
            out = subprocess.run([str(candidate), '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                                 capture_output=True, text=True)
            if out.stdout.strip() == version:
                return str(candidate)
    message = (f"Python {version} not found (looked for $COURSE_TEST_PYTHON{version.replace('.', '')}, "
               f"{PYENV / PYTHONS[version]}, python{version} on PATH): install it, e.g. "
               f"`pyenv install {PYTHONS[version]}`")
    if os.environ.get('CI'):
        pytest.fail(message)
    pytest.skip(message)


def runtime_requirements(version):
    """The RUNTIME lines of requirements/base.txt (markers kept), numpy swapped where NUMPY_FOR says."""
    lines = []
    for line in (ROOT / 'requirements' / 'base.txt').read_text().splitlines():
        name = re.split(r'[<>=!~;\s\[]', line.strip(), maxsplit=1)[0].lower()
        if name in RUNTIME and not (name == 'numpy' and version in NUMPY_FOR):
            lines.append(line.strip())
    if version in NUMPY_FOR:
        lines.append(NUMPY_FOR[version])
    return '\n'.join(lines) + '\n'


def make_venv(version):
    """Create (or reuse) .venv-pyXY with the runtime pins; returns its python."""
    python = find_python(version)
    venv = ROOT / f".venv-py{version.replace('.', '')}"
    reqs = runtime_requirements(version)
    nodeps = (ROOT / 'requirements' / 'nodeps.txt').read_text()
    stamp = hashlib.sha256(f'{python}\n{reqs}\n{nodeps}'.encode()).hexdigest()[:16]
    stamp_file = venv / '.course-test-stamp'
    if stamp_file.exists() and stamp_file.read_text() == stamp and (venv / 'bin' / 'python').exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, '-m', 'venv', str(venv)], check=True)
    (venv / 'requirements-runtime.txt').write_text(reqs)
    pip = [str(venv / 'bin' / 'python'), '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
           '--no-compile']  # no .pyc precompiling: saves a third of the install time
    for args in (['-r', str(venv / 'requirements-runtime.txt')],
                 ['--no-deps', '-r', str(ROOT / 'requirements' / 'nodeps.txt')]):
        out = subprocess.run(pip + args, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"pip install {' '.join(args)} failed in {venv}:\n{out.stderr[-3000:]}"
    # The notebook kernel must be this environment's Python, whatever kernels the user has.
    subprocess.run([str(venv / 'bin' / 'python'), '-m', 'ipykernel', 'install', '--sys-prefix',
                    '--name', 'python3'], check=True, capture_output=True)
    stamp_file.write_text(stamp)
    return venv


def env_for(venv):
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    env.update(COURSE_PROFILE='smoke', JUPYTER_PATH=str(venv / 'share' / 'jupyter'),
               PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", MPLBACKEND='Agg')
    env['FASHION_MNIST_DIR'] = str(SHARED_DATA)
    return env


TRAIN = r'''
import json, sys
import utils                        # run in the repository root
import numpy as np
from mxnet import gluon, init
from utils import compat

names = [n for n in ('bool', 'NaN', 'Inf', 'PINF', 'NINF', 'PZERO', 'NZERO', 'alltrue', 'sometrue',
                     'round_', 'product', 'msort', 'mirr', 'in1d', 'trapz') if not compat._has(np, n)]
ctx = utils.try_gpu()
net = utils.alexnet()
net.initialize(init.Xavier(), ctx=ctx)
net.hybridize()
train, test = utils.load_data_fashion_mnist(16, resize=224, train_examples=32, test_examples=32)
trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
history = utils.train(train, test, net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer, ctx, 1,
                      progress=False)
acc = utils.evaluate_accuracy(test, net, ctx)
print('RESULT ' + json.dumps({
    'python': '%d.%d' % sys.version_info[:2], 'numpy': np.__version__, 'mxnet': utils.mx.__version__,
    'profile': utils.active_profile(), 'still_missing': names, 'epochs': len(history),
    'loss': float(history['loss'].iloc[-1]), 'acc': float(acc), 'ctx': str(ctx),
    'sometrue_is_any': np.sometrue is np.any}))
'''

EXECUTE = r'''
import json, sys
import nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
# One extra cell at the end says which interpreter and numpy actually ran the notebook.
nb.cells.append(nbformat.v4.new_code_cell(
    "import sys, numpy, json\nprint(json.dumps(['%d.%d' % sys.version_info[:2], numpy.__version__, sys.executable]))"))
NotebookClient(nb, timeout=600, kernel_name='python3',
               resources={'metadata': {'path': str(__import__('pathlib').Path(path).parent)}}).execute()
print('RESULT ' + nb.cells[-1].outputs[0]['text'].strip())
'''


def _result(out):
    lines = [line for line in out.stdout.splitlines() if line.startswith('RESULT ')]
    assert out.returncode == 0 and lines, f'stdout:\n{out.stdout[-3000:]}\nstderr:\n{out.stderr[-5000:]}'
    return json.loads(lines[-1][len('RESULT '):])


_venvs = {}


def _make_all_venvs():
    # Both environments are built at once (pip waits on downloads and disk much of the time).
    if not _venvs:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(len(PYTHONS)) as pool:
            futures = {v: pool.submit(make_venv, v) for v in sorted(PYTHONS)}
        for version, future in futures.items():
            try:
                _venvs[version] = future.result()
            except BaseException as err:  # noqa: B902 (pytest's skip/fail are BaseException)
                _venvs[version] = err
    return _venvs


@pytest.fixture(scope='module', params=sorted(PYTHONS))
def venv(request):
    made = _make_all_venvs()[request.param]
    if isinstance(made, BaseException):
        raise made
    return request.param, made


def test_alexnet_trains_and_evaluates_on_numpy_2(venv):
    version, path = venv
    out = subprocess.run([str(path / 'bin' / 'python'), '-c', TRAIN], capture_output=True,
                         text=True, env=env_for(path), timeout=600, cwd=ROOT)
    result = _result(out)
    assert result['python'] == version
    assert result['numpy'].startswith('2.')
    if version in NUMPY_FOR:
        assert result['numpy'] == NUMPY_FOR[version].split('==')[1]
    assert result['mxnet'] == '1.9.1' and result['profile'] == 'smoke' and result['ctx'] == 'cpu(0)'
    assert result['still_missing'] == []
    assert result['sometrue_is_any'] is False
    assert result['epochs'] == 1 and 0 < result['loss'] < 10
    assert 0.0 <= result['acc'] <= 1.0
    assert 'Epoch 1. Loss:' in out.stdout


def test_a_chapter_notebook_runs_end_to_end(venv):
    version, path = venv
    assert CHAPTER.exists(), f'{CHAPTER} is missing'
    out = subprocess.run([str(path / 'bin' / 'python'), '-c', EXECUTE, str(CHAPTER)], capture_output=True,
                         text=True, env=env_for(path), timeout=900, cwd=ROOT)
    ran_on, numpy_version, executable = _result(out)
    assert ran_on == version and numpy_version.startswith('2.')
    assert Path(executable).parent.parent.resolve() == path.resolve()


D2L_AFTER_UTILS = r'''
import json, sys
import utils                        # the notebooks' order: utils (and its numpy shim) first
from d2l import mxnet as d2l        # chapter 5 times d2l's loader against utils'
import numpy as np
timer = d2l.Timer()
# what chapter 5 times: d2l's per-image pipeline, Resize + ToTensor, on one 28x28 image
image = utils.mx.nd.array(np.arange(784).reshape(28, 28, 1) % 256, dtype='uint8')
out = d2l.transforms.Compose([d2l.transforms.Resize(224), d2l.transforms.ToTensor()])(image)
timer.stop()
train, test = utils.load_data_fashion_mnist(16, train_examples=32, test_examples=16)
lenet = utils.lenet()
lenet.initialize()
print('RESULT ' + json.dumps({'numpy': np.__version__, 'd2l_shape': list(out.shape), 'd2l_timer': timer.sum() > 0,
                              'utils_acc': float(utils.evaluate_accuracy(test, lenet, utils.mx.cpu()))}))
'''


def test_d2l_imports_and_runs_after_utils_on_numpy_2(venv):
    version, path = venv
    out = subprocess.run([str(path / 'bin' / 'python'), '-c', D2L_AFTER_UTILS],
                         capture_output=True, text=True, env=env_for(path), timeout=600, cwd=ROOT)
    result = _result(out)
    assert result['numpy'].startswith('2.') and result['d2l_shape'] == [1, 224, 224]
    assert result['d2l_timer']
    assert 0.0 <= result['utils_acc'] <= 1.0


@pytest.mark.skipif(os.environ.get('COURSE_TEST_SETUP_ENV') != '1',
                    reason='slow: set COURSE_TEST_SETUP_ENV=1 to run scripts/setup_env.sh with 3.12 and 3.13')
@pytest.mark.parametrize('version', sorted(PYTHONS))
def test_setup_env_script_works_with_modern_python(version, tmp_path):
    python = find_python(version)
    env = {k: v for k, v in os.environ.items() if k != 'VIRTUAL_ENV'}
    env.update(COURSE_VENV=str(tmp_path / 'venv'), COURSE_PYTHON=python)
    subprocess.run(['bash', str(ROOT / 'scripts' / 'setup_env.sh')], check=True, env=env, timeout=1800)
    out = subprocess.run([str(tmp_path / 'venv' / 'bin' / 'python'), '-c',
                          'import utils, numpy; '
                          'print("RESULT", __import__("json").dumps([numpy.__version__, utils.mx.__version__]))'],
                         capture_output=True, text=True, env=env_for(tmp_path / 'venv'), cwd=ROOT)
    numpy_version, mxnet_version = _result(out)
    assert numpy_version.startswith('2.') and mxnet_version == '1.9.1'
