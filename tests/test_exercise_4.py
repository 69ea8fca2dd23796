"""Exercise 4 (AlexNet from scratch) is earned: its hidden tests call the notebook's functions
through the grader's probe and read its code, so wrong answers lose the points that check them,
natural right answers keep full marks, and a fabricated submission scores at most half.

The graded runs use tests/exercises/exercise_4_in_process.py (the notebook's cells, the probe and
every test case in this process, under the smoke profile); tests/test_exercises.py grades the
solution, the alternative and the fabricated submission through the real grader.
"""

import nbformat
import numpy as np
import pytest

from conftest import ROOT
from exercises import exercise_4_alexnet_from_scratch as ex4
from exercises.exercise_4_in_process import NAME, PROBE_TAG, grade_answers, score
from submissions.suite import solution_answers, with_answers

SEED = 20261204  # the grader draws a new one per submission: the right answers run under other seeds


@pytest.fixture(scope='module')
def solution():
    return solution_answers(NAME)


def failing(results):
    return {(q, i) for q, cases in results.items() for i, case in enumerate(cases) if not case['passed']}


def messages(results):
    return '\n'.join(f"{q}[{i}]: {results[q][i]['message'][-600:]}" for q, i in sorted(failing(results)))


def submission_sources(answers):
    student = nbformat.read(ROOT / 'notebooks' / f'{NAME}.ipynb', as_version=4)
    nb = with_answers(student, [a.strip('\n') for a in answers])
    return [c.source for c in nb.cells if c.cell_type == 'code'
            and PROBE_TAG not in c.metadata.get('tags', [])]


# ----------------------------------------------------------------------------- graded runs

@pytest.mark.slow
def test_the_masters_solution_passes_every_case(solution):
    results = grade_answers(solution, SEED + 1)
    assert not failing(results), messages(results)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(ex4.RIGHT))
def test_natural_right_answers_keep_full_marks(solution, name):
    results = grade_answers(ex4.edited(solution, ex4.RIGHT[name]), SEED + 2 + sorted(ex4.RIGHT).index(name))
    assert not failing(results), messages(results)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(ex4.WRONG))
def test_each_wrong_answer_fails_the_cases_that_check_it(solution, name):
    edits, cases = ex4.WRONG[name]
    results = grade_answers(ex4.edited(solution, edits), SEED)
    assert set(cases) <= failing(results), (sorted(failing(results)), messages(results))


@pytest.mark.slow
def test_fabricated_answers_score_at_most_half_and_lose_on_every_question():
    results = grade_answers(ex4.FABRICATED, SEED)
    possible = sum(case['points'] for cases in results.values() for case in cases)
    assert possible == pytest.approx(8)
    assert score(results) <= ex4.FABRICATED_AT_MOST * possible, messages(results)
    lost = {q for q, _ in failing(results)}
    assert set(ex4.FABRICATED_LOSES) <= lost
    failed = [results[q][i] for q, i in failing(results)]
    assert all(case['hidden'] for case in failed), 'the public tests all pass'
    # each failed hidden case tells the student what to fix, in English and Chinese, not the code
    assert all(case['hint'] and ' / ' in case['hint'] and 'assert' not in case['hint'] for case in failed)


def test_public_checks_in_the_notebook_accept_numpy_float_losses_and_an_ndarray_output(tmp_path, monkeypatch):
    """grader.check runs in the student's kernel, where nothing converts values as the grader's
    export does: np.float32 losses (what asscalar() returns) and an NDArray scratch_out pass."""
    import utils
    monkeypatch.chdir(tmp_path)
    student = nbformat.read(ROOT / 'notebooks' / f'{NAME}.ipynb', as_version=4)
    cell = next(c for c in student.cells if 'exercise-checker' in c.metadata.get('tags', []))
    scope = {'utils': utils}
    exec(cell.source, scope)
    grader = scope['grader']
    losses = [np.float32(3.65), np.float32(8.24), np.float32(2.1)]
    assert grader.check('q4', {'np': np, 'scratch_losses': losses}).grade == 1
    out = np.ones((4, 10), np.float32)
    env = {'np': np, 'scratch_out': utils.mx.nd.array(out), 'gluon_out': out, 'max_abs_diff': 0.0}
    assert grader.check('q3', env).grade == 1
    rising = {'np': np, 'scratch_losses': [3.65, 8.24, 4.0]}
    result = grader.check('q4', rising)
    shown = repr(result)  # what the notebook prints: the failing test and its message
    assert result.grade < 1 and 'jumps up at step 1' in shown and 'lower the learning rate' not in shown


def test_every_hidden_case_has_a_bilingual_hint_and_public_cases_give_at_most_half():
    from grading.assignment import find_assignment
    assignment = find_assignment(NAME)
    public = 0.0
    for q in assignment.auto:
        spec = assignment.tests[q]
        for case in spec['suites'][0]['cases']:
            if case.get('hidden'):
                hint = case.get('failure_message') or ''
                english, _, chinese = hint.partition(' / ')
                assert english and any('\u4e00' <= ch <= '\u9fff' for ch in chinese), (q, hint)
            else:
                public += case['points']
    assert public <= 0.5 * assignment.max_score == 4
    assert 'probe.py' in __import__('zipfile').ZipFile(assignment.path).namelist()


# ----------------------------------------------------------------------------- static check

@pytest.mark.parametrize('name', sorted(ex4.NOT_OWN_CODE))
def test_the_code_check_names_what_the_question_rules_out(solution, name):
    from utils import scratch_probe
    edits, function, what = ex4.NOT_OWN_CODE[name]
    problems = scratch_probe.own_code_problems(submission_sources(ex4.edited(solution, edits)), function)
    assert any(what in p for p in problems), problems


@pytest.mark.parametrize('kind', ['solution', 'ALTERNATIVE'] + sorted(ex4.RIGHT))
def test_the_code_check_passes_right_answers(solution, kind):
    from utils import scratch_probe
    answers = solution if kind == 'solution' else getattr(ex4, kind, None) or ex4.edited(solution, ex4.RIGHT[kind])
    sources = submission_sources(answers)
    assert {f: scratch_probe.own_code_problems(sources, f) for f in scratch_probe.BY_HAND} == \
        {f: [] for f in scratch_probe.BY_HAND}


def test_the_code_check_follows_helpers_aliases_and_imports_not_local_names_or_data():
    from utils.answer_checks import forbidden_uses, tampering
    cells = ['from mxnet import nd, gluon\nimport numpy as np\np = 3\nlayer = {}',
             'from mxnet.ndarray import FullyConnected as fc\n'
             'def dense(h, W, b):\n    return fc(h, W, b, num_hidden=W.shape[0])\n'
             'def net(X, params):\n    for p in params:\n        X = dense(X, p, p)\n'
             "    return X if layer['dropout'] else [q for q in X]",
             'def clean(X):\n    return nd.relu(X)\n']
    found = forbidden_uses(cells, ['net'], names=['gluon'], attributes=['FullyConnected', 'dropout'])
    assert found == ['code cell 2, line 1: uses FullyConnected (in what net depends on)']
    assert forbidden_uses(cells, ['clean'], names=['gluon'], attributes=['FullyConnected']) == []
    assert tampering(cells) == []
    sneaky = ["nd.relu = lambda x: x", "exec('x = 1')", "import importlib", "f = getattr(nd, name)",
              "g = nd.__dict__['relu']", 'del np.dot', '%time x = 1\nsetattr(nd, "relu", 1)',
              "open('../utils/scratch_probe.py', 'w')", "utils.scratch_probe.run_probe = print",
              "with open(name + '.py', 'w') as f:\n    f.write(code)"]
    assert [c for c in sneaky if not tampering([c])] == []
    assert tampering(['this is not python (']) == []
    for edition in (ROOT / 'notebooks', ROOT / 'notebooks' / 'zh'):  # the code handed out is clean
        given = nbformat.read(edition / f'{NAME}.ipynb', as_version=4)
        assert tampering([c.source for c in given.cells if c.cell_type == 'code']) == []


# ----------------------------------------------------------------------------- MXNet itself

def test_maxpool_not_convolution_gives_wrong_gradients_in_prediction_mode():
    """The reason utils/diagnostics.py records in training mode (benchmarks/maxpool_gradient.py)."""
    from benchmarks import maxpool_gradient
    rows = {name: errors for name, *errors in maxpool_gradient.measure()}
    assert set(rows) == {'max pooling', 'convolution', 'relu'}
    for name, (train_error, predict_error, spread) in rows.items():
        assert train_error < 1e-4, name
        if name != 'max pooling':
            assert predict_error < 1e-4 and spread == 0, name
    assert rows['max pooling'][1] >= 1, 'MXNet fixed max pooling: utils/diagnostics.py can drop its workaround'
    source = (ROOT / 'utils' / 'diagnostics.py').read_text()
    assert 'max pooling' in source and 'benchmarks/maxpool_gradient.py' in source
    assert np.isfinite([v for errors in rows.values() for v in errors]).all()
