"""A suite of student submissions, good and bad, built from a generated student notebook.

`build_suite(student_nb, solutions, folder, ...)` writes one .ipynb per case into `folder` and
returns {file name: expectation}. Answers are filled in by replacing the student notebook's
`otter_answer_cell`s (the `...` placeholders) with code, as a student would.
"""
import copy
from pathlib import Path

import nbformat

ANSWER_TAG = 'otter_answer_cell'
MASTERS = Path(__file__).resolve().parents[2] / 'instructors' / 'masters'


def answer_cells(nb):
    return [c for c in nb.cells if c.cell_type == 'code' and ANSWER_TAG in c.metadata.get('tags', [])]


def solution_answers(name):
    """The master's solution code cells, in order: what a perfect student would type.
    name: an exercise in instructors/masters/, or the Path of a master notebook."""
    master = nbformat.read(name if isinstance(name, Path) else MASTERS / f'{name}.ipynb', as_version=4)
    answers, inside = [], False
    for cell in master.cells:
        text = cell.source.strip() if cell.cell_type == 'raw' else ''
        if text == '# BEGIN SOLUTION':
            inside = True
        elif text == '# END SOLUTION':
            inside = False
        elif inside and cell.cell_type == 'code':
            answers.append(cell.source)
    return answers


def with_answers(student_nb, answers, extra_cells=(), before_answers=()):
    """A copy of the student notebook with the code answer cells replaced, in order, by `answers`,
    `before_answers` inserted before the first answer and `extra_cells` appended at the end."""
    nb = copy.deepcopy(student_nb)
    cells = answer_cells(nb)
    assert len(cells) == len(answers), f'{len(cells)} answer cells, {len(answers)} answers'
    for cell, answer in zip(cells, answers):
        cell.source = answer
    first = nb.cells.index(cells[0])
    nb.cells[first:first] = [nbformat.v4.new_code_cell(src) for src in before_answers]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in extra_cells]
    return nb


# What the hostile submissions run after their answers. AUTOGRADER and SENTINEL stand for the
# repr of the autograder zip's path and of the file outside every sandbox.
DELETE_OUTSIDE = """\
import os, shutil
for target in [SENTINEL, SENTINEL_FOLDER]:
    try:
        os.remove(target)
    except Exception as err:
        print('remove', err)
    try:
        shutil.rmtree(target)
    except Exception as err:
        print('rmtree', err)
try:
    open(SENTINEL, 'w').write('overwritten')
except Exception as err:
    print('write', err)
"""
READ_HIDDEN_TESTS = """\
import glob, os, zipfile
stolen = []
candidates = [AUTOGRADER, '/proc/1/cmdline', '/proc/self/environ']
for pattern in ['**/*.py', '**/*.zip', '../**/*.py', '../../**/*.zip', '../../**/*.py',
                '/tmp/**/*.py', '/tmp/**/*.zip', '/tmp/**/*.json']:
    candidates += glob.glob(pattern, recursive=True)
for path in candidates:
    try:
        if path.endswith('.zip'):
            with zipfile.ZipFile(path) as z:
                stolen += [z.read(n).decode() for n in z.namelist() if n.startswith('tests/')]
        else:
            stolen.append(open(path, errors='replace').read())
    except Exception as err:
        print('cannot read', path, type(err).__name__)
stolen = [s for s in stolen if 'hidden-' + 'marker' in s]
print('\\n'.join(stolen))
if stolen:  # use what was found to pass the hidden tests
    import numpy as np
    grid = np.linspace(0, 1, 5)
"""
OVERWRITE_TESTS = """\
import glob, os, zipfile
always_pass = "OK_FORMAT = True\\ntest = {'name': 'q', 'points': 100, 'suites': [{'cases': [{'code': '>>> True\\\\nTrue', 'hidden': False}]}]}\\n"
targets = [AUTOGRADER] + glob.glob('**/tests', recursive=True) + ['tests', '../tests']
for target in targets:
    try:
        if target.endswith('.zip'):
            with zipfile.ZipFile(target, 'w') as z:
                for q in ('q1', 'q2', 'q3'):
                    z.writestr(f'tests/{q}.py', always_pass.replace("'q'", repr(q)))
        else:
            os.makedirs(target, exist_ok=True)
            for q in ('q1', 'q2', 'q3'):
                open(os.path.join(target, q + '.py'), 'w').write(always_pass)
    except Exception as err:
        print('cannot write', target, type(err).__name__)
# and fool tests that would run in this process
import numpy as np
np.allclose = lambda *a, **k: True
class Anything(float):
    def __eq__(self, other):
        return True
grid = Anything(0.0)
"""


def notebook_cases(correct, partly, *, autograder, sentinel, cell_timeout):
    """[(file name, answers, with_answers' keywords, expectation)] of the submissions that are
    notebooks: honest ones, then resource abuse, then attacks on the grader."""
    broken = [correct[0] + '\nthis is not python ('] + list(correct[1:])
    sleeper = ('import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)  # ignore the interrupt\n'
               f'time.sleep({cell_timeout * 20})')
    # numpy imported in a cell of its own: the bomb's cell limit is for the bomb, not the import
    bomb = 'hog = []\nwhile True:\n    hog.append(np.ones(2**27, dtype=np.uint8))  # 128 MB each'
    flood = "for i in range(100):\n    print('x' * 2**20, flush=True)  # 100 MB of output, 1 MB at a time"
    paths = {'AUTOGRADER': repr(str(autograder)), 'SENTINEL_FOLDER': repr(str(Path(sentinel).parent)),
             'SENTINEL': repr(str(sentinel))}

    def attack(code):
        for token, value in paths.items():
            code = code.replace(token, value)
        return dict(extra_cells=[code])
    return [
        ('correct.ipynb', correct, {}, dict(status='ok', full=True)),
        ('partly_correct.ipynb', partly, {}, dict(status='ok', honest='partly')),
        ('syntax_error.ipynb', broken, {}, dict(status='error', reason_has='SyntaxError', honest='syntax')),
        ('infinite_loop.ipynb', correct, dict(before_answers=['while True:\n    pass']),
         dict(status='timeout', full=True)),
        ('sleep_past_timeout.ipynb', correct, dict(before_answers=[sleeper]), dict(status='timeout', zero=True)),
        ('kernel_death.ipynb', correct, dict(extra_cells=['import os\nos._exit(3)']),
         dict(status='killed', zero=True)),
        ('memory_bomb.ipynb', correct, dict(before_answers=['import numpy as np', bomb]),
         dict(status='error', reason_has='MemoryError', full=True)),
        ('huge_output.ipynb', correct, dict(extra_cells=[flood]), dict(status='ok', full=True)),
        ('delete_outside.ipynb', partly, attack(DELETE_OUTSIDE), dict(status='ok', honest='partly')),
        ('read_hidden_tests.ipynb', partly, attack(READ_HIDDEN_TESTS), dict(status='ok', honest='partly')),
        ('overwrite_tests.ipynb', partly, attack(OVERWRITE_TESTS), dict(status='ok', honest='partly')),
    ]


def build_suite(student_nb_path, correct, partly, folder, *, autograder, sentinel, cell_timeout):
    """Write the submissions; return {name: dict(status=..., score=... or 'honest' key)}.

    correct / partly: the answer sources (one per answer cell) for a correct and a partly correct
    submission. autograder: absolute path of the autograder zip (the tampering submissions aim at
    it). sentinel: a file outside every sandbox that one submission tries to delete.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    student = nbformat.read(student_nb_path, as_version=4)
    cases = {}
    for name, answers, placement, expect in notebook_cases(correct, partly, autograder=autograder,
                                                           sentinel=sentinel, cell_timeout=cell_timeout):
        nbformat.write(with_answers(student, answers, **placement), folder / name)
        cases[name] = expect
    unreadable = {  # files the grader cannot read as a notebook
        'corrupt_json.ipynb': nbformat.writes(with_answers(student, correct))[:-200].encode(),
        'empty.ipynb': b'',
        'not_a_notebook.ipynb': b'{"hello": "this is JSON, but not a notebook"}\n'}
    for name, content in unreadable.items():
        (folder / name).write_bytes(content)
        cases[name] = dict(status='unreadable', zero=True)
    return cases
