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
SCRIPT = ROOT / 'scripts' / 'colab_cell.py'
sys.path.insert(0, str(ROOT / 'scripts'))
import colab_cell  # noqa: E402

CUDA11_WHEELS = [
    'nvidia-cuda-runtime-cu11==11.8.89', 'nvidia-cublas-cu11==11.11.3.6',
    'nvidia-cufft-cu11==10.9.0.58', 'nvidia-curand-cu11==10.3.0.86',
    'nvidia-cusparse-cu11==11.7.5.86', 'nvidia-cusolver-cu11==11.4.1.48',
    'nvidia-cuda-nvrtc-cu11==11.8.89', 'nvidia-nvtx-cu11==11.8.86', 'nvidia-nccl-cu11==2.21.5',
    'nvidia-cudnn-cu11==8.9.6.50',
]

RUNNER = r'''
import json, os, shutil, subprocess, sys, urllib.request
calls, downloads, real_run = [], [], subprocess.run
CONTENT, REPO_ROOT = os.environ['CONTENT'], os.environ['REPO_ROOT']

def redirect(text):
    return text.replace("'/content", repr(CONTENT)[:-1])

def recording_run(cmd, *args, **kwargs):
    cmd = [str(c) for c in cmd]
    if cmd[0] == 'git' or cmd[1:3] == ['-m', 'pip']:
        calls.append(cmd)
        if cmd[:2] == ['git', 'clone']:
            os.mkdir(cmd[-1])                              # a sparse clone starts with no files
        elif cmd[0] == 'git' and cmd[3:5] == ['sparse-checkout', 'set']:
            for pattern in cmd[5:]:
                if pattern.startswith('--'):
                    continue
                name = pattern.strip('/')
                os.symlink(os.path.join(REPO_ROOT, name), os.path.join(cmd[2], name))
        return subprocess.CompletedProcess(cmd, 0, '', '')
    return real_run(cmd, *args, **kwargs)                 # nvidia-smi: the fake one on PATH

def fake_download(url, filename):
    downloads.append([url, filename])
    assert url.endswith('/scripts/colab_bootstrap.py'), url
    with open(os.path.join(REPO_ROOT, 'scripts', 'colab_bootstrap.py')) as f:
        text = redirect(f.read())
    with open(filename, 'w') as f:
        f.write(text)

subprocess.run = recording_run
urllib.request.urlretrieve = fake_download
source = redirect(open(os.environ['CELL_FILE']).read())
exec(compile(source, 'colab-setup-cell', 'exec'), {'__name__': '__main__'})
print('CALLS ' + json.dumps(calls))
print('DOWNLOADS ' + json.dumps(downloads))
print('UTILS_IMPORTED ' + json.dumps('utils' in sys.modules))
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


def run_cell(tmp_path, *, colab=True, gpu=None, notebook=None):
    """Run the generated cell as Colab would; returns (recorded commands, stdout, utils imported)."""
    (tmp_path / 'cell.py').write_text(colab_cell.cell_source())
    (tmp_path / 'RUNNER.py').write_text(RUNNER)
    content = tmp_path / 'content'
    content.mkdir()
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
    if notebook is not None:
        (tmp_path / 'open.ipynb').write_text(json.dumps(notebook))
        env['FAKE_NOTEBOOK'] = str(tmp_path / 'open.ipynb')
    out = subprocess.run([sys.executable, str(tmp_path / 'RUNNER.py')], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    keys = ('CALLS ', 'DOWNLOADS ', 'UTILS_IMPORTED ')
    lines = dict(line.split(' ', 1) for line in out.stdout.splitlines() if line.startswith(keys))
    shown = '\n'.join(line for line in out.stdout.splitlines() if not line.startswith(keys))
    if colab:
        config = yaml.safe_load((ROOT / '_config.yml').read_text())['repository']
        org_repo = config['url'].split('github.com/', 1)[1]
        assert json.loads(lines['DOWNLOADS']) == [[
            f"https://raw.githubusercontent.com/{org_repo}/{config.get('branch', 'main')}"
            '/scripts/colab_bootstrap.py', f'{content}/colab_bootstrap.py']]
    return json.loads(lines['CALLS']), shown, json.loads(lines['UTILS_IMPORTED'])


def expected(tmp_path, *, gpu, exercise, d2l=False):
    config = yaml.safe_load((ROOT / '_config.yml').read_text())['repository']
    content = tmp_path / 'content'
    pip = [sys.executable, '-m', 'pip', 'install', '-q']
    cmds = [['git', 'clone', '-q', '--depth', '1', '--filter=blob:none', '--sparse',
             '--branch', config.get('branch', 'main'), config['url'], f'{content}/lenet-to-alexnet'],
            ['git', '-C', f'{content}/lenet-to-alexnet', 'sparse-checkout', 'set', '--no-cone',
             '/utils/', '/locale/']]
    if gpu:
        cmds += [pip + ['--no-deps', 'mxnet-cu117==1.9.1'],
                 pip + ['--upgrade', '--no-deps', '--target', f'{content}/cuda11'] + CUDA11_WHEELS]
    else:
        cmds += [pip + ['--no-deps', 'mxnet==1.9.1']]
    if d2l:
        cmds += [pip + ['--no-deps', 'd2l==1.0.3']]
    if exercise:
        cmds += [pip + ['otter-grader==7.0.0', f"numpy=={importlib.metadata.version('numpy')}"]]
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
    sys.path.insert(0, str(ROOT / 'scripts'))
    import colab_bootstrap
    for path in colab_cell.all_notebooks():
        nb = json.loads(path.read_text())
        code = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code'
                and 'colab-setup' not in c.get('metadata', {}).get('tags', [])]
        imports = any(line.strip().startswith(('import d2l', 'from d2l')) for src in code
                      for line in src.splitlines())
        assert colab_bootstrap.extras_needed(nb)['d2l'] == imports, path
    assert colab_bootstrap.extras_needed({'cells': [{'cell_type': 'code', 'source': '# d2l.ai says'}]}) \
        == {'d2l': False, 'otter': False}


def test_no_install_ever_lets_pip_change_numpy(tmp_path):
    calls, _, _ = run_cell(tmp_path, gpu=('Tesla T4', '7.5'), notebook=None)  # installs all four
    installs = [cmd for cmd in calls if cmd[1:4] == ['-m', 'pip', 'install']]
    assert len(installs) == 4
    for cmd in installs:
        args = cmd[5:]
        numpy_pins = [a for a in args if a.startswith('numpy')]
        assert '--no-deps' in args or numpy_pins == [f"numpy=={importlib.metadata.version('numpy')}"], cmd


def test_outside_colab_the_cell_does_nothing(tmp_path):
    calls, shown, imported = run_cell(tmp_path, colab=False, gpu=('Tesla T4', '7.5'), notebook=EXERCISE)
    assert calls == [] and shown == '' and not imported
    assert list((tmp_path / 'content').iterdir()) == []


# ---------------------------------------------------------------- the copies in the notebooks

def check(*paths):
    return subprocess.run([sys.executable, str(SCRIPT), '--check', *map(str, paths)],
                          capture_output=True, text=True, timeout=60)


def test_every_course_notebook_has_the_identical_cell():
    notebooks = colab_cell.all_notebooks()
    assert notebooks, 'no notebooks found'
    out = check()
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_cell_is_short():
    assert len(colab_cell.cell_source().splitlines()) <= 12


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
    subprocess.run([sys.executable, str(SCRIPT), '--write', str(nb)], check=True, capture_output=True)
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
    subprocess.run([sys.executable, str(SCRIPT), '--write', str(missing), str(late)], check=True,
                   capture_output=True)
    for path in (missing, late):
        cells = json.loads(path.read_text())['cells']
        assert 'colab-setup' in cells[0]['metadata']['tags'] and ''.join(cells[0]['source']) == source
        assert [''.join(c['source']) for c in cells[1:]] == ['import utils']
    assert check(missing, late).returncode == 0


def test_the_real_sparse_clone_fetches_utils_and_not_the_instructors_files(tmp_path):
    """Real git on a small repository: the bootstrap's clone checks out utils/ only, and the
    instructors' file contents are not even downloaded (blob-less clone)."""
    if not shutil.which('git'):
        pytest.skip('needs git')
    sys.path.insert(0, str(ROOT / 'scripts'))
    import colab_bootstrap
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
