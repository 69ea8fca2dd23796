"""Gradebook CSVs that Canvas and Moodle import, written from OUT/grades.csv's rows.

Standard library only. `python -m grading export ASSIGNMENT OUT` writes
- OUT/export/canvas.csv: `Student, ID, SIS User ID, SIS Login ID, Section, <Assignment> (<id>)`,
  the columns of a Canvas gradebook export/import (Grades > Import). ID is the Canvas user id (the
  roster's `canvas_id`/`ID` column, or the number in a Canvas download's file name).
- OUT/export/moodle.csv: `ID number, Email address, Full name, <grade item>` for Moodle's
  Grades > Import > CSV file, mapping "ID number" to useridnumber (or "Email address" to useremail).
The grade is the total (auto-graded + written points). Students without a submission get an
empty grade (both LMSs then leave their grade alone); see instructors/README.md.
"""
import csv
import io

from .roster import lms_name


class ExportError(Exception):
    """An export cannot be written (the message says what to give)."""


def _text(columns, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def canvas_csv(book, rows, column=None):
    """(text, warnings). column: the Canvas assignment column, e.g. 'Exercise 2 (123456)'."""
    warnings = []
    if not column:
        column = book.assignment.name
        warnings.append(f"no --canvas-column given: the grade column is {column!r}; Canvas matches "
                        f"columns by 'Name (assignment id)' as in its own export, and creates a new "
                        f"assignment for a name without an id")
    students = {s['student_id']: s for s in book.students or []}
    out, no_id = [], []
    for r in rows:
        s = students.get(r.get('student_id', ''), {})
        canvas_id = s.get('canvas_id') or ''
        if not canvas_id and r.get('submission'):
            info = lms_name(r['submission'])
            if info['lms'] == 'canvas':
                canvas_id = info['lms_id']
        if not canvas_id and not r.get('student_id'):
            no_id.append(r.get('submission') or '?')
            continue
        grade = r.get('total', '') if r.get('status') not in ('missing', '') else ''
        out.append([s.get('name') or r.get('name', ''), canvas_id, r.get('student_id', ''),
                    s.get('login', ''), s.get('section', ''), grade])
    if no_id and not out:
        raise ExportError(f"no Canvas user id or student id for any row ({', '.join(no_id[:5])}): "
                          f"grade with --roster (a Canvas gradebook export works as the roster) or "
                          f"keep Canvas's download file names")
    if no_id:
        warnings.append(f"canvas.csv leaves out {len(no_id)} file(s) that match no student: "
                        f"{', '.join(no_id[:10])}; add them to the roster (column file) and run again")
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
        if not r.get('student_id'):
            continue
        s = students.get(r['student_id'], {})
        grade = r.get('total', '') if r.get('status') not in ('missing', '') else ''
        out.append([r['student_id'], s.get('email', ''), s.get('name') or r.get('name', ''), grade])
    return _text(['ID number', 'Email address', 'Full name', item], out), warnings


def incomplete_written(book, rows):
    """Rows with a submission whose written questions are not all graded yet."""
    manual = book.assignment.manual
    return [r for r in rows if r.get('status') not in ('missing', '')
            and any(not (r.get(q) or '').strip() for q in manual)]
