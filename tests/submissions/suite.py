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

    def save(name, nb, **expect):
        nbformat.write(nb, folder / name)
        cases[name] = expect

    save('correct.ipynb', with_answers(student, correct), status='ok', full=True)
    save('partly_correct.ipynb', with_answers(student, partly), status='ok', honest='partly')
    broken = list(correct)
    broken[0] = broken[0] + '\nthis is not python ('
    save('syntax_error.ipynb', with_answers(student, broken), status='error',
         reason_has='SyntaxError', honest='syntax')
    save('infinite_loop.ipynb', with_answers(student, correct, before_answers=['while True:\n    pass']),
         status='timeout', full=True)
    sleeper = ('import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)  # ignore the interrupt\n'
               f'time.sleep({cell_timeout * 20})')
    save('sleep_past_timeout.ipynb', with_answers(student, correct, before_answers=[sleeper]),
         status='timeout', zero=True)
    save('kernel_death.ipynb', with_answers(student, correct, extra_cells=['import os\nos._exit(3)']),
         status='killed', zero=True)
    bomb = 'import numpy as np\nhog = []\nwhile True:\n    hog.append(np.ones(2**27, dtype=np.uint8))  # 128 MB each'
    save('memory_bomb.ipynb', with_answers(student, correct, before_answers=[bomb]),
         status='error', reason_has='MemoryError', full=True)
    flood = "for i in range(100):\n    print('x' * 2**20, flush=True)  # 100 MB of output, 1 MB at a time"
    save('huge_output.ipynb', with_answers(student, correct, extra_cells=[flood]), status='ok', full=True)
    (folder / 'corrupt_json.ipynb').write_text(nbformat.writes(with_answers(student, correct))[:-200])
    cases['corrupt_json.ipynb'] = dict(status='unreadable', zero=True)
    (folder / 'empty.ipynb').write_bytes(b'')
    cases['empty.ipynb'] = dict(status='unreadable', zero=True)
    (folder / 'not_a_notebook.ipynb').write_text('{"hello": "this is JSON, but not a notebook"}\n')
    cases['not_a_notebook.ipynb'] = dict(status='unreadable', zero=True)
    delete = (f"import os, shutil\nfor target in [{str(sentinel)!r}, {str(Path(sentinel).parent)!r}]:\n"
              "    try:\n        os.remove(target)\n    except Exception as err:\n        print('remove', err)\n"
              "    try:\n        shutil.rmtree(target)\n    except Exception as err:\n        print('rmtree', err)\n"
              f"try:\n    open({str(sentinel)!r}, 'w').write('overwritten')\nexcept Exception as err:\n"
              "    print('write', err)")
    save('delete_outside.ipynb', with_answers(student, partly, extra_cells=[delete]), status='ok',
         honest='partly')
    steal = (
        "import glob, os, zipfile\nstolen = []\n"
        f"candidates = [{str(autograder)!r}, '/proc/1/cmdline', '/proc/self/environ']\n"
        "for pattern in ['**/*.py', '**/*.zip', '../**/*.py', '../../**/*.zip', '../../**/*.py',\n"
        "                '/tmp/**/*.py', '/tmp/**/*.zip', '/tmp/**/*.json']:\n"
        "    candidates += glob.glob(pattern, recursive=True)\n"
        "for path in candidates:\n"
        "    try:\n"
        "        if path.endswith('.zip'):\n"
        "            with zipfile.ZipFile(path) as z:\n"
        "                stolen += [z.read(n).decode() for n in z.namelist() if n.startswith('tests/')]\n"
        "        else:\n"
        "            stolen.append(open(path, errors='replace').read())\n"
        "    except Exception as err:\n"
        "        print('cannot read', path, type(err).__name__)\n"
        "stolen = [s for s in stolen if 'hidden-' + 'marker' in s]\n"
        "print('\\n'.join(stolen))\n"
        "if stolen:  # use what was found to pass the hidden tests\n"
        "    import numpy as np\n"
        "    grid = np.linspace(0, 1, 5)\n")
    save('read_hidden_tests.ipynb', with_answers(student, partly, extra_cells=[steal]), status='ok',
         honest='partly')
    overwrite = (
        "import glob, os, zipfile\n"
        "always_pass = \"OK_FORMAT = True\\ntest = {'name': 'q', 'points': 100, 'suites': "
        "[{'cases': [{'code': '>>> True\\\\nTrue', 'hidden': False}]}]}\\n\"\n"
        f"targets = [{str(autograder)!r}] + glob.glob('**/tests', recursive=True) + ['tests', '../tests']\n"
        "for target in targets:\n"
        "    try:\n"
        "        if target.endswith('.zip'):\n"
        "            with zipfile.ZipFile(target, 'w') as z:\n"
        "                for q in ('q1', 'q2', 'q3'):\n"
        "                    z.writestr(f'tests/{q}.py', always_pass.replace(\"'q'\", repr(q)))\n"
        "        else:\n"
        "            os.makedirs(target, exist_ok=True)\n"
        "            for q in ('q1', 'q2', 'q3'):\n"
        "                open(os.path.join(target, q + '.py'), 'w').write(always_pass)\n"
        "    except Exception as err:\n"
        "        print('cannot write', target, type(err).__name__)\n"
        "# and fool tests that would run in this process\n"
        "import numpy as np\n"
        "np.allclose = lambda *a, **k: True\n"
        "class Anything(float):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "grid = Anything(0.0)\n")
    save('overwrite_tests.ipynb', with_answers(student, partly, extra_cells=[overwrite]), status='ok',
         honest='partly')
    return cases
