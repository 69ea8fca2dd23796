"""The gradebook against hostile names and LMS downloads, without running a notebook: files are
planned and "graded" with made-up records (as grade.py would store them), then grades.csv, the
instructor's sheets, the report, the LMS exports and the feedback files are checked. The exports
are read back with parsers written from each LMS's documented import rules (canvas_import,
moodle_import below). Each test takes about a second."""
import csv
import datetime as dt
import io
import os
import re
import sys
import zipfile

import pytest

from grading import batch, feedback, lms, policy, similarity
from grading.gradebook import Book
from conftest import ROOT
from grading.roster import Roster
from test_class_units import assignment, tiny_zip  # noqa: F401  (the tiny assignment's fixtures)

DEADLINE = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)
FORMULA = ('=', '+', '-', '@')


def write_roster(path, rows, header=('student_id', 'name', 'email', 'canvas_id', 'moodle_id')):
    with open(path, 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return Roster(path)


def put(folder, name, hours_after_deadline=-1.0):
    """A submitted file (never run here) with its modification time."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{}')
    when = (DEADLINE + dt.timedelta(hours=hours_after_deadline)).timestamp()
    os.utime(path, (when, when))
    return path


def record(score, status='ok', reason='', **extra):
    """A grading record as grade.py makes it: `score` points spread over q1, q2, q3."""
    scores = {'q1': min(score, 2), 'q2': min(max(score - 2, 0), 2), 'q3': min(max(score - 4, 0), 1)}
    return dict({'name': 'x.ipynb', 'status': status, 'reason': reason, 'scores': scores,
                 'results': {}, 'notes': [], 'errors': [], 'places': {}, 'code': []}, **extra)


def grade(book, subs, scores, **plan):
    """Plan the folder as grade.py does and store a record per entry: scores {file name: points}."""
    entries = batch.complete_plan(book.plan(subs, deadline=DEADLINE, **plan), subs, add_missing=False)
    for e in entries:
        book.add(e, record(scores[os.path.relpath(e['path'], subs)]))
    return entries


def read(path):
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.reader(f))


def grades_by(book, column):
    with open(book.out / 'grades.csv', newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    return {r[column]: r for r in rows[1:]}


# ----------------------------------------------------------------------------- LMS import rules

def canvas_import(text, canvas_students, before):
    """Canvas's gradebook CSV import (canvas-lms lib/gradebook_importer.rb): the header starts
    `Student, ID` (then `SIS User ID, SIS Login ID`), and the last student column is `Section`;
    a `Points Possible` row is skipped; a row finds its student by ID, else SIS user id, else
    login, else name; a blank or '-' cell where a score exists is a change (the score is
    removed). Returns the gradebook `before` ({canvas id: score}) after the import."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[0].startswith('Student') and 'ID' in header[1], header
    columns = 5 if re.match(r'SIS\s+User\s+ID', header[2]) and re.match(r'SIS\s+Login\s+ID', header[3]) else 3
    assert 'Section' in header[columns - 1], header
    after, seen = dict(before), set()
    for row in rows[1:]:
        if 'Points Possible' in row[0]:
            continue
        matches = [cid for cid, s in canvas_students.items()
                   if (row[1] and row[1] == cid) or (not row[1] and row[2] and row[2] == s['sis'])
                   or (not row[1] and not row[2] and row[0] == s['name'])]
        assert len(matches) == 1, f'Canvas finds no single student for {row}'
        assert matches[0] not in seen, f'{matches[0]} twice'
        seen.add(matches[0])
        grade = row[columns].strip()
        after[matches[0]] = None if grade in ('', '-') else float(grade)
    return after


def moodle_import(text, moodle_users, item, before):
    """Moodle's CSV grade import (grade/import/csv/classes/load_data.php) with "ID number" mapped
    to useridnumber: a line of one field is skipped; a user that does not exist aborts the whole
    import; '' or '-' becomes "no grade" (the grade is cleared). Returns `before` after it."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    who, col = header.index('ID number'), header.index(item)
    after, seen = dict(before), set()
    for row in rows[1:]:
        if len(row) <= 1:
            continue
        assert row[who] in moodle_users, f'Moodle aborts the import: no user {row[who]!r}'
        assert row[who] not in seen, f'{row[who]} twice'
        seen.add(row[who])
        value = row[col].strip()
        after[row[who]] = None if value in ('', '-') else float(value)
    return after


def moodle_zip_participants(path):
    """{participant id: [files]} as Moodle's feedback zip import reads the paths
    (mod/assign/feedback/file/importziplib.php, is_valid_filename_for_import): each path part is
    split at '_' into at most 5 pieces; the second is the participant id, the third and fourth
    name the plugin."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            for part in name.split('/'):
                info = part.split('_', 4)
                if len(info) >= 4 and info[1].isdigit() and info[2] == 'assignsubmission':
                    out.setdefault(info[1], []).append(zf.read(name).decode())
                    break
    return out


# ----------------------------------------------------------------------------- names

def test_a_file_named_like_another_files_hashed_stem_gets_a_name_of_its_own(tmp_path, assignment):
    subs = tmp_path / 'subs'
    hashed = batch.safe_stem('Zoë.ipynb', set())
    assert hashed != 'Zoë'
    put(subs, 'Zoë.ipynb')
    put(subs, f'{hashed}.ipynb')  # a file named exactly like Zoë's hashed stem
    book = Book(tmp_path / 'out', assignment, log=lambda *a: None)
    entries = grade(book, subs, {'Zoë.ipynb': 5, f'{hashed}.ipynb': 1})
    stems = [e['safe'].lower() for e in entries]
    assert len(set(stems)) == 2
    planned = batch.complete_plan(entries, subs)
    assert len({e['safe'].lower() for e in planned}) == 2
    rows = grades_by(book, 'submission')
    assert rows['Zoë.ipynb']['score'] == '5' and rows[f'{hashed}.ipynb']['score'] == '1'
    assert len(list((book.out / 'feedback').glob('*.md'))) == 2


def test_every_cell_of_every_csv_is_safe_from_spreadsheet_formulas(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'S1.ipynb')
    put(subs, '=cmd.ipynb')
    put(subs, '@S2.ipynb')
    roster = write_roster(tmp_path / 'r.csv', [
        ('S1', '=HYPERLINK("http://evil.example","click")', '+1@x.org', '501', ''),
        ('@S2', '-2+3', 'ok@x.org', '', '77')])
    book = Book(tmp_path / 'out', assignment, roster=roster, log=lambda *a: None)
    grade(book, subs, {'S1.ipynb': 5, '=cmd.ipynb': 3, '@S2.ipynb': 4})
    book.refresh()
    export = book.out / 'export'
    export.mkdir()
    rows, _ = book.rows()
    for name, make in (('canvas.csv', lms.canvas_csv), ('moodle.csv', lms.moodle_csv)):
        (export / name).write_text(make(book, rows, '=SUM(1)')[0])
    cells = []
    for path in ('grades.csv', 'written.csv', 'adjustments.csv', 'export/canvas.csv', 'export/moodle.csv'):
        cells += [(path, c) for row in read(book.out / path) for c in row]
    bad = [(p, c) for p, c in cells if c.startswith(FORMULA) and not re.fullmatch(r'-?\d+(\.\d+)?', c)]
    assert not bad
    assert ('grades.csv', '\'=HYPERLINK("http://evil.example","click")') in cells
    assert ('export/canvas.csv', "'=SUM(1)") in cells
    assert book.written.row('@S2') and "'@S2" in [c for p, c in cells if p == 'written.csv']
    assert grades_by(book, 'student_id')["'@S2"]['total'] == '4'


def test_look_alike_names_are_flagged_with_their_code_points(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'S1.ipynb')
    put(subs, 'S2.ipynb')
    roster = write_roster(tmp_path / 'r.csv', [('S1', 'ada', '', '', ''), ('S2', '\u0430da', '', '', ''),
                                              ('S3', '张伟 Wei', '', '', '')])
    book = Book(tmp_path / 'out', assignment, roster=roster, log=lambda *a: None)
    grade(book, subs, {'S1.ipynb': 5, 'S2.ipynb': 5})
    rows = grades_by(book, 'student_id')
    assert 'U+0430 CYRILLIC SMALL LETTER A' in rows['S2']['flags']
    assert 'looks like another' in rows['S1']['flags'] and 'U+0430' in rows['S1']['flags']
    assert rows['S3']['flags'] == ''  # two scripts, no look-alikes
    from grading.report import build
    page = build(book)[0].read_text()
    assert 'U+0430 CYRILLIC SMALL LETTER A' in page


def test_a_classmate_who_takes_a_students_name_is_a_conflict_never_graded_as_her(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'Ada Lovelace_101_assignsubmission_file_ex.ipynb', -5)
    put(subs, 'Ada Lovelace_102_assignsubmission_file_ex.ipynb', -2)  # Bob, renamed "Ada Lovelace"
    put(subs, 'Bob Byte_103_assignsubmission_file_ex.ipynb', -3)
    roster = write_roster(tmp_path / 'r.csv', [('S1', 'Ada Lovelace', 'ada@x.org', '', ''),
                                              ('S2', 'Bob Byte', 'bob@x.org', '', '')])
    said = []
    book = Book(tmp_path / 'out', assignment, roster=roster, log=said.append)
    entries = grade(book, subs, {'Ada Lovelace_101_assignsubmission_file_ex.ipynb': 5,
                                 'Ada Lovelace_102_assignsubmission_file_ex.ipynb': 0,
                                 'Bob Byte_103_assignsubmission_file_ex.ipynb': 2})
    assert not [e for e in entries if (e['student'] or {}).get('student_id') == 'S1']
    rows = grades_by(book, 'student_id')
    assert rows['S1']['status'] == 'conflict' and 'moodle 101, moodle 102' in rows['S1']['reason']
    assert rows['S1']['total'] == '' and rows['S2']['total'] == '2'
    # Bob alone, matched by name: his Moodle id is not on the roster, so his row says so
    assert 'matched by name only (moodle 103 is not on the roster)' in rows['S2']['flags']
    assert any('none is graded as this student' in s for s in said)
    text, warnings = lms.moodle_csv(book, book.rows()[0])
    assert [r[0] for r in read_text(text)[1:]] == ['S2'] and 'S1' in ' '.join(warnings)


def read_text(text):
    return list(csv.reader(io.StringIO(text)))


# ----------------------------------------------------------------------------- two files, exports

def test_two_files_of_one_student_make_one_row_and_the_older_is_listed_not_exported(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'lovelaceada_5551_9001_ex.ipynb', -30)           # Canvas flat names, first try
    put(subs, 'lovelaceada_5551_9002_ex-1.ipynb', -2)          # her second submission
    put(subs, 'byteb_5552_9003_ex.ipynb', -3)
    book = Book(tmp_path / 'out', assignment, log=lambda *a: None)   # no roster: by file name
    grade(book, subs, {'lovelaceada_5551_9001_ex.ipynb': 2, 'lovelaceada_5551_9002_ex-1.ipynb': 5,
                       'byteb_5552_9003_ex.ipynb': 3})
    rows = grades_by(book, 'submission')
    assert set(rows) == {'lovelaceada_5551_9002_ex-1.ipynb', 'byteb_5552_9003_ex.ipynb'}
    older = rows['lovelaceada_5551_9002_ex-1.ipynb']['superseded']
    assert older.startswith('lovelaceada_5551_9001_ex.ipynb (2/5, submitted 2026-11-19T06:00:00')
    text, _ = lms.canvas_csv(book, book.rows()[0], 'Exercise (42)')
    students = {'5551': {'name': 'Ada', 'sis': ''}, '5552': {'name': 'Bob', 'sis': ''},
                '5553': {'name': 'Cy', 'sis': ''}}
    after = canvas_import(text, students, {'5551': 1.0, '5552': None, '5553': 4.0})
    assert after == {'5551': 5.0, '5552': 3.0, '5553': 4.0}  # the typed 4 of Cy (no file) is kept
    from grading.report import build
    path, summary = build(book)
    assert sum(summary['status'].values()) == 2 and summary['superseded'] == 1
    assert 'lovelaceada_5551_9001_ex.ipynb (2/5' in path.read_text()


def test_exports_import_into_canvas_and_moodle_with_each_students_total_once(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'Ada Lovelace_101_assignsubmission_file_/ex.ipynb', -9)
    put(subs, 'Ada Lovelace_101_assignsubmission_file_/ex-fixed.ipynb', -1)
    put(subs, 'Bob Byte_102_assignsubmission_file_ex.ipynb', +50)
    roster = write_roster(tmp_path / 'r.csv', [
        ('S1', 'Ada Lovelace', 'ada@x.org', '5551', '101'), ('S2', 'Bob Byte', 'bob@x.org', '5552', '102'),
        ('S3', 'Cy Nofile', 'cy@x.org', '5553', '103')])
    book = Book(tmp_path / 'out', assignment, roster=roster, log=lambda *a: None,
                late_penalty=policy.parse('10%/day,max=50%'))
    grade(book, subs, {'Ada Lovelace_101_assignsubmission_file_/ex.ipynb': 1,
                       'Ada Lovelace_101_assignsubmission_file_/ex-fixed.ipynb': 5,
                       'Bob Byte_102_assignsubmission_file_ex.ipynb': 4})
    (book.out / 'adjustments.csv').write_text((book.out / 'adjustments.csv').read_text().replace(
        'S1,Ada Lovelace,Ada Lovelace_101_assignsubmission_file_/ex-fixed.ipynb,,',
        'S1,Ada Lovelace,Ada Lovelace_101_assignsubmission_file_/ex-fixed.ipynb,1.5,regrade request: q2 was right'))
    book.refresh()
    rows, _ = book.rows()
    totals = {r['student_id']: r.get('total', '') for r in rows}
    assert totals == {'S1': '6.5', 'S2': '1.9', 'S3': ''}  # Bob: 4 - 30% of 7 (3 started days)
    canvas = canvas_import(lms.canvas_csv(book, rows, 'Ex (1)')[0],
                           {'5551': {'name': 'Ada', 'sis': 'S1'}, '5552': {'name': 'Bob', 'sis': 'S2'},
                            '5553': {'name': 'Cy', 'sis': 'S3'}}, {'5551': 0.0, '5552': 0.0, '5553': 6.0})
    moodle = moodle_import(lms.moodle_csv(book, rows, 'Ex')[0], {'S1', 'S2', 'S3'}, 'Ex',
                           {'S1': 0.0, 'S2': 0.0, 'S3': 6.0})
    for after in ({'S1': canvas['5551'], 'S2': canvas['5552'], 'S3': canvas['5553']}, moodle):
        assert after == {'S1': 6.5, 'S2': 1.9, 'S3': 6.0}  # S3's typed grade survives
    fb_text = (book.out / 'feedback' / 'S1.md').read_text()
    assert 'Adjustment by your instructor: +1.5 (regrade request: q2 was right)' in fb_text
    assert 'Total: 5 / 7' not in fb_text
    bob = (book.out / 'feedback' / 'S2.md').read_text()
    assert 'Late penalty: -2.1 (submitted 50.0 h after the deadline; 10% of the points per started day' in bob
    zip_path = tmp_path / 'fb.zip'
    n, warnings = lms.moodle_feedback_zip(book, zip_path)
    got = moodle_zip_participants(zip_path)
    assert n == 2 and sorted(got) == ['101', '102'] and not warnings
    assert got['101'][0] == fb_text and zipfile.ZipFile(zip_path).namelist()[0] == \
        'Ada Lovelace_101_assignsubmission_file_/feedback.md'
    n, _ = lms.canvas_feedback(book, rows, tmp_path / 'canvas-fb')
    assert n == 2 and (tmp_path / 'canvas-fb' / '5551.md').read_text() == fb_text


def test_a_regrade_keeps_the_submission_time_unless_asked(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'ada.ipynb', -1)
    book = Book(tmp_path / 'out', assignment, log=lambda *a: None)
    grade(book, subs, {'ada.ipynb': 3})
    now = dt.datetime.now().timestamp()
    os.utime(subs / 'ada.ipynb', (now, now))  # the instructor fixed the file today
    again = Book(tmp_path / 'out', assignment, log=lambda *a: None)
    (entry,) = again.plan(subs, only=['ada.ipynb'], deadline=DEADLINE)
    assert entry['late'] == '' and entry['submitted'] == '2026-11-20T11:00:00+00:00'
    (entry,) = again.plan(subs, only=['ada.ipynb'], deadline=DEADLINE, reset_times=True)
    assert entry['late'].endswith(' h') and entry['late_hours'] > 24


# ----------------------------------------------------------------------------- feedback

def test_hidden_tests_show_their_hint_or_the_kind_of_check_never_the_code(assignment):
    secret = 'Failed example:\n    assert abs(grid[1] - 0.25) < 1e-9, "SECRET-detail"\nException raised:\n' \
             '    AssertionError: SECRET-detail'
    rec = record(2, results={'q2': [
        {'hidden': False, 'passed': True, 'points': 1, 'message': ''},
        {'hidden': True, 'passed': False, 'points': 0.5, 'message': secret,
         'hint': 'Use 5 evenly spaced points from 0 to 1.'},
        {'hidden': True, 'passed': False, 'points': 0.5, 'message': secret}]})
    text = feedback.render(rec, assignment)
    assert 'Hidden test 1 of 2 for q2 failed. Hint: Use 5 evenly spaced points from 0 to 1.\n' in text
    assert 'Hidden test 2 of 2 for q2 failed: a check of your result did not hold' in text
    assert 'SECRET' not in text and 'grid[1]' not in text


def test_fast_questions_are_shown_in_the_feedback_grades_and_report(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'ada.ipynb')
    book = Book(tmp_path / 'out', assignment, log=lambda *a: None)
    (entry,) = book.plan(subs)
    book.add(entry, record(5, speed_flags=[{'question': 'q3', 'seconds': 0.01, 'reference_seconds': 8.8},
                                            {'question': 'q9', 'seconds': 'x'}]))
    text = (book.out / 'feedback' / 'ada.md').read_text()
    assert '- q3: 0.01 s, the reference solution 8.80 s' in text and 'q9' not in text
    assert grades_by(book, 'submission')['ada.ipynb']['flags'] == 'q3: 0.01 s, the reference solution 8.80 s'
    from grading.report import build
    assert 'q3: 0.01 s, the reference solution 8.80 s' in build(book)[0].read_text()


def test_cell_numbers_are_the_same_in_grades_csv_and_the_feedback(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'ada.ipynb')
    book = Book(tmp_path / 'out', assignment, log=lambda *a: None)
    (entry,) = book.plan(subs)
    book.add(entry, record(0, status='error', reason='cell 6 raised NameError',
                           places={'5': 'q1 (code cell 4)'}))
    assert grades_by(book, 'submission')['ada.ipynb']['reason'] == 'q1 (code cell 4) raised NameError'
    assert 'Status: error (q1 (code cell 4) raised NameError)' in (book.out / 'feedback' / 'ada.md').read_text()


# ----------------------------------------------------------------------------- similarity

OWN = ('# my own approach\nvalues = [v * v for v in range(1, 4)]\nchecks = {k: v for k, v in zip("abc", values)}\n'
       'acc = 0\nfor k in sorted(checks):\n    acc += checks[k] * len(k)\nsummary = (acc, max(values), min(values))')
RENAMED = OWN.replace('values', 'vals').replace('checks', 'table').replace('acc', 'running') \
    .replace('# my own approach', '# written alone, honest')
INDEPENDENT = [
    'squares = []\nfor n in range(1, 4):\n    squares.append(n ** 2)\nlookup = dict(zip(["a", "b", "c"], squares))\n'
    'score = sum(lookup[name] * len(name) for name in lookup)\nsummary = (score, squares[-1], squares[0])',
    'nums = list(map(lambda x: x * x, [1, 2, 3]))\nresult = {}\ni = 0\nwhile i < len(nums):\n'
    '    result["abc"[i]] = nums[i]\n    i += 1\nsummary = (sum(result.values()), max(nums), min(nums))']


def test_a_renamed_copy_stays_above_the_cut_off_and_independent_solutions_below(assignment):
    import json
    given = ['import numpy as np\nimport utils', 'total = sum(range(1, 11))', 'grid = np.linspace(0, 1, 5)']

    def rec(own, tag=None):
        cells = [{'cell_type': 'code', 'metadata': {}, 'source': src, 'outputs': [], 'execution_count': None}
                 for src in given]
        cells.append({'cell_type': 'code', 'metadata': {'tags': [tag] if tag else []}, 'source': own,
                      'outputs': [], 'execution_count': None})
        nb = json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5})
        return feedback.make_record('x.ipynb', assignment, 'ok', '', {}, {}, [], nb_text=nb)
    records = {'ada': rec(OWN), 'bob': rec(RENAMED, tag='colab-setup'),  # hidden under a tag
               'cy': rec(INDEPENDENT[0]), 'dan': rec(INDEPENDENT[1])}
    pairs, compared = similarity.similar_pairs(records, threshold=0.0)
    sims = {(a, b): s for s, a, b in pairs}
    assert compared == 4
    assert sims[('ada', 'bob')] >= similarity.SIMILAR
    assert all(s < similarity.SIMILAR for k, s in sims.items() if k != ('ada', 'bob')), sims


def test_the_late_policy_is_kept_for_the_folder_and_a_bad_one_refused(tmp_path, assignment, tiny_zip):
    import subprocess
    subs = tmp_path / 'subs'
    put(subs, 'ada.ipynb', 30)  # 30 h late: two started days
    book = Book(tmp_path / 'out', assignment, log=lambda *a: None)
    grade(book, subs, {'ada.ipynb': 5})

    def tool(*args):
        return subprocess.run([sys.executable, '-m', 'grading', 'written', str(tiny_zip),
                               str(tmp_path / 'out'), *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
    bad = tool('--late-penalty', '10 percent a day')
    assert bad.returncode == 2 and "e.g. 10%/day or '10%/day,max=50%'" in bad.stderr
    assert tool('--late-penalty', '10%/day,max=15%').returncode == 0
    assert grades_by(book, 'submission')['ada.ipynb']['late_penalty'] == '1.05'  # 15% of 7: capped
    assert tool().returncode == 0  # kept without the option
    assert grades_by(book, 'submission')['ada.ipynb']['total'] == '3.95'
    assert tool('--late-penalty', 'none').returncode == 0
    assert grades_by(book, 'submission')['ada.ipynb']['total'] == '5'
    assert policy.penalty(policy.parse('5%/hour'), 2.5, 7) == 1.05


def test_a_newer_file_graded_alone_keeps_the_earlier_files_score_listed(tmp_path, assignment):
    subs = tmp_path / 'subs'
    put(subs, 'Ada Lovelace_101_assignsubmission_file_ex.ipynb', -20)
    roster = write_roster(tmp_path / 'r.csv', [('S1', 'Ada Lovelace', '', '', '101')])
    book = Book(tmp_path / 'out', assignment, roster=roster, log=lambda *a: None)
    grade(book, subs, {'Ada Lovelace_101_assignsubmission_file_ex.ipynb': 2})
    put(subs, 'Ada Lovelace_101_assignsubmission_file_ex-2.ipynb', -1)  # she handed in again
    again = Book(tmp_path / 'out', assignment, roster=roster, log=lambda *a: None)
    entries = batch.complete_plan(again.plan(subs, only=['Ada Lovelace_101_assignsubmission_file_ex-2.ipynb'],
                                             deadline=DEADLINE), subs, add_missing=False)
    assert [(e['key'], e['superseded_by']) for e in entries] == [('S1', None)]
    again.add(entries[0], record(5))
    (row,) = again.rows()[0]
    assert row['total'] == '5' and row['superseded'].startswith('Ada Lovelace_101_assignsubmission_file_ex.ipynb (2/5')
    assert len(list((book.out / 'private' / 'records').glob('*.json'))) == 2
