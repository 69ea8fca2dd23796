"""The Colab set-up cell and the bootstrap it runs (scripts/colab_bootstrap.py): what they install on
Colab (GPU, unsupported GPU, CPU; d2l and otter only where used), what they fetch (utils/, never
instructors/), that they do nothing elsewhere, and that every notebook carries the identical,
short generated cell.

Colab is simulated: a fake `google.colab` package on PYTHONPATH (its `_message` answers with a chosen
notebook), a fake `nvidia-smi` on PATH for the GPU cases, a download that copies this working tree's
bootstrap, and a recording `subprocess.run` that logs pip and git instead of running them (the
"sparse checkout" links only the paths it names from this working tree, so `import utils` works only
if utils needs nothing else). The /content paths of the cell and the bootstrap are redirected into a
temporary folder; nothing else in their text is changed.
"""
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
from scripts import colab_cell

CUDA11_WHEELS = [
    'nvidia-cuda-runtime-cu11==11.8.89', 'nvidia-cublas-cu11==11.11.3.6',
    'nvidia-cufft-cu11==10.9.0.58', 'nvidia-curand-cu11==10.3.0.86',
    'nvidia-cusparse-cu11==11.7.5.86', 'nvidia-cusolver-cu11==11.4.1.48',
    'nvidia-cuda-nvrtc-cu11==11.8.89', 'nvidia-nvtx-cu11==11.8.86', 'nvidia-nccl-cu11==2.21.5',
    'nvidia-cudnn-cu11==8.9.6.50',
]

RUNNER = r'''
import json, os, shutil, subprocess, sys, urllib.error, urllib.request
calls, downloads, constraints, real_run = [], [], [], subprocess.run
CONTENT, REPO_ROOT = os.environ['CONTENT'], os.environ['REPO_ROOT']
INSTALLED = set(json.loads(os.environ.get('FAKE_INSTALLED', '[]')))  # 'name==version' already there
INTERRUPT = os.environ.get('INTERRUPT', '')  # the first command containing this is interrupted
interrupted = []

def redirect(text):
    return text.replace("'/content", repr(CONTENT)[:-1])

def recording_run(cmd, *args, **kwargs):
    cmd = [str(c) for c in cmd]
    if cmd[0] == 'git' or cmd[1:3] == ['-m', 'pip']:
        if '-c' in cmd:                                    # the constraints file, read before it goes
            n = cmd.index('-c') + 1
            constraints.append(open(cmd[n]).read())
            cmd = cmd[:n] + ['CONSTRAINTS'] + cmd[n + 1:]
        calls.append(cmd)
        if INTERRUPT and INTERRUPT in ' '.join(cmd) and not interrupted:
            interrupted.append(cmd)
            if cmd[:2] == ['git', 'clone']:
                os.mkdir(cmd[-1])                          # the clone had started
            raise KeyboardInterrupt
        if cmd[0] == 'git' and os.environ.get('GIT_FAILS'):
            raise subprocess.CalledProcessError(128, cmd, '', os.environ['GIT_FAILS'])
        if cmd[:2] == ['git', 'clone']:
            os.mkdir(cmd[-1])                              # a sparse clone starts with no files
        elif cmd[0] == 'git' and cmd[3:5] == ['sparse-checkout', 'set']:
            for pattern in cmd[5:]:
                if pattern.startswith('--'):
                    continue
                name = pattern.strip('/')
                os.symlink(os.path.join(REPO_ROOT, name), os.path.join(cmd[2], name))
        elif '--target' not in cmd:
            INSTALLED.update(a for a in cmd if '==' in a and not a.startswith('-'))
        return subprocess.CompletedProcess(cmd, 0, '', '')
    return real_run(cmd, *args, **kwargs)                 # nvidia-smi: the fake one on PATH

def fake_download(url, filename):
    downloads.append([url, filename])
    assert url.endswith('/scripts/colab_bootstrap.py'), url
    if os.environ.get('DOWNLOAD_FAILS'):
        raise urllib.error.HTTPError(url, 404, 'Not Found', {}, None)
    with open(os.path.join(REPO_ROOT, 'scripts', 'colab_bootstrap.py')) as f:
        text = redirect(f.read())
    with open(filename, 'w') as f:
        f.write(text)
    sys.path.insert(0, CONTENT)
    import colab_bootstrap                                 # what the cell imports next
    colab_bootstrap.installed = lambda requirement, path=None: requirement in INSTALLED

subprocess.run = recording_run
urllib.request.urlretrieve = fake_download
source = redirect(open(os.environ['CELL_FILE']).read())
RUNS = int(os.environ.get('RUNS', '1'))
for run in range(RUNS):                                   # "run the cell again", same kernel
    if RUNS > 1:
        print(f'RUN {run}')
    try:
        exec(compile(source, 'colab-setup-cell', 'exec'), {'__name__': '__main__'})
    except BaseException as err:
        print(f'FAILED {type(err).__name__}: {err}')
print('CALLS ' + json.dumps(calls))
print('DOWNLOADS ' + json.dumps(downloads))
print('UTILS_IMPORTED ' + json.dumps('utils' in sys.modules))
print('CONSTRAINTS ' + json.dumps(constraints))
'''

FAKE_MESSAGE = '''
import json, os
def blocking_request(kind, timeout_sec=None):
    assert kind == 'get_ipynb'
    path = os.environ.get('FAKE_NOTEBOOK')
    if not path:
        raise TimeoutError('no answer from the front end')
    return {'ipynb': json.load(open(path))}
'''


def run_cell(tmp_path, *, colab=True, gpu=None, notebook=None, **options):
    """Run the generated cell as Colab would; returns (recorded commands, stdout, utils imported).

    options: RUNS (how many times the cell runs), INTERRUPT (a word of the command interrupted, once),
    GIT_FAILS (git's stderr), DOWNLOAD_FAILS, FAKE_INSTALLED (json list of 'name==version')."""
    (tmp_path / 'cell.py').write_text(colab_cell.cell_source())
    (tmp_path / 'RUNNER.py').write_text(RUNNER)
    content = tmp_path / 'content'
    content.mkdir(exist_ok=True)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('COURSE_CUDA11_DIR', 'PYTHONPATH')}
    env.update(CELL_FILE=str(tmp_path / 'cell.py'), CONTENT=str(content), REPO_ROOT=str(ROOT),
               COURSE_LIBCUDA=str(tmp_path / 'no-libcuda.so.1'), COURSE_PROFILE='smoke',
               PATH=f"{bin_dir}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}/usr/bin:/bin")
    if colab:
        fake = tmp_path / 'fake' / 'google' / 'colab'
        fake.mkdir(parents=True)
        (fake / '__init__.py').write_text('')
        (fake / '_message.py').write_text(FAKE_MESSAGE)
        env['PYTHONPATH'] = str(tmp_path / 'fake')
    if gpu:
        smi = bin_dir / 'nvidia-smi'
        smi.write_text(f'#!/bin/sh\necho "0, {gpu[0]}, {gpu[1]}"\n')
        smi.chmod(0o755)
    env.update({key: str(value) for key, value in options.items()})
    if notebook is not None:
        (tmp_path / 'open.ipynb').write_text(json.dumps(notebook))
        env['FAKE_NOTEBOOK'] = str(tmp_path / 'open.ipynb')
    out = subprocess.run([sys.executable, str(tmp_path / 'RUNNER.py')], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    keys = ('CALLS ', 'DOWNLOADS ', 'UTILS_IMPORTED ', 'CONSTRAINTS ')
    lines = dict(line.split(' ', 1) for line in out.stdout.splitlines() if line.startswith(keys))
    shown = '\n'.join(line for line in out.stdout.splitlines() if not line.startswith(keys))
    if colab:
        config = yaml.safe_load((ROOT / '_config.yml').read_text())['repository']
        org_repo = config['url'].split('github.com/', 1)[1]
        assert json.loads(lines['DOWNLOADS']) == [[
            f"https://raw.githubusercontent.com/{org_repo}/{config.get('branch', 'main')}"
            '/scripts/colab_bootstrap.py', f'{content}/colab_bootstrap.py']] * int(options.get("RUNS", 1))
    run_cell.constraints = json.loads(lines['CONSTRAINTS'])
    return json.loads(lines['CALLS']), shown, json.loads(lines['UTILS_IMPORTED'])


def expected(tmp_path, *, gpu, exercise, d2l=False):
    config = yaml.safe_load((ROOT / '_config.yml').read_text())['repository']
    content = tmp_path / 'content'
    pip = [sys.executable, '-m', 'pip', 'install', '-q', '--no-warn-conflicts']
    clone = f'{content}/lenet-to-alexnet.partial'  # renamed once complete
    cmds = [['git', 'clone', '-q', '--depth', '1', '--filter=blob:none', '--sparse',
             '--branch', config.get('branch', 'main'), config['url'], clone],
            ['git', '-C', clone, 'sparse-checkout', 'set', '--no-cone', '/utils/', '/locale/']]
    if gpu:
        cmds += [pip + ['--no-deps', '--force-reinstall', 'mxnet-cu117==1.9.1'],
                 pip + ['--upgrade', '--no-deps', '--target', f'{content}/cuda11'] + CUDA11_WHEELS]
    else:
        cmds += [pip + ['--no-deps', '--force-reinstall', 'mxnet==1.9.1']]
    if d2l:
        cmds += [pip + ['--no-deps', '--force-reinstall', 'd2l==1.0.3']]
    if exercise:
        cmds += [pip + ['--no-deps', '--force-reinstall', 'otter-grader==7.0.0'],
                 pip + ['-c', 'CONSTRAINTS', 'fica>=0.4.1', 'ipylab>=1.0.0,<2',
                        'python-frontmatter>=1.3.0,<2', 'dill>=0.3.0']]
    return cmds


CHAPTER = {'metadata': {}, 'cells': [
    {'cell_type': 'code', 'metadata': {'tags': ['colab-setup']}, 'source': 'pip(otter-grader)'},
    {'cell_type': 'code', 'metadata': {}, 'source': ['import utils\n']}]}
EXERCISE = {'metadata': {}, 'cells': CHAPTER['cells'] + [
    {'cell_type': 'code', 'metadata': {}, 'source': ['import otter\n', 'grader = otter.Notebook()']}]}
WITH_D2L = {'metadata': {}, 'cells': CHAPTER['cells'] + [
    {'cell_type': 'markdown', 'metadata': {}, 'source': 'We compare with `import d2l` below.'},
    {'cell_type': 'code', 'metadata': {}, 'source': ['import time\n', 'from d2l import mxnet as d2l\n']}]}


def test_gpu_runtime_installs_gpu_mxnet_and_cuda11_libraries_apart(tmp_path):
    calls, shown, imported = run_cell(tmp_path, gpu=('Tesla T4', '7.5'), notebook=CHAPTER)
    assert calls == expected(tmp_path, gpu=True, exercise=False)
    assert 'Tesla T4 (compute capability 7.5)' in shown and '2.3 GB' in shown
    assert imported and 'MXNet 1.9.1 is ready; training will use cpu(0)' in shown  # no real GPU here


def test_unsupported_gpu_gets_cpu_mxnet_and_says_why(tmp_path):
    calls, shown, _ = run_cell(tmp_path, gpu=('NVIDIA H100 80GB HBM3', '9.0'), notebook=CHAPTER)
    assert calls == expected(tmp_path, gpu=False, exercise=False)
    assert 'no code for the NVIDIA H100 80GB HBM3 (compute capability 9.0)' in shown
    assert 'Using the CPU' in shown


def test_cpu_runtime_installs_cpu_mxnet(tmp_path):
    calls, shown, imported = run_cell(tmp_path, gpu=None, notebook=CHAPTER)
    assert calls == expected(tmp_path, gpu=False, exercise=False)
    assert imported and 'training will use cpu(0)' in shown


def test_exercise_notebook_also_gets_otter_without_touching_numpy(tmp_path):
    calls, _, _ = run_cell(tmp_path, gpu=('NVIDIA L4', '8.9'), notebook=EXERCISE)
    assert calls == expected(tmp_path, gpu=True, exercise=True)


def test_when_the_notebook_cannot_be_read_d2l_and_otter_are_installed_to_be_safe(tmp_path):
    calls, _, _ = run_cell(tmp_path, gpu=None, notebook=None)
    assert calls == expected(tmp_path, gpu=False, exercise=True, d2l=True)


def test_d2l_is_installed_only_for_a_notebook_that_imports_it(tmp_path):
    calls, _, imported = run_cell(tmp_path, gpu=None, notebook=WITH_D2L)
    assert calls == expected(tmp_path, gpu=False, exercise=False, d2l=True)
    assert imported


def test_only_utils_is_fetched_never_the_instructors_folder(tmp_path):
    run_cell(tmp_path, gpu=None, notebook=CHAPTER)  # `import utils` worked from this checkout
    checkout = tmp_path / 'content' / 'lenet-to-alexnet'
    assert sorted(p.name for p in checkout.iterdir()) == ['locale', 'utils']


def test_which_course_notebooks_need_d2l_is_read_from_their_code():
    from scripts import colab_bootstrap
    for path in colab_cell.all_notebooks():
        nb = json.loads(path.read_text())
        code = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code'
                and 'colab-setup' not in c.get('metadata', {}).get('tags', [])]
        imports = any(line.strip().startswith(('import d2l', 'from d2l')) for src in code
                      for line in src.splitlines())
        assert colab_bootstrap.extras_needed(nb)['d2l'] == imports, path
    assert colab_bootstrap.extras_needed({'cells': [{'cell_type': 'code', 'source': '# d2l.ai says'}]}) \
        == {'d2l': False, 'otter': False}


def test_no_install_ever_lets_pip_change_an_installed_package(tmp_path):
    calls, _, _ = run_cell(tmp_path, gpu=('Tesla T4', '7.5'), notebook=None)  # installs everything
    installs = [cmd[6:] for cmd in calls if cmd[1:4] == ['-m', 'pip', 'install']]
    assert len(installs) == 5
    for args in installs:
        assert '--no-deps' in args or args[:2] == ['-c', 'CONSTRAINTS'], args
    pins = dict(line.split('==') for line in run_cell.constraints[0].splitlines())
    for name in ('numpy', 'pyyaml', 'jinja2'):  # installed here, as on Colab
        assert pins[name] == importlib.metadata.version(name)


def test_outside_colab_the_cell_does_nothing(tmp_path):
    calls, shown, imported = run_cell(tmp_path, colab=False, gpu=('Tesla T4', '7.5'), notebook=EXERCISE)
    assert calls == [] and shown == '' and not imported
    assert list((tmp_path / 'content').iterdir()) == []


def test_a_failed_download_says_which_setting_to_fix(tmp_path):
    """The placeholder repository of an unpublished course answers 404: the cell says whom to tell
    and which setting the course's maintainer fixes, instead of a bare HTTPError."""
    calls, shown, imported = run_cell(tmp_path, gpu=None, notebook=CHAPTER, DOWNLOAD_FAILS=1)
    assert shown.startswith('FAILED RuntimeError: HTTP Error 404: Not Found for https://raw.')
    assert 'tell your instructor' in shown and 'repository.url' in shown
    assert 'python -m scripts.colab_cell --write' in shown
    assert calls == [] and not imported


def test_a_failed_clone_says_what_failed_and_what_to_do(tmp_path):
    calls, shown, imported = run_cell(tmp_path, gpu=None, notebook=CHAPTER,
                                      GIT_FAILS="fatal: repository 'x' not found")
    assert shown.startswith("FAILED SetupError: Could not download the course's utils/ from ")
    assert "`git clone` said: fatal: repository 'x' not found" in shown
    assert "internet connection" in shown and 'repository.url' in shown
    assert 'CalledProcessError' not in shown and len(calls) == 1 and not imported


@pytest.mark.parametrize('step', ['git clone', 'sparse-checkout', 'mxnet==1.9.1'])
def test_a_rerun_after_an_interrupted_step_completes_the_set_up(tmp_path, step):
    calls, shown, imported = run_cell(tmp_path, gpu=None, notebook=CHAPTER, INTERRUPT=step, RUNS=2)
    first, second = shown.split('RUN 1')
    assert first.strip() == 'RUN 0\nFAILED KeyboardInterrupt:'
    assert second.strip() == 'MXNet 1.9.1 is ready; training will use cpu(0).'
    full = expected(tmp_path, gpu=False, exercise=False)
    interrupted = next(i for i, cmd in enumerate(full) if step in ' '.join(cmd))
    # the second run redoes what was not finished: the whole clone (it is kept only once
    # complete), or the interrupted install and what follows
    redone = full if step.startswith(('git', 'sparse')) else full[interrupted:]
    assert calls == full[:interrupted + 1] + redone
    assert imported


def test_a_rerun_downloads_nothing_installed_and_does_not_announce_a_download(tmp_path):
    from utils import compat
    for sub, name in compat.CUDA11_LIBRARIES:  # a complete CUDA-11 folder from the first run
        library = tmp_path / 'content' / 'cuda11' / 'nvidia' / sub / 'lib' / name
        library.parent.mkdir(parents=True, exist_ok=True)
        library.write_bytes(b'')
    calls, shown, imported = run_cell(tmp_path, gpu=('Tesla T4', '7.5'), notebook=EXERCISE,
                                      FAKE_INSTALLED=json.dumps(['mxnet-cu117==1.9.1',
                                                                 'otter-grader==7.0.0']))
    assert [cmd[0] for cmd in calls] == ['git', 'git']  # no pip at all
    assert 'GB' not in shown and 'Installing' not in shown and imported


def test_installed_means_every_file_of_the_record_is_there(tmp_path):
    from scripts import colab_bootstrap
    info = tmp_path / 'pkg-1.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n')
    (info / 'RECORD').write_text('pkg/__init__.py,,\npkg/core.so,,\npkg-1.0.dist-info/METADATA,,\n')
    (tmp_path / 'pkg').mkdir()
    (tmp_path / 'pkg' / '__init__.py').write_text('')
    assert not colab_bootstrap.installed('pkg==1.0', [str(tmp_path)])  # pip stopped before core.so
    (tmp_path / 'pkg' / 'core.so').write_bytes(b'')
    assert colab_bootstrap.installed('pkg==1.0', [str(tmp_path)])
    assert not colab_bootstrap.installed('pkg==2.0', [str(tmp_path)])
    assert not colab_bootstrap.installed('other==1.0', [str(tmp_path)])


def _wheel(folder, name, version, requires=()):
    """A minimal pure-Python wheel (what pip needs: METADATA, WHEEL, RECORD)."""
    import zipfile
    info = f'{name}-{version}.dist-info'
    files = {f'{name}/__init__.py': f'VERSION = {version!r}\n',
             f'{info}/METADATA': ''.join([f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n']
                                         + [f'Requires-Dist: {r}\n' for r in requires]),
             f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n'}
    files[f'{info}/RECORD'] = ''.join(f'{path},,\n' for path in [*files, f'{info}/RECORD'])
    with zipfile.ZipFile(folder / f'{name}-{version}-py3-none-any.whl', 'w') as whl:
        for path, text in files.items():
            whl.writestr(path, text)


def test_otter_install_adds_what_check_needs_and_downgrades_nothing(tmp_path):
    """Real pip in a real virtual environment, on stand-ins for Colab's case: a grader package
    that asks for wrapkit<2 (otter-grader asks for wrapt<2) where wrapkit 2.0 is installed (Colab
    has wrapt 2.5.2), and a package grader.check needs that the environment lacks."""
    import venv
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    _wheel(wheels, 'wrapkit', '1.0')
    _wheel(wheels, 'wrapkit', '2.0')
    _wheel(wheels, 'needed', '1.0', ['wrapkit>=1'])
    _wheel(wheels, 'graderkit', '7.0', ['wrapkit<2', 'needed>=1'])
    venv.create(tmp_path / 'venv', with_pip=True)
    python = str(tmp_path / 'venv' / 'bin' / 'python')
    env = dict(os.environ, PIP_NO_INDEX='1', PIP_FIND_LINKS=str(wheels), PIP_CONFIG_FILE=os.devnull,
               PIP_DISABLE_PIP_VERSION_CHECK='1', PYTHONPATH=str(ROOT / 'scripts'))

    def venv_python(code):
        out = subprocess.run([python, '-c', code], env=env, check=True, capture_output=True,
                             text=True, timeout=300)
        return out.stdout + out.stderr

    versions = ('import importlib.metadata as m; print(*(m.version(n) if any(m.distributions(name=n)) '
                'else None for n in ("wrapkit", "needed", "graderkit")))')
    venv_python('import subprocess, sys; subprocess.run([sys.executable, "-m", "pip", "install", '
                '"-q", "wrapkit==2.0"], check=True)')
    shown = venv_python('import colab_bootstrap as b; b.OTTER_WHEEL = "graderkit==7.0"; '
                        'b.OTTER_CHECK_NEEDS = ("needed>=1",); b.install_otter()')
    assert 'ERROR' not in shown  # pip's red "dependency conflicts" alarm is not shown
    assert venv_python(versions).split() == ['2.0', '1.0', '7.0']  # wrapkit kept, needed added
    venv_python('import subprocess, sys; subprocess.run([sys.executable, "-m", "pip", "install", '
                '"-q", "--force-reinstall", "graderkit==7.0"], check=True)')
    assert venv_python(versions).split()[0] == '1.0'  # what plain pip does: downgrade


# ---------------------------------------------------------------- the copies in the notebooks

def check(*paths):
    return subprocess.run([sys.executable, '-m', 'scripts.colab_cell', '--check', *map(str, paths)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_every_course_notebook_has_the_identical_cell():
    notebooks = colab_cell.all_notebooks()
    assert notebooks, 'no notebooks found'
    out = check()
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize('notebook, hint', [
    ('notebooks/01_lenet.ipynb', "Run the set-up cell (first code cell) first."),
    ('notebooks/zh/01_lenet.ipynb', '请先运行配置单元（第一个代码单元）')])
def test_the_import_cell_run_before_the_set_up_cell_says_to_run_it_first(tmp_path, notebook, hint):
    """On Colab nothing puts utils on the path before the set-up cell; IPython's traceback then
    shows the failing line, whose comment says what to do."""
    nb = json.loads((ROOT / notebook).read_text())
    import_cell = next(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code'
                       and 'colab-setup' not in c['metadata'].get('tags', []))
    (tmp_path / 'content').mkdir()
    code = ('from IPython.testing.globalipapp import start_ipython\n'
            f'start_ipython().run_cell({import_cell!r})\n')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path / 'content', env=env,
                         capture_output=True, text=True, timeout=120)
    shown = out.stdout + out.stderr
    assert "ModuleNotFoundError: No module named 'utils'" in shown
    failing = next(line for line in shown.splitlines() if line.startswith('---->'))
    assert hint in failing, shown


def test_the_cell_is_short():
    assert len(colab_cell.cell_source().splitlines()) <= colab_cell.MAX_LINES <= 18


def _notebook(cells):
    return {'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}


def _code(src, tags=(), cid='x'):
    return {'cell_type': 'code', 'id': cid, 'metadata': {'tags': list(tags)} if tags else {},
            'source': src, 'outputs': [], 'execution_count': None}


def test_a_drifted_copy_fails_the_check_and_write_repairs_it(tmp_path):
    source = colab_cell.cell_source()
    intro = {'cell_type': 'markdown', 'id': 'm', 'metadata': {}, 'source': '# Title'}
    nb = tmp_path / 'drifted.ipynb'
    nb.write_text(json.dumps(_notebook([intro, _code(source.replace("'main')", "'old')"),
                                                     ['colab-setup', 'hide-input'], 'c'),
                                        _code('import utils', cid='u')])))
    out = check(nb)
    assert out.returncode == 1 and 'differs' in out.stdout and '--write' in out.stdout
    subprocess.run([sys.executable, '-m', 'scripts.colab_cell', '--write', str(nb)], check=True,
                   capture_output=True, cwd=ROOT)
    assert check(nb).returncode == 0
    cells = json.loads(nb.read_text())['cells']
    assert [c['id'] for c in cells] == ['m', 'c', 'u']
    assert cells[1]['metadata']['tags'] == ['colab-setup', 'hide-input']  # other tags kept


def test_missing_or_misplaced_cell_fails_and_write_puts_it_first(tmp_path):
    source = colab_cell.cell_source()
    missing = tmp_path / 'missing.ipynb'
    missing.write_text(json.dumps(_notebook([_code('import utils', cid='u')])))
    late = tmp_path / 'late.ipynb'
    late.write_text(json.dumps(_notebook([_code('import utils', cid='u'),
                                          _code(source, ['colab-setup'], 'c')])))
    out = check(missing, late)
    assert out.returncode == 1
    assert 'no code cell tagged' in out.stdout and 'not the first code cell' in out.stdout
    assert 'its `import utils` line should read' in out.stdout
    subprocess.run([sys.executable, '-m', 'scripts.colab_cell', '--write', str(missing), str(late)], check=True,
                   capture_output=True, cwd=ROOT)
    for path in (missing, late):
        cells = json.loads(path.read_text())['cells']
        assert 'colab-setup' in cells[0]['metadata']['tags'] and ''.join(cells[0]['source']) == source
        assert [''.join(c['source']) for c in cells[1:]] == [colab_cell.IMPORT_LINE]
    assert check(missing, late).returncode == 0


def test_the_real_sparse_clone_fetches_utils_and_not_the_instructors_files(tmp_path):
    """Real git on a small repository: the bootstrap's clone checks out utils/ only, and the
    instructors' file contents are not even downloaded (blob-less clone)."""
    if not shutil.which('git'):
        pytest.skip('needs git')
    from scripts import colab_bootstrap
    source = tmp_path / 'course'
    (source / 'utils').mkdir(parents=True)
    (source / 'instructors' / 'masters').mkdir(parents=True)
    (source / 'utils' / '__init__.py').write_text('VALUE = 1\n')
    (source / 'instructors' / 'masters' / 'solution.ipynb').write_text('{"answer": 42}\n')
    (source / 'README.md').write_text('course\n')

    def git(*args, cwd=source):
        return subprocess.run(['git', *args], cwd=cwd, check=True, capture_output=True, text=True,
                              env=dict(os.environ, GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@t',
                                       GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@t')).stdout
    git('init', '-q', '-b', 'main')
    git('config', 'uploadpack.allowFilter', 'true')  # as GitHub allows partial clones
    git('add', '.')
    git('commit', '-q', '-m', 'course')
    secret = git('rev-parse', 'HEAD:instructors/masters/solution.ipynb').strip()
    clone = tmp_path / 'content' / 'lenet-to-alexnet'
    colab_bootstrap.fetch_course(f'file://{source}', 'main', str(clone))
    checked_out = sorted(str(p.relative_to(clone)) for p in clone.rglob('*') if '.git' not in p.parts)
    assert checked_out == ['utils', 'utils/__init__.py']
    wanted = git('rev-parse', 'HEAD:utils/__init__.py').strip()
    offline = dict(os.environ, GIT_NO_LAZY_FETCH='1')

    def has_object(oid):
        return subprocess.run(['git', 'cat-file', '-e', oid], cwd=clone, capture_output=True,
                              env=offline).returncode == 0
    assert has_object(wanted) and not has_object(secret), "the solution's contents were downloaded"
