"""Which submitted file belongs to which student: LMS download names, rosters, deadlines.

Standard library only. Used by `python -m grading` (grade.py) before anything runs:

- `find_submissions(folder)`: every `*.ipynb` in the folder and its per-student subfolders
  (Moodle's "download submissions in folders"), skipping `.ipynb_checkpoints` and hidden folders.
- `lms_name(relpath)`: what a Moodle or Canvas download name says about the student.
- `Roster`: a CSV of students (`--roster`); maps each file to a student id.
- `parse_deadline` / `lateness`: `--deadline ISO8601` against the file's modification time.
"""
import csv
import datetime as dt
import os
import re
import unicodedata
from pathlib import Path


class RosterError(Exception):
    """The roster, a file list or a deadline cannot be used (the grader exits with code 2)."""


# Moodle: "Full Name_12345_assignsubmission_file_answer.ipynb", or a folder
# "Full Name_12345_assignsubmission_file_" (or "_onlinetext_") holding the student's files.
MOODLE = re.compile(r'^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<rest>.*)$')
# Canvas: "lastfirst_12345_67890_answer.ipynb" and "lastfirst_LATE_12345_67890_answer.ipynb"
# (user id, then the attachment id).
CANVAS = re.compile(r'^(?P<login>[a-z0-9]+?)(?P<late>_LATE)?_(?P<id>\d+)_(?P<att>\d+)_(?P<rest>.+)$')


def find_submissions(folder, only=None):
    """Sorted relative paths ('a.ipynb', 'Sub Folder_1_assignsubmission_file_/a.ipynb') of the
    notebooks to grade. `only`: names or relative paths the instructor chose (each must exist)."""
    folder = Path(folder)
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.') and d != '__pycache__')
        for name in files:
            if name.endswith('.ipynb') and not name.startswith('.'):
                found.append(Path(root, name).relative_to(folder).as_posix())
    found.sort()
    if not found:
        raise RosterError(
            f"no .ipynb files in {folder} (looked in its subfolders too): is this the folder the "
            f"LMS download was unzipped into? Nothing was graded.")
    if only:
        chosen = []
        for item in only:
            rel = Path(item)
            if (rel.is_absolute() or not os.path.lexists(folder / rel)) and os.path.lexists(rel):
                # a path from the shell: its folders resolved, never the file itself (a link)
                rel = Path(os.path.relpath(Path(item).parent.resolve() / Path(item).name,
                                           folder.resolve()))
            rel = rel.as_posix()
            matches = [f for f in found if f == rel] or [f for f in found if f.split('/')[-1] == rel]
            if len(matches) != 1:
                why = f"ambiguous, matches {', '.join(matches)}" if matches else f'no such notebook in {folder}'
                raise RosterError(f'--only {item}: {why}')
            chosen += [m for m in matches if m not in chosen]
        return chosen
    return found


def lms_name(relpath):
    """{'lms': 'moodle'|'canvas'|None, 'name', 'lms_id', 'late'} from a download's file or folder name."""
    parts = relpath.split('/')
    for part in ([parts[0]] if len(parts) > 1 else []) + [parts[-1]]:
        m = MOODLE.match(part)
        if m:
            return {'lms': 'moodle', 'name': m['name'], 'lms_id': m['id'], 'late': False}
        m = CANVAS.match(part)
        if m:
            return {'lms': 'canvas', 'name': m['login'], 'lms_id': m['id'], 'late': bool(m['late'])}
    return {'lms': None, 'name': None, 'lms_id': None, 'late': False}


def squash(text):
    """'Lovelace, Ada' / 'Ada Lovelace' / 'lovelaceada' -> comparable keys (accents dropped)."""
    text = unicodedata.normalize('NFKD', str(text)).encode('ascii', 'ignore').decode().lower()
    return re.sub(r'[^a-z0-9]', '', text)


def name_keys(name):
    """Every spelling of a roster name a download may use: 'first last', 'lastfirst', ..."""
    name = str(name).strip()
    if ',' in name:  # Canvas 'Last, First'
        last, first = [s.strip() for s in name.split(',', 1)]
        words = first.split() + last.split()
        last_words = last.split()
    else:
        words = name.split()
        last_words = words[-1:]
    first_words = words[:len(words) - len(last_words)]
    keys = {squash(' '.join(words)), squash(' '.join(last_words + first_words))}
    return {k for k in keys if k}


# Roster columns: ours first, then the spellings of Canvas and Moodle gradebook exports.
ALIASES = {
    'student_id': ('student_id', 'sis user id', 'id number', 'idnumber', 'student id'),
    'name': ('name', 'student', 'full name', 'fullname'),
    'email': ('email', 'email address'),
    'canvas_id': ('canvas_id', 'id'),
    'moodle_id': ('moodle_id', 'participant id', 'identifier'),
    'login': ('login', 'sis login id', 'username'),
    'section': ('section',),
    'file': ('file', 'filename', 'submission'),
}


class Roster:
    """Students from a CSV with a `student_id` column (or a Canvas/Moodle gradebook export).

    Optional columns: name, email, canvas_id, moodle_id, login, section, file. A file is matched,
    in this order, by the `file` column, by the LMS id in its name (Canvas user id / Moodle
    participant id), then by the student's name as the LMS spells it in downloads.
    """

    def __init__(self, path):
        self.path = Path(path)
        try:
            with open(self.path, newline='', encoding='utf-8-sig') as f:
                reader = csv.DictReader(f)
                header = reader.fieldnames or []
                raw = list(reader)
        except OSError as err:
            raise RosterError(f"cannot read the roster {self.path}: {err.strerror}") from None
        except (UnicodeDecodeError, csv.Error) as err:
            raise RosterError(f"the roster {self.path} is not a UTF-8 CSV file ({err})") from None
        lower = {h.strip().lower(): h for h in header if h}
        columns = {}
        for field, names in ALIASES.items():
            for n in names:
                if n in lower:
                    columns[field] = lower[n]
                    break
        if 'student_id' not in columns:
            raise RosterError(
                f"the roster {self.path} has no student id column: give one named student_id (or "
                f"'SIS User ID' as in a Canvas export, 'ID number' as in Moodle); its columns are "
                f"{', '.join(header) or 'none'}")
        self.students = []
        seen = {}
        for line, rec in enumerate(raw, start=2):
            student = {f: (rec.get(col) or '').strip() for f, col in columns.items()}
            if not student['student_id']:
                if not any((v or '').strip() for v in rec.values()):
                    continue
                if squash(student.get('name', '')) in ('pointspossible', 'teststudent', 'studenttest'):
                    continue  # the extra rows of a Canvas export
                raise RosterError(f"{self.path}, line {line}: empty student id")
            if student['student_id'] in seen:
                raise RosterError(f"{self.path}, line {line}: student id {student['student_id']} "
                                  f"also on line {seen[student['student_id']]}")
            if student.get('moodle_id', '').lower().startswith('participant'):
                student['moodle_id'] = student['moodle_id'].split()[-1]  # Moodle 'Participant 123'
            seen[student['student_id']] = line
            self.students.append(student)
        if not self.students:
            raise RosterError(f"the roster {self.path} lists no students")
        self.by_id = {s['student_id']: s for s in self.students}

    def match(self, relpath):
        """The student (dict) a submitted file belongs to, or None."""
        return self.match_how(relpath)[0]

    def match_how(self, relpath):
        """(student or None, how: 'file', 'lms_id', 'name' or 'student_id')."""
        base = relpath.split('/')[-1]
        for s in self.students:
            f = s.get('file')
            if f and f in (relpath, base, relpath.split('/')[0]):
                return s, 'file'
        info = lms_name(relpath)
        column = 'canvas_id' if info['lms'] == 'canvas' else 'moodle_id'
        if info['lms_id']:
            hits = [s for s in self.students if s.get(column) == info['lms_id']]
            if len(hits) == 1:
                return hits[0], 'lms_id'
        if info['name']:
            key = squash(info['name'])
            # never by name when the roster gives this student another id in that LMS: the
            # file then belongs to someone who took the student's name
            hits = [s for s in self.students if s.get('name') and key in name_keys(s['name'])
                    and not (info['lms_id'] and s.get(column) and s[column] != info['lms_id'])]
            if len(hits) == 1:
                return hits[0], 'name'
        stem = squash(Path(base).stem)  # a plain file named after the student id
        hits = [s for s in self.students if squash(s['student_id']) == stem]
        return (hits[0], 'student_id') if len(hits) == 1 else (None, None)


def lms_identity(relpath):
    """('canvas'|'moodle', user id) from a download name, or None."""
    info = lms_name(relpath)
    return (info['lms'], info['lms_id']) if info['lms_id'] else None


def group(files, roster, folder, log):
    """Who each file belongs to: ([{'file', 'student', 'newer'}], {student id: conflict}).

    Per student (or, without a roster, per LMS user id in the download names) the newest file
    is graded as the student's (`newer` None); the older ones are graded too, with `newer` the
    file that supersedes them, so that their scores can be listed but never exported. Two files
    matched to one student only by name whose download names carry different LMS user ids (a
    classmate who took the student's name) are a conflict: both are graded under their own file
    names, and the student's row says so; neither is graded as the student."""
    owner, how = {}, {}
    for f in files:
        if roster is not None:
            s, way = roster.match_how(f)
            owner[f], how[f] = (s['student_id'] if s else None), way
        else:
            ident = lms_identity(f)
            owner[f], how[f] = (ident if ident else None), 'lms_id'
    conflicts = {}
    by_owner = {}
    for f in files:
        if owner[f] is not None:
            by_owner.setdefault(owner[f], []).append(f)
    for sid, mine in by_owner.items():
        ids = {lms_identity(f) for f in mine if how[f] == 'name' and lms_identity(f)}
        if roster is not None and len(ids) > 1:
            shown = ', '.join(f'{lms} {i}' for lms, i in sorted(ids))
            conflicts[sid] = (f"{len(mine)} files carry this student's name from different LMS "
                              f"users ({shown}): none is graded as this student; add canvas_id/"
                              f"moodle_id to the roster (or the column file) and grade again")
            log(f"warning: {sid}: {conflicts[sid]} ({', '.join(mine)})")
            for f in mine:
                owner[f] = None
    out = []
    for sid, mine in by_owner.items():
        if sid in conflicts:
            continue
        newest = max(mine, key=lambda p: (own_mtime(Path(folder, p)), p))
        for f in mine:
            if f != newest:
                log(f"warning: {sid if roster else newest} has two files: {newest} is graded as "
                    f"theirs, the older {f} is listed as superseded")
        out += [{'file': f, 'student': roster.by_id[sid] if roster is not None else None,
                 'newer': None if f == newest else newest,
                 'by_name': roster is not None and how[f] == 'name' and bool(lms_identity(f))}
                for f in mine]
    for f in files:
        if owner[f] is None:
            if roster is not None:
                log(f"warning: {f} matches no student of the roster: graded under its file name")
            out.append({'file': f, 'student': None, 'newer': None, 'by_name': False})
    order = {f: i for i, f in enumerate(files)}
    return sorted(out, key=lambda e: order[e['file']]), conflicts


def parse_deadline(text):
    """An aware datetime from ISO 8601 text; a time zone is required."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip().replace('Z', '+00:00'))
    except ValueError:
        raise RosterError(f"--deadline {text!r} is not an ISO 8601 time such as "
                          f"2026-12-01T23:59:00+01:00") from None
    if when.tzinfo is None:
        raise RosterError(f"--deadline {text!r} has no time zone: add one, e.g. "
                          f"{text}+00:00 (UTC) or {text}+01:00")
    return when


def own_mtime(path):
    """The modification time of the entry itself: a link's own, never its target's (links are
    never followed out of the submissions folder)."""
    return os.lstat(path).st_mtime


def lateness(path, deadline, lms_late=False):
    """('' if on time, else how late, e.g. '2.5 h') and the entry's own modification time (ISO,
    UTC; a link's own, see own_mtime)."""
    mtime = dt.datetime.fromtimestamp(own_mtime(path), dt.timezone.utc)
    stamp = mtime.isoformat(timespec='seconds')
    return late_at(stamp, deadline, lms_late), stamp


def late_at(stamp, deadline, lms_late=False):
    """How late a submission made at `stamp` (ISO) is: '' if on time, '2.5 h', or 'LMS says late'."""
    hours = late_hours(stamp, deadline)
    if hours:
        return f'{hours:.1f} h' if hours >= 0.1 else f'{hours * 3600:.0f} s'
    return 'LMS says late' if lms_late else ''


def late_hours(stamp, deadline):
    """Hours after the deadline (0.0 when on time or unknown)."""
    try:
        when = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return 0.0
    if deadline is None or when.tzinfo is None or when <= deadline:
        return 0.0
    return (when - deadline).total_seconds() / 3600
