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
    'exercise_1_more_epochs': {1: 'alexnet', 2: "final_train_acc['AlexNet']", 3: 'best_epoch',
                               4: 'count_parameters'},
    'exercise_2_initialization': {1: "INITS['he']", 2: 'ratio', 4: 'net', 5: 'blank_net'},
    'exercise_3_lenet_hyperparameters': {1: 'recipe_net', 2: 'curve_net', 3: 'update_ratio', 4: 'fixed_lr'},
    'exercise_4_alexnet_from_scratch': {1: 'alexnet_shapes', 2: 'dropout', 3: 'scratch_out',
                                        4: '`for step in range(settings.train_steps):`'},
}
# {exercise: {question: (the left side of a solution line, the name the message gives)}}: the
# question's answer cell as the master answers it except that one line, left as handed out (`...`):
# a half-filled cell, which must stop on that blank before a utils or MXNet call fails on it.
HALF_FILLED = {
    'exercise_1_more_epochs': {1: ('alexnet_train, alexnet_test', 'alexnet_train')},
    'exercise_2_initialization': {1: ("INITS['he']", "INITS['he']")},
    'exercise_3_lenet_hyperparameters': {1: ('trainer', 'trainer'), 4: ('fixed_lr, fixed_init', 'fixed_lr')},
}
# a call into utils, MXNet, numpy or pandas (or a network's initialize): where a `...` passed on
# fails deep inside, with a message about something else
LIBRARY_CALL = re.compile(r'\b(utils|gluon|nd|mx|np|pd)\.[\w.]+\(|\.initialize\(')
CHECK = re.compile(r'grader\.check\("q(\d+)"\)')


def question_of(cells, blank):
    """The number of the question whose `grader.check("qN")` cell comes first after `blank`."""
    for cell in cells[cells.index(blank) + 1:]:
        found = CHECK.match(cell.source) if cell.cell_type == 'code' else None
        if found:
            return int(found.group(1))
    raise AssertionError(f'no grader.check cell after the answer cell:\n{blank.source}')


def statements(source):
    """The lines of `source`, a statement continued over several lines joined into one."""
    out, open_brackets = [], 0
    for line in source.split('\n'):
        if open_brackets > 0:
            out[-1] += ' ' + line.strip()
        else:
            out.append(line)
        open_brackets += sum(line.count(c) for c in '([{') - sum(line.count(c) for c in ')]}')
    return out


def half_filled(solution, target):
    """`solution` with its first line that assigns to `target` left as handed out (`... `)."""
    lines = solution.split('\n')
    for i, line in enumerate(lines):
        if line.strip().startswith(target + ' = '):
            blanks = ', '.join(['...'] * (target.count(',') + 1))
            lines[i] = line[:len(line) - len(line.lstrip())] + f'{target} = {blanks}'
            return '\n'.join(lines)
    raise AssertionError(f'no line assigns {target} in:\n{solution}')


def run_student_cells_with_each_blank_then_its_solution(name, half=None):
    """{question number: the error its blank raised}, running the student notebook `name` in order
    in this process, each answer cell as handed out and then as the master answers it; it stops
    after the last answer cell (nothing after it needs its values; it would only train longer).
    With `half` ({question: (target, name)}), a question's cell runs half-filled instead of as
    handed out (`half_filled`)."""
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
            source = half_filled(solution[blanks.index(cell)], half[number][0]) \
                if half and number in half else cell.source
            if half and number not in half:
                source = 'pass'
            try:
                exec(source, ns)
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


@pytest.mark.parametrize('name', sorted(HALF_FILLED))
def test_a_half_filled_cell_stops_on_its_unwritten_blank_before_a_library_call_fails_on_it(name):
    raised = run_student_cells_with_each_blank_then_its_solution(name, half=HALF_FILLED[name])
    assert sorted(raised) == sorted(HALF_FILLED[name]), raised
    for number, err in raised.items():
        assert isinstance(err, NotImplementedError), (number, repr(err))
        assert str(err).startswith(f'Question {number}: {HALF_FILLED[name][number][1]} is still `...`'), str(err)


def test_every_value_blank_is_checked_before_the_solution_first_reads_it():
    """The master's answer cells, read as code: for each `name = ...` a student is handed, the first
    solution line that passes `name` on as a value is a utils.require_written(...) naming it, never
    a call into utils or MXNet that would fail on `...` deep inside with a message about something
    else. (`name.attr`, `name[...]` and arithmetic fail on the student's own line, which the
    error shows.)"""
    late = []
    for exercise in sorted(FIRST_BLANK):
        student = nbformat.read(ROOT / 'notebooks' / f'{exercise}.ipynb', as_version=4)
        for cell, solution in zip(answer_cells(student), solution_answers(exercise)):
            for target in re.findall(r'^\s*([\w, ]+?|\w+\[.+?\]) = \.\.\.(?:, \.\.\.)*\s*(?:#.*)?$',
                                     cell.source, re.M):
                base = re.match(r'\w+', target).group(0)
                reads = [line.strip() for line in statements(solution)
                         if LIBRARY_CALL.search(line) and re.search(rf'\(.*\b{base}\b(?![.\[])', line)
                         and not line.strip().startswith(('#', '"""'))]
                if reads and not re.search(rf'\b{base}={base}\b', reads[0]):
                    late.append((exercise, target, reads[0]))
    assert not late, late


def test_a_value_left_as_dots_is_named_with_its_question_in_the_readers_language():
    import utils
    from utils import i18n
    utils.require_written(3, scratch_out=0.0, max_abs_diff=None, inits={'he': 1})  # written values pass
    with pytest.raises(NotImplementedError, match=r"^Question 1: INITS\['he'\] is still `\.\.\.`"):
        utils.require_written(1, INITS={'xavier': 1, 'he': ...})
    loops = {str(utils.not_written(3, loop=line)) for line in ('for i in a:', 'for j in b:')}
    assert len(loops) == 2 and all('the body of the loop `for ' in m for m in loops), loops
    with pytest.raises(NotImplementedError, match=r'^Question 3: scratch_own_out is still `\.\.\.`'):
        utils.require_written(3, scratch_out=0.0, scratch_own_out=...)
    i18n.use_language('zh')
    try:
        with pytest.raises(NotImplementedError, match='^问题 1：n_params_scratch 还是'):
            utils.require_written(1, n_params_scratch=...)
        assert str(utils.not_written(4, 'sgd')).startswith('问题 4：sgd 还没有写')
    finally:
        i18n.use_language('en')
