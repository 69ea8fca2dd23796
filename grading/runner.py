"""Grading one readable submission: run it in the sandbox, run the tests on what it exported,
build its record. The same code runs in the grading process (--jobs) and on Dask workers
(grading/engines.py): it reads no submissions folder and writes nothing outside its scratch folder.
"""
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .checks import data_folder, sandbox
from .records import Graded, SandboxRun, TestRun, describe_run, sanitize
from .submission import code_sources, notebook_place
from .testproc import run_tests

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Job:
    """One notebook to grade: `text` is the notebook as read_submission returned it (outputs
    dropped), `name` the file name its executed notebook and feedback are kept under."""
    key: str
    name: str
    text: str
    reference: bool = False      # the assignment's own solution (grading/speed.py), not a row


@dataclass
class Runtime:
    """What a grading process needs besides the options, found on the machine it runs on."""
    read_only: list
    kernel_env: dict
    scratch: str

    @classmethod
    def prepare(cls, options, concurrent):
        """concurrent: how many notebooks this process runs at once (they share its cores)."""
        data = data_folder()
        # The sandbox binds the data's real path: hand the notebook that same path, not a link to
        # it (a link under /tmp would point into the submission's private /tmp).
        data = os.path.realpath(data) if data else None
        env = {'COURSE_PROFILE': options.profile, **({'FASHION_MNIST_DIR': data} if data else {})}
        env['OMP_NUM_THREADS'] = openmp_share(concurrent)
        scratch = tempfile.mkdtemp(prefix='grade-scratch-')
        os.chmod(scratch, 0o700)
        return cls([data] if data else [], env, scratch)

    @property
    def threads(self):
        """The OpenMP threads of every MXNet process of a submission: its notebook's kernel and
        its test process."""
        return self.kernel_env['OMP_NUM_THREADS']

    def close(self):
        shutil.rmtree(self.scratch)


def openmp_share(concurrent):
    """OMP_NUM_THREADS for each of `concurrent` submissions graded at once: its share of the cores
    (the grader's own OMP_NUM_THREADS when set). MXNet's default, one OpenMP thread per core in
    each process, would put concurrent x cores threads on the cores; and an OpenMP team that
    waits for work spins (libgomp: milliseconds after each parallel region) on CPU time that the
    submission beside it needs. With one thread per process there is no team and no spinning."""
    return os.environ.get('OMP_NUM_THREADS') or \
        str(max(1, len(os.sched_getaffinity(0)) // max(1, concurrent)))


def zero_scores(assignment):
    return {q: 0.0 for q in assignment.auto}


def plain_record(name, assignment, status, why):
    """The record of a submission that did not run (unreadable, or a grader error)."""
    from .feedback import make_record
    return make_record(name, assignment, status, why, zero_scores(assignment), {}, [])


def run_in_sandbox(job, assignment, options, runtime, private, executed, seed):
    """A SandboxRun; with the assignment's probe run after the last cell, given `seed` (None:
    no probe)."""
    extra = {'epilogue': f'__grader_seed = {seed}\n' + assignment.probe} if seed is not None else {}
    result = sandbox().run_notebook(
        job.text, notebook_place(job.text), cell_timeout=options.cell_timeout,
        total_timeout=options.timeout, memory_bytes=options.memory_bytes,
        copy_dirs=[str(ROOT / 'utils'), str(ROOT / 'locale')], read_only=runtime.read_only,
        env=runtime.kernel_env, private_dir=str(private / 'export'),
        keep_executed=str(executed) if executed else None, **extra)
    return SandboxRun.from_sandbox(result)


def grade_job(job, assignment, options, runtime):
    """Graded (its record and executed notebook) for one Job."""
    from .feedback import make_record
    started = time.monotonic()
    private = Path(tempfile.mkdtemp(prefix='tests-', dir=runtime.scratch))
    executed = private / 'executed.ipynb' if options.keep_executed else None
    # The speed check's reference run needs only its cell times and status (grading/speed.py):
    # no probe, no tests. Job.reference is set by the grader itself, never by a submission.
    seed = secrets.randbits(31) if assignment.probe and not job.reference else None
    try:
        run = run_in_sandbox(job, assignment, options, runtime, private, executed, seed)
        outcome = describe_run(run, options.limits)
        tests = TestRun({}, {}, None) if job.reference else \
            TestRun(*run_tests(assignment, private / 'export', exported=run.exported,
                               timeout=options.test_timeout, memory_bytes=options.memory_bytes,
                               profile=options.profile, grader_seed=seed, threads=runtime.threads,
                               submission_sources=code_sources(job.text)))
        scores = zero_scores(assignment)
        for q, cases in tests.results.items():
            if q in scores:
                scores[q] = sum(c['points'] for c in cases if c['passed'])
        clean = lambda s: sanitize(s, run.folder)  # noqa: E731
        notes = [clean(n) for n in outcome.notes] + ([tests.problem] if tests.problem else [])
        kept = executed if executed and executed.is_file() else None
        record = make_record(job.name, assignment, outcome.status, clean(outcome.reason), scores,
                             tests.results, notes,
                             summary=run.summary.as_report() if run.summary else None,
                             nb_text=job.text, skipped=tests.skipped, clean=clean,
                             executed_path=kept, cell_times=run.cell_times)
        body = kept.read_bytes() if kept and not job.reference else None
    finally:
        shutil.rmtree(private)
    return Graded(record, body, time.monotonic() - started)


def grade_safely(job, assignment, options, runtime):
    """grade_job, but a grader bug on one file gives that file an error record, never a crash."""
    started = time.monotonic()
    try:
        return grade_job(job, assignment, options, runtime)
    except Exception as err:
        why = f'grader error: {type(err).__name__}: {err}'
        return Graded(plain_record(job.name, assignment, 'error', why), None, time.monotonic() - started)
