"""One assignment's autograder zip (made by scripts/make_exercises.py, otter-grader's format).

The zip holds tests/q*.py (public and hidden cases), course_questions.json (every question in
notebook order, written ones marked `manual`), otter_config.json (the assignment's name) and,
for assignments that check how an answer was produced, probe.py (master cells tagged
`grader-probe`, run after the submission's last cell in the sandbox: see grade_one). A zip may
also carry reference.ipynb, the notebook the speed check compares against (grading/speed.py).
"""
import json
import zipfile
from pathlib import Path

from .testproc import possible_points

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER_DIR = ROOT / 'instructors' / 'autograder'
MASTERS_DIR = ROOT / 'instructors' / 'masters'
QUESTIONS_FILE = 'course_questions.json'   # written into each autograder zip by make_exercises.py
PROBE_FILE = 'probe.py'
REFERENCE_FILE = 'reference.ipynb'


class GraderError(Exception):
    """The grader itself cannot run (bad arguments, missing files)."""


def _wanted(name):
    return (name.startswith('tests/') and name.endswith('.py')) or \
        name in (QUESTIONS_FILE, 'otter_config.json', PROBE_FILE, REFERENCE_FILE)


class Assignment:
    """Tests, question list, probe and reference notebook of one autograder zip."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            with zipfile.ZipFile(self.path) as zf:
                files = {n: zf.read(n).decode('utf-8') for n in zf.namelist() if _wanted(n)}
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as err:
            raise GraderError(f"cannot read the autograder {self.path}: {err}") from None
        self.tests = {}
        for name, source in sorted(files.items()):
            if name.startswith('tests/'):
                scope = {}
                exec(compile(source, name, 'exec'), scope)  # the instructors' own test files
                spec = scope['test']
                self.tests[spec['name']] = spec
        if not self.tests:
            raise GraderError(f"{self.path} has no tests/*.py: is it an otter autograder zip?")
        config = json.loads(files.get('otter_config.json', '{}'))
        self.name = config.get('assignment_name') or self.path.stem
        self.questions = json.loads(files[QUESTIONS_FILE]) if QUESTIONS_FILE in files else [
            {'name': q, 'manual': False} for q in self.tests]
        self.auto = [q['name'] for q in self.questions if not q.get('manual')]
        self.manual = [q['name'] for q in self.questions if q.get('manual')]
        self.possible = {q: possible_points(self.tests[q]) for q in self.auto if q in self.tests}
        self.max_score = sum(self.possible.values())
        self.probe = files.get(PROBE_FILE)
        self.carried_reference = files.get(REFERENCE_FILE)

    def graded_tests(self):
        """{question: test spec} of the auto-graded questions, in question order."""
        return {q: self.tests[q] for q in self.auto if q in self.tests}

    def reference(self):
        """(notebook JSON text, where it came from) of the assignment's solution, or (None, why):
        the notebook the zip carries, else instructors/masters/<name>.ipynb."""
        if self.carried_reference:
            return self.carried_reference, f'{self.path.name}:{REFERENCE_FILE}'
        master = MASTERS_DIR / f'{self.name}.ipynb'
        if master.is_file():
            return master.read_text(encoding='utf-8'), str(master.relative_to(ROOT))
        return None, (f'no reference solution: neither {REFERENCE_FILE} in {self.path.name} nor '
                      f'{MASTERS_DIR.relative_to(ROOT)}/{self.name}.ipynb')


def find_assignment(spec, private=False):
    """The Assignment named `spec` (a name or unique prefix in instructors/autograder/, or a .zip
    path); `private`: `spec` is a path given with --autograder."""
    path = Path(spec)
    if private or path.suffix == '.zip':
        if not path.is_file():
            raise GraderError(f"autograder {path} does not exist")
        return Assignment(path)
    candidates = sorted(AUTOGRADER_DIR.glob('*.zip'))
    exact = [p for p in candidates if p.stem == spec]
    matches = exact or [p for p in candidates if p.stem.startswith(spec)]
    if len(matches) != 1:
        names = ', '.join(p.stem for p in candidates) or 'none (run python -m scripts.make_exercises)'
        raise GraderError(f"assignment {spec!r} {'is ambiguous' if matches else 'not found'}; "
                          f"known assignments: {names}")
    return Assignment(matches[0])
