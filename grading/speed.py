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
"""
import json
from dataclasses import replace

from .runner import Job
from .submission import parse_notebook

MIN_REFERENCE_SECONDS = 2.0
REFERENCE_KEY = '(reference solution)'


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
            shown = ', '.join(f'{q} {s:.1f} s' for q, s in self.reference.items())
            self.log(f'speed check: reference solution ({self.source}): {shown}')
        held, self.pending = self.pending, []
        return [(entry, self.flag(g)) for entry, g in held]

    def flag(self, graded):
        """`graded` with `speed_flags` in its record where a question ran too fast."""
        flags = speed_flags(graded.record, self.reference or {}, self.fraction)
        return replace(graded, record=dict(graded.record, speed_flags=flags)) if flags else graded
