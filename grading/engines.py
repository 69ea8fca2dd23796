"""Where submissions run: threads of this process (`--jobs N`), or a Dask cluster (`--scheduler
ADDRESS`, or `--workers N` for a local one).

Either way each task gets one notebook's text and gives back its record and executed notebook
(grading/runner.py, records.Graded); only the process that started the batch writes OUT, so
workers need no shared folder. Dask is used, rather than a queue of our own, for what a class on
several machines needs: workers that join or leave, and a task whose worker is lost running again
on another (Dask's scheduler re-runs it; each task yields one result, so no row is lost or doubled).

Several worker processes on one machine (`--workers N`) share nothing of their sandboxes: each
sandbox has private /tmp, /var/tmp, /dev/shm and IPC namespace, so nothing of it is in the host's
shared folders, and its read-only images are shared under a lock (grading/sandbox_image.py).
"""
import hashlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .assignment import GraderError
from .checks import preflight
from .runner import Runtime, grade_safely, plain_record
from .records import Graded

HERE = Path(__file__).resolve().parent
WORKER_WAIT_SECONDS = 60


def grader_digest():
    """A digest of this grader's code: a Dask worker must run the same grading/."""
    digest = hashlib.sha256()
    for path in sorted(HERE.glob('*.py')):
        digest.update(path.name.encode() + b'\0' + path.read_bytes())
    return digest.hexdigest()[:16]


class ThreadEngine:
    """`--jobs N` notebooks at once on this machine. Threads only wait on the sandboxes, which are
    separate processes."""
    name = 'this machine'

    def __init__(self, options):
        self.options = options
        self.runtime = Runtime.prepare(options, options.jobs)

    def check(self, assignment):
        """Warnings; GraderError when the sandbox cannot run here."""
        return preflight(self.runtime, self.options.memory_bytes, [assignment.path.resolve()])

    def run(self, jobs, assignment):
        """(job, Graded) for every job, in the order they finish."""
        # The speed check's reference run (grading/speed.py) takes no submission's slot when every
        # notebook runs on one OpenMP thread: it runs beside them. Otherwise a class of N runs
        # N + 1 notebooks on --jobs slots, and the last one runs alone while the other cores wait
        # (benchmarks/README.md, "Grading"). Sharing the cores makes the reference's cells slower,
        # which only moves the flag's bar (a fraction of the reference's seconds) up a little:
        # an honest run is still several times above it. With several threads per notebook an
        # extra one would put more OpenMP threads than cores on the machine, so it waits its turn.
        beside = self.runtime.threads == '1'
        with ThreadPoolExecutor(max_workers=self.options.jobs) as pool, \
                ThreadPoolExecutor(max_workers=1) as reference_slot:
            futures = {(reference_slot if job.reference and beside else pool).submit(
                           grade_safely, job, assignment, self.options, self.runtime): job
                       for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()

    def close(self):
        self.runtime.close()


# ----------------------------------------------------------------------------- Dask

_WORKER_RUNTIMES = {}   # per worker process: made once, on the worker's machine


def _worker_runtime(options):
    from distributed import get_worker
    key = (options.profile, options.memory_mb)
    if key not in _WORKER_RUNTIMES:
        _WORKER_RUNTIMES[key] = Runtime.prepare(options, get_worker().state.nthreads)
    return _WORKER_RUNTIMES[key]


def check_on_worker(options):
    """(grader digest, warnings, error or None) of the worker this runs on."""
    try:
        return grader_digest(), preflight(_worker_runtime(options), options.memory_bytes), None
    except Exception as err:
        return grader_digest(), [], f'{type(err).__name__}: {err}'


def grade_on_worker(job, assignment, options):
    return grade_safely(job, assignment, options, _worker_runtime(options))


class DaskEngine:
    def __init__(self, options, log=print):
        from distributed import Client, LocalCluster
        self.options, self.log, self.cluster = options, log, None
        if options.scheduler:
            self.name = f'the Dask scheduler {options.scheduler}'
            try:
                self.client = Client(options.scheduler, timeout=WORKER_WAIT_SECONDS)
            except OSError as err:
                raise GraderError(f'cannot reach the Dask scheduler {options.scheduler} ({err}): '
                                  f'start it with `dask scheduler` (instructors/README.md)') from None
        else:
            self.name = f'a local Dask cluster of {options.workers} worker process(es)'
            # memory_limit=0: the sandbox caps each submission's memory itself (a cgroup).
            self.cluster = LocalCluster(n_workers=options.workers, threads_per_worker=1,
                                        processes=True, host='127.0.0.1', dashboard_address=None,
                                        memory_limit=0)
            self.client = Client(self.cluster)

    def check(self, assignment):
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except TimeoutError:
            raise GraderError(f'no Dask worker joined {self.name} within {WORKER_WAIT_SECONDS} s: '
                              f'start workers with `dask worker ADDRESS` (instructors/README.md)') from None
        ours, notes = grader_digest(), []
        workers = list(self.client.scheduler_info()['workers'])
        futures = [self.client.submit(check_on_worker, self.options, workers=[w], pure=False,
                                      allow_other_workers=False) for w in workers]
        for worker, (digest, warnings, error) in zip(workers, self.client.gather(futures)):
            if error:
                raise GraderError(f'the Dask worker {worker} cannot grade: {error}')
            if digest != ours:
                raise GraderError(f'the Dask worker {worker} runs another version of grading/ '
                                  f'({digest}, here {ours}): update its course checkout')
            notes += [f'{worker}: {w}' for w in warnings]
        return notes

    def run(self, jobs, assignment):
        from distributed import as_completed as dask_completed
        # The assignment goes with every task (tens of kB), not scattered once: scattered data
        # held only by workers that were lost would fail every task that still needs it.
        futures = {self.client.submit(grade_on_worker, job, assignment, self.options, pure=False): job
                   for job in jobs}
        for future in dask_completed(futures):
            job = futures[future]
            try:
                graded = future.result()
            except Exception as err:  # e.g. KilledWorker: it took down workers several times
                why = f'grader error on the Dask cluster: {type(err).__name__}: {err}'
                graded = Graded(plain_record(job.name, assignment, 'error', why[:300]))
            yield job, graded

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def open_engine(options, log=print):
    return DaskEngine(options, log) if options.uses_dask else ThreadEngine(options)
