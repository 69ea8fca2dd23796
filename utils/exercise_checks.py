"""`grader.check("q1")` in the exercise notebooks, offline and on Colab.

The student notebooks carry their public tests in a code cell (written by
scripts/make_exercises.py), not only in the notebook's metadata: on Colab the kernel cannot read
the notebook file, and otter-grader 7 refuses metadata tests there. `exercise_checker` writes
those tests into a temporary folder and returns an otter `Notebook` that reads them from it.
The instructors' grader (`python -m grading`) runs these public tests and hidden ones.

`not_written` and `require_written` are what a blank answer does until the student writes it: stop
with a sentence naming the question and what is left to write, instead of letting the lines after
it fail on `...` with a TypeError that says nothing about the exercise.
"""
import os
import pprint
import tempfile

OTTER_VERSION = '7.0.0'


def exercise_checker(public_tests):
    """An otter-grader `Notebook` whose `check(question)` runs `public_tests[question]`.

    public_tests: {question: otter OK-format test dict}, as generated into the notebook.
    """
    try:
        import otter
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"grader.check needs otter-grader: run `pip install otter-grader=={OTTER_VERSION}` "
            "(the first cell of the notebook does this on Colab), then run this cell again."
        ) from None
    folder = tempfile.mkdtemp(prefix='exercise-tests-')
    for name, spec in public_tests.items():
        with open(os.path.join(folder, f'{name}.py'), 'w', encoding='utf-8') as f:
            f.write('OK_FORMAT = True\n\ntest = ' + pprint.pformat(spec, width=100) + '\n')

    class QuietNotebook(otter.Notebook):
        """otter's Notebook without its `.OTTER_LOG` file (it would land next to the notebook)."""

        def _log_event(self, *args, **kwargs):
            pass

    return QuietNotebook(tests_dir=folder)


def not_written(question, name=None, loop=None):
    """The error a blank in an exercise raises (`raise utils.not_written(1, 'alexnet_shapes')`):
    which question, and which function (`name`), which loop's body (`loop`: the loop's first line,
    so that two blank loops of one question say which one is meant) or, without either, which line
    is still to write."""
    from .i18n import translate
    if loop:
        # the backticks go round the value: `{loop}` in the template would read as a MyST role
        template = translate('Question {question}: the body of the loop {loop} is not written '
                             'yet. Replace this `raise` line with your code, then run this cell again.')
    else:
        template = translate(
            'Question {question}: {name} is not written yet. Replace this `raise` line with your '
            'code, then run this cell again.' if name else
            'Question {question}: this part is not written yet. Replace this `raise` line with your '
            'code, then run this cell again.')
    return NotImplementedError(template.format(question=question, name=name, loop=f'`{loop}`'))


def _blanks(name, value):
    """The names of `value`'s parts still `...`: `name` itself, or `name['key']` for a dict entry
    (a dict the student completes, like `INITS['he'] = ...`)."""
    if value is Ellipsis:
        return [name]
    if isinstance(value, dict):
        return [f'{name}[{key!r}]' for key, item in value.items() if item is Ellipsis]
    return []


def require_written(question, **values):
    """Stop with a NotImplementedError naming the first of `values` (or the first entry of a dict
    among them) that is still `...` (the blank the student replaces with a value), before a line
    that uses it fails on `...`, possibly deep inside MXNet or utils."""
    from .i18n import translate
    for name, value in values.items():
        for blank in _blanks(name, value):
            raise NotImplementedError(translate(
                'Question {question}: {name} is still `...`. Write the code that sets it in this cell, then '
                'run this cell again.').format(question=question, name=blank))
