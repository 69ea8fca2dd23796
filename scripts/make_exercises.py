"""Regenerate the exercise student notebooks and autograders from the instructors' masters.

    python scripts/make_exercises.py            # write notebooks/exercise_*.ipynb and
                                                # instructors/autograder/exercise_*.zip
    python scripts/make_exercises.py --check    # exit 1 if the committed files are out of date

For each instructors/masters/<name>.ipynb (an otter-grader 7 master notebook) this runs
`otter assign`, then makes the result deterministic and fit for the course:
- student notebook: solutions removed by otter (raw `# BEGIN SOLUTION`/`# END SOLUTION` cells
  around the solution; inside them, lines ending in `# SOLUTION` and `# BEGIN SOLUTION` ...
  `# END SOLUTION` blocks become `...`); the cell tagged `exercise-checker` gets the public tests,
  so `grader.check("q1")` works offline and on Colab; no outputs; stable cell ids; the book shows
  it unexecuted (`mystnb.execution_mode: off`). The build fails if any solution text survives.
- autograder: otter's zip (public + hidden tests), re-packed with fixed timestamps, plus
  course_questions.json (every question, its points, written or auto-graded) for grading.
"""
import argparse
import io
import json
import pprint
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
MASTERS = ROOT / 'instructors' / 'masters'
AUTOGRADERS = ROOT / 'instructors' / 'autograder'
STUDENT_DIR = ROOT / 'notebooks'
CHECKER_TAG = 'exercise-checker'
ANSWER_TAG = 'otter_answer_cell'
QUESTIONS_FILE = 'course_questions.json'
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def raw_text(cell):
    return cell.source.strip() if cell.cell_type == 'raw' else ''


def questions_of(master):
    """[{name, points, manual}] in notebook order, from the raw `# BEGIN QUESTION` cells."""
    out = []
    for cell in master.cells:
        text = raw_text(cell)
        if text.startswith('# BEGIN QUESTION'):
            config = yaml.safe_load(text[len('# BEGIN QUESTION'):]) or {}
            out.append({'name': config['name'], 'points': config.get('points'),
                        'manual': bool(config.get('manual', False))})
    return out


def solution_fragments(master):
    """Text that must never reach a student: solution lines and written-answer solutions
    (except text the master also shows outside its solutions, like `mx.random.seed(0)`)."""
    fragments, public, inside = [], [], False
    for cell in master.cells:
        text = raw_text(cell)
        if text == '# BEGIN SOLUTION':
            inside = True
            continue
        if text == '# END SOLUTION':
            inside = False
            continue
        if not inside:
            public.append(cell.source)
            continue
        if cell.cell_type == 'markdown':
            fragments.append(cell.source.strip())
            continue
        block = False
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped.endswith('# END SOLUTION'):
                block = False
                continue
            if re.match(r'#\s*BEGIN SOLUTION', stripped):
                block = True
                continue
            if block or re.search(r'#\s*SOLUTION$', stripped):
                code = re.sub(r'#\s*SOLUTION$', '', stripped).strip()
                if len(code) >= 12:  # shorter lines (`return x`) could appear in the prompt
                    fragments.append(code)
            else:
                public.append(line)
    public = '\n'.join(public)
    return [f for f in fragments if f not in public]


def check_no_solutions(master, student_text):
    leaks = [f for f in solution_fragments(master) if f and f in student_text]
    markers = [m for m in ('BEGIN SOLUTION', 'END SOLUTION', '# SOLUTION') if m in student_text]
    if leaks or markers:
        shown = '; '.join((leaks + markers)[:3])
        raise SystemExit(f"solution text would reach the student notebook: {shown!r}. Put the "
                         f"solution between raw '# BEGIN SOLUTION' / '# END SOLUTION' cells and "
                         f"mark each solution line with '# SOLUTION'.")


def compact(tests):
    """Public tests without otter's default keys (they are long and say nothing)."""
    out = {}
    for name, spec in tests.items():
        cases = [{'code': c['code'], 'hidden': False} for c in spec['suites'][0]['cases']]
        out[name] = {'name': name, 'points': spec.get('points'), 'suites': [{'cases': cases}]}
    return out


def checker_source(public_tests):
    public_tests = compact(public_tests)
    return ('# Public tests: `grader.check("q1")` runs the ones for q1 on your variables. Generated\n'
            '# by scripts/make_exercises.py from the instructors\' master; do not edit. Your\n'
            '# instructor\'s grader runs these and hidden tests on the notebook you submit.\n'
            'grader = utils.exercise_checker(' + pprint.pformat(public_tests, width=96) + ')\n')


def tidy_answer(source):
    """One `...` for a run of removed solution lines at the same indentation."""
    out = []
    for line in source.splitlines():
        if line.strip() == '...' and out and out[-1] == line:
            continue
        out.append(line)
    return '\n'.join(out)


def check_compiles(nb, name):
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != 'code':
            continue
        lines = [l for l in cell.source.splitlines() if not l.lstrip().startswith(('%', '!'))]
        try:
            compile('\n'.join(lines), f'{name} cell {i}', 'exec')
        except SyntaxError as err:
            raise SystemExit(f"{name}: cell {i} of the student notebook is not valid Python after "
                             f"removing the solution ({err.msg}, line {err.lineno}). Use '# BEGIN "
                             f"SOLUTION' / '# END SOLUTION' lines around multi-line solution code.")


def student_notebook(otter_student, master, name):
    nb = otter_student
    for cell in nb.cells:
        if cell.cell_type == 'code' and ANSWER_TAG in cell.metadata.get('tags', []):
            cell.source = tidy_answer(cell.source)
    check_compiles(nb, name)
    public = nb.metadata.get('otter', {}).get('tests', {})
    tagged = [c for c in nb.cells if CHECKER_TAG in c.metadata.get('tags', [])]
    if len(tagged) != 1:
        raise SystemExit(f"{name}: the master needs exactly one code cell tagged {CHECKER_TAG!r} "
                         f"(after `import utils`); found {len(tagged)}")
    tagged[0].source = checker_source(public)
    tagged[0].metadata['tags'] = [CHECKER_TAG, 'hide-input']
    for i, cell in enumerate(nb.cells):
        cell['id'] = f'{name[:40]}-{i:03d}'.replace('_', '-')
        if cell.cell_type == 'code':
            cell.outputs, cell.execution_count = [], None
    nb.metadata = {
        'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'},
        'language_info': {'name': 'python'},
        # The site shows exercises as they are handed out: unexecuted (answers are the student's).
        'mystnb': {'execution_mode': 'off'},
        'otter': {'assignment_name': name},
    }
    nb.nbformat, nb.nbformat_minor = 4, 5
    text = nbformat.writes(nb) + '\n'
    check_no_solutions(master, text)
    return text


def deterministic_zip(otter_zip, questions):
    with zipfile.ZipFile(otter_zip) as zf:
        files = {n: zf.read(n) for n in zf.namelist() if not n.endswith('/')}
    files[QUESTIONS_FILE] = (json.dumps(questions, indent=1) + '\n').encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as zf:
        for n in sorted(files):
            info = zipfile.ZipInfo(n, date_time=ZIP_DATE)
            info.external_attr = (0o755 if n == 'run_autograder' else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[n])
    return out.getvalue()


def build(master_path):
    """(student notebook text, autograder zip bytes) for one master."""
    master_path = Path(master_path)
    name = master_path.stem
    master = nbformat.read(master_path, as_version=4)
    with tempfile.TemporaryDirectory(prefix='otter-assign-') as tmp:
        otter = Path(sys.executable).with_name('otter')
        cmd = [str(otter) if otter.exists() else 'otter', 'assign', '--no-run-tests', '--no-pdfs',
               str(master_path.resolve()), tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0:
            raise SystemExit(f"otter assign failed on {master_path}:\n{done.stdout}\n{done.stderr}")
        student = nbformat.read(Path(tmp) / 'student' / f'{name}.ipynb', as_version=4)
        zips = sorted((Path(tmp) / 'autograder').glob('*.zip'))
        if len(zips) != 1:
            raise SystemExit(f"otter assign made {len(zips)} autograder zips for {master_path}")
        return student_notebook(student, master, name), deterministic_zip(zips[0], questions_of(master))


def targets(name):
    return STUDENT_DIR / f'{name}.ipynb', AUTOGRADERS / f'{name}.zip'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='do not write; exit 1 if any committed file differs from a fresh build')
    parser.add_argument('masters', nargs='*', help='masters to build (default: all)')
    args = parser.parse_args(argv)
    masters = [Path(m) for m in args.masters] or sorted(MASTERS.glob('*.ipynb'))
    if not masters:
        raise SystemExit(f"no master notebooks in {MASTERS}")
    stale = []
    for master in masters:
        student_text, zip_bytes = build(master)
        student_path, zip_path = targets(master.stem)
        if args.check:
            # Notebooks compare by content, so that another tool's JSON formatting (e.g.
            # scripts/colab_cell.py --write) does not count as a change; zips byte for byte.
            if not student_path.exists() or nbformat.reads(student_path.read_text(encoding='utf-8'), 4) \
                    != nbformat.reads(student_text, 4):
                stale.append(student_path.relative_to(ROOT))
            if not zip_path.exists() or zip_path.read_bytes() != zip_bytes:
                stale.append(zip_path.relative_to(ROOT))
        else:
            AUTOGRADERS.mkdir(parents=True, exist_ok=True)
            student_path.write_text(student_text, encoding='utf-8')
            zip_path.write_bytes(zip_bytes)
            print(f"{master.relative_to(ROOT) if master.is_relative_to(ROOT) else master} -> "
                  f"{student_path.relative_to(ROOT)}, {zip_path.relative_to(ROOT)}")
    if stale:
        print('Out of date (run `python scripts/make_exercises.py` and commit): ' +
              ', '.join(map(str, stale)))
        return 1
    if args.check:
        print(f"{len(masters)} exercise(s) up to date")
    return 0


if __name__ == '__main__':
    sys.exit(main())
