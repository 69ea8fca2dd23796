"""The test process: runs an assignment's public and hidden tests against a submission's exported
variables, in a separate process outside the sandbox (the tests never enter the sandbox).

`run_tests(...)` (the grader's side) starts `python -I -B grading/testproc.py` with the job as JSON
on stdin; this file then runs as a script, so at module level it imports the standard library
only (never the `grading` package, never `utils`: that would import MXNet in every process).

The tests' namespace: the submission's exported variables (plain data rebuilt by
exported.read_exported), then the grader's own names on top, which the submission cannot replace:
np/numpy, pd/pandas, math, utils/mx/nd (only when a test mentions them), `course_settings`
(utils/settings.py's settings for the assignment under the grading profile), `grader_seed` (the
seed handed to the assignment's probe for this run) and `submission_sources` (the submitted
notebook's code-cell sources, from the grader's own parse of the file).
"""
import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------- points
# Same semantics as otter-grader 7 OKTestFile (points split over cases without their own points;
# a case passes when its doctest passes), without importing otter in the test process.

def case_points(spec):
    cases = spec['suites'][0]['cases']
    total = spec.get('points')
    given = [c.get('points') for c in cases]
    if isinstance(total, list):
        given, total = list(total), None
    fixed = sum(p for p in given if p is not None)
    free = sum(1 for p in given if p is None)
    if total is not None:
        share = (total - fixed) / free if free else 0.0
    elif fixed == 0:
        share = 1 / free if free else 0.0
    else:
        share = 0.0
    return [p if p is not None else share for p in given]


def possible_points(spec):
    return sum(case_points(spec))


# ----------------------------------------------------------------------------- the child

def run_doctest(name, code, env):
    import doctest
    from contextlib import redirect_stderr, redirect_stdout
    examples = [e for e in doctest.DocTestParser().parse(code, name) if isinstance(e, doctest.Example)]
    test = doctest.DocTest(examples, env, name, None, None, code)
    runner = doctest.DocTestRunner(verbose=False)
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        runner.run(test, clear_globs=False, out=out.write)
    return runner.failures == 0, out.getvalue()


def course_settings(assignment, profile):
    """utils/settings.py's settings for `assignment` under `profile` (a namespace; None for an
    assignment it does not know). Neither `utils` nor utils/settings.py imports MXNet."""
    from utils import settings
    if assignment not in settings.NOTEBOOKS:
        return None
    return settings.settings_for(assignment, profile)


def trusted_names(job):
    """The grader's names in the tests' namespace (see the module's docstring)."""
    import math
    import numpy as np
    import pandas as pd
    trusted = {'np': np, 'numpy': np, 'pd': pd, 'math': math}
    codes = ''.join(c['code'] for spec in job['tests'].values() for c in spec['suites'][0]['cases'])
    if re.search(r'\b(utils|mx|nd)\b', codes):
        os.environ['COURSE_PROFILE'] = job.get('profile', 'smoke')
        import utils
        trusted.update(utils=utils, mx=utils.mx, nd=utils.mx.nd)
    # The grader's own settings, so that tests never trust the submission's epochs, sizes, rates.
    trusted['course_settings'] = course_settings(job.get('assignment'), job.get('profile', 'smoke'))
    trusted['grader_seed'] = job.get('grader_seed')
    trusted['submission_sources'] = list(job.get('submission_sources') or [])
    return trusted


def run_case(qname, i, case, points, env):
    try:
        passed, message = run_doctest(f'{qname} {i}', case['code'], env)
    except BaseException as err:  # a test must never take the grader down
        passed, message = False, f'{type(err).__name__}: {err}'
    hint = case.get('failure_message')  # otter's per-case message, written by the instructors
    return {'hidden': bool(case.get('hidden', True)), 'passed': passed, 'points': points,
            'message': '' if passed else message[-3000:],
            'hint': str(hint) if hint and not passed else None}


def child_main():
    """Read the job on stdin, print {'results': {q: [case]}, 'skipped': {...}, 'timings': {...}}
    as JSON (timings: seconds of reading the export, of the grader's names, of each case)."""
    import time
    clock = time.monotonic()
    job = json.loads(sys.stdin.read())
    os.environ.setdefault('MPLBACKEND', 'Agg')
    sys.path.insert(0, job['repo'])  # the grader's checkout: `utils` for the tests' trusted names
    sys.path.insert(0, job['sandbox_module_dir'])
    import exported  # noqa: E402  (grading/exported.py, standard library at import)
    try:
        namespace, skipped = exported.read_exported(job['private_dir'])
    except Exception as err:  # tampered or truncated export: nothing to grade
        namespace, skipped = {}, {'(all)': f'the exported variables could not be read ({err})'[:300]}
    timings = {'read_exported': time.monotonic() - clock}
    env = dict(namespace)
    clock = time.monotonic()
    env.update(trusted_names(job))  # the submission cannot replace the tests' own names
    timings['grader_names'] = time.monotonic() - clock
    results, timings['cases'] = {}, {}
    for qname, spec in job['tests'].items():
        cases = spec['suites'][0]['cases']
        results[qname], timings['cases'][qname] = [], []
        for i, (case, pts) in enumerate(zip(cases, case_points(spec))):
            clock = time.monotonic()
            results[qname].append(run_case(qname, i, case, pts, env))
            timings['cases'][qname].append(round(time.monotonic() - clock, 3))
    sys.stdout.write(json.dumps({'results': results, 'skipped': skipped, 'timings': timings}))


# ----------------------------------------------------------------------------- the grader's side

_cache = {}
_cache_lock = threading.Lock()


def evidence_cache():
    """A folder of this grading process (mode 700, outside every sandbox, removed at exit) where
    the test processes keep what utils/evidence.py computes the same way for every submission
    (the seeded networks, the Fashion-MNIST subsets): `COURSE_EVIDENCE_CACHE` in their
    environment. Only the test processes write there, never a submission's code."""
    with _cache_lock:
        if 'folder' not in _cache:
            import atexit
            import shutil
            import tempfile
            _cache['folder'] = tempfile.mkdtemp(prefix='grade-evidence-')
            atexit.register(shutil.rmtree, _cache['folder'], True)
        return _cache['folder']


def run_tests(assignment, private_dir, *, exported, timeout, memory_bytes, profile,
              grader_seed=None, submission_sources=(), threads=None, timings=None):
    """Results per question ({q: [case results]}), skipped variables, and a problem (or None).
    `threads`: OMP_NUM_THREADS for the tests' MXNet, the submission's share of the cores while
    other submissions run beside it (runner.openmp_share); None: utils' default, one per core.
    `timings`, a dict, receives the child's timings (child_main) and the process's wall seconds."""
    if not exported:
        return {}, {}, 'the notebook\'s variables could not be read (it did not finish)'
    job = {'tests': assignment.graded_tests(), 'private_dir': str(private_dir),
           'repo': str(HERE.parent), 'profile': profile, 'assignment': assignment.name,
           'sandbox_module_dir': str(HERE), 'grader_seed': grader_seed,
           'submission_sources': list(submission_sources)}

    def limits():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    env = {'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8', 'HOME': str(private_dir),
           'MPLCONFIGDIR': str(Path(private_dir) / 'mpl'), 'PYTHONDONTWRITEBYTECODE': '1',
           'COURSE_EVIDENCE_CACHE': evidence_cache()}
    if 'FASHION_MNIST_DIR' in os.environ:
        env['FASHION_MNIST_DIR'] = os.environ['FASHION_MNIST_DIR']
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    import time
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, '-I', '-B', str(Path(__file__).resolve())],
                              input=json.dumps(job), capture_output=True, text=True,
                              timeout=timeout, preexec_fn=limits, env=env, cwd=str(private_dir))
    except subprocess.TimeoutExpired:
        return {}, {}, f'the tests took longer than {timeout} s'
    try:
        answer = json.loads(proc.stdout)
        if timings is not None:
            timings.update(answer.get('timings') or {}, process=time.monotonic() - started)
        return answer['results'], answer['skipped'], None
    except (ValueError, KeyError):
        tail = proc.stderr.strip().splitlines()[-1:] or ['no output']
        return {}, {}, f'the test process failed ({tail[0][:200]})'


if __name__ == '__main__':
    child_main()
    sys.stdout.flush()
    os._exit(0)  # the answer is written: skip MXNet's slow teardown at exit (about a second)
