"""An instructor's workflow on a tiny assignment: grade a class, type written scores, re-grade
(everything and `--only` one file), then the class report and the Canvas/Moodle exports.

Two small classes of tiny notebooks (tests/submissions/tiny_master.ipynb), graded with --jobs 2:
- by file name: alice (right, with a written answer and a figure), bob (partly right; fixed later
  and re-graded with --only), carol (a NameError in q1 and text that tries to forge a heading);
- with a roster: Moodle per-student folders and Moodle/Canvas file names, one file after the
  deadline, one student without a submission, two identical submissions.
"""
import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest

from conftest import ROOT, SHARED_DATA
from submissions.suite import with_answers

from scripts import make_exercises

TINY_MASTER = ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb'
LIMITS = ['--cell-timeout', 30, '--timeout', 90, '--memory-mb', 2000, '--jobs', 2]
RIGHT = ['total = sum(range(1, 11))', 'grid = np.linspace(0, 1, 5)',
         "table = pd.DataFrame({'n': [1, 2, 3]})\ntable['square'] = table['n'] ** 2"]
PARTLY = ['total = 55', 'grid = np.zeros(5)',
          "table = pd.DataFrame({'n': [1, 2, 3]})\ntable['square'] = table['n'] ** 2"]
FORGED = 'x\\n```\\n# Score: 100 / 5'
BROKEN = ['total = not_defined_anywhere + 1', 'grid = np.linspace(0, 1, 5)',
          f"table = pd.DataFrame({{'n': [1, 2, 3]}})\nraise ValueError('{FORGED}')"]
PLOT = 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title("squares")'
OWN = ('# my own approach\nvalues = [v * v for v in range(1, 4)]\nchecks = {k: v for k, v in zip("abc", values)}\n'
       'acc = 0\nfor k in sorted(checks):\n    acc += checks[k] * len(k)\nsummary = (acc, max(values), min(values))')


def run_grader(*args):
    env = dict(os.environ, FASHION_MNIST_DIR=str(SHARED_DATA))
    return subprocess.run([sys.executable, '-m', 'grading', *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=900)


def notebook(student, answers, written=None, extra=()):
    nb = with_answers(student, answers, extra_cells=extra)
    if written is not None:
        cell = [c for c in nb.cells if c.cell_type == 'markdown'
                and 'otter_answer_cell' in c.metadata.get('tags', [])][0]
        cell.source = written
    return nb


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def by(rows, key):
    return {r[key]: r for r in rows}


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp('class-tiny')
    student, zip_bytes = make_exercises.build(TINY_MASTER)
    (folder / 'tiny.zip').write_bytes(zip_bytes)
    return nbformat.reads(student, as_version=4), folder / 'tiny.zip'


@pytest.fixture(scope='module')
def graded_twice(tiny, tmp_path_factory):
    """Grade, type written scores, fix and re-grade bob with --only, then re-grade everything."""
    student, autograder = tiny
    base = tmp_path_factory.mktemp('class')
    subs, out = base / 'subs', base / 'out'
    subs.mkdir()
    nbformat.write(notebook(student, RIGHT, 'Pair 1 with n, 2 with n-1: n/2 pairs of n+1.', [PLOT]),
                   subs / 'alice.ipynb')
    nbformat.write(notebook(student, PARTLY, 'Because it is.'), subs / 'bob.ipynb')
    nbformat.write(notebook(student, BROKEN), subs / 'carol.ipynb')
    first = run_grader(autograder, subs, '--out', out, *LIMITS)
    state = {'first': first, 'grades1': (out / 'grades.csv').read_text() if (out / 'grades.csv').exists() else '',
             'written0': (out / 'written.csv').read_text() if (out / 'written.csv').exists() else ''}
    # The instructor types points and comments into written.csv (as a spreadsheet would save it).
    rows = read_csv(out / 'written.csv')
    for r in rows:
        if r['submission'] == 'alice.ipynb':
            r.update(q4='2', q4_comment='Clear pairing argument.', comment='Well done overall.')
        if r['submission'] == 'bob.ipynb':
            r.update(q4='0.5', q4_comment='No reason given.\n# Score: 100')
    with open(out / 'written.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator='\r\n')
        w.writeheader()
        w.writerows(rows)
    state['written1'] = (out / 'written.csv').read_text()
    state['written_cmd'] = run_grader('written', autograder, out)
    state['grades2'] = (out / 'grades.csv').read_text()
    # bob fixes his notebook; only his file is graded again
    nbformat.write(notebook(student, RIGHT, 'Because it is.'), subs / 'bob.ipynb')
    state['only'] = run_grader(autograder, subs, '--out', out, '--only', 'bob.ipynb', *LIMITS)
    state['grades3'] = (out / 'grades.csv').read_text()
    state['again'] = run_grader(autograder, subs, '--out', out, *LIMITS)
    state['grades4'] = (out / 'grades.csv').read_text()
    state.update(out=out, subs=subs, autograder=autograder)
    return state


def test_first_grading_has_maxima_total_and_a_written_sheet(graded_twice):
    assert graded_twice['first'].returncode == 0, graded_twice['first'].stderr[-3000:]
    import io
    rows = list(csv.DictReader(io.StringIO(graded_twice['grades1'])))
    assert list(rows[0])[:9] == ['submission', 'status', 'score', 'max_score', 'reason', 'q1', 'q2', 'q3', 'q4']
    assert {'written', 'total', 'max_total'} <= set(rows[0])
    points = rows[0]
    assert points['submission'] == 'Points Possible'
    assert (points['q1'], points['q2'], points['q3'], points['q4']) == ('2', '2', '1', '2')  # the master's
    assert (points['score'], points['written'], points['total']) == ('5', '2', '7')
    grades = by(rows[1:], 'submission')
    assert set(grades) == {'alice.ipynb', 'bob.ipynb', 'carol.ipynb'}
    assert grades['alice.ipynb']['total'] == '5' and grades['alice.ipynb']['max_total'] == '7'
    written = read_csv_text(graded_twice['written0'])
    assert [r['submission'] for r in written] and all(r['q4'] == '' for r in written)
    assert list(written[0]) == ['submission', 'q4', 'q4_comment', 'comment']


def read_csv_text(text):
    import io
    return list(csv.DictReader(io.StringIO(text)))


def test_typed_written_scores_are_merged_and_never_lost(graded_twice):
    assert graded_twice['written_cmd'].returncode == 0, graded_twice['written_cmd'].stderr
    for label in ('grades2', 'grades3', 'grades4'):
        rows = by(read_csv_text(graded_twice[label])[1:], 'submission')
        assert set(rows) == {'alice.ipynb', 'bob.ipynb', 'carol.ipynb'}, label
        assert rows['alice.ipynb']['q4'] == '2' and rows['alice.ipynb']['written'] == '2', label
        assert rows['alice.ipynb']['total'] == '7', label
        assert rows['bob.ipynb']['q4'] == '0.5', label
    # written.csv is the instructor's: byte for byte what they saved, through every run
    assert (graded_twice['out'] / 'written.csv').read_text() == graded_twice['written1']


def test_only_regrades_one_file_and_keeps_the_other_rows(graded_twice):
    assert graded_twice['only'].returncode == 0, graded_twice['only'].stderr[-3000:]
    assert '1 submission(s) to grade' in graded_twice['only'].stdout
    before = by(read_csv_text(graded_twice['grades2'])[1:], 'submission')
    after = by(read_csv_text(graded_twice['grades3'])[1:], 'submission')
    assert float(before['bob.ipynb']['score']) < 5 and after['bob.ipynb']['score'] == '5'
    assert after['bob.ipynb']['total'] == '5.5'
    for name in ('alice.ipynb', 'carol.ipynb'):
        assert after[name] == before[name]
    # grading everything again gives the same rows (nothing depends on the order of runs)
    assert graded_twice['again'].returncode == 0
    assert read_csv_text(graded_twice['grades4']) == read_csv_text(graded_twice['grades3'])


def test_every_rewrite_keeps_the_previous_grades(graded_twice):
    history = sorted((graded_twice['out'] / 'history').glob('grades-*.csv'))
    kept = [p.read_text() for p in history]
    # the version before `written` and before `--only`; the full re-grade changed nothing, so
    # it rewrote nothing and kept nothing
    for label in ('grades1', 'grades2'):
        assert graded_twice[label] in kept, label
    assert len(kept) == 2 and graded_twice['grades4'] == graded_twice['grades3']


def test_feedback_points_to_questions_and_carries_comments(graded_twice):
    out = graded_twice['out']
    alice = (out / 'feedback' / 'alice.md').read_text()
    assert 'Total: 7 / 7' in alice and 'Clear pairing argument.' in alice and 'Well done overall.' in alice
    bob = (out / 'feedback' / 'bob.md').read_text()
    assert '> # Score: 100' in bob  # the instructor's text, quoted
    carol = (out / 'feedback' / 'carol.md').read_text()
    assert '### q1' in carol and 'not_defined_anywhere' in carol
    assert 'total = not_defined_anywhere + 1' in carol  # the failing line
    assert 'consequence of the NameError in q1' in carol
    assert not [l for l in carol.splitlines() if l.startswith('# Score')]
    assert 'hidden-marker' not in alice + bob + carol
    assert 'Variables the grader could not read' not in carol


def test_hidden_failures_are_recorded_for_instructors_only(graded_twice):
    record = json.loads((graded_twice['out'] / 'private' / 'records' / 'carol.json').read_text())
    messages = [c['message'] for c in record['results']['q1'] if c['hidden']]
    assert any('hidden-marker-q1' in m for m in messages)


def test_executed_notebooks_keep_figures(graded_twice):
    nb = nbformat.read(graded_twice['out'] / 'executed' / 'alice.ipynb', as_version=4)
    pngs = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs
            if 'image/png' in o.get('data', {})]
    assert pngs, 'the plot cell should leave an inline PNG'


def test_written_pages_show_answers_next_to_points(graded_twice):
    page = (graded_twice['out'] / 'written' / 'q4.md').read_text()
    assert 'Why is the sum of 1..n equal to n(n+1)/2?' in page
    assert 'n/2 pairs of n+1' in page and 'Because it is.' in page
    alice = page.split('## alice.ipynb')[1].split('---')[0]
    assert '**Points** (of 2): 2' in alice and 'Clear pairing argument.' in alice
    carol = page.split('## carol.ipynb')[1].split('---')[0]
    assert '(no answer)' in carol and '**Points** (of 2): ___' in carol


# ----------------------------------------------------------------------------- roster, report, LMS

RENAMED = OWN.replace('values', 'vals').replace('checks', 'lookup').replace('acc', 'running')  # q3's is table


@pytest.fixture(scope='module')
def lms_class(tiny, tmp_path_factory):
    """A roster class from Moodle and Canvas downloads, with the hostile cases: a student's
    older file, a classmate who took a student's name (two Moodle ids, roster without them),
    a file named like another's hashed stem, formula and look-alike roster names, a renamed
    copy; then a re-grade of an on-time file touched today."""
    from grading.batch import safe_stem
    student, autograder = tiny
    base = tmp_path_factory.mktemp('lms')
    subs, out = base / 'download', base / 'out'
    (subs / 'Ada Lovelace_101_assignsubmission_file_').mkdir(parents=True)
    hashed = safe_stem('Zoë.ipynb', set())
    files = {
        'Ada Lovelace_101_assignsubmission_file_/exercise.ipynb': notebook(student, RIGHT, 'Pairs.', [OWN]),
        'Ada Lovelace_101_assignsubmission_file_/exercise-draft.ipynb': None,  # her older file
        'Alan Turing_102_assignsubmission_file_exercise.ipynb': notebook(student, RIGHT, 'Pairs!', [RENAMED]),
        'hoppergrace_LATE_5553_9001_exercise.ipynb': notebook(student, PARTLY, 'Gauss.'),
        'knuthdonald_5554_9002_exercise.ipynb': notebook(student, BROKEN),
        'Zoe Ng_201_assignsubmission_file_ex.ipynb': None,   # Zoe's own
        'Zoe Ng_202_assignsubmission_file_ex.ipynb': None,   # a classmate renamed "Zoe Ng"
        'Zoë.ipynb': None, f'{hashed}.ipynb': None,          # on no roster; names collide once cleaned
    }
    deadline = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)
    files['stranger.ipynb'] = None  # on no roster, and not even a notebook
    for name, nb in files.items():
        if nb is None:
            (subs / name).write_text('')
        else:
            nbformat.write(nb, subs / name)
        when = deadline - dt.timedelta(hours=1 if 'draft' not in name else 30)
        if name.startswith('knuth'):
            when = deadline + dt.timedelta(hours=3)
        os.utime(subs / name, (when.timestamp(), when.timestamp()))
    roster = base / 'roster.csv'
    roster.write_text('student_id,name,email,moodle_id,canvas_id,section,login\n'
                      'S1,Ada Lovelace,ada@uni.org,101,,A,ada\n'
                      'S2,Alan Turing,alan@uni.org,102,,A,alan\n'
                      'S3,"Hopper, Grace",grace@uni.org,,5553,B,grace\n'
                      'S4,Donald Knuth,don@uni.org,,5554,B,don\n'
                      'S5,Edsger Dijkstra,ed@uni.org,,5555,B,ed\n'
                      'S6,Zoe Ng,zoe@uni.org,,,B,zoe\n'
                      'S7,"=HYPERLINK(""http://x.example"",""y"")",-s7@uni.org,,,B,s7\n'
                      'S8,\u0410lan Turing,alan2@uni.org,,,B,alan2\n', encoding='utf-8')
    common = ('--roster', roster, '--deadline', deadline.isoformat(), *LIMITS)
    graded = run_grader(autograder, subs, '--out', out, *common)
    rows = read_csv(out / 'written.csv')
    for r in rows:
        r['q4'] = {'S1': '2', 'S2': '1'}.get(r['student_id'], '0' if r['student_id'] in ('S3', 'S4') else '')
    with open(out / 'written.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator='\n')
        w.writeheader()
        w.writerows(rows)
    # the instructor fixes Alan's notebook today (its file time is now) and re-grades it
    os.utime(subs / 'Alan Turing_102_assignsubmission_file_exercise.ipynb')
    regrade = run_grader(autograder, subs, '--out', out, '--only',
                         'Alan Turing_102_assignsubmission_file_exercise.ipynb', *common)
    report = run_grader('report', autograder, out)
    export = run_grader('export', autograder, out, '--canvas-column', 'Exercise 9 (4242)',
                        '--moodle-item', 'Exercise 9', '--moodle-feedback-zip', '--canvas-feedback')
    return dict(graded=graded, regrade=regrade, report=report, export=export, out=out, hashed=hashed)


def test_roster_keys_rows_by_student_and_flags_late_and_missing(lms_class):
    assert lms_class['graded'].returncode == 0, lms_class['graded'].stderr[-3000:]
    rows = read_csv(lms_class['out'] / 'grades.csv')
    assert list(rows[0])[:3] == ['student_id', 'name', 'submission']
    assert rows[0]['student_id'] == 'Points Possible'
    grades = by([r for r in rows[1:] if r['student_id']], 'student_id')
    files = by([r for r in rows[1:] if not r['student_id']], 'submission')
    assert set(grades) == {'S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8'}
    hashed = lms_class['hashed'] + '.ipynb'
    assert set(files) == {'stranger.ipynb', 'Zoë.ipynb', hashed, 'Zoe Ng_201_assignsubmission_file_ex.ipynb',
                          'Zoe Ng_202_assignsubmission_file_ex.ipynb'}
    assert files['stranger.ipynb']['status'] == 'unreadable'
    assert 'stranger.ipynb matches no student' in lms_class['graded'].stdout + lms_class['graded'].stderr
    assert grades['S1']['submission'] == 'Ada Lovelace_101_assignsubmission_file_/exercise.ipynb'
    assert grades['S1']['superseded'].startswith('Ada Lovelace_101_assignsubmission_file_/exercise-draft.ipynb (0/5')
    assert grades['S1']['score'] == '5' and grades['S3']['score'] != '5'
    assert grades['S4']['late'] == '3.0 h'
    assert grades['S3']['late'] == 'LMS says late'  # Canvas's _LATE_ in the name
    assert grades['S1']['late'] == grades['S2']['late'] == ''
    assert grades['S5']['status'] == 'missing' and grades['S5']['total'] == ''
    assert grades['S6']['status'] == 'conflict' and 'moodle 201, moodle 202' in grades['S6']['reason']
    assert grades['S7']['name'].startswith("'=HYPERLINK(")  # shown as text, never run
    assert 'U+0410 CYRILLIC CAPITAL LETTER A' in grades['S8']['flags']
    assert 'looks like another' in grades['S2']['flags']
    assert (lms_class['out'] / 'feedback' / 'S1.md').exists()
    records = [json.loads(p.read_text()) for p in (lms_class['out'] / 'private' / 'records').glob('*.json')]
    stems = {r['key']: r['safe'] for r in records}
    assert stems['Zoë.ipynb'].lower() != stems[hashed].lower()
    assert len({s.lower() for s in stems.values()}) == len(stems)


def test_a_regrade_of_an_on_time_file_touched_today_stays_on_time(lms_class):
    assert lms_class['regrade'].returncode == 0, lms_class['regrade'].stderr[-3000:]
    assert '1 submission(s) to grade' in lms_class['regrade'].stdout
    alan = by([r for r in read_csv(lms_class['out'] / 'grades.csv')[1:] if r['student_id']], 'student_id')['S2']
    assert alan['late'] == '' and alan['submitted'] == '2026-11-20T11:00:00+00:00' and alan['score'] == '5'


def test_class_report(lms_class):
    assert lms_class['report'].returncode == 0, lms_class['report'].stderr[-3000:]
    page = (lms_class['out'] / 'report.html').read_text()
    assert 'data:image/png;base64,' in page  # the score distribution
    assert '<tr><td>ok</td><td>3</td></tr>' in page and '<tr><td>missing</td><td>3</td></tr>' in page
    assert '<tr><td>error</td><td>1</td></tr>' in page and '<tr><td>late</td><td>2</td></tr>' in page
    assert '<tr><td>conflict</td><td>1</td></tr>' in page
    # per question: q1 full marks for S1, S2; zero for S4 (and S3: 55 is not an int: 1 of 2)
    assert '<tr><td>q4</td><td>written</td><td>2</td><td>4</td><td>0.75</td><td>1</td><td>2</td></tr>' in page
    # why the hidden tests failed, with who
    assert 'hidden-marker-q2' in page and 'S3' in page
    assert 'exercise-draft.ipynb (0/5' in page and 'U+0410' in page
    # the renamed copy (S2 renamed S1's variables) is flagged, and only it
    similar = page.split('<h2>Similar code</h2>')[1]
    assert re.search(r'<td>(identical|0\.[89]\d*)</td><td>S1</td><td>S2</td>', similar), similar
    assert similar.count('<tr><td>') == 1


def test_canvas_and_moodle_exports(lms_class):
    assert lms_class['export'].returncode == 0, lms_class['export'].stderr[-3000:]
    grades = by([r for r in read_csv(lms_class['out'] / 'grades.csv')[1:] if r['student_id']], 'student_id')
    export = lms_class['out'] / 'export'
    with open(export / 'canvas.csv', newline='') as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == ['Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section', 'Exercise 9 (4242)']
    rows = {r[2]: r for r in canvas[1:]}
    assert rows['S3'][:5] == ['Hopper, Grace', '5553', 'S3', 'grace', 'B']
    assert rows['S1'][5] == grades['S1']['total'] == '7'
    assert rows['S2'][5] == '6'
    with open(export / 'moodle.csv', newline='') as f:
        moodle = list(csv.reader(f))
    assert moodle[0] == ['ID number', 'Email address', 'Full name', 'Exercise 9']
    rows = {r[0]: r for r in moodle[1:]}
    assert rows['S4'][1] == 'don@uni.org' and rows['S4'][3] == grades['S4']['total']
    # one row per student with a grade: no file (S5, S7, S8) or a conflict (S6) is left out, and said
    assert sorted(rows) == ['S1', 'S2', 'S3', 'S4'] and len(canvas) == 5
    assert 'stranger.ipynb' in lms_class['export'].stderr and 'S5' in lms_class['export'].stderr
    with zipfile.ZipFile(export / 'moodle-feedback.zip') as zf:
        names = sorted(zf.namelist())
        # each file to the Moodle participant whose download it came from: the two files of the
        # conflict go to their own senders (201, 202), neither to the other
        assert names == ['Ada Lovelace_101_assignsubmission_file_/feedback.md',
                         'Alan Turing_102_assignsubmission_file_/feedback.md',
                         'Zoe Ng_201_assignsubmission_file_/feedback.md',
                         'Zoe Ng_202_assignsubmission_file_/feedback.md']
        assert zf.read(names[0]).decode() == (lms_class['out'] / 'feedback' / 'S1.md').read_text()
    assert sorted(p.name for p in (export / 'canvas-feedback').iterdir()) == ['5553.md', '5554.md']
