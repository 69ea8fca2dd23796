"""`python -m grading` on a suite of good, broken and hostile submissions.

The suite is graded against a tiny assignment (tests/submissions/tiny_master.ipynb, built with
scripts/make_exercises.py) so that each run costs seconds; the exercises' own autograders are
exercised by tests/test_exercises.py.
"""
import csv
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHARED_DATA
from submissions.suite import build_suite

from scripts import make_exercises

from grading import exported, grade, sandbox

TINY_MASTER = ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb'
CELL_TIMEOUT = 20
CORRECT = ['total = sum(range(1, 11))', 'grid = np.linspace(0, 1, 5)',
           "table = pd.DataFrame({'n': [1, 2, 3]})\ntable['square'] = table['n'] ** 2"]
PARTLY = ['total = 55', 'grid = np.zeros(5)',  # q2 wrong: passes its public test only
          "table = pd.DataFrame({'n': [1, 2, 3]})\ntable['square'] = table['n'] ** 2"]
SYNTAX_HONEST = 3  # q1's cell does not parse: q2 + q3 = 3 points
ISOLATED = sandbox.bwrap_path() is not None


def run_grader(*args, **kw):
    env = dict(os.environ, FASHION_MNIST_DIR=str(SHARED_DATA))
    return subprocess.run([sys.executable, '-m', 'grading', *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env=env, **kw)


# The repository's own folders are not digested: other work edits them while the suite runs. That
# the sandbox cannot even see the repository is held by tests/test_grading_hostile.py.
def tree_digest(*paths):
    """{path: sha256} of every file under the given paths (missing paths included as None)."""
    out = {}
    for top in map(Path, paths):
        files = [top] if top.is_file() or not top.exists() else sorted(top.rglob('*'))
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None
    return out


def tmp_entries_of(uid):
    return {p.name for p in Path('/tmp').iterdir() if p.lstat().st_uid == uid}


@pytest.fixture(scope='session')
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tiny')
    student, zip_bytes = make_exercises.build(TINY_MASTER)
    (folder / 'tiny_student.ipynb').write_text(student)
    (folder / 'tiny.zip').write_bytes(zip_bytes)
    return folder / 'tiny_student.ipynb', folder / 'tiny.zip'


@pytest.fixture(scope='session')
def graded(tiny, tmp_path_factory):
    student, autograder = tiny
    base = tmp_path_factory.mktemp('grading')
    # A folder anyone may write to: only the sandbox keeps the submission from deleting this file.
    open_dir = base / 'world-writable'
    open_dir.mkdir()
    open_dir.chmod(0o777)
    sentinel = open_dir / 'keep-me.txt'
    sentinel.write_text('must survive grading')
    sentinel.chmod(0o666)
    submissions = base / 'submissions'
    cases = build_suite(student, CORRECT, PARTLY, submissions, autograder=autograder,
                        sentinel=sentinel, cell_timeout=CELL_TIMEOUT)
    before = tree_digest(submissions, autograder, open_dir)
    nobody_tmp = tmp_entries_of(65534)
    out = base / 'out'
    done = run_grader(autograder, submissions, '--out', out, '--cell-timeout', CELL_TIMEOUT,
                      '--timeout', 60, '--memory-mb', 2000, '--jobs', 3, timeout=600)
    after = tree_digest(submissions, autograder, open_dir)
    with open(out / 'grades.csv', newline='') as f:
        rows = {r['submission']: r for r in csv.DictReader(f) if r['submission'] != 'Points Possible'}
    return dict(done=done, rows=rows, cases=cases, out=out, before=before, after=after,
                submissions=submissions, autograder=autograder, sentinel=sentinel,
                nobody_tmp=(nobody_tmp, tmp_entries_of(65534)))


def test_every_submission_has_a_row_and_feedback(graded):
    assert graded['done'].returncode == 0, graded['done'].stderr[-2000:]
    assert set(graded['rows']) == set(graded['cases'])
    header = next(csv.reader(open(graded['out'] / 'grades.csv')))
    assert header[:9] == ['submission', 'status', 'score', 'max_score', 'reason', 'q1', 'q2', 'q3', 'q4']
    for name in graded['cases']:
        text = (graded['out'] / 'feedback' / f'{Path(name).stem}.md').read_text()
        assert f'Feedback for {name}' in text
    assert not [p for p in graded['out'].iterdir() if p.name.startswith('.')], 'temporary files left'


def test_each_submission_gets_the_expected_status_and_score(graded):
    rows = graded['rows']
    partly = float(rows['partly_correct.ipynb']['score'])
    assert 0 < partly < 5
    for name, expect in graded['cases'].items():
        r = rows[name]
        assert r['status'] == expect['status'], (name, r)
        assert r['max_score'] == '5'
        score = float(r['score'])
        assert score == sum(float(r[q]) for q in ('q1', 'q2', 'q3')), r
        assert r['q4'] == '', 'the written question is left for a person'
        if expect.get('full'):
            assert score == 5, (name, r)
        if expect.get('zero'):
            assert score == 0, (name, r)
        if expect.get('honest') == 'partly':
            assert score <= partly, (name, r)
        if expect.get('honest') == 'syntax':
            assert score == SYNTAX_HONEST, (name, r)
        if 'reason_has' in expect:
            assert expect['reason_has'] in r['reason'], (name, r)
        if expect['status'] != 'ok':
            assert r['reason'], (name, r)


def test_public_test_output_is_in_the_feedback_but_hidden_tests_are_not(graded):
    text = (graded['out'] / 'feedback' / 'partly_correct.md').read_text()
    assert '| q2 | 1 | 2 | 1 of 1 passed | 0 of 1 passed |' in text
    syntax = (graded['out'] / 'feedback' / 'syntax_error.md').read_text()
    assert 'assert isinstance(total, int)' in syntax  # the failing public test is shown
    for path in graded['out'].rglob('*'):
        if 'private' in path.relative_to(graded['out']).parts:
            continue  # the instructors' records: they keep why hidden tests failed, on purpose
        if path.suffix == '.ipynb':  # the submission's own code may mention anything: check outputs
            import nbformat
            nb = nbformat.read(path, as_version=4)
            text = json.dumps([c.get('outputs', []) for c in nb.cells])
        elif path.is_file():
            text = path.read_text()
        else:
            continue
        assert 'hidden-marker' not in text, f'hidden test text reached {path}'


@pytest.mark.skipif(not ISOLATED, reason='needs bubblewrap (apt-get install bubblewrap)')
def test_nothing_outside_the_temporary_folders_changed(graded):
    assert graded['before'] == graded['after']
    assert graded['sentinel'].read_text() == 'must survive grading'
    assert graded['nobody_tmp'][0] == graded['nobody_tmp'][1], 'the sandbox user left files in /tmp'
    with zipfile.ZipFile(graded['autograder']) as zf:
        assert all('hidden-marker' in zf.read(f'tests/{q}.py').decode() for q in ('q1', 'q2', 'q3'))


def test_limits_are_reported(graded):
    rows = graded['rows']
    assert f'per-cell limit of {CELL_TIMEOUT} s' in rows['infinite_loop.ipynb']['reason']
    assert 'ignored the interrupt' in rows['sleep_past_timeout.ipynb']['reason']
    assert 'exit code 3' in rows['kernel_death.ipynb']['reason']
    assert 'output beyond' in (graded['out'] / 'feedback' / 'huge_output.md').read_text()
    assert rows['empty.ipynb']['reason'] == 'empty file'
    assert 'invalid JSON' in rows['corrupt_json.ipynb']['reason']
    assert 'not a notebook' in rows['not_a_notebook.ipynb']['reason']


def test_grading_again_gives_the_same_grades_and_feedback(graded, tmp_path):
    again = tmp_path / 'again'
    again.mkdir()
    names = ['correct.ipynb', 'partly_correct.ipynb', 'syntax_error.ipynb', 'kernel_death.ipynb',
             'corrupt_json.ipynb', 'not_a_notebook.ipynb']
    for name in names:
        (again / name).write_bytes((graded['submissions'] / name).read_bytes())
    out = tmp_path / 'out'
    done = run_grader(graded['autograder'], again, '--out', out, '--cell-timeout', CELL_TIMEOUT,
                      '--memory-mb', 2000, '--jobs', 3, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out / 'grades.csv', newline='') as f:
        rows = [r for r in csv.DictReader(f) if r['submission'] != 'Points Possible']
    assert [r['submission'] for r in rows] == sorted(names)
    for r in rows:
        first = dict(graded['rows'][r['submission']])
        first.pop('submitted', None), r.pop('submitted', None)  # the copies' own file times
        assert r == first
        stem = Path(r['submission']).stem
        assert without_run_times((out / 'feedback' / f'{stem}.md').read_text()) == \
            without_run_times((graded['out'] / 'feedback' / f'{stem}.md').read_text())


def without_run_times(text):
    """Feedback without its table of cell run times (measured, so never the same twice)."""
    import re
    return re.sub(r'## Run time of each code cell.*?(?=\n## |\Z)', '', text, flags=re.S)


def test_grader_that_cannot_run_exits_non_zero(tmp_path, tiny):
    done = run_grader('no_such_assignment', tmp_path, '--out', tmp_path / 'out')
    assert done.returncode == 2 and 'not found' in done.stderr
    done = run_grader(tiny[1], tmp_path / 'missing', '--out', tmp_path / 'out')
    assert done.returncode == 2 and 'does not exist' in done.stderr


# ----------------------------------------------------------------------------- pieces

def test_points_are_split_like_otter_does():
    from otter.test_files.ok_test import OKTestFile
    specs = [
        {'name': 'a', 'points': 3, 'suites': [{'cases': [{'code': '>>> 1', 'hidden': False}] * 3}]},
        {'name': 'b', 'points': 4, 'suites': [{'cases': [{'code': '>>> 1', 'hidden': False, 'points': 1},
                                                          {'code': '>>> 1', 'hidden': True}]}]},
        {'name': 'c', 'suites': [{'cases': [{'code': '>>> 1', 'hidden': False}] * 2}]},
        {'name': 'd', 'points': [1, 2.5], 'suites': [{'cases': [{'code': '>>> 1', 'hidden': True}] * 2}]},
    ]
    for spec in specs:
        expected = [tc.points for tc in OKTestFile.from_spec(spec).test_cases]
        assert grade.case_points(spec) == pytest.approx(expected), spec['name']


def write_export(folder, names, arrays):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'names.json').write_text(json.dumps({'names': names, 'skipped': {}}))
    np.savez(folder / 'arrays.npz', **arrays)


def test_exported_data_is_rebuilt_only_as_plain_values(tmp_path):
    write_export(tmp_path / 'ok', {
        'n': {'t': 'int', 'v': '55'}, 'x': {'t': 'float', 'v': 'nan'},
        'a': {'t': 'array', 'v': 'a0'},
        'd': {'t': 'dict', 'v': [[{'t': 'json', 'v': 'k'}, {'t': 'tuple', 'v': [{'t': 'json', 'v': None}]}]]},
    }, {'a0': np.arange(3.0)})
    ns, skipped = exported.read_exported(tmp_path / 'ok')
    assert ns['n'] == 55 and np.isnan(ns['x']) and ns['d'] == {'k': (None,)}
    assert ns['a'].tolist() == [0.0, 1.0, 2.0] and not skipped

    # Forged entries: an object array (would need pickle), unknown kinds, a missing array.
    write_export(tmp_path / 'bad', {
        'obj': {'t': 'array', 'v': 'a0'}, 'weird': {'t': 'function', 'v': 'lambda: 1'},
        'ghost': {'t': 'array', 'v': 'a9'}, 'extra': {'t': 'int', 'v': '1', 'code': 'x'},
    }, {'a0': np.array([object()], dtype=object)})
    ns, skipped = exported.read_exported(tmp_path / 'bad')
    assert ns == {} and set(skipped) == {'obj', 'weird', 'ghost', 'extra'}


def test_sandbox_reads_never_follow_links_or_block(tmp_path):
    (tmp_path / 'secret').write_text('secret')
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'link').symlink_to(tmp_path / 'secret')
    os.mkfifo(tmp_path / 'run' / 'fifo')
    (tmp_path / 'run' / 'dir-link').symlink_to(tmp_path)
    (tmp_path / 'run' / 'fine').write_text('data')
    fd = os.open(tmp_path / 'run', os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert exported.read_file(fd, 'link', 100) is None
        assert exported.read_file(fd, 'fifo', 100) is None
        assert exported.read_file(fd, 'dir-link/secret', 100) is None
        assert exported.read_file(fd, 'fine', 100) == b'data'
        assert exported.read_file(fd, 'fine', 2) is None
    finally:
        os.close(fd)


def test_data_folder_reached_through_a_link_under_tmp_is_seen_by_the_submission(tiny, tmp_path):
    """CI and instructors may point FASHION_MNIST_DIR at a link (../shared next to a clone under
    /tmp): the sandbox has its own /tmp, so the notebook must be handed the real path it binds."""
    import nbformat
    from submissions.suite import with_answers
    student, autograder = tiny
    link = tmp_path / 'data-link'
    link.symlink_to(SHARED_DATA.resolve(), target_is_directory=True)
    answers = ["import os\ntotal = 55 if len(os.listdir(os.environ['FASHION_MNIST_DIR'])) >= 4 else 0",
               CORRECT[1], CORRECT[2]]
    submissions = tmp_path / 'submissions'
    submissions.mkdir()
    nb = with_answers(nbformat.read(str(student), as_version=4), answers)
    nbformat.write(nb, str(submissions / 'reads_data.ipynb'))
    out = tmp_path / 'out'
    env = dict(os.environ, FASHION_MNIST_DIR=str(link))
    done = subprocess.run([sys.executable, '-m', 'grading', str(autograder), str(submissions),
                           '--out', str(out), '--cell-timeout', str(CELL_TIMEOUT)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out / 'grades.csv', newline='') as f:
        row = next(r for r in csv.DictReader(f) if r['submission'] == 'reads_data.ipynb')
    assert row['status'] == 'ok', row
    assert float(row['q1']) == 2, row  # q1's full points: the four files were there
