"""What goes back to Canvas and Moodle: gradebook CSVs and the students' feedback files.

Standard library only. `python -m grading export ASSIGNMENT OUT` writes
- OUT/export/canvas.csv: `Student, ID, SIS User ID, SIS Login ID, Section, <Assignment> (<id>)`,
  the columns of a Canvas gradebook export/import (Grades > Import). ID is the Canvas user id (the
  roster's `canvas_id`/`ID` column, or the number in a Canvas download's file name).
- OUT/export/moodle.csv: `ID number, Email address, Full name, <grade item>` for Moodle's
  Grades > Import > CSV file, mapping "ID number" to useridnumber (or "Email address" to useremail).
- with --moodle-feedback-zip, OUT/export/moodle-feedback.zip: each student's feedback as
  `<Full Name>_<participant id>_assignsubmission_file_/feedback.md`, the folder names of Moodle's
  "Download all submissions", for "Upload multiple feedback files in a zip";
- OUT/export/canvas-feedback/<Canvas user id>.md: one feedback file per student.

One row per student, and only students with a grade: a blank grade is not "no change" to either
LMS. Moodle's CSV import turns '' and '-' into "no grade" and clears the grade there
(grade/import/csv/classes/load_data.php, update_grade_item); Canvas's import counts a blank cell
where a score exists as a change (lib/gradebook_importer.rb, no_change_to_value?). A student's
superseded files, files that match no student and students in an LMS-id conflict are left out,
and said. Every cell goes through batch.cell (no spreadsheet formula).
"""
import csv
import io
import re
import zipfile

from .batch import cell
from .roster import lms_name

GRADED = ('ok', 'error', 'timeout', 'killed', 'unreadable')


class ExportError(Exception):
    """An export cannot be written (the message says what to give)."""


def _text(columns, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow([cell(c) for c in columns])
    writer.writerows([[cell(v) for v in r] for r in rows])
    return out.getvalue()


def has_grade(row):
    return row.get('status') in GRADED and (row.get('total') or '') != ''


def canvas_id_of(book, row):
    s = {x['student_id']: x for x in book.students or []}.get(row.get('student_id', ''), {})
    found = s.get('canvas_id') or ''
    if not found and row.get('submission'):
        info = lms_name(row['submission'])
        if info['lms'] == 'canvas':
            found = info['lms_id']
    return found


def _left_out(rows, what):
    """Warnings for rows an export leaves out."""
    missing = [r.get('student_id') or r.get('submission') for r in rows
               if r.get('status') in ('missing', 'conflict')]
    out = []
    if missing:
        out.append(f"{what} leaves out {len(missing)} student(s) without a grade ({', '.join(missing[:10])}): "
                   f"a blank cell would clear a grade typed in the LMS")
    return out


def canvas_csv(book, rows, column=None):
    """(text, warnings). column: the Canvas assignment column, e.g. 'Exercise 2 (123456)'."""
    warnings = []
    if not column:
        column = book.assignment.name
        warnings.append(f"no --canvas-column given: the grade column is {column!r}; Canvas matches "
                        f"columns by 'Name (assignment id)' as in its own export, and creates a new "
                        f"assignment for a name without an id")
    students = {s['student_id']: s for s in book.students or []}
    out, no_id, seen = [], [], {}
    for r in rows:
        if not has_grade(r):
            continue
        s = students.get(r.get('student_id', ''), {})
        canvas_id = canvas_id_of(book, r)
        if not canvas_id and not r.get('student_id'):
            no_id.append(r.get('submission') or '?')
            continue
        who = canvas_id or r.get('student_id')
        if who in seen:  # never twice: one LMS user is one row (gradebook.split groups them)
            raise ExportError(f"Canvas user {who} has two rows ({seen[who]}, {r.get('submission')}): "
                              f"give the roster a canvas_id column and grade again")
        seen[who] = r.get('submission')
        out.append([s.get('name') or r.get('name', ''), canvas_id, r.get('student_id', ''),
                    s.get('login', ''), s.get('section', ''), r['total']])
    if no_id and not out:
        raise ExportError(f"no Canvas user id or student id for any row ({', '.join(no_id[:5])}): "
                          f"grade with --roster (a Canvas gradebook export works as the roster) or "
                          f"keep Canvas's download file names")
    if no_id:
        warnings.append(f"canvas.csv leaves out {len(no_id)} file(s) that match no student: "
                        f"{', '.join(no_id[:10])}; add them to the roster (column file) and run again")
    warnings += _left_out(rows, 'canvas.csv')
    return _text(['Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section', column], out), warnings


def moodle_csv(book, rows, item=None):
    """(text, warnings). item: the Moodle grade item's name (you map the column to it on import)."""
    item = item or book.assignment.name
    if book.keyed_by != 'student_id':
        raise ExportError("a Moodle import identifies students by ID number or email address: "
                          "grade with --roster (columns student_id and/or email)")
    students = {s['student_id']: s for s in book.students or []}
    out, warnings = [], []
    unmatched = [r.get('submission', '?') for r in rows if not r.get('student_id')]
    if unmatched:
        warnings.append(f"moodle.csv leaves out {len(unmatched)} file(s) that match no student: "
                        f"{', '.join(unmatched[:10])}; add them to the roster (column file) and run again")
    for r in rows:
        if r.get('student_id') and has_grade(r):
            s = students.get(r['student_id'], {})
            out.append([r['student_id'], s.get('email', ''), s.get('name') or r.get('name', ''), r['total']])
    warnings += _left_out(rows, 'moodle.csv')
    return _text(['ID number', 'Email address', 'Full name', item], out), warnings


def incomplete_written(book, rows):
    """Rows with a submission whose written questions are not all graded yet."""
    manual = book.assignment.manual
    return [r for r in rows if r.get('status') in GRADED
            and any(not (r.get(q) or '').strip() for q in manual)]


# ----------------------------------------------------------------------------- feedback files

def moodle_folder(book, record):
    """'Full Name_12345_assignsubmission_file_' for a record, or None without a participant id.

    Moodle's feedback zip import (mod/assign/feedback/file/importziplib.php,
    is_valid_filename_for_import) splits each path part at '_' into at most five pieces and reads
    the second as the participant id and the third and fourth as the plugin: the full name must
    therefore hold no '_' (Moodle's own download writes it with spaces, as here)."""
    info = lms_name(str(record.get('submission') or ''))
    student = record.get('student') or {}
    name, pid = (info['name'], info['lms_id']) if info['lms'] == 'moodle' else \
        (student.get('name') or student.get('student_id'), student.get('moodle_id'))
    if not pid or not re.fullmatch(r'\d+', str(pid)):
        return None
    name = re.sub(r'[\x00-\x1f\x7f/\\_]+', ' ', str(name or 'student')).strip(" .'") or 'student'
    return f'{name[:100]}_{pid}_assignsubmission_file_'


def moodle_feedback_zip(book, path):
    """Write the zip; returns (how many students, warnings)."""
    main, _ = book.split()
    used, skipped = {}, []
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as zf:
        for key, rec in sorted(main.items()):
            folder = moodle_folder(book, rec)
            if folder is None:
                skipped.append(str(rec.get('submission') or key))
                continue
            pid = folder.split('_')[1]
            if pid in used:
                skipped.append(f"{rec.get('submission')} (participant {pid} is also {used[pid]})")
                continue
            used[pid] = rec.get('submission')
            zf.writestr(f'{folder}/feedback.md', book.feedback_text(rec))
    warnings = [f"moodle-feedback.zip leaves out {len(skipped)} submission(s) without a Moodle "
                f"participant id (from the download names, or the roster's moodle_id): "
                f"{', '.join(skipped[:10])}"] if skipped else []
    return len(used), warnings


def canvas_feedback(book, rows, folder):
    """OUT/export/canvas-feedback/<Canvas user id>.md; returns (how many, warnings)."""
    main, _ = book.split()
    by_cell = {cell(k): r for k, r in main.items()}
    folder.mkdir(parents=True, exist_ok=True)
    written, skipped = 0, []
    for r in rows:
        key = cell(r.get('student_id') or r.get('submission') or '')
        rec = by_cell.get(key)
        if rec is None:
            continue
        canvas_id = canvas_id_of(book, r)
        if not re.fullmatch(r'\d+', canvas_id or ''):
            skipped.append(r.get('student_id') or r.get('submission'))
            continue
        (folder / f'{canvas_id}.md').write_text(book.feedback_text(rec), encoding='utf-8')
        written += 1
    warnings = [f"canvas-feedback/ leaves out {len(skipped)} student(s) without a Canvas user id: "
                f"{', '.join(map(str, skipped[:10]))}"] if skipped else []
    return written, warnings
