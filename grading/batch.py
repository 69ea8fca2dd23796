"""A batch that never stops: every entry of the submissions folder, named safely, gets one row.

Standard library only. Used by grade.py:

- `display_name(relpath)`: how a file name is written anywhere the grader writes it (gradebook,
  feedback, log): undecodable bytes and control characters escaped (`\\xff`, `\\n`), and a leading
  `=`, `+`, `-` or `@` (a spreadsheet formula) neutralised with a leading `'`.
- `is_notebook_name(name)`: `.ipynb` in any case, with trailing spaces tolerated.
- `complete_plan(entries, folder)`: adds an entry for every top-level entry of the folder that the
  plan left out (other files, `X.IPYNB`, hidden files, links, FIFOs, empty sub-folders, ...), so
  that `grade_one` gives each its row (a notebook is graded; anything else gets an `unreadable`
  row saying what it is), and makes every name safe to write.
"""
import hashlib
import os
import re
import stat

FORMULA_PREFIXES = ('=', '+', '-', '@')
SAFE_STEM = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_. @+()-]{0,149}')


def escape_text(text):
    """Text safe to write as UTF-8 on one line: undecodable bytes (surrogate escapes and lone
    surrogates) as \\xNN / \\udNNN, control and invisible formatting characters as escapes."""
    text = str(text)
    if any('\ud800' <= ch <= '\udfff' for ch in text):
        raw = text.encode('utf-8', 'surrogateescape') if _only_escapes(text) else None
        text = raw.decode('utf-8', 'backslashreplace') if raw is not None else \
            text.encode('utf-8', 'backslashreplace').decode('utf-8')
    return ''.join(ch if ch.isprintable() or ch == ' ' else ch.encode('unicode_escape').decode('ascii')
                   for ch in text)


def _only_escapes(text):
    """Every surrogate in text is one that surrogateescape made (U+DC80..U+DCFF)."""
    return all(not ('\ud800' <= ch <= '\udfff') or '\udc80' <= ch <= '\udcff' for ch in text)


def csv_safe(text):
    """A text cell a spreadsheet will not run as a formula (the usual leading apostrophe)."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_PREFIXES + ('\t', '\r')) else text


NUMBER = re.compile(r'-?\d+(\.\d+)?')


def cell(value):
    """Any value as a CSV cell that a spreadsheet shows as text: escaped like a file name
    (escape_text) and a leading =, +, -, @, tab or CR neutralised (csv_safe). Plain numbers
    (`-1.5`, a negative adjustment) stay numbers. Every field the grader writes to a CSV goes
    through this, roster fields included."""
    if value is None:
        return ''
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = escape_text(value)
    return text if NUMBER.fullmatch(text) else csv_safe(text)


def display_name(relpath):
    """The name of a submission as the grader writes it everywhere (see the module docstring).
    Spaces at either end are written as \\x20: spreadsheets and CSV readers drop them."""
    text = escape_text(relpath)
    core = text.strip(' ')
    if core != text:
        left = len(text) - len(text.lstrip(' '))
        right = len(text) - len(text.rstrip(' '))
        text = '\\x20' * left + core + '\\x20' * right
    return csv_safe(text)


def is_notebook_name(name):
    return os.path.basename(str(name)).rstrip().lower().endswith('.ipynb')


def safe_stem(display, taken):
    """A file name (without extension) for feedback/records: the display name without its
    .ipynb when that is plain and not yet taken (case-insensitively), else a cleaned name with a
    short hash of the display name. Adds the result to `taken` (a set of lower-case stems)."""
    stem = re.sub(r'\.ipynb\s*$', '', display, flags=re.IGNORECASE).replace('/', '__')
    if not (SAFE_STEM.fullmatch(stem) and not stem.endswith((' ', '.')) and stem.lower() not in taken):
        cleaned = re.sub(r'[^A-Za-z0-9_.-]+', '_', stem).strip('._')[:60] or 'entry'
        digest = hashlib.sha256(display.encode('utf-8')).hexdigest()
        # A submitted file may itself be named like another's hashed stem ('Zo-1a2b3c4d.ipynb'
        # beside 'Zoë.ipynb'): the hashed stem is checked against every stem taken too.
        for n in range(8, len(digest) + 1):
            stem = f"{cleaned}-{digest[:n]}"
            if stem.lower() not in taken:
                break
        else:
            stem = f"{cleaned}-{digest}-{len(taken)}"
    taken.add(stem.lower())
    return stem


def usable_stem(stem):
    """Is `stem` (a plan's or an earlier record's) a file name safe_stem could have made?"""
    return isinstance(stem, str) and 0 < len(stem) <= 200 and not stem.startswith('.') and \
        re.fullmatch(r'[A-Za-z0-9_. @+()-]+', stem) is not None


def kind_of(path):
    """None for a regular file, else what the entry is (for its row's reason)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as err:
        return f'cannot be examined ({err.strerror})'
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return 'a symbolic link (links are not followed)'
    if stat.S_ISDIR(mode):
        return 'a folder (hidden folders and folders without notebooks are not graded)'
    if stat.S_ISFIFO(mode):
        return 'a FIFO (named pipe)'
    if stat.S_ISSOCK(mode):
        return 'a socket'
    return 'a device or other special file'


def complete_plan(entries, folder, add_missing=True, stamp=None, reserved=None):
    """`entries` (dicts with at least 'submission' (relative path), 'path', 'key', 'safe') plus one
    entry for each top-level entry of `folder` none of them covers; every display name escaped
    and every 'safe' stem unique (case-insensitively). An entry's own 'safe' (the plan's) is kept
    when no other entry has it; `reserved` ({key: safe} of records graded before) gives an added
    entry its earlier stem, and no entry takes another key's. stamp(path) -> (late, submitted)
    for an added regular file (the plan's own rule, e.g. roster.lateness with the --deadline).
    Returns the new list (sorted by display name)."""
    folder = str(folder)
    covered = set()
    for e in entries:
        covered.add(str(e['submission']).split('/')[0])
    out = [dict(e) for e in entries]
    for name in sorted(os.listdir(folder)) if add_missing else []:
        if name not in covered:
            path = os.path.join(folder, name)
            late, submitted = stamp(path) if stamp and kind_of(path) is None else ('', '')
            out.append({'submission': name, 'path': path, 'key': name,
                        'safe': None, 'student': None, 'late': late, 'submitted': submitted})
    for e in out:
        shown = display_name(e['submission'])
        if e['key'] == e['submission']:
            e['key'] = shown
        e['submission'] = shown
    reserved = dict(reserved or {})
    taken = {str(s).lower() for s in reserved.values()}
    used = set()
    for e in sorted(out, key=lambda e: e['submission']):  # the plan's own stems first
        own = e.get('safe')
        if usable_stem(own) and own.lower() not in used:
            used.add(own.lower())
        else:
            e['safe'] = None
    taken |= used
    for e in sorted(out, key=lambda e: e['submission']):
        if e['safe'] is None:
            earlier = reserved.get(e['key'])
            if usable_stem(earlier) and earlier.lower() not in used:
                e['safe'] = earlier
            else:
                e['safe'] = safe_stem(e['submission'], taken)
            used.add(e['safe'].lower())
            taken.add(e['safe'].lower())
    return sorted(out, key=lambda e: e['submission'])
