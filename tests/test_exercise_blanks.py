"""A student who runs a handed-out exercise notebook from top to bottom before writing anything
sees, at each blank answer, a sentence naming the question and what is left to write
(`utils.not_written`, `utils.require_written` in utils/exercise_checks.py), never a TypeError
raised by a later line that uses a `...`.

The notebooks run in this process under the smoke profile, as Jupyter's Run All does: each answer
cell first as handed out, then with the master's answer, so that the next question is reached.
"""
import os
import re

import nbformat
import pytest

from conftest import ROOT
from submissions.suite import answer_cells, solution_answers

# {exercise: {question: what its handed-out cell stops on: a name, or 'this part' (a loop body)}}
FIRST_BLANK = {
    'exercise_1_more_epochs': {1: 'alexnet_history', 2: 'gaps', 3: 'best_epoch', 4: 'count_parameters'},
    'exercise_2_initialization': {1: 'scales', 2: 'ratio', 4: 'curve', 5: 'blank_net'},
    'exercise_3_lenet_hyperparameters': {1: 'history', 2: 'curve', 3: 'update_ratio', 4: 'fixed_lr'},
    'exercise_4_alexnet_from_scratch': {1: 'alexnet_shapes', 2: 'dropout', 3: 'scratch_out', 4: 'this part'},
}
CHECK = re.compile(r'grader\.check\("q(\d+)"\)')


def question_of(cells, blank):
    """The number of the question whose `grader.check("qN")` cell comes first after `blank`."""
    for cell in cells[cells.index(blank) + 1:]:
        found = CHECK.match(cell.source) if cell.cell_type == 'code' else None
        if found:
            return int(found.group(1))
    raise AssertionError(f'no grader.check cell after the answer cell:\n{blank.source}')


def run_student_cells_with_each_blank_then_its_solution(name):
    """{question number: the error its blank raised}, running the student notebook `name` in order
    in this process, each answer cell as handed out and then as the master answers it; it stops
    after the last answer cell (nothing after it needs its values; it would only train longer)."""
    import matplotlib
    matplotlib.use('Agg')
    student = nbformat.read(ROOT / 'notebooks' / f'{name}.ipynb', as_version=4)
    blanks, solution = answer_cells(student), solution_answers(name)
    ns, raised, old = {'__name__': '__main__'}, {}, os.getcwd()
    os.chdir(ROOT / 'notebooks')
    try:
        for cell in student.cells:
            if cell.cell_type != 'code' or CHECK.match(cell.source):
                continue
            if cell not in blanks:
                exec(cell.source, ns)
                continue
            number = question_of(student.cells, cell)
            try:
                exec(cell.source, ns)
            except Exception as err:  # what the student sees
                raised[number] = err
            if cell is blanks[-1]:
                break
            exec(solution[blanks.index(cell)], ns)
    finally:
        os.chdir(old)
    return raised


@pytest.mark.parametrize('name', sorted(FIRST_BLANK))
def test_each_blank_answer_stops_with_a_message_naming_its_question_never_a_type_error(name):
    raised = run_student_cells_with_each_blank_then_its_solution(name)
    assert sorted(raised) == sorted(FIRST_BLANK[name]), raised
    for number, err in raised.items():
        assert isinstance(err, NotImplementedError), (number, repr(err))
        message = str(err)
        assert message.startswith(f'Question {number}: ') and 'run this cell again' in message, message
        assert f' {FIRST_BLANK[name][number]} is ' in message, message


def test_a_value_left_as_dots_is_named_with_its_question_in_the_readers_language():
    import utils
    from utils import i18n
    utils.require_written(3, scratch_out=0.0, max_abs_diff=None)  # written values pass
    with pytest.raises(NotImplementedError, match=r'^Question 3: scratch_own_out is still `\.\.\.`'):
        utils.require_written(3, scratch_out=0.0, scratch_own_out=...)
    i18n.use_language('zh')
    try:
        with pytest.raises(NotImplementedError, match='^问题 1：n_params_scratch 还是'):
            utils.require_written(1, n_params_scratch=...)
        assert str(utils.not_written(4, 'sgd')).startswith('问题 4：sgd 还没有写')
    finally:
        i18n.use_language('en')
