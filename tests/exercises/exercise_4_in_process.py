"""Exercise 4's hidden and public tests on one submission, without the sandbox (fast).

`grade_answers(answers, seed)` runs the student notebook's code cells with `answers` in the answer
cells, in this process, then the master's grader probe with `__grader_seed = seed`, exports the
variables as plain data the way grading/sandbox.py does, and runs every test case of the
autograder on them with `grader_seed` and `submission_sources`, as the grader's test process does.
It returns {question: [case result]} as grading/testproc.py makes them. The real path (the sandbox, the
grader's own probe run) is exercised by tests/test_exercises.py; this one lets the test suite try
many wrong and right answers in a minute.
"""
import os
import zipfile
from pathlib import Path

import nbformat
import numpy as np

from submissions.suite import with_answers

ROOT = Path(__file__).resolve().parents[2]
NAME = 'exercise_4_alexnet_from_scratch'
PROBE_TAG = 'grader-probe'


def probe_source():
    """The grader's probe as the autograder carries it (probe.py, from the master's cell tagged
    grader-probe)."""
    with zipfile.ZipFile(ROOT / 'instructors' / 'autograder' / f'{NAME}.zip') as zf:
        return zf.read('probe.py').decode()


def plain(value, depth=0):
    """The value as the sandbox exports it (numbers, strings, lists, dicts, numpy arrays), or
    raise TypeError for what it leaves out."""
    if depth > 8:
        raise TypeError('nested too deeply')
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in 'biuf':
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {plain(k, depth + 1): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in 'biuf':
        return value
    if (type(value).__module__ or '').startswith('mxnet') and hasattr(value, 'asnumpy'):
        return value.asnumpy()
    raise TypeError(type(value).__name__)


def exported(ns):
    out = {}
    for name, value in ns.items():
        if name.startswith('_') or callable(value) or type(value).__name__ == 'module':
            continue
        try:
            out[name] = plain(value)
        except TypeError:
            pass
    return out


def run_cells(sources, seed):
    """The namespace after running `sources` and the probe."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ns = {'__name__': '__main__'}
    old = os.getcwd()
    os.chdir(ROOT / 'notebooks')
    try:
        for number, source in enumerate(sources, 1):
            lines = [l for l in source.splitlines() if not l.lstrip().startswith(('%', '!'))]
            try:  # like the kernel: a failing cell is reported, the next ones still run
                exec(compile('\n'.join(lines), f'<code cell {number}>', 'exec'), ns)
            except Exception as err:
                print(f'code cell {number} raised {type(err).__name__}: {str(err)[:300]}')
        exec(compile(f'__grader_seed = {int(seed)}\n' + probe_source(), '<probe>', 'exec'), ns)
    finally:
        os.chdir(old)
        plt.close('all')
    return ns


def grade_answers(answers, seed, profile='smoke'):
    """{question: [case result]} as the grader's test process gives them (grading/testproc.py:
    dicts with hidden, passed, points, message and the case's hint when it failed)."""
    from grading import testproc
    from grading.assignment import find_assignment
    student = nbformat.read(ROOT / 'notebooks' / f'{NAME}.ipynb', as_version=4)
    nb = with_answers(student, [a.strip('\n') for a in answers])
    sources = [c.source for c in nb.cells if c.cell_type == 'code'
               and PROBE_TAG not in c.metadata.get('tags', [])]
    ns = run_cells([s for s in sources if not s.startswith('grader.check(')], seed)
    assignment = find_assignment(NAME)
    job = {'tests': {q: assignment.tests[q] for q in assignment.auto}, 'repo': str(ROOT),
           'profile': profile, 'assignment': NAME, 'grader_seed': seed,
           'submission_sources': sources}
    env = exported(ns)
    env.update(testproc.trusted_names(job))
    results = {}
    for q, spec in job['tests'].items():
        cases = zip(spec['suites'][0]['cases'], testproc.case_points(spec))
        results[q] = [testproc.run_case(q, i, case, points, env) for i, (case, points) in enumerate(cases)]
    return results


def score(results):
    return sum(case['points'] for cases in results.values() for case in cases if case['passed'])
