"""The class gradebook in OUT: grading records, written scores, grades.csv, history. Never loses a grade.

Standard library only. Layout of OUT (made by `python -m grading ... --out OUT`):

    grades.csv            derived: one row per student (or file), every question, written scores,
                          total; its first row, "Points Possible", holds each column's maximum.
    written.csv           YOURS: written-question points and comments. Created once, then only
                          ever appended to (a row for each newly graded student); never rewritten.
    history/              grades.csv as it was before each run that changed it (grades-<UTC time>.csv).
    feedback/<name>.md    for the student (re-rendered when written.csv changes).
    executed/<name>.ipynb the run, with outputs and figures.
    private/records/      one JSON record per submission, with the hidden tests' failure messages:
                          for instructors only (report.html is made from them).
    private/book.json     how rows are keyed (student id or file name) and the roster used.

grades.csv is rebuilt from the records (and rows of an older grades.csv that have none), so
grading a few files, or one with `--only`, updates their rows and keeps every other.
"""
import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path

from . import feedback as fb
from .roster import RosterError, assign, find_submissions, lateness, lms_name

POINTS_ROW = 'Points Possible'   # as in a Canvas gradebook export
RECORDS = Path('private') / 'records'
STATE = Path('private') / 'book.json'


class BookError(RosterError):
    """OUT cannot be used as it is (another assignment, a broken written.csv, ...)."""


def write_atomically(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', dir=path.parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8', newline='') as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def safe_name(key):
    """A file name for a row's feedback/record: 'a.ipynb' -> 'a', 'dir/a.ipynb' -> 'dir__a'."""
    key = re.sub(r'\.ipynb$', '', str(key))
    key = key.replace('/', '__')
    key = re.sub(r'[^A-Za-z0-9._ @+-]', '_', key).strip(' .') or 'submission'
    return key[:150]


def fmt(x):
    return fb.fmt(x)


def number(text):
    try:
        return float(str(text).strip())
    except ValueError:
        return None


class Book:
    """The gradebook of one assignment in one OUT folder."""

    def __init__(self, out, assignment, *, roster=None, log=print):
        self.out, self.assignment, self.log = Path(out), assignment, log
        self._cache = None  # the records, read once from OUT/private/records/
        self.maxima = {q['name']: (float(q['points']) if q.get('points') is not None else None)
                       for q in assignment.questions}
        for q in assignment.auto:  # what the tests can give
            self.maxima[q] = float(assignment.possible.get(q, self.maxima.get(q) or 0))
        self.written_max = sum(self.maxima[q] or 0 for q in assignment.manual)
        self.total_max = float(assignment.max_score) + self.written_max
        state = self._read_state()
        self.written_digest = (state or {}).get('grades_sha256')  # grades.csv as last written
        keyed = 'student_id' if roster is not None else None
        if state:
            if state.get('assignment') not in (None, assignment.name):
                raise BookError(f"{self.out} holds grades of {state['assignment']}, not "
                                f"{assignment.name}: give another --out")
            if keyed and state.get('keyed_by') == 'submission' and self._records():
                raise BookError(f"{self.out} was graded without a roster (rows keyed by file "
                                f"name): grade with a roster into a new --out")
            keyed = keyed or state.get('keyed_by')
        self.keyed_by = keyed or 'submission'
        self.students = [dict(s) for s in roster.students] if roster is not None else \
            (state or {}).get('students')
        self.roster = roster
        self.backed_up = False
        grades = self.out / 'grades.csv'  # as it was before this run: kept before the first change
        self.original = grades.read_bytes() if grades.exists() else None
        self.columns = self._columns()
        self._check_grades_header()
        self.written_rows = self._read_written()

    # ------------------------------------------------------------------ state and records
    def _read_state(self):
        path = self.out / STATE
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise BookError(f"{path} is unreadable ({err}); move it away to start afresh") from None

    def save_state(self):
        write_atomically(self.out / STATE, json.dumps(
            {'assignment': self.assignment.name, 'keyed_by': self.keyed_by,
             'students': self.students, 'grades_sha256': self.written_digest}, indent=1) + '\n')

    def _records(self):
        if self._cache is not None:
            return dict(self._cache)
        folder = self.out / RECORDS
        out = {}
        if folder.is_dir():
            for p in sorted(folder.glob('*.json')):
                try:
                    rec = json.loads(p.read_text())
                except (OSError, ValueError):
                    self.log(f'warning: {p} is unreadable; its row is kept from grades.csv')
                    continue
                if isinstance(rec, dict) and rec.get('key'):
                    out[rec['key']] = rec
        self._cache = out
        return dict(out)

    def records(self):
        return self._records()

    def save_record(self, record):
        private = self.out / RECORDS.parent
        private.mkdir(mode=0o700, parents=True, exist_ok=True)  # hidden tests' messages: yours only
        write_atomically(self.out / RECORDS / f"{record['safe']}.json", json.dumps(record, indent=1))
        records = self._records()
        records[record['key']] = record
        self._cache = records

    # ------------------------------------------------------------------ which files
    def plan(self, submissions, only=None, deadline=None):
        """[entry] for the files to grade: relpath, path, key, safe, student, late, submitted.

        Every file gets an entry: two names that clean to the same file name (`ä.ipynb`,
        `ö.ipynb`) get distinct file names (batch.safe_stem), and a key graded before keeps the
        file name of its record, so re-grading it (`--only`) replaces that record."""
        from .batch import display_name, safe_stem
        submissions = Path(submissions)
        files = find_submissions(submissions, only)
        known = {rec['key']: str(rec['safe']) for rec in self._records().values()
                 if isinstance(rec.get('safe'), str) and rec['safe']}
        taken = {s.lower() for s in known.values()}  # never another key's record
        used = set()
        entries = []
        for rel, student in assign(files, self.roster, submissions, self.log):
            info = lms_name(rel)
            late, stamp = lateness(submissions / rel, deadline, info['late'])
            shown = display_name(rel)
            key = student['student_id'] if student else shown
            safe = known.get(key)
            if not safe or safe.lower() in used:
                safe = safe_stem(shown if student is None else safe_name(key), taken)
            used.add(safe.lower())
            entries.append({'submission': rel, 'path': str(submissions / rel), 'key': key,
                            'safe': safe, 'student': student, 'late': late, 'submitted': stamp})
        if self.keyed_by == 'student_id' and self.roster is None:
            raise BookError(f"{self.out} is keyed by student id: give the --roster again")
        return entries

    def add(self, entry, record):
        """Store one graded submission; rewrite its feedback and grades.csv."""
        record = dict(record, key=entry['key'], safe=entry['safe'], submission=entry['submission'],
                      student=entry['student'], late=entry['late'], submitted=entry['submitted'],
                      graded_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds'))
        self.save_record(record)
        self.ensure_written([record])
        self.write_feedback(record)
        self.write_grades()
        return record

    # ------------------------------------------------------------------ written.csv
    @property
    def written_path(self):
        return self.out / 'written.csv'

    def written_columns(self):
        keys = ['student_id', 'name', 'submission'] if self.keyed_by == 'student_id' else ['submission']
        qs = []
        for q in self.assignment.manual:
            qs += [q, f'{q}_comment']
        return keys + qs + ['comment']

    def _read_written(self):
        path = self.written_path
        if not path.exists():
            return {}
        try:
            with open(path, newline='', encoding='utf-8-sig') as f:
                reader = csv.DictReader(f)
                header = reader.fieldnames or []
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise BookError(f"cannot read {path} ({err}); fix it (it is yours: the grader never "
                            f"rewrites it)") from None
        need = [self.keyed_by] + self.assignment.manual
        missing = [c for c in need if c not in header]
        if missing:
            raise BookError(f"{path} lacks the column(s) {', '.join(missing)}: its header must "
                            f"keep {', '.join(self.written_columns())}")
        out = {}
        for line, r in enumerate(rows, start=2):
            key = (r.get(self.keyed_by) or '').strip()
            if not key:
                continue
            for q in self.assignment.manual:
                v = (r.get(q) or '').strip()
                if not v:
                    continue
                x = number(v)
                top = self.maxima.get(q)
                if x is None or x < 0 or (top is not None and x > top):
                    raise BookError(f"{path}, line {line}, column {q}: {v!r} is not a number of "
                                    f"points between 0 and {fmt(top or 0)}")
            if key in out:
                raise BookError(f"{path}: {key} has two rows (lines {out[key]['_line']} and {line}); "
                                f"keep one")
            out[key] = {k: (v or '') for k, v in r.items() if k is not None}
            out[key]['_line'] = line
        return out

    def ensure_written(self, records):
        """Create written.csv (once), or append rows for keys it lacks. Never rewrites it."""
        path = self.written_path
        cols = self.written_columns()
        new = [r for r in records if r['key'] not in self.written_rows]
        if path.exists() and not new:
            return
        legacy = self._legacy_written() if not path.exists() else {}
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator='\n', extrasaction='ignore')
        if not path.exists():
            writer.writeheader()
        else:
            with open(path, newline='', encoding='utf-8-sig') as f:
                header = next(csv.reader(f), [])
            writer = csv.DictWriter(buf, fieldnames=header, lineterminator='\n', extrasaction='ignore')
        for r in new:
            student = r.get('student') or {}
            values = {'submission': r.get('submission', r['key']),
                      'student_id': student.get('student_id', ''), 'name': student.get('name', ''),
                      self.keyed_by: r['key']}
            values.update(legacy.get(r['key'], {}))
            writer.writerow(values)
        text = buf.getvalue()
        if path.exists():
            with open(path, 'rb') as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                if size:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) not in (b'\n', b'\r'):
                        text = '\n' + text
            with open(path, 'a', encoding='utf-8', newline='') as f:
                f.write(text)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, 'w', encoding='utf-8', newline='') as f:
                f.write(text)
        self.written_rows = self._read_written()

    def _legacy_written(self):
        """Written scores typed into an older grades.csv (as the README once said): kept."""
        out = {}
        for key, r in self._old_rows().items():
            vals = {q: r.get(q, '').strip() for q in self.assignment.manual if (r.get(q) or '').strip()}
            if vals:
                out[key] = vals
        return out

    # ------------------------------------------------------------------ grades.csv
    def _columns(self):
        keys = ['student_id', 'name', 'submission'] if self.keyed_by == 'student_id' else ['submission']
        return keys + ['status', 'score', 'max_score', 'reason'] + \
            [q['name'] for q in self.assignment.questions] + \
            ['written', 'total', 'max_total', 'late', 'submitted']

    def _old_rows(self):
        path = self.out / 'grades.csv'
        if not path.exists():
            return {}
        with open(path, newline='', encoding='utf-8-sig') as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        key = self.keyed_by if rows and self.keyed_by in rows[0] else 'submission'
        return {r[key]: r for r in rows if r.get(key) and r.get(key) != POINTS_ROW
                and r.get('submission') != POINTS_ROW}

    def _check_grades_header(self):
        path = self.out / 'grades.csv'
        if not path.exists():
            return
        try:
            with open(path, newline='', encoding='utf-8-sig') as f:
                header = next(csv.reader(f), [])
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise BookError(f"cannot read {path} ({err})") from None
        ours = [q['name'] for q in self.assignment.questions]
        theirs = [h for h in header if re.fullmatch(r'q\d+\w*', h)]
        if header and (theirs != ours or self.keyed_by not in header):
            raise BookError(f"{path} has the columns {', '.join(header)}, not those of "
                            f"{self.assignment.name} keyed by {self.keyed_by}: give another --out")

    def row_of(self, rec):
        a = self.assignment
        student = rec.get('student') or {}
        w = self.written_rows.get(rec['key'], {})
        scores = rec.get('scores') or {}
        status = rec.get('status', '')
        auto = rec.get('auto_score')
        if auto is None:
            auto = sum(float(scores.get(q, 0) or 0) for q in a.auto)
        row = {'student_id': student.get('student_id', ''), 'name': student.get('name', ''),
               'submission': rec.get('submission', rec['key']), 'status': status,
               'score': fmt(auto), 'max_score': fmt(a.max_score),
               'reason': ' '.join(str(rec.get('reason', '')).split())[:300],
               'late': rec.get('late', ''), 'submitted': rec.get('submitted', '')}
        for q in a.auto:
            row[q] = fmt(scores.get(q, 0) or 0)
        typed = [number(w.get(q, '')) for q in a.manual if (w.get(q) or '').strip()]
        for q in a.manual:
            row[q] = (w.get(q) or '').strip()
        row['written'] = fmt(sum(typed)) if typed else ''
        row['total'] = fmt(auto + sum(typed))
        row['max_total'] = fmt(self.total_max)
        if self.keyed_by == 'student_id' and not student:
            row['student_id'] = ''  # a file that matched no student: keyed by its name, no id
        return row

    def rows(self):
        """(rows in key order, keys of rows kept from an older grades.csv)."""
        records = self._records()
        rows = {k: self.row_of(r) for k, r in records.items()}
        kept = []
        for key, old in self._old_rows().items():
            if key in rows:
                continue
            scores = {q: number(old.get(q, '')) or 0 for q in self.assignment.auto}
            auto = number(old.get('score', ''))
            pseudo = {'key': key, 'status': old.get('status', ''), 'reason': old.get('reason', ''),
                      'scores': scores, 'auto_score': auto if auto is not None else sum(scores.values()),
                      'submission': old.get('submission', key), 'late': old.get('late', ''),
                      'submitted': old.get('submitted', ''),
                      'student': {'student_id': old.get('student_id', ''), 'name': old.get('name', '')}}
            if old.get('status') == 'missing':
                continue  # recomputed from the roster below
            rows[key] = self.row_of(pseudo)
            kept.append(key)
        for s in self.students or []:
            if s['student_id'] not in rows:
                rows[s['student_id']] = {'student_id': s['student_id'], 'name': s.get('name', ''),
                                         'submission': '', 'status': 'missing',
                                         'reason': 'no submission found', 'max_score': fmt(self.assignment.max_score),
                                         'max_total': fmt(self.total_max)}
        return [rows[k] for k in sorted(rows)], kept

    def points_row(self):
        row = {c: '' for c in self.columns}
        row[self.keyed_by] = POINTS_ROW
        row['submission'] = row['submission'] or POINTS_ROW
        for q in self.assignment.questions:
            m = self.maxima.get(q['name'])
            row[q['name']] = fmt(m) if m is not None else ''
        row.update(score=fmt(self.assignment.max_score), max_score=fmt(self.assignment.max_score),
                   written=fmt(self.written_max), total=fmt(self.total_max),
                   max_total=fmt(self.total_max))
        return row

    def grades_text(self):
        rows, _ = self.rows()
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.columns, lineterminator='\n', extrasaction='ignore')
        writer.writeheader()
        writer.writerow(self.points_row())
        for r in rows:
            writer.writerow({c: r.get(c, '') for c in self.columns})
        return out.getvalue()

    def write_grades(self):
        path = self.out / 'grades.csv'
        text = self.grades_text()
        if path.exists() and path.read_text(encoding='utf-8-sig') == text:
            return path
        if self.original is not None and not self.backed_up:
            # once per run: the file as it was before this run first changed it (the versions in
            # between only add this run's rows)
            stamp = dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')
            (self.out / 'history').mkdir(exist_ok=True)
            kept = self.out / 'history' / f'grades-{stamp}.csv'
            kept.write_bytes(self.original)
            self.backed_up = True
            if self.written_digest and hashlib.sha256(self.original).hexdigest() != self.written_digest:
                self.log(f"warning: {path} was edited since the grader wrote it; it is rebuilt from "
                         f"the records and written.csv (type written points and comments there). "
                         f"The edited file is kept as {kept}")
        write_atomically(path, text)
        self.written_digest = hashlib.sha256(text.encode('utf-8')).hexdigest()
        self.save_state()
        return path

    # ------------------------------------------------------------------ feedback
    def write_feedback(self, record):
        text = fb.render(record, self.assignment, self.written_rows.get(record['key']),
                         name=record.get('submission') if self.keyed_by == 'submission' else
                         f"{record['key']} ({record.get('submission')})")
        path = self.out / 'feedback' / f"{record['safe']}.md"
        if not path.exists() or path.read_text(encoding='utf-8') != text:
            write_atomically(path, text)

    def refresh(self):
        """Re-read written.csv; rewrite grades.csv and every feedback file that changed."""
        self.written_rows = self._read_written()
        records = self._records()
        legacy = [{'key': k, 'submission': r.get('submission') or k,
                   'student': {'student_id': r.get('student_id', ''), 'name': r.get('name', '')}}
                  for k, r in self._old_rows().items() if k not in records and r.get('status') != 'missing']
        self.ensure_written(list(records.values()) + legacy)
        for rec in records.values():
            self.write_feedback(rec)
        return self.write_grades()


def open_book(out, assignment, roster_path=None, log=print):
    from .roster import Roster
    roster = Roster(roster_path) if roster_path else None
    return Book(out, assignment, roster=roster, log=log)
