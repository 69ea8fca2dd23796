"""The instructor's own CSV files in OUT: written.csv (written-question points and comments) and
adjustments.csv (manual points with a reason). Standard library only.

The grader creates each once and afterwards only appends a row for each newly graded student:
it never rewrites them, so what the instructor typed is never lost. Every cell the grader
writes goes through batch.cell (no spreadsheet formula, escaped like a file name); rows are
looked up by that same cell text (`Sheet.row(key)`).
"""
import csv
import io
import os

from .batch import cell
from .roster import RosterError


class BookError(RosterError):
    """OUT cannot be used as it is (another assignment, a broken written.csv, ...): the grader
    exits with code 2 and this message."""


SheetError = BookError  # a sheet that cannot be read: which line, and what to fix


def number(text):
    try:
        return float(str(text).strip())
    except ValueError:
        return None


class Sheet:
    """One instructor CSV: `key` column(s) first, then `fields`.

    check(line, row) raises SheetError for a value that cannot be used."""

    def __init__(self, path, keyed_by, fields, check=None, required=()):
        self.path, self.keyed_by, self.fields = path, keyed_by, list(fields)
        self.check, self.required = check, list(required)
        self.rows = self._read()

    def columns(self):
        keys = ['student_id', 'name', 'submission'] if self.keyed_by == 'student_id' else ['submission']
        return keys + self.fields

    def row(self, key):
        """The instructor's row for a gradebook key ({} when none)."""
        return self.rows.get(cell(key), {})

    def _read(self):
        if not self.path.exists():
            return {}
        try:
            with open(self.path, newline='', encoding='utf-8-sig') as f:
                reader = csv.DictReader(f)
                header = reader.fieldnames or []
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise SheetError(f"cannot read {self.path} ({err}); fix it (it is yours: the grader "
                             f"never rewrites it)") from None
        missing = [c for c in [self.keyed_by] + self.required if c not in header]
        if missing:
            raise SheetError(f"{self.path} lacks the column(s) {', '.join(missing)}: its header "
                             f"must keep {', '.join(self.columns())}")
        out = {}
        for line, r in enumerate(rows, start=2):
            key = (r.get(self.keyed_by) or '').strip()
            if not key:
                continue
            if self.check:
                self.check(line, r)
            if key in out:
                raise SheetError(f"{self.path}: {key} has two rows (lines {out[key]['_line']} and "
                                 f"{line}); keep one")
            out[key] = {k: (v or '') for k, v in r.items() if k is not None}
            out[key]['_line'] = line
        return out

    def ensure(self, records):
        """Create the file (once), or append rows for keys it lacks. Never rewrites it."""
        new = [r for r in records if cell(r['key']) not in self.rows]
        if self.path.exists() and not new:
            return
        header = self.columns()
        if self.path.exists():
            with open(self.path, newline='', encoding='utf-8-sig') as f:
                header = next(csv.reader(f), []) or header
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=header, lineterminator='\n', extrasaction='ignore')
        if not self.path.exists():
            writer.writeheader()
        for r in new:
            student = r.get('student') or {}
            writer.writerow({'submission': cell(r.get('submission', r['key'])),
                             'student_id': cell(student.get('student_id', '')),
                             'name': cell(student.get('name', '')), self.keyed_by: cell(r['key'])})
        self._append(buf.getvalue())
        self.rows = self._read()

    def _append(self, text):
        if self.path.exists():
            with open(self.path, 'rb') as f:
                f.seek(0, os.SEEK_END)
                if f.tell():
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) not in (b'\n', b'\r'):
                        text = '\n' + text  # the instructor saved without a final newline
            with open(self.path, 'a', encoding='utf-8', newline='') as f:
                f.write(text)
        else:  # O_EXCL: never over a file that appeared meanwhile
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, 'w', encoding='utf-8', newline='') as f:
                f.write(text)


def written_sheet(out, keyed_by, manual, maxima):
    """OUT/written.csv: `<q>` points and `<q>_comment` per written question, then `comment`."""
    fields = []
    for q in manual:
        fields += [q, f'{q}_comment']

    def check(line, row):
        for q in manual:
            v = (row.get(q) or '').strip()
            if not v:
                continue
            x, top = number(v), maxima.get(q)
            if x is None or x < 0 or (top is not None and x > top):
                raise SheetError(f"{out / 'written.csv'}, line {line}, column {q}: {v!r} is not a "
                                 f"number of points between 0 and {top or 0:g}")
    return Sheet(out / 'written.csv', keyed_by, fields + ['comment'], check, required=manual)


def adjustments_sheet(out, keyed_by):
    """OUT/adjustments.csv: `points` (added to the total; negative to deduct) and `reason`
    (shown to the student). A row without points changes nothing."""
    def check(line, row):
        v = (row.get('points') or '').strip()
        if v and number(v) is None:
            raise SheetError(f"{out / 'adjustments.csv'}, line {line}, column points: {v!r} is not "
                             f"a number (e.g. 1.5, or -2 to deduct)")
        if v and not (row.get('reason') or '').strip():
            raise SheetError(f"{out / 'adjustments.csv'}, line {line}: points {v} without a "
                             f"reason; the student sees the reason in the feedback")
    return Sheet(out / 'adjustments.csv', keyed_by, ['points', 'reason'], check,
                 required=['points', 'reason'])
