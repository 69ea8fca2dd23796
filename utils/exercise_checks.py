"""`grader.check("q1")` in the exercise notebooks, offline and on Colab.

The student notebooks carry their public tests in a code cell (written by
scripts/make_exercises.py), not only in the notebook's metadata: on Colab the kernel cannot read
the notebook file, and otter-grader 7 refuses metadata tests there. `exercise_checker` writes
those tests into a temporary folder and returns an otter `Notebook` that reads them from it.
The instructors' grader (`python -m grading`) runs these public tests and hidden ones.
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
