"""The speed check: a question whose cells ran far faster than the reference solution's in the
same batch (say a training loop replaced by numbers typed in) is flagged in the record
(`speed_flags`), which feedback and the class report show.

Once per batch the assignment's solution (reference.ipynb in the autograder zip, else
instructors/masters/<name>.ipynb without its test and probe cells) runs like a submission, on the
same machines, but gets no gradebook row. For each question a submission scored points on, the
seconds its cells took (the sandbox's per-cell times, summed per question as feedback.make_record
labels them) are compared with the reference's: below `fraction` of them is flagged. Questions
whose reference takes under MIN_REFERENCE_SECONDS are not compared: at that scale the time is
noise. The per-cell times come from the sandbox's report, which a submission can forge: the check
finds honest shortcuts, not a determined forger.

The reference's seconds are kept in OUT/private/reference_seconds.json, keyed by what they depend
on (the reference notebook's text, the profile, the engine and its --jobs, the machine); a later
batch into the same OUT within MAX_REUSE_SECONDS (re-grading with --only, late submissions)
reuses them instead of running the reference again, and says so in its log. Delete the file to
measure again.
"""
import datetime as dt
import hashlib
import json
import os
import platform
from dataclasses import replace
from pathlib import Path

from .runner import Job
from .submission import parse_notebook

MIN_REFERENCE_SECONDS = 2.0
REFERENCE_KEY = '(reference solution)'
KEPT_FILE = Path('private') / 'reference_seconds.json'
MAX_REUSE_SECONDS = 24 * 3600


def reference_notebook(text):
    """The master's notebook without its tests (code cells between `# BEGIN TESTS` and
    `# END TESTS` raw cells) and its `grader-probe` cells, outputs dropped; (text, None) or
    (None, why)."""
    try:
        nb = json.loads(text)
        cells, in_tests = [], False
        for cell in nb['cells']:
            source = ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']
            if cell['cell_type'] == 'raw':
                in_tests = {'# BEGIN TESTS': True, '# END TESTS': False}.get(source.strip(), in_tests)
            tags = (cell.get('metadata') or {}).get('tags') or []
            if cell['cell_type'] == 'code' and (in_tests or 'grader-probe' in tags):
                continue
            cells.append(cell)
        nb['cells'] = cells
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return None, f'the reference notebook cannot be read ({type(err).__name__})'
    return parse_notebook(json.dumps(nb).encode('utf-8'))


def question_seconds(record):
    """{question: seconds its code cells ran} from a record's `cell_times`."""
    out = {}
    for t in record.get('cell_times') or []:
        if t.get('question') in (record.get('scores') or {}):
            out[t['question']] = out.get(t['question'], 0.0) + float(t['seconds'])
    return out


def speed_flags(record, reference, fraction, minimum=MIN_REFERENCE_SECONDS):
    """[{'question', 'seconds', 'reference_seconds'}] of the questions `record` scored points on
    in less than `fraction` of the reference's seconds (`reference`: {question: seconds})."""
    own, scores = question_seconds(record), record.get('scores') or {}
    return [{'question': q, 'seconds': round(own[q], 2), 'reference_seconds': round(ref, 2)}
            for q, ref in reference.items()
            if ref >= minimum and q in own and float(scores.get(q, 0)) > 0 and own[q] < fraction * ref]


def shown(seconds):
    return ', '.join(f'{q} {s:.1f} s' for q, s in seconds.items())


def reference_key(text, options):
    """What the reference's seconds depend on: its notebook, the profile, the engine (how many
    notebooks share the cores), the machine and its thread setting."""
    engine = options.scheduler or (f'workers {options.workers}' if options.workers else f'jobs {options.jobs}')
    parts = (hashlib.sha256(text.encode('utf-8')).hexdigest(), options.profile, engine,
             str(os.cpu_count()), platform.node(), os.environ.get('OMP_NUM_THREADS', ''))
    return hashlib.sha256('\0'.join(parts).encode('utf-8')).hexdigest()[:32]


def read_kept(path, now=None):
    """{key: {'seconds': {question: seconds}, 'measured_at': ISO time}} of the entries of `path`
    measured less than MAX_REUSE_SECONDS ago; {} when it is missing or malformed."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for key, entry in (doc.items() if isinstance(doc, dict) else ()):
        try:
            seconds = {str(q): float(v) for q, v in entry['seconds'].items()}
            age = (now - dt.datetime.fromisoformat(entry['measured_at'])).total_seconds()
        except (TypeError, KeyError, ValueError, AttributeError):
            continue
        if seconds and 0 <= age < MAX_REUSE_SECONDS:
            out[key] = {'seconds': seconds, 'measured_at': entry['measured_at']}
    return out


def keep(path, key, seconds):
    """Add this measurement to `path` (written atomically; older entries that still count kept)."""
    from .gradebook import write_atomically
    entries = read_kept(path)
    entries[key] = {'seconds': seconds, 'measured_at': dt.datetime.now(dt.timezone.utc)
                    .isoformat(timespec='seconds')}
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(Path(path), json.dumps(entries, indent=1))
    except OSError:  # not kept: the next batch runs the reference again
        pass


class SpeedCheck:
    """Holds the batch's records until the reference has run, then flags them."""

    def __init__(self, assignment, options, log=print):
        self.fraction, self.log = options.speed_fraction, log
        self.reference = None     # {question: seconds} once the reference ran well
        self.pending = []         # (entry, Graded) that came back before the reference
        self.job = None
        if not options.speed_check:
            return
        text, source = assignment.reference()
        if text is None:
            log(f'speed check skipped: {source}')
            return
        text, why = reference_notebook(text)
        if text is None:
            log(f'speed check skipped: {source}: {why}')
            return
        self.source = source
        self.kept_path, self.key = options.out / KEPT_FILE, reference_key(text, options)
        kept = read_kept(self.kept_path).get(self.key)
        if kept:
            self.reference = kept['seconds']
            log(f"speed check: reference solution ({source}): {shown(self.reference)} (measured "
                f"{kept['measured_at']} on this machine with these settings; reused from "
                f"{self.kept_path}: delete it to measure again)")
            return
        self.job = Job(REFERENCE_KEY, 'reference.ipynb', text, reference=True)

    @property
    def waiting(self):
        return self.job is not None and self.reference is None

    def settle(self, graded):
        """The reference's run is back: [(entry, Graded)] held until now, flagged."""
        record, self.job = graded.record, None
        self.reference = question_seconds(record)
        if record.get('status') != 'ok' or not self.reference:
            self.log(f"speed check skipped: the reference solution ({self.source}) did not run "
                     f"cleanly ({record.get('status')}: {record.get('reason') or 'no cell times'})")
            self.reference = {}
        else:
            self.log(f'speed check: reference solution ({self.source}): {shown(self.reference)}')
            keep(self.kept_path, self.key, self.reference)
        held, self.pending = self.pending, []
        return [(entry, self.flag(g)) for entry, g in held]

    def flag(self, graded):
        """`graded` with `speed_flags` in its record where a question ran too fast."""
        flags = speed_flags(graded.record, self.reference or {}, self.fraction)
        return replace(graded, record=dict(graded.record, speed_flags=flags)) if flags else graded
