"""`python -m grading gradescope`: the zip follows Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/), and its run_autograder, run in a
simulated /autograder (bubblewrap binds a temporary folder there), grades like `python -m grading`.

The assignment is the tiny one of tests/test_grade.py (seconds per run), with a failure_message
added to q2's hidden test so that the hint's way into results.json is checked.
"""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, SHARED_DATA
from submissions.suite import with_answers

from scripts import make_exercises

TINY_MASTER = ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb'
CORRECT = ['total = sum(range(1, 11))', 'grid = np.linspace(0, 1, 5)',
           "table = pd.DataFrame({'n': [1, 2, 3]})\ntable['square'] = table['n'] ** 2"]
WRONG = ['total = 55', 'grid = np.zeros(5)', CORRECT[2]]        # q2's hidden test fails
BROKEN = ['total = 1 / 0', CORRECT[1], CORRECT[2]]              # q1's cell raises
HINT = 'HINT-q2: five evenly spaced numbers from 0 to 1'
VISIBILITIES = {'hidden', 'after_due_date', 'after_published', 'visible'}
TOP_KEYS = {'score', 'execution_time', 'output', 'output_format', 'test_output_format',
            'test_name_format', 'visibility', 'stdout_visibility', 'extra_data', 'tests', 'leaderboard'}
TEST_KEYS = {'score', 'max_score', 'status', 'name', 'name_format', 'number', 'output',
             'output_format', 'tags', 'visibility', 'extra_data'}
# Docker's default capabilities (no CAP_SYS_ADMIN): what a Gradescope container may give.
DOCKER_CAPS = ('CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP '
               'NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE').split()

pytestmark = pytest.mark.skipif(shutil.which('bwrap') is None or os.geteuid() != 0,
                                reason='needs bubblewrap and root (apt-get install bubblewrap)')


def grading(*args, **kw):
    env = dict(os.environ, FASHION_MNIST_DIR=str(SHARED_DATA))
    return subprocess.run([sys.executable, '-m', 'grading', *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600, **kw)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """(student notebook, autograder zip with a hint on q2's hidden test, Gradescope zip)."""
    folder = tmp_path_factory.mktemp('gs-tiny')
    student, zip_bytes = make_exercises.build(TINY_MASTER)
    autograder = folder / 'tiny.zip'
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as src, zipfile.ZipFile(autograder, 'w') as dst:
        for name in src.namelist():
            data = src.read(name).decode()
            if name == 'tests/q2.py':
                data = data.replace("'hidden': True, 'locked': False}",
                                    f"'hidden': True, 'locked': False, 'failure_message': {HINT!r}}}")
                assert HINT in data
            dst.writestr(name, data)
    gradescope = folder / 'gradescope.zip'
    done = grading('gradescope', autograder, '--out', gradescope, '--cell-timeout', 30,
                   '--timeout', 120, '--memory-mb', 2000)
    assert done.returncode == 0, done.stderr
    return nbformat.reads(student, as_version=4), autograder, gradescope


def simulated_autograder(tmp, gradescope_zip, notebooks):
    """A folder laid out as Gradescope's /autograder before run_autograder runs."""
    root = tmp / 'autograder'
    for sub in ('source', 'submission', 'results'):
        (root / sub).mkdir(parents=True)
    with zipfile.ZipFile(gradescope_zip) as zf:
        zf.extractall(root / 'source')
        for info in zf.infolist():  # extractall drops the modes; Gradescope keeps them
            os.chmod(root / 'source' / info.filename, (info.external_attr >> 16) & 0o777)
    shutil.copy(root / 'source' / 'run_autograder', root / 'run_autograder')
    for name, nb in notebooks.items():
        nbformat.write(nb, root / 'submission' / name)
    return root


def run_autograder(root, caps=None, venv=None):
    """Run /autograder/run_autograder with `root` bound at /autograder: (results.json, stdout).
    caps: the capabilities to keep (None: all, as root on this machine)."""
    args = []
    for entry in sorted(Path('/').iterdir()):
        if entry.name in ('proc', 'dev', 'autograder'):
            continue
        args += ['--symlink', os.readlink(entry), str(entry)] if entry.is_symlink() else \
            ['--bind', str(entry), str(entry)]
    if caps is not None:
        args += ['--cap-drop', 'ALL'] + [a for c in caps for a in ('--cap-add', f'CAP_{c}')]
    env = [f'COURSE_VENV={venv or Path(sys.executable).parents[1]}', f'FASHION_MNIST_DIR={SHARED_DATA}']
    started = time.monotonic()
    done = subprocess.run(['bwrap', *args, '--dev-bind', '/dev', '/dev', '--proc', '/proc',
                           '--bind', str(root), '/autograder', '--chdir', '/autograder',
                           'env', *env, '/autograder/run_autograder'],
                          capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    results = root / 'results' / 'results.json'
    assert results.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(results.read_text())
    # whole seconds of this run (rounded): not milliseconds, not more than the run took
    assert result['execution_time'] <= round(wall) + 1, (result['execution_time'], wall)
    return result, done.stdout + done.stderr


@pytest.fixture(scope='module')
def graded(tiny, tmp_path_factory):
    """Each submission graded by run_autograder and, as one batch, by `python -m grading`."""
    student, autograder, gradescope = tiny
    notebooks = {kind: with_answers(student, answers)
                 for kind, answers in (('correct', CORRECT), ('wrong', WRONG), ('broken', BROKEN))}
    base = tmp_path_factory.mktemp('gs-runs')
    results = {}
    for kind, nb in notebooks.items():
        root = simulated_autograder(base / kind, gradescope, {'exercise.ipynb': nb})
        results[kind] = run_autograder(root)
    batch = base / 'batch'
    batch.mkdir()
    for kind, nb in notebooks.items():
        nbformat.write(nb, batch / f'{kind}.ipynb')
    out = base / 'grader-out'
    done = grading(autograder, batch, '--out', out, '--cell-timeout', 30, '--timeout', 120,
                   '--memory-mb', 2000, '--no-speed-check')
    assert done.returncode == 0, done.stderr
    records = {kind: json.loads((out / 'private' / 'records' / f'{kind}.json').read_text())
               for kind in notebooks}
    return results, records


def check_against_specification(results):
    assert set(results) <= TOP_KEYS, set(results) - TOP_KEYS
    assert isinstance(results['score'], (int, float)) and not isinstance(results['score'], bool)
    assert isinstance(results['execution_time'], int) and results['execution_time'] >= 0
    assert isinstance(results['output'], str) and results['output_format'] in ('text', 'html', 'simple_format', 'md', 'ansi')
    assert results['stdout_visibility'] in VISIBILITIES
    for test in results['tests']:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert isinstance(test['name'], str) and test['name']
        assert isinstance(test['output'], str) and test['output']
        assert 0 <= test['score'] <= test['max_score']
        assert test['status'] == ('passed' if test['score'] == test['max_score'] else 'failed')
        assert test['visibility'] in VISIBILITIES


def test_results_json_has_the_fields_of_gradescopes_specification(graded):
    results, _ = graded
    for kind, (result, _) in results.items():
        check_against_specification(result)
        assert result['tests'], kind
        assert sum(t['max_score'] for t in result['tests']) == 5, kind   # the tiny assignment's points


def test_hidden_tests_are_shown_after_publishing_and_public_ones_at_once(graded):
    results, _ = graded
    tests = results['correct'][0]['tests']
    assert [t['name'] for t in tests] == [f'q{i}: {kind} tests' for i in (1, 2, 3) for kind in ('public', 'hidden')]
    for t in tests:
        assert t['visibility'] == ('after_published' if 'hidden' in t['name'] else 'visible'), t


def test_scores_equal_the_graders_own_question_by_question(graded):
    results, records = graded
    for kind, (result, _) in results.items():
        record = records[kind]
        assert result['score'] == sum(record['scores'].values()), kind
        for q, points in record['scores'].items():
            assert sum(t['score'] for t in result['tests'] if t['name'].startswith(f'{q}:')) == points, (kind, q)
        assert result['extra_data']['status'] == record['status'], kind
    assert results['correct'][0]['score'] == 5
    assert 0 < results['wrong'][0]['score'] < 5
    assert results['broken'][0]['extra_data']['status'] == 'error'


def test_a_failed_hidden_test_shows_its_hint_and_never_its_code(graded):
    results, _ = graded
    wrong = results['wrong'][0]
    hidden_q2 = next(t for t in wrong['tests'] if t['name'] == 'q2: hidden tests')
    assert hidden_q2['score'] == 0 and HINT in hidden_q2['output']
    for kind, (result, _) in results.items():
        text = json.dumps(result)
        assert 'hidden-marker' not in text and 'np.allclose(grid' not in text, kind


def test_a_broken_notebook_says_which_cell_raised(graded):
    result, _ = graded[0]['broken']
    assert 'ZeroDivisionError' in result['output']
    q1_public = next(t for t in result['tests'] if t['name'] == 'q1: public tests')
    assert q1_public['status'] == 'failed' and q1_public['output']


def test_two_notebooks_without_the_assignments_name_are_not_graded(tiny, tmp_path):
    student, _, gradescope = tiny
    nb = with_answers(student, CORRECT)
    root = simulated_autograder(tmp_path, gradescope, {'a.ipynb': nb, 'b.ipynb': nb})
    result, _ = run_autograder(root)
    check_against_specification(result)
    assert result['score'] == 0 and result['output'].startswith('**Not graded:**')
    assert 'a.ipynb, b.ipynb' in result['output']


def test_a_container_that_refuses_the_sandbox_is_said_so_never_graded_silently(tiny, tmp_path):
    """Docker's default capabilities (Gradescope's containers may give no more): the grader either
    cannot start its sandbox, and the submission is not graded, saying why, or it grades and the
    output says how the notebook was isolated."""
    student, _, gradescope = tiny
    root = simulated_autograder(tmp_path, gradescope, {'exercise.ipynb': with_answers(student, CORRECT)})
    result, log = run_autograder(root, caps=DOCKER_CAPS)
    check_against_specification(result)
    if result['extra_data']['status'] == 'not graded':
        assert result['score'] == 0 and 'This is not your score' in result['output']
        assert 'sandbox' in result['extra_data']['detail'] and 'sandbox' in log
    else:
        assert re.search(r'## (How this notebook was isolated|Notes from the run)', result['output'])


def test_the_zip_bundles_the_course_and_the_pinned_requirements(tiny):
    _, autograder, gradescope = tiny
    with zipfile.ZipFile(gradescope) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        for top in ('setup.sh', 'run_autograder'):
            assert top in names and modes[top] & 0o111, top   # at the zip's root, executable
        for path in ('grading/gradescope.py', 'grading/sandbox.py', 'utils/settings.py',
                     'scripts/setup_env.sh', 'requirements/base.txt', 'requirements/nodeps.txt'):
            assert zf.read(f'course/{path}') == (ROOT / path).read_bytes(), path
        assert zf.read('course/instructors/autograder/tiny.zip') == autograder.read_bytes()
        assert json.loads(zf.read('course/gradescope.json'))['assignment'] == 'tiny'
        assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]


def test_setup_sh_parses_and_installs_only_pinned_packages(tiny, tmp_path):
    _, _, gradescope = tiny
    with zipfile.ZipFile(gradescope) as zf:
        zf.extractall(tmp_path)
    setup, setup_env = tmp_path / 'setup.sh', tmp_path / 'course' / 'scripts' / 'setup_env.sh'
    for script in (setup, setup_env, tmp_path / 'run_autograder'):
        assert subprocess.run(['bash', '-n', script]).returncode == 0, script
    if shutil.which('shellcheck'):
        lint = subprocess.run(['shellcheck', '-S', 'warning', setup, tmp_path / 'run_autograder'],
                              capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
    text = setup.read_text() + setup_env.read_text()
    assert 'COURSE_VENV=/autograder/venv bash "$COURSE/scripts/setup_env.sh"' in setup.read_text()
    pinned = {re.split(r'[=<>; ]', line)[0].lower() for f in ('base.txt', 'nodeps.txt')
              for line in (ROOT / 'requirements' / f).read_text().splitlines()
              if line.strip() and not line.startswith('#')}
    for line in re.findall(r'pip install ([^\n]*)', text):
        # pip itself (setup_env.sh upgrades the installer) is not a dependency of the course
        named = [w for w in line.split() if not w.startswith(('-', '"', '$')) and w != 'pip']
        assert all(w.split('==')[0].lower() in pinned for w in named), line
        assert '--no-deps' not in line or 'nodeps.txt' in line, line   # only mxnet and d2l


def test_a_real_exercise_solution_gets_full_marks_on_gradescope(tmp_path):
    """Exercise 1 (MXNet training in the smoke profile; hidden tests read utils and
    course_settings from the bundled course): the master's solution scores every point."""
    from grading.assignment import find_assignment
    from submissions.suite import solution_answers
    name = 'exercise_1_more_epochs'
    gradescope = tmp_path / 'gs.zip'
    done = grading('gradescope', name, '--out', gradescope)
    assert done.returncode == 0, done.stderr
    student = nbformat.read(ROOT / 'notebooks' / f'{name}.ipynb', as_version=4)
    root = simulated_autograder(tmp_path, gradescope,
                                {f'{name}.ipynb': with_answers(student, solution_answers(name))})
    result, log = run_autograder(root)
    check_against_specification(result)
    assert result['extra_data']['status'] == 'ok', log[-3000:]
    assert result['score'] == find_assignment(name).max_score > 0
    assert all(t['status'] == 'passed' for t in result['tests']), result['tests']


def test_an_autograder_missing_its_tests_writes_a_not_graded_result(tiny, tmp_path):
    student, _, gradescope = tiny
    root = simulated_autograder(tmp_path, gradescope, {'exercise.ipynb': with_answers(student, CORRECT)})
    (root / 'source' / 'course' / 'instructors' / 'autograder' / 'tiny.zip').unlink()
    result, log = run_autograder(root)
    check_against_specification(result)
    assert result['score'] == 0 and 'This is not your score' in result['output']
    assert "assignment 'tiny' not found" in result['extra_data']['detail'] and 'not found' in log


def test_the_command_refuses_an_unknown_assignment_or_an_out_that_is_not_a_zip(tiny, tmp_path):
    _, autograder, _ = tiny
    unknown = grading('gradescope', 'no_such_exercise', '--out', tmp_path / 'a.zip')
    assert unknown.returncode == 2 and 'not found' in unknown.stderr
    not_zip = grading('gradescope', autograder, '--out', tmp_path / 'a.tar')
    assert not_zip.returncode == 2 and 'must end in .zip' in not_zip.stderr
    assert list(tmp_path.iterdir()) == []   # nothing written, not even a partial file


def test_a_submission_can_neither_read_the_hidden_tests_nor_write_its_own_results(tiny, tmp_path):
    student, _, gradescope = tiny
    forge = ("import json\ntry:\n    json.dump({'score': 1000, 'tests': []}, "
             "open('/autograder/results/results.json', 'w'))\nexcept OSError:\n    pass")
    read = "open('/autograder/source/course/instructors/autograder/tiny.zip', 'rb').read()"
    nb = with_answers(student, CORRECT, extra_cells=[forge, read])
    root = simulated_autograder(tmp_path, gradescope, {'exercise.ipynb': nb})
    result, log = run_autograder(root)
    check_against_specification(result)
    assert result['score'] == 5, log[-3000:]               # the grader's score, not the forged one
    assert result['extra_data']['status'] == 'error'
    assert re.search(r'raised (FileNotFoundError|PermissionError)', result['extra_data']['reason'])


def test_a_machine_where_setup_failed_still_gets_a_results_json_saying_so(tiny, tmp_path):
    student, _, gradescope = tiny
    root = simulated_autograder(tmp_path, gradescope, {'exercise.ipynb': with_answers(student, CORRECT)})
    result, log = run_autograder(root, venv=tmp_path / 'no-venv')
    check_against_specification(result)
    assert result['score'] == 0 and 'This is not your score' in result['output']
    assert 'setup.sh failed' in log


def test_the_graders_warnings_about_its_sandbox_reach_the_students_output(graded, tiny):
    from grading import gradescope
    from grading.assignment import Assignment
    _, records = graded
    log = ('Grading tiny ...\nwarning: this Linux kernel has no Landlock: submissions are kept from '
           'the tests only by file permissions\n[1/1] submission.ipynb: ok, 5/5 (6 s)\n')
    warnings = gradescope.isolation_warnings(log)
    assert warnings == ['this Linux kernel has no Landlock: submissions are kept from the tests '
                        'only by file permissions']
    result = gradescope.results_json(Assignment(tiny[1]), records['correct'], '# Feedback\n', 3.4, warnings)
    check_against_specification(result)
    assert '## How this notebook was isolated\n\n- this Linux kernel has no Landlock' in result['output']
    assert result['execution_time'] == 3 and result['score'] == 5
