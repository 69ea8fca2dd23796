"""Where the seconds of one grading batch go, phase by phase (benchmarks/grading.py --phases).

Runs `python -m grading`'s own command in this process (`--jobs N`: threads, so the grader's
functions can be timed from here) with timers wrapped around the grader's functions: the
sandbox run (its report gives kernel start, each code cell and the export; the probe, run as
the epilogue, times itself into a variable that the export carries), the tests' process (it
reports reading the export, building the grader's names and each test case), building the
record and writing it. Nothing of the grader is changed: the wrappers call the originals.
Prints one table: the median over the batch's submissions of each phase, and the reference
solution's run (the speed check's, grading/speed.py) beside it.
"""
import json
import statistics
import threading
import time
from pathlib import Path

PROBE_TIMER = 'GRADER_PROBE_SECONDS'   # exported by the timed epilogue (benchmark only)


class PhaseTimer:
    """Timers around the grader's functions, per job (one thread runs one job at a time)."""

    def __init__(self):
        self.local = threading.local()
        self.jobs = {}            # job name -> {phase: seconds}
        self.stored = []          # seconds of each Collector.store (the main thread)
        self.lock = threading.Lock()

    def phases(self):
        """This thread's job's phases (a throwaway dict outside a job: the engine's check)."""
        return getattr(self.local, 'phases', {})

    def install(self):
        """Wrap the grader's functions; returns a function that undoes it."""
        from grading import grade, runner, sandbox, testproc  # noqa: F401
        originals = [(runner, 'grade_job', runner.grade_job), (runner, 'run_tests', runner.run_tests),
                     (sandbox, 'run_notebook', sandbox.run_notebook),
                     (grade.Collector, 'store', grade.Collector.store)]
        timer = self

        def grade_job(job, *args, **kwargs):
            timer.local.phases = phases = {'labels': cell_labels(job.text)}
            started = time.monotonic()
            try:
                return originals[0][2](job, *args, **kwargs)
            finally:
                phases['grade_job'] = time.monotonic() - started
                with timer.lock:
                    timer.jobs[job.name] = phases

        def run_tests(assignment, private_dir, **kwargs):
            timings = {}
            out = originals[1][2](assignment, private_dir, timings=timings, **kwargs)
            timer.phases().update(tests=timings, probe=probe_seconds(private_dir))
            return out

        def run_notebook(*args, epilogue=None, **kwargs):
            if epilogue:
                epilogue = ('import time as __bench_time\n__bench_t0 = __bench_time.monotonic()\n'
                            + epilogue + f'\n{PROBE_TIMER} = __bench_time.monotonic() - __bench_t0\n')
            started = time.monotonic()
            result = originals[2][2](*args, epilogue=epilogue, **kwargs)
            summary = result.get('summary') or {}
            timer.phases().update(sandbox=time.monotonic() - started, summary=summary)
            return result

        def store(collector, entry, graded):
            started = time.monotonic()
            try:
                return originals[3][2](collector, entry, graded)
            finally:
                timer.stored.append(time.monotonic() - started)

        for (owner, name, _), wrapper in zip(originals, (grade_job, run_tests, run_notebook, store)):
            setattr(owner, name, wrapper)
        return lambda: [setattr(owner, name, fn) for owner, name, fn in originals]


def probe_seconds(private_dir):
    """The probe's own seconds from the export's names.json (a float is exported as text)."""
    try:
        names = json.loads((Path(private_dir) / 'names.json').read_text())['names']
        return float(names[PROBE_TIMER]['v'])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def rows_of(phases):
    """[(phase, seconds)] of one job, in the order the grader runs them."""
    labels = phases.get('labels') or {}
    summary, tests = phases.get('summary') or {}, phases.get('tests') or {}
    cells = [(i, float(s)) for i, s in summary.get('cell_times') or []]
    probe = phases.get('probe') or 0.0
    export, start = summary.get('export_seconds') or 0.0, summary.get('kernel_start_seconds') or 0.0
    in_cells = sum(s for _, s in cells)
    rows = [('sandbox set-up, worker start, clean-up', phases.get('sandbox', 0) - start - in_cells - probe - export),
            ('kernel start', start)]
    rows += [(f'code cell: {labels.get(i, "")}', s) for i, s in cells]
    rows += [('probe (epilogue: packs the networks)', probe), ('export of the variables', export)]
    if tests:
        cases = tests.get('cases') or {}
        in_cases = sum(sum(v) for v in cases.values())
        rows += [('tests: process start, read the export', tests.get('read_exported', 0.0)),
                 ('tests: grader names (import utils/MXNet)', tests.get('grader_names', 0.0))]
        rows += [(f'tests: {q} ({len(v)} cases)', sum(v)) for q, v in cases.items()]
        rows += [('tests: process exit, JSON', tests.get('process', 0.0) - in_cases
                  - tests.get('read_exported', 0.0) - tests.get('grader_names', 0.0))]
    known = phases.get('sandbox', 0) + (tests.get('process', 0.0) if tests else 0.0)
    rows += [('record (feedback.make_record) and the rest of grade_job', phases.get('grade_job', 0) - known)]
    return rows


def cell_labels(text):
    """{index among code cells: its first line that is not a comment, cut} of a notebook's text."""
    nb = json.loads(text)
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    out = {}
    for i, c in enumerate(code):
        source = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        lines = [s for s in source.splitlines() if s.strip() and not s.startswith('#')]
        out[i] = (lines[0] if lines else '')[:48].replace('|', '/')
    return out


def measure(assignment, folder, out, jobs, profile):
    """Grade `folder` in this process with timers; print the phase table; (wall, table rows)."""
    from grading.grade import run_command
    timer = PhaseTimer()
    undo = timer.install()
    started = time.monotonic()
    try:
        code = run_command([str(assignment), str(folder), '--out', str(out), '--jobs', str(jobs),
                            '--profile', profile])
    finally:
        undo()
    wall = time.monotonic() - started
    if code != 0:
        raise SystemExit(f'grading failed with exit code {code}')
    subs = [rows_of(p) for name, p in sorted(timer.jobs.items()) if name != 'reference.ipynb']
    ref = timer.jobs.get('reference.ipynb')
    ref_rows = dict(rows_of(ref)) if ref else {}
    print(f'\nPhases of {len(subs)} submission(s) at --jobs {jobs} (median s per submission; '
          f'the reference solution\'s run beside it):\n')
    print('| phase | median s per submission | reference run s |')
    print('|---|---|---|')
    table = []
    for k, (phase, _) in enumerate(subs[0]):
        median = statistics.median(rows[k][1] for rows in subs if k < len(rows))
        ref_s = ref_rows.get(phase)
        table.append((phase, median, ref_s))
        print(f'| {phase} | {median:.2f} | {"-" if ref_s is None else f"{ref_s:.2f}"} |')
    total = statistics.median(p['grade_job'] for n, p in timer.jobs.items() if n != 'reference.ipynb')
    print(f'| **one submission, in all (grade_job)** | **{total:.2f}** | '
          f'{ref["grade_job"] if ref else 0:.2f} |')
    n = len(subs)
    print(f'| writing its record, feedback, grades.csv (Collector.store) | '
          f'{statistics.median(timer.stored):.2f} | - |')
    print(f'\nbatch: {wall:.1f} s wall for {n} submission(s) = {wall / n:.1f} s per submission; the '
          f'reference run ({ref["grade_job"] if ref else 0:.1f} s) is {(ref["grade_job"] if ref else 0) / n:.1f} s '
          f'per submission of this batch')
    return wall, table
