"""A student who runs a handed-out exercise notebook from top to bottom before writing anything
sees, at each blank answer, a sentence naming the question and what is left to write
(`utils.not_written`, `utils.require_written` in utils/exercise_checks.py), never a TypeError
raised by a later line that uses a `...`.

The notebooks run in this process under the smoke profile, as Jupyter's Run All does: each answer
cell first as handed out, then with the master's answer, so that the next question is reached.
"""
import ast
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
    'exercise_2_initialization': {1: "INITS['he']", 2: 'first', 4: 'net', 5: 'blank_net'},
    'exercise_3_lenet_hyperparameters': {1: 'recipe_net', 2: 'curve_net', 3: 'update_ratio', 4: 'fixed_lr'},
    'exercise_4_alexnet_from_scratch': {1: 'alexnet_shapes', 2: 'dropout', 3: 'scratch_out',
                                        4: '`for step in range(settings.train_steps):`'},
}
# {exercise: {question: (the left side of a solution line, the name the message gives)}}: the
# question's answer cell as the master answers it except that one line, left as handed out (`...`):
# a half-filled cell, which must stop on that blank before a utils or MXNet call, arithmetic or
# indexing fails on it (`first` in `ratio = last / first`, `curve` in `curve['loss']`).
HALF_FILLED = {
    'exercise_1_more_epochs': {1: ('alexnet_train, alexnet_test', 'alexnet_train')},
    'exercise_2_initialization': {1: ("INITS['he']", "INITS['he']"), 2: ('first', 'first'),
                                  5: ('zero_curve', 'zero_curve')},
    'exercise_3_lenet_hyperparameters': {1: ('trainer', 'trainer'), 2: ('curve', 'curve'),
                                         4: ('fixed_lr, fixed_init', 'fixed_lr')},
}
# where a `...` fails with a TypeError about 'ellipsis', not with the course's message: arithmetic,
# an ordering comparison or `in`, indexing, formatting, iterating, or being passed to a function
# (utils, MXNet, numpy, pandas and builtins like len() fail deep inside or with a message about
# something else). `name.attr` is left to Python: its AttributeError names the attribute on the
# student's own line. `is`, `==` and `if name:` never fail on `...`.
ARITHMETIC = (ast.BinOp, ast.UnaryOp, ast.AugAssign)
FAILING_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
CONTAINERS = (ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Starred, ast.keyword)
CHECK = re.compile(r'grader\.check\("q(\d+)"\)')


def question_of(cells, blank):
    """The number of the question whose `grader.check("qN")` cell comes first after `blank`."""
    for cell in cells[cells.index(blank) + 1:]:
        found = CHECK.match(cell.source) if cell.cell_type == 'code' else None
        if found:
            return int(found.group(1))
    raise AssertionError(f'no grader.check cell after the answer cell:\n{blank.source}')


def parents_of(tree):
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def use_of(node, parents, name):
    """How the Name `node` (a read of `name`) uses its value: 'check' (`require_written(...,
    name=name)`), 'fails' (a use that fails on `...`: the comment above ARITHMETIC) or None."""
    parent = parents[node]
    if isinstance(parent, ast.keyword) and parent.arg == name and isinstance(parents[parent], ast.Call) \
            and ast.unparse(parents[parent].func).endswith('require_written'):
        return 'check'
    if isinstance(parent, ast.Subscript):
        return None if isinstance(parent.ctx, ast.Store) and parent.value is node else 'fails'
    if isinstance(parent, ARITHMETIC + (ast.FormattedValue,)) or \
            (isinstance(parent, (ast.For, ast.comprehension)) and parent.iter is node) or \
            (isinstance(parent, ast.Compare) and any(isinstance(op, FAILING_COMPARISONS) for op in parent.ops)):
        return 'fails'
    child = node
    while isinstance(parent, CONTAINERS):
        child, parent = parent, parents[parent]
    return 'fails' if isinstance(parent, ast.Call) and parent.func is not child else None


def first_use_after_each_blank(solution, target):
    """[(name, the source line of its first use that is a check or fails on `...`)] for each name
    of `target` (`a`, `a, b` or `a['key']`) after each solution line that assigns `target`, up to
    the next line that assigns the name again."""
    tree = ast.parse(solution)
    parents, lines, out = parents_of(tree), solution.split('\n'), []
    names = [n.id for n in ast.walk(ast.parse(target)) if isinstance(n, ast.Name)]
    blanks = [s for s in ast.walk(tree) if isinstance(s, ast.Assign)
              and ast.unparse(s.targets[0]) == ast.unparse(ast.parse(target).body[0].value)]
    for blank, name in ((b, n) for b in blanks for n in names):
        after = (blank.end_lineno, blank.end_col_offset)
        nodes = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name
                        and (n.lineno, n.col_offset) > after), key=lambda n: (n.lineno, n.col_offset))
        for node in nodes:
            if isinstance(node.ctx, ast.Store):
                break
            use = use_of(node, parents, name)
            if use:
                out.append((name, use, lines[node.lineno - 1].strip()))
                break
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
    solution line after it that uses `name` where `...` fails (arithmetic, a comparison, indexing,
    formatting, a call: the comment above ARITHMETIC) is a utils.require_written(...) naming
    it, so that a half-filled cell stops with the course's message, never with a TypeError about
    'ellipsis'."""
    late = []
    for exercise in sorted(FIRST_BLANK):
        student = nbformat.read(ROOT / 'notebooks' / f'{exercise}.ipynb', as_version=4)
        for cell, solution in zip(answer_cells(student), solution_answers(exercise)):
            for target in re.findall(r'^\s*([\w, ]+?|\w+\[.+?\]) = \.\.\.(?:, \.\.\.)*\s*(?:#.*)?$',
                                     cell.source, re.M):
                late += [(exercise, name, line) for name, use, line
                         in first_use_after_each_blank(solution, target) if use != 'check']
    assert not late, late


def test_the_blank_reader_finds_arithmetic_indexing_formatting_and_calls_but_not_a_check_or_is():
    uses = {line: first_use_after_each_blank(f'x = f()\n{line}\ny = 1', 'x')
            for line in ['y = x * 2', 'y = -x', 'y = z[x]', "y = x['loss']", "print(f'{x}')",
                         'y = x > 2.2', 'y = len(x)', "y = g({'a': x})", 'for v in x: pass',
                         'utils.require_written(1, x=x)', 'y = x is None', 'y = x.mean()', 'x = 2']}
    assert [line for line, found in uses.items() if found == [('x', 'fails', line)]] == list(uses)[:9]
    assert uses['utils.require_written(1, x=x)'] == [('x', 'check', 'utils.require_written(1, x=x)')]
    assert uses['y = x is None'] == uses['y = x.mean()'] == uses['x = 2'] == []
    assert first_use_after_each_blank('a, b = f()\nc = a + b', 'a, b') == [
        ('a', 'fails', 'c = a + b'), ('b', 'fails', 'c = a + b')]
    assert first_use_after_each_blank("d = {}\nd['k'] = 1\nd['j'] = 2\ne = d['k'] / 2", "d['k']") == [
        ('d', 'fails', "e = d['k'] / 2")]


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
