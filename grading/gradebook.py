"""The class gradebook in OUT: grading records, written scores, grades.csv, history. Never loses a grade.

Standard library only. Layout of OUT (made by `python -m grading ... --out OUT`):

    grades.csv            derived: one row per student (or file), every question, written scores,
                          total; its first row, "Points Possible", holds each column's maximum.
    written.csv           YOURS: written-question points and comments. Created once, then only
                          ever appended to (a row for each newly graded student); never rewritten.
    adjustments.csv       YOURS: manual points (+ or -) with a reason per student; same rules.
    history/              grades.csv as it was before each run that changed it (grades-<UTC time>.csv).
    feedback/<name>.md    for the student (re-rendered when written.csv changes).
    executed/<name>.ipynb the run, with outputs and figures.
    private/records/      one JSON record per submission, with the hidden tests' failure messages:
                          for instructors only (report.html is made from them).
    private/book.json     how rows are keyed (student id or file name) and the roster used.

grades.csv is rebuilt from the records (and rows of an older grades.csv that have none), so
grading a few files, or one with `--only`, updates their rows and keeps every other. One row per
student: a student's older files are graded and listed in the row (`superseded`), never as a row
of their own. Every cell is written through batch.cell (no spreadsheet formula).
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
from .feedback import fmt
from . import names, policy
from .batch import cell
from .roster import group, find_submissions, late_at, late_hours, lateness, lms_identity, lms_name
from .sheets import BookError, adjustments_sheet, number, written_sheet

POINTS_ROW = 'Points Possible'   # as in a Canvas gradebook export
RECORDS = Path('private') / 'records'
STATE = Path('private') / 'book.json'


UNSET = object()


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


class Book:
    """The gradebook of one assignment in one OUT folder."""

    def __init__(self, out, assignment, *, roster=None, log=print, late_penalty=UNSET):
        self.out, self.assignment, self.log = Path(out), assignment, log
        self._cache = None  # the records, read once from OUT/private/records/
        self.maxima = {q['name']: (float(q['points']) if q.get('points') is not None else None)
                       for q in assignment.questions}
        for q in assignment.auto:  # what the tests can give
            self.maxima[q] = float(assignment.possible.get(q, self.maxima.get(q) or 0))
        self.written_max = sum(self.maxima[q] or 0 for q in assignment.manual)
        self.total_max = float(assignment.max_score) + self.written_max
        state = self._read_state() or {}
        self.written_digest = state.get('grades_sha256')  # grades.csv as last written
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
        self.students = [dict(s) for s in roster.students] if roster is not None else state.get('students')
        self.conflicts = dict(state.get('conflicts') or {})
        self.late_policy = state.get('late_policy') if late_penalty is UNSET else late_penalty
        self.roster = roster
        self.backed_up = False
        grades = self.out / 'grades.csv'  # as it was before this run: kept before the first change
        self.original = grades.read_bytes() if grades.exists() else None
        self.columns = self._columns()
        self._check_grades_header()
        self.read_sheets()

    def read_sheets(self):
        self.written = written_sheet(self.out, self.keyed_by, self.assignment.manual, self.maxima)
        self.adjust = adjustments_sheet(self.out, self.keyed_by)

    @property
    def written_path(self):
        return self.written.path

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
             'students': self.students, 'grades_sha256': self.written_digest,
             'conflicts': self.conflicts, 'late_policy': self.late_policy}, indent=1) + '\n')

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

    def split(self):
        """(main records {key: record}, superseded records {main key: [record]}). Without a
        roster, files of one LMS user graded in different runs are grouped here too."""
        records = self._records()
        main = {k: r for k, r in records.items() if not r.get('superseded_by')}
        older = {}
        for r in records.values():
            if r.get('superseded_by'):
                older.setdefault(r['superseded_by'], []).append(r)
        if self.keyed_by == 'submission':
            by_user = {}
            for k, r in main.items():
                ident = lms_identity(str(r.get('submission') or k))
                if ident:
                    by_user.setdefault(ident, []).append(k)
            for keys in by_user.values():
                keys.sort(key=lambda k: (str(main[k].get('submitted') or ''), k))
                for k in keys[:-1]:
                    older.setdefault(keys[-1], []).append(main.pop(k))
        return main, older

    # ------------------------------------------------------------------ which files
    def plan(self, submissions, only=None, deadline=None, reset_times=False):
        """[entry] for the files to grade: relpath, path, key, safe, student, superseded_by,
        late, late_hours, submitted.

        Every file gets an entry with a file name (`safe`) no other entry or earlier record has
        (batch.safe_stem checks every stem taken); a key graded before keeps its stem, so
        re-grading it (`--only`) replaces that record. The submission time is recorded the first
        time a file is graded and kept by later re-grades (unless `reset_times`)."""
        from .batch import display_name, safe_stem
        if self.keyed_by == 'student_id' and self.roster is None:
            raise BookError(f"{self.out} is keyed by student id: give the --roster again")
        submissions = Path(submissions)
        files = find_submissions(submissions)  # all of them: who is whose needs every file
        chosen = set(find_submissions(submissions, only)) if only else None
        groups, self.conflicts = group(files, self.roster, submissions, self.log)
        records = self._records()
        known = {k: str(r['safe']) for k, r in records.items() if isinstance(r.get('safe'), str) and r['safe']}
        taken = {s.lower() for s in known.values()}  # never another key's record
        used, entries = set(), []
        for g in groups:
            rel, student = g['file'], g['student']
            shown = display_name(rel)
            sid = student['student_id'] if student else None
            key = (sid if g['newer'] is None else f'{sid} (older file {shown})') if student else shown
            if chosen is not None and rel not in chosen:
                continue
            safe = known.get(key)
            if not safe or safe.lower() in used:
                safe = safe_stem(shown if student is None else safe_name(key), taken)
            used.add(safe.lower())
            entry = {'submission': rel, 'path': str(submissions / rel), 'key': key, 'safe': safe,
                     'student': student, 'superseded_by': None if g['newer'] is None else
                     (sid or display_name(g['newer'])),
                     'by_name': ' '.join(lms_identity(rel)) if g['by_name'] else None}
            entry.update(self._timing(records.get(key), shown, submissions / rel, deadline,
                                      lms_name(rel)['late'], reset_times))
            entries.append(entry)
        return entries

    @staticmethod
    def _timing(old, shown, path, deadline, lms_late, reset):
        """late, late_hours, submitted: the record's own when this file was graded before."""
        if old and not reset and old.get('submission') == shown and old.get('submitted'):
            stamp = str(old['submitted'])
            if deadline is None:  # keep what the first grading said
                return {'late': old.get('late', ''), 'submitted': stamp,
                        'late_hours': float(old.get('late_hours') or 0)}
        else:
            stamp = lateness(path, None)[1]
        return {'late': late_at(stamp, deadline, lms_late), 'submitted': stamp,
                'late_hours': round(late_hours(stamp, deadline), 4)}

    def add(self, entry, record):
        """Store one graded submission; rewrite its feedback and grades.csv."""
        record = dict(record, key=entry['key'], safe=entry['safe'], submission=entry['submission'],
                      student=entry['student'], late=entry['late'], submitted=entry['submitted'],
                      late_hours=entry.get('late_hours', 0.0),
                      superseded_by=entry.get('superseded_by'), by_name=entry.get('by_name'),
                      graded_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds'))
        self._keep_earlier_file(record)
        self.save_record(record)
        if not record['superseded_by']:
            self.ensure_sheets([record])
            self.write_feedback(record)
        self.write_grades()
        return record

    def _keep_earlier_file(self, record):
        """A student's newer file replaces the record of their earlier one: keep that one,
        superseded (its score stays listed in the student's row)."""
        from .batch import safe_stem
        old = self._records().get(record['key'])
        if not old or record['superseded_by'] or old.get('submission') == record['submission']:
            return
        key = f"{record['key']} (older file {old.get('submission')})"
        taken = {str(r.get('safe', '')).lower() for r in self._records().values()} | {record['safe'].lower()}
        self.save_record(dict(old, key=key, superseded_by=record['key'],
                              safe=safe_stem(safe_name(key), taken)))

    # ------------------------------------------------------------------ the instructor's sheets
    def ensure_sheets(self, records):
        """written.csv and adjustments.csv: created once, then only appended to."""
        self.written.ensure(records)
        self.adjust.ensure(records)

    # ------------------------------------------------------------------ grades.csv
    def _columns(self):
        keys = ['student_id', 'name', 'submission'] if self.keyed_by == 'student_id' else ['submission']
        return keys + ['status', 'score', 'max_score', 'reason'] + \
            [q['name'] for q in self.assignment.questions] + \
            ['written', 'adjustment', 'late_penalty', 'total', 'max_total', 'late', 'submitted',
             'superseded', 'flags']

    def _old_rows(self):
        path = self.out / 'grades.csv'
        if not path.exists():
            return {}
        with open(path, newline='', encoding='utf-8-sig') as f:
            rows = list(csv.DictReader(f))
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

    def marks(self, rec):
        """Written points, adjustment and late penalty of one record, and the total they make."""
        a = self.assignment
        scores = rec.get('scores') or {}
        auto = rec.get('auto_score')
        if auto is None:
            auto = sum(float(scores.get(q, 0) or 0) for q in a.auto)
        w = self.written.row(rec['key'])
        typed = [number(w.get(q, '')) for q in a.manual if (w.get(q) or '').strip()]
        adj = self.adjust.row(rec['key'])
        adjustment = number(adj.get('points', '')) if (adj.get('points') or '').strip() else None
        penalty = policy.penalty(self.late_policy, float(rec.get('late_hours') or 0), self.total_max)
        total = max(0.0, auto + sum(typed) + (adjustment or 0) - penalty)
        return {'auto': auto, 'written': sum(typed) if typed else None, 'adjustment': adjustment,
                'adjustment_reason': (adj.get('reason') or '').strip(), 'late_penalty': penalty,
                'penalty_rule': policy.describe(self.late_policy), 'late': rec.get('late', ''),
                'total': total, 'max_total': self.total_max}

    def row_of(self, rec, older=()):
        a = self.assignment
        student = rec.get('student') or {}
        m = self.marks(rec)
        w = self.written.row(rec['key'])
        row = {'student_id': student.get('student_id', ''), 'name': student.get('name', ''),
               'submission': rec.get('submission', rec['key']), 'status': rec.get('status', ''),
               'score': fmt(m['auto']), 'max_score': fmt(a.max_score),
               'reason': ' '.join(fb.where(rec, rec.get('reason', '')).split())[:300],
               'late': rec.get('late', ''), 'submitted': rec.get('submitted', ''),
               'written': fmt(m['written']) if m['written'] is not None else '',
               'adjustment': fmt(m['adjustment']) if m['adjustment'] is not None else '',
               'late_penalty': fmt(m['late_penalty']) if m['late_penalty'] else '',
               'total': fmt(m['total']), 'max_total': fmt(self.total_max),
               'superseded': superseded_text(older, a.max_score),
               'flags': '; '.join(fb.speed_lines(rec) + by_name_flag(rec))}
        for q in a.auto:
            row[q] = fmt((rec.get('scores') or {}).get(q, 0) or 0)
        for q in a.manual:
            row[q] = (w.get(q) or '').strip()
        if self.keyed_by == 'student_id' and not student:
            row['student_id'] = ''  # a file that matched no student: keyed by its name, no id
        return row

    def rows(self):
        """(rows in key order, keys of rows kept from an older grades.csv). One row per student
        (or per file without a roster); every key is its CSV cell text."""
        main, older = self.split()
        rows = {cell(k): self.row_of(r, older.get(k, ())) for k, r in main.items()}
        kept = []
        for key, old in self._old_rows().items():
            if key in rows or old.get('status') in ('missing', 'conflict'):
                continue  # missing and conflict rows are recomputed from the roster below
            rows[key] = self._kept_row(key, old)
            kept.append(key)
        for s in self.students or []:
            if cell(s['student_id']) not in rows:
                conflict = self.conflicts.get(s['student_id'])
                rows[cell(s['student_id'])] = {
                    'student_id': s['student_id'], 'name': s.get('name', ''), 'submission': '',
                    'status': 'conflict' if conflict else 'missing',
                    'reason': conflict or 'no submission found',
                    'max_score': fmt(self.assignment.max_score), 'max_total': fmt(self.total_max),
                    'superseded': superseded_text(older.get(s['student_id'], ()), self.assignment.max_score)}
        self._flag_names(rows)
        return [rows[k] for k in sorted(rows)], kept

    def _kept_row(self, key, old):
        scores = {q: number(old.get(q, '')) or 0 for q in self.assignment.auto}
        auto = number(old.get('score', ''))
        pseudo = {'key': key, 'status': old.get('status', ''), 'reason': old.get('reason', ''),
                  'scores': scores, 'auto_score': auto if auto is not None else sum(scores.values()),
                  'submission': old.get('submission', key), 'late': old.get('late', ''),
                  'submitted': old.get('submitted', ''),
                  'student': {'student_id': old.get('student_id', ''), 'name': old.get('name', '')}}
        return self.row_of(pseudo)

    def _flag_names(self, rows):
        """Look-alike names (names.py) added to each row's flags."""
        found = names.flags({k: [r.get('name', ''), r.get('submission', '')] for k, r in rows.items()})
        for k, extra in found.items():
            rows[k]['flags'] = '; '.join(x for x in [rows[k].get('flags', '')] + extra if x)

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
            writer.writerow({c: cell(r.get(c, '')) for c in self.columns})
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
    def feedback_text(self, record):
        return fb.render(record, self.assignment, self.written.row(record['key']),
                         name=record.get('submission') if self.keyed_by == 'submission' else
                         f"{record['key']} ({record.get('submission')})", marks=self.marks(record))

    def write_feedback(self, record):
        text = self.feedback_text(record)
        path = self.out / 'feedback' / f"{record['safe']}.md"
        if not path.exists() or path.read_text(encoding='utf-8') != text:
            write_atomically(path, text)

    def refresh(self):
        """Re-read written.csv and adjustments.csv; rewrite grades.csv and every feedback file
        that changed."""
        self.read_sheets()
        main, _ = self.split()
        legacy = [{'key': k, 'submission': r.get('submission') or k,
                   'student': {'student_id': r.get('student_id', ''), 'name': r.get('name', '')}}
                  for k, r in self._old_rows().items()
                  if k not in {cell(m) for m in main} and r.get('status') not in ('missing', 'conflict')]
        self.ensure_sheets(list(main.values()) + legacy)
        for rec in main.values():
            self.write_feedback(rec)
        return self.write_grades()


def by_name_flag(rec):
    """A file given to a student by name alone although its download name carries an LMS user
    id the roster does not have: whoever renamed themselves in the LMS would get it."""
    if not rec.get('by_name'):
        return []
    return [f"matched by name only ({rec['by_name']} is not on the roster)"]


def superseded_text(older, max_score):
    """'file (3/5, submitted 2026-...)' for each older file of a student, oldest first."""
    items = sorted(older, key=lambda r: str(r.get('submitted') or ''))
    return '; '.join(f"{r.get('submission')} ({fmt(sum(float(v or 0) for v in (r.get('scores') or {}).values()))}"
                     f"/{fmt(max_score)}, submitted {r.get('submitted') or '?'})" for r in items)


def open_book(out, assignment, roster_path=None, log=print, late_penalty=UNSET):
    from .roster import Roster
    roster = Roster(roster_path) if roster_path else None
    return Book(out, assignment, roster=roster, log=log, late_penalty=late_penalty)
