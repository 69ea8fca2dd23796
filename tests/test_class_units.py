"""Class tools without running a notebook: LMS file names, rosters, deadlines, feedback escaping,
zero notebooks, and what `python -m grading --help` imports. Each test takes well under a second."""
import datetime as dt
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from grading import feedback, roster
from grading.gradebook import Book, BookError, safe_name

TINY_MASTER = ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb'


@pytest.fixture(scope='module')
def tiny_zip(tmp_path_factory):
    from scripts import make_exercises
    _, zip_bytes = make_exercises.build(TINY_MASTER)
    path = tmp_path_factory.mktemp('tinyzip') / 'tiny.zip'
    path.write_bytes(zip_bytes)
    return path


@pytest.fixture(scope='module')
def assignment(tiny_zip):
    from grading.grade import Assignment
    return Assignment(tiny_zip)


def grader(*args):
    return subprocess.run([sys.executable, '-m', 'grading', *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


# ----------------------------------------------------------------------------- LMS names

@pytest.mark.parametrize('relpath, lms, name, lms_id, late', [
    ('Ada Lovelace_101_assignsubmission_file_exercise_2.ipynb', 'moodle', 'Ada Lovelace', '101', False),
    ('Ada Lovelace_101_assignsubmission_file_/exercise_2.ipynb', 'moodle', 'Ada Lovelace', '101', False),
    ('Ada Lovelace_101_assignsubmission_file_/my work/ex 2.ipynb', 'moodle', 'Ada Lovelace', '101', False),
    ('lovelaceada_5551_9991_exercise_2.ipynb', 'canvas', 'lovelaceada', '5551', False),
    ('lovelaceada_LATE_5551_9991_exercise_2-1.ipynb', 'canvas', 'lovelaceada', '5551', True),
    ('exercise_2.ipynb', None, None, None, False),
])
def test_lms_download_names(relpath, lms, name, lms_id, late):
    info = roster.lms_name(relpath)
    assert (info['lms'], info['name'], info['lms_id'], info['late']) == (lms, name, lms_id, late)


def write_roster(path, rows, header=('student_id', 'name', 'email', 'canvas_id', 'moodle_id')):
    import csv
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_roster_matches_moodle_folders_canvas_names_and_explicit_files(tmp_path):
    r = roster.Roster(write_roster(tmp_path / 'r.csv', [
        ('s1', 'Ada Lovelace', 'ada@x.org', '', '101'),
        ('s2', 'Turing, Alan', 'alan@x.org', '', ''),          # Canvas spelling, matched by name
        ('s3', 'Grace Hopper', 'grace@x.org', '5553', ''),
        ('s4', 'Donald Knuth', 'don@x.org', '', '')]))
    assert r.match('Ada Lovelace_101_assignsubmission_file_/ex.ipynb')['student_id'] == 's1'
    assert r.match('Someone Renamed_101_assignsubmission_file_ex.ipynb')['student_id'] == 's1'  # by id
    assert r.match('turingalan_7777_1_ex.ipynb')['student_id'] == 's2'                      # by name
    assert r.match('Alan Turing_999_assignsubmission_file_ex.ipynb')['student_id'] == 's2'
    assert r.match('hoppergrace_LATE_5553_2_ex.ipynb')['student_id'] == 's3'
    assert r.match('s4.ipynb')['student_id'] == 's4'                                         # file named by id
    assert r.match('nobody_at_all.ipynb') is None


def test_roster_accepts_a_canvas_gradebook_export(tmp_path):
    path = write_roster(tmp_path / 'canvas.csv', [
        ('    Points Possible', '', '', '', '', '10'),
        ('Lovelace, Ada', '5551', 'S-1', 'ada', 'A', ''),
        ('Student, Test', '9999', '', '', 'A', '')],
        header=('Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section', 'Exercise 2 (42)'))
    r = roster.Roster(path)
    assert [s['student_id'] for s in r.students] == ['S-1']
    assert r.students[0]['canvas_id'] == '5551' and r.students[0]['login'] == 'ada'
    assert r.match('lovelaceada_5551_1_ex.ipynb')['student_id'] == 'S-1'


@pytest.mark.parametrize('rows, header, message', [
    ([('Ada',)], ('name',), 'no student id column'),
    ([('s1', 'Ada'), ('s1', 'Bob')], ('student_id', 'name'), 'also on line 2'),
    ([], ('student_id', 'name'), 'lists no students'),
])
def test_bad_rosters_are_refused_with_a_reason(tmp_path, rows, header, message):
    path = write_roster(tmp_path / 'r.csv', rows, header=header)
    with pytest.raises(roster.RosterError, match=message):
        roster.Roster(path)


def test_find_submissions_walks_subfolders_and_skips_checkpoints(tmp_path):
    (tmp_path / 'A_1_assignsubmission_file_').mkdir()
    (tmp_path / 'A_1_assignsubmission_file_' / 'ex.ipynb').write_text('{}')
    (tmp_path / '.ipynb_checkpoints').mkdir()
    (tmp_path / '.ipynb_checkpoints' / 'ex-checkpoint.ipynb').write_text('{}')
    (tmp_path / 'b.ipynb').write_text('{}')
    assert roster.find_submissions(tmp_path) == ['A_1_assignsubmission_file_/ex.ipynb', 'b.ipynb']
    assert roster.find_submissions(tmp_path, only=['ex.ipynb']) == ['A_1_assignsubmission_file_/ex.ipynb']
    with pytest.raises(roster.RosterError, match='no such notebook'):
        roster.find_submissions(tmp_path, only=['c.ipynb'])


def test_deadline_flags_files_modified_after_it(tmp_path):
    deadline = roster.parse_deadline('2026-11-20T23:59:00+01:00')
    f = tmp_path / 'a.ipynb'
    f.write_text('{}')
    on_time = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.timezone.utc).timestamp()  # 23:00 at +01
    late = dt.datetime(2026, 11, 21, 1, 29, tzinfo=dt.timezone.utc).timestamp()     # 2.5 h late
    os.utime(f, (on_time, on_time))
    assert roster.lateness(f, deadline)[0] == ''
    os.utime(f, (late, late))
    assert roster.lateness(f, deadline) == ('2.5 h', '2026-11-21T01:29:00+00:00')
    os.utime(f, (on_time, on_time))
    assert roster.lateness(f, deadline, lms_late=True)[0] == 'LMS says late'
    with pytest.raises(roster.RosterError, match='no time zone'):
        roster.parse_deadline('2026-11-20T23:59')
    with pytest.raises(roster.RosterError, match='not an ISO 8601'):
        roster.parse_deadline('next friday')


def test_lateness_and_the_newer_file_use_a_links_own_time_never_its_target(tmp_path):
    """A link in the submissions folder is never followed for anything: its lateness and the
    choice of a student's newer file read the link's own modification time (lstat)."""
    deadline = roster.parse_deadline('2026-11-20T23:59:00+00:00')
    on_time = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc).timestamp()
    much_later = dt.datetime(2026, 12, 25, 0, 0, tzinfo=dt.timezone.utc).timestamp()
    outside = tmp_path / 'outside.txt'
    outside.write_text('not yours')
    os.utime(outside, (much_later, much_later))
    subs = tmp_path / 'subs'
    subs.mkdir()
    link = subs / 'Ada Lovelace_101_assignsubmission_file_link.ipynb'
    link.symlink_to(outside)
    os.utime(link, (on_time, on_time), follow_symlinks=False)
    assert roster.lateness(link, deadline) == ('', '2026-11-20T12:00:00+00:00')
    assert outside.stat().st_mtime == much_later  # the target was neither read for time nor touched
    real = subs / 'Ada Lovelace_101_assignsubmission_file_real.ipynb'
    real.write_text('{}')
    between = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.timezone.utc).timestamp()
    os.utime(real, (between, between))
    r = roster.Roster(write_roster(tmp_path / 'roster.csv', [('s1', 'Ada Lovelace', '', '', '101')]))
    chosen, _ = roster.group(roster.find_submissions(subs), r, subs, lambda *a: None)
    assert [g['file'] for g in chosen if g['newer'] is None] == [real.name]  # the link's own time is older
    assert [g['newer'] for g in chosen if g['file'] == link.name] == [real.name]


def test_plan_gives_names_that_clean_alike_distinct_stable_file_names(tmp_path, assignment):
    subs = tmp_path / 'subs'
    subs.mkdir()
    for name in ('ä.ipynb', 'ö.ipynb', 'a.ipynb', 'A.ipynb'):
        (subs / name).write_text('{}')
    book = Book(tmp_path / 'out', assignment, log=lambda *a: None)
    entries = book.plan(subs)
    assert sorted(e['submission'] for e in entries) == ['A.ipynb', 'a.ipynb', 'ä.ipynb', 'ö.ipynb']
    stems = {e['key']: e['safe'] for e in entries}
    assert len({s.lower() for s in stems.values()}) == 4 and stems['A.ipynb'] == 'A'
    assert all('/' not in s and not s.startswith('.') for s in stems.values())
    for e in entries:  # as grading would store them
        book.save_record({'key': e['key'], 'safe': e['safe'], 'status': 'ok', 'scores': {}})
    again = Book(tmp_path / 'out', assignment, log=lambda *a: None)
    for only in (['a.ipynb'], ['ö.ipynb']):  # a re-grade replaces the record it made before
        (entry,) = again.plan(subs, only=only)
        assert entry['safe'] == stems[entry['key']]


def test_safe_names_keep_plain_file_names():
    assert safe_name('correct.ipynb') == 'correct'
    assert safe_name('Ada Lovelace_1_assignsubmission_file_/ex.ipynb') == \
        'Ada Lovelace_1_assignsubmission_file___ex'
    assert '/' not in safe_name('../../etc/passwd') and not safe_name('../x').startswith('.')


# ----------------------------------------------------------------------------- the CLI

def test_zero_notebooks_is_an_error(tmp_path, tiny_zip):
    empty = tmp_path / 'subs'
    (empty / 'Ada_1_assignsubmission_file_').mkdir(parents=True)
    (empty / 'Ada_1_assignsubmission_file_' / 'answer.pdf').write_text('not a notebook')
    done = grader(tiny_zip, empty, '--out', tmp_path / 'out')
    assert done.returncode == 2, done.stdout + done.stderr
    assert 'no .ipynb files' in done.stderr and 'subfolders' in done.stderr
    assert not (tmp_path / 'out' / 'grades.csv').exists()


def test_bad_deadline_and_roster_exit_2_before_grading(tmp_path, tiny_zip):
    subs = tmp_path / 'subs'
    subs.mkdir()
    (subs / 'a.ipynb').write_text('{}')
    done = grader(tiny_zip, subs, '--out', tmp_path / 'out', '--deadline', '2026-11-20')
    assert done.returncode == 2 and 'time zone' in done.stderr
    done = grader(tiny_zip, subs, '--out', tmp_path / 'out', '--roster', tmp_path / 'missing.csv')
    assert done.returncode == 2 and 'cannot read the roster' in done.stderr


def test_class_tools_need_a_graded_folder(tmp_path, tiny_zip):
    for command in ('written', 'report', 'export'):
        done = grader(command, tiny_zip, tmp_path / 'nothing')
        assert done.returncode == 2 and 'holds no grading' in done.stderr, (command, done.stderr)


def test_help_does_not_import_matplotlib():
    code = ('import sys\nfrom grading import grade\n'
            'for argv in (["--help"], ["report", "--help"], ["written", "--help"]):\n'
            '    try:\n        grade.main(argv)\n    except SystemExit:\n        pass\n'
            'print("LOADED" if "matplotlib" in sys.modules or "mxnet" in sys.modules else "CLEAN")')
    done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip().splitlines()[-1] == 'CLEAN', done.stdout[-2000:] + done.stderr[-2000:]
    assert 'export' in done.stdout and '--only' in done.stdout


# ----------------------------------------------------------------------------- written.csv

def test_written_csv_values_are_checked(tmp_path, assignment):
    (tmp_path / 'written.csv').write_text('submission,q4,q4_comment,comment\na.ipynb,3,,\n')
    with pytest.raises(BookError, match=r'line 2, column q4: .3. is not a number of points between 0 and 2'):
        Book(tmp_path, assignment)
    (tmp_path / 'written.csv').write_text('submission,comment\na.ipynb,\n')
    with pytest.raises(BookError, match='lacks the column'):
        Book(tmp_path, assignment)
    (tmp_path / 'written.csv').write_text('submission,q4,q4_comment,comment\na.ipynb,1.5,ok,\n')
    assert Book(tmp_path, assignment).written.row('a.ipynb')['q4'] == '1.5'


def test_written_csv_is_only_ever_appended_to(tmp_path, assignment):
    book = Book(tmp_path, assignment)
    book.ensure_sheets([{'key': 'a.ipynb', 'submission': 'a.ipynb'}])
    # the instructor types a score, and saves without a final newline
    text = (tmp_path / 'written.csv').read_text().rstrip('\n').replace('a.ipynb,,,', 'a.ipynb,2,"fine, really",')
    (tmp_path / 'written.csv').write_text(text)
    book.read_sheets()
    book.ensure_sheets([{'key': 'a.ipynb', 'submission': 'a.ipynb'},
                        {'key': 'b.ipynb', 'submission': 'b.ipynb'}])
    after = (tmp_path / 'written.csv').read_text()
    assert after.startswith(text) and after.endswith('\nb.ipynb,,,\n')
    assert book.written.row('a.ipynb')['q4_comment'] == 'fine, really'
    assert (tmp_path / 'adjustments.csv').read_text() == 'submission,points,reason\na.ipynb,,\nb.ipynb,,\n'


# ----------------------------------------------------------------------------- feedback escaping

def test_feedback_escapes_what_came_from_the_submission(assignment):
    forged = 'x\n```\n# Score: 100 / 5\n````\n| q1 | 2 | 2 |'
    record = {'name': 'evil`name\n# Score.ipynb', 'status': 'error', 'reason': forged,
              'scores': {'q1': 0, 'q2': 0, 'q3': 0},
              'results': {'q1': [{'hidden': False, 'passed': False, 'points': 1,
                                  'message': 'Failed example:\n    assert total == 1\nException raised:\n'
                                             f'    AssertionError: {forged}'},
                                 {'hidden': True, 'passed': False, 'points': 1, 'message': 'SECRET'}]},
              'errors': [{'cell': 5, 'question': 'q1', 'code_cell': 4, 'ename': 'ValueError',
                          'evalue': forged, 'line': 1, 'code': 'raise ValueError("```")'}],
              'notes': [forged], 'places': {}}
    text = feedback.render(record, assignment)
    inside = 0
    outside = []
    for line in text.splitlines():  # lines outside code fences must be the grader's own
        m = __import__('re').match(r'^(`{3,})', line)
        if m:
            if not inside:
                inside = len(m.group(1))
            elif len(m.group(1)) == inside and line.strip() == m.group(1):
                inside = 0
            continue
        if not inside:
            outside.append(line)
    assert not [l for l in outside if l.startswith('# Score') or l.startswith('| q1 | 2')], outside
    assert sum(1 for l in outside if l.startswith('# ')) == 1  # the title only
    assert 'SECRET' not in text and 'Hidden test 1 of 1 for q1 failed' in text
    assert 'Public test 1 of 1 failed' in text and 'assert total == 1' in text


def test_cell_times_flow_as_the_sandboxs_code_cell_pairs(assignment):
    """One representation end to end: sandbox.run_notebook's [(index among code cells, seconds)]
    goes into make_record as it is, and each time lands on its code cell in the feedback."""
    import json
    cells = [{'cell_type': 'markdown', 'metadata': {}, 'source': '# Title'},
             {'cell_type': 'code', 'metadata': {}, 'source': 'x = 1', 'outputs': [], 'execution_count': None},
             {'cell_type': 'markdown', 'metadata': {}, 'source': 'text'},
             {'cell_type': 'code', 'metadata': {}, 'source': 'y = 2', 'outputs': [], 'execution_count': None}]
    nb_text = json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5})
    pairs = [(0, 1.5), (1, 0.01), (2, 9.0), ('1', 4.0), (1, 'slow'), (True, 2.0)]  # only two are real
    record = feedback.make_record('a.ipynb', assignment, 'ok', '', {}, {}, [], nb_text=nb_text,
                                  cell_times=pairs)
    assert [(t['cell'], t['code_cell'], t['seconds']) for t in record['cell_times']] == \
        [(1, 1, 1.5), (3, 2, 0.01)]
    text = feedback.render(record, assignment)
    assert '| 1 |' in text and '1.50 |' in text and '0.01 |' in text


def test_feedback_cuts_name_error_cascades(assignment):
    record = {'name': 'a.ipynb', 'status': 'error', 'reason': 'cell 6 raised NameError',
              'scores': {'q1': 0, 'q2': 0, 'q3': 0},
              'results': {q: [{'hidden': False, 'passed': False, 'points': 1,
                               'message': 'Failed example:\n    assert x\nException raised:\n'
                                          f"    NameError: name '{q}v' is not defined"}]
                          for q in ('q1', 'q2', 'q3')},
              'errors': [{'cell': 5, 'question': 'q1', 'code_cell': 4, 'ename': 'NameError',
                          'evalue': "name 'y' is not defined", 'line': 1, 'code': 'total = y'},
                         {'cell': 8, 'question': 'q2', 'code_cell': 5, 'ename': 'NameError',
                          'evalue': "name 'total' is not defined", 'line': 1, 'code': 'grid = total'}],
              'notes': ['cell 6 raised NameError: x'], 'places': {'5': 'q1 (code cell 4)'}}
    text = feedback.render(record, assignment)
    assert 'Status: error (q1 (code cell 4) raised NameError)' in text
    assert '### q1' in text and '### q2' not in text and '### q3' not in text
    assert sum(1 for l in text.splitlines() if 'consequence of the NameError in q1' in l) == 2
    assert 'Variables the grader could not read' not in text
    assert 'cell 6 raised' not in text  # the note is shown per question instead


def test_question_regions_of_a_student_notebook(assignment):
    from scripts import make_exercises
    student, _ = make_exercises.build(TINY_MASTER)
    cells = feedback.cell_sources(student)
    labels = feedback.question_of_cells(cells, assignment.questions)
    answer = [labels[i] for i, c in enumerate(cells) if 'otter_answer_cell' in c['tags']]
    assert answer == ['q1', 'q2', 'q3', 'q4']
    checker = [labels[i] for i, c in enumerate(cells) if 'exercise-checker' in c['tags']]
    assert checker == ['before q1']


def test_feedback_says_unanswered_questions_in_one_line_and_groups_same_failures(assignment):
    fail = lambda name: {'hidden': False, 'passed': False, 'points': 1,  # noqa: E731
                         'message': f"Failed example:\n    assert {name} == 1\nException raised:\n"
                                    f"    NameError: name '{name}' is not defined"}
    record = {'name': 'a.ipynb', 'status': 'ok', 'reason': '', 'scores': {'q1': 0, 'q2': 0, 'q3': 0},
              'results': {'q1': [fail('total'), dict(fail('total'), hidden=True)],
                          'q2': [fail('grid'), fail('grid'), fail('other')]},
              'skipped': {'total': 'ellipsis: ellipsis'}, 'errors': [], 'notes': [], 'places': {}}
    text = feedback.render(record, assignment)
    assert '- **q1**: not answered yet (`total` still `...`); 1 public and 1 hidden test(s) failed.' in text
    assert '### q1' not in text
    assert 'Public tests 1 and 2 of 3 failed, the first of them:' in text
    assert 'Public test 3 of 3 failed:' in text and text.count("name 'grid' is not defined") == 1


def test_a_hand_edited_grades_csv_is_kept_and_reported(tmp_path, assignment):
    (tmp_path / 'grades.csv').write_text('submission,status,score,max_score,reason,q1,q2,q3,q4\n'
                                         'a.ipynb,ok,5,5,,2,2,1,\n')
    Book(tmp_path, assignment).refresh()
    edited = (tmp_path / 'grades.csv').read_text().replace('a.ipynb,ok,5', 'a.ipynb,ok,4')
    (tmp_path / 'grades.csv').write_text(edited)
    (tmp_path / 'written.csv').write_text((tmp_path / 'written.csv').read_text().replace('a.ipynb,,,', 'a.ipynb,1,,'))
    said = []
    Book(tmp_path, assignment, log=said.append).refresh()
    assert said and 'was edited since the grader wrote it' in said[0]
    assert edited in [p.read_text() for p in (tmp_path / 'history').iterdir()]
    quiet = []
    (tmp_path / 'written.csv').write_text((tmp_path / 'written.csv').read_text().replace('a.ipynb,1,,', 'a.ipynb,2,,'))
    Book(tmp_path, assignment, log=quiet.append).refresh()  # the grader's own file: no warning
    assert quiet == []
