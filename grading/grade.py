"""Grade a folder of submitted exercise notebooks against one assignment's autograder.

    python -m grading ASSIGNMENT SUBMISSIONS_DIR --out OUT_DIR

ASSIGNMENT: an assignment name (`exercise_1_more_epochs`, or a unique prefix like `exercise_1`)
looked up in instructors/autograder/, or the path of an autograder .zip made by
scripts/make_exercises.py (otter-grader's format: tests/q*.py, public and hidden cases).

For every `*.ipynb` in SUBMISSIONS_DIR, in name order:
1. the notebook is read and checked (status `unreadable` if it is not a notebook);
2. it runs in a fresh temporary folder, as `nobody` when the grader runs as root, with a per-cell
   and a total time limit and a memory cap, walled off from the rest of the machine
   (see grading/sandbox.py); afterwards its variables are exported as plain data;
3. a separate process, outside that folder, runs the public and hidden tests against that data.
   The tests are never copied where the submission's code runs.
Writes OUT_DIR/grades.csv (rewritten atomically after each submission; rows of submissions not
graded in this run are kept, the previous version goes to OUT_DIR/history/), OUT_DIR/written.csv
(created once for the written questions' points and comments, never rewritten),
OUT_DIR/feedback/<name>.md (per question: what failed and where; rendered by grading/feedback.py),
OUT_DIR/executed/<name>.ipynb (the run, with figures) and OUT_DIR/private/ (records with the
hidden tests' failure messages, for instructors). See grading/gradebook.py.
`--only FILE...` re-grades chosen files, `--roster CSV` keys rows by student id, `--deadline`
flags late files. Class tools: `python -m grading written|report|export ASSIGNMENT OUT_DIR`
(grading/classtools.py).

Statuses: ok (every cell ran without an error), error (some cell raised; the rest still ran and
was graded), timeout (a cell or the whole notebook hit its limit), killed (the kernel died, e.g.
`os._exit` or a crash), unreadable (not a notebook). Exit code 0 whatever the submissions did;
2 when the grader itself cannot run (missing assignment or folder, no notebook found, a bad
roster or written.csv).

This module runs twice more as a script (`python grading/grade.py --run-tests`): the test process.
It must not import the `utils` package at module level (that would import MXNet in every process).
"""
import argparse
import io
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER_DIR = ROOT / 'instructors' / 'autograder'
QUESTIONS_FILE = 'course_questions.json'   # written into each autograder zip by make_exercises.py
STATUSES = ('ok', 'error', 'timeout', 'killed', 'unreadable')
MAX_SUBMISSION_BYTES = 50 * 2**20
TRUSTED_NAMES = ('np', 'numpy', 'pd', 'pandas', 'math')
UTILS_NAMES = ('utils', 'mx', 'nd')


class GraderError(Exception):
    """The grader itself cannot run (bad arguments, missing files)."""


# ----------------------------------------------------------------------------- the autograder

class Assignment:
    """Tests and question list of one autograder zip."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            with zipfile.ZipFile(self.path) as zf:
                files = {n: zf.read(n).decode('utf-8') for n in zf.namelist()
                         if n.startswith('tests/') and n.endswith('.py') or n == QUESTIONS_FILE
                         or n == 'otter_config.json'}
        except (OSError, zipfile.BadZipFile) as err:
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
        questions = json.loads(files[QUESTIONS_FILE]) if QUESTIONS_FILE in files else [
            {'name': q, 'manual': False} for q in self.tests]
        self.questions = questions
        self.auto = [q['name'] for q in questions if not q.get('manual')]
        self.manual = [q['name'] for q in questions if q.get('manual')]
        self.possible = {q: possible_points(self.tests[q]) for q in self.auto if q in self.tests}
        self.max_score = sum(self.possible.values())


def find_assignment(spec, private=False):
    path = Path(spec)
    if private or path.suffix == '.zip':
        if not path.is_file():
            raise GraderError(f"autograder {path} does not exist")
        return Assignment(path)
    candidates = sorted(AUTOGRADER_DIR.glob('*.zip'))
    exact = [p for p in candidates if p.stem == spec]
    matches = exact or [p for p in candidates if p.stem.startswith(spec)]
    if len(matches) != 1:
        names = ', '.join(p.stem for p in candidates) or 'none (run scripts/make_exercises.py)'
        raise GraderError(f"assignment {spec!r} {'is ambiguous' if matches else 'not found'}; "
                          f"known assignments: {names}")
    return Assignment(matches[0])


# ----------------------------------------------------------------------------- running tests
# Same semantics as otter-grader 7 OKTestFile (points split over cases without their own points;
# a case passes when its doctest passes), without importing otter in the test process.

def case_points(spec):
    cases = spec['suites'][0]['cases']
    total = spec.get('points')
    given = [c.get('points') for c in cases]
    if isinstance(total, list):
        given, total = list(total), None
    fixed = sum(p for p in given if p is not None)
    free = sum(1 for p in given if p is None)
    if total is not None:
        share = (total - fixed) / free if free else 0.0
    elif fixed == 0:
        share = 1 / free if free else 0.0
    else:
        share = 0.0
    return [p if p is not None else share for p in given]


def possible_points(spec):
    return sum(case_points(spec))


def run_doctest(name, code, env):
    import doctest
    from contextlib import redirect_stderr, redirect_stdout
    examples = [e for e in doctest.DocTestParser().parse(code, name) if isinstance(e, doctest.Example)]
    test = doctest.DocTest(examples, env, name, None, None, code)
    runner = doctest.DocTestRunner(verbose=False)
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        runner.run(test, clear_globs=False, out=out.write)
    return runner.failures == 0, out.getvalue()


def run_tests_main():
    """Test process: read the job on stdin, print results as JSON."""
    job = json.loads(sys.stdin.read())
    os.environ.setdefault('MPLBACKEND', 'Agg')
    sys.path.insert(0, job['sandbox_module_dir'])
    import sandbox  # noqa: E402  (grading/sandbox.py, standard library at import)
    try:
        namespace, skipped = sandbox.read_exported(job['private_dir'])
    except Exception as err:  # tampered or truncated export: nothing to grade
        namespace, skipped = {}, {'(all)': f'the exported variables could not be read ({err})'[:300]}
    import math
    import numpy as np
    import pandas as pd
    trusted = {'np': np, 'numpy': np, 'pd': pd, 'math': math}
    codes = ''.join(c['code'] for spec in job['tests'].values() for c in spec['suites'][0]['cases'])
    if re.search(r'\b(utils|mx|nd)\b', codes):
        sys.path.insert(0, job['repo'])
        os.environ['COURSE_PROFILE'] = job.get('profile', 'smoke')
        import utils
        trusted.update(utils=utils, mx=utils.mx, nd=utils.mx.nd)
    # The grader's own settings for this assignment under the profile it graded with, so that
    # tests never trust the submission's variables (epochs, sizes, learning rates).
    trusted['course_settings'] = course_settings(job['repo'], job.get('assignment'),
                                                 job.get('profile', 'smoke'))
    env = dict(namespace)
    env.update(trusted)  # the submission cannot replace the tests' own modules
    results = {}
    for qname, spec in job['tests'].items():
        cases = spec['suites'][0]['cases']
        points = case_points(spec)
        out = []
        for i, (case, pts) in enumerate(zip(cases, points)):
            try:
                passed, message = run_doctest(f'{qname} {i}', case['code'], env)
            except BaseException as err:  # a test must never take the grader down
                passed, message = False, f'{type(err).__name__}: {err}'
            out.append({'hidden': bool(case.get('hidden', True)), 'passed': passed,
                        'points': pts, 'message': '' if passed else message[-3000:]})
        results[qname] = out
    sys.stdout.write(json.dumps({'results': results, 'skipped': skipped}))


def course_settings(repo, assignment, profile):
    """utils/recipes.py's settings for `assignment` under `profile` (a namespace; None for an
    assignment it does not know). Loaded by file path: recipes.py is standard library only."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('course_recipes',
                                                  os.path.join(repo, 'utils', 'recipes.py'))
    recipes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipes)
    if assignment not in recipes.NOTEBOOKS:
        return None
    return recipes.settings_for(assignment, profile)


def run_tests(assignment, private_dir, *, exported, timeout, memory_bytes, profile):
    """Results per question ({q: [case results]}), skipped variables, and a problem (or None)."""
    if not exported:
        return {}, {}, 'the notebook\'s variables could not be read (it did not finish)'
    job = {'tests': {q: assignment.tests[q] for q in assignment.auto if q in assignment.tests},
           'private_dir': str(private_dir), 'repo': str(ROOT), 'profile': profile,
           'assignment': assignment.name,
           'sandbox_module_dir': str(Path(__file__).resolve().parent)}

    def limits():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    env = {'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8', 'HOME': str(private_dir),
           'MPLCONFIGDIR': str(Path(private_dir) / 'mpl'), 'PYTHONDONTWRITEBYTECODE': '1'}
    for key in ('FASHION_MNIST_DIR',):
        if key in os.environ:
            env[key] = os.environ[key]
    try:
        proc = subprocess.run([sys.executable, '-I', '-B', str(Path(__file__).resolve()), '--run-tests'],
                              input=json.dumps(job), capture_output=True, text=True,
                              timeout=timeout, preexec_fn=limits, env=env, cwd=str(private_dir))
    except subprocess.TimeoutExpired:
        return {}, {}, f'the tests took longer than {timeout} s'
    try:
        answer = json.loads(proc.stdout)
        return answer['results'], answer['skipped'], None
    except (ValueError, KeyError):
        tail = proc.stderr.strip().splitlines()[-1:] or ['no output']
        return {}, {}, f'the test process failed ({tail[0][:200]})'


# ----------------------------------------------------------------------------- one submission

def read_submission(path):
    """(notebook JSON text without outputs, None) or (None, why it is unreadable)."""
    import nbformat
    from .batch import is_notebook_name, kind_of
    kind = kind_of(path)
    if kind:
        return None, f'not a notebook file: {kind}'
    if not is_notebook_name(path):
        return None, 'not a notebook (the name does not end in .ipynb)'
    try:  # never follows a link, never blocks on a FIFO swapped in since
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        return None, f'cannot read the file ({err.strerror})'
    with os.fdopen(fd, 'rb') as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, 'not a regular file'
        if info.st_size == 0:
            return None, 'empty file'
        if info.st_size > MAX_SUBMISSION_BYTES:
            return None, f'file is larger than {MAX_SUBMISSION_BYTES // 2**20} MB'
        try:
            raw = f.read(MAX_SUBMISSION_BYTES + 1)
        except OSError as err:
            return None, f'cannot read the file ({err.strerror})'
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        return None, 'not a notebook (not UTF-8 text)'
    try:
        data = json.loads(text)
    except ValueError as err:
        return None, f'not a notebook (invalid JSON: {err.msg} at line {err.lineno})'
    if not isinstance(data, dict) or not isinstance(data.get('cells'), list) \
            or 'nbformat' not in data:
        return None, 'not a notebook (JSON without notebook cells)'
    try:
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.cells:
            if cell.get('cell_type') not in ('code', 'markdown', 'raw') or \
                    not isinstance(cell.get('source'), str):
                raise ValueError('a cell has no type or source')
            if cell.cell_type == 'code':
                cell.outputs, cell.execution_count = [], None
    except Exception as err:
        return None, f'not a notebook ({str(err).splitlines()[0][:150] if str(err) else type(err).__name__})'
    return nbformat.writes(nb), None


def describe_run(run, limits):
    """(status, reason, notes) from the sandbox's report. The report may be forged by the
    submission, which can only make its own row worse, never better."""
    summary = run['summary'] or {}
    cell = lambda i: f'cell {i + 1}' if isinstance(i, int) else 'a cell'  # noqa: E731
    notes = []
    if summary.get('truncated_output'):
        notes.append(f"output beyond {limits['max_output_mb']} MB was dropped")
    for note in summary.get('notes') or []:
        notes.append(str(note)[:300])
    errors = [e for e in summary.get('errors') or [] if isinstance(e, dict)]
    for e in errors:
        notes.append(f"{cell(e.get('cell'))} raised {e.get('ename')}: {e.get('evalue')}"[:300])
    notes += run.get('cleanup') or []
    if run.get('oom_kills'):
        notes.append(f"the memory limit for the whole submission ({limits.get('memory_mb', '?')} MB, "
                     f"all its processes together) was reached: {run['oom_kills']} process(es) killed")
    if run.get('channel_error') and not run['hard_timeout']:
        notes.append(f"no usable record from the sandbox: {run['channel_error']}")
    if run['hard_timeout']:
        return 'timeout', f"stopped at the total limit of {limits['total']} s", notes
    if not run['summary']:
        code = run['exit']
        how = f'signal {-code}' if isinstance(code, int) and code < 0 else f'exit code {code}'
        why = run.get('channel_error') or 'no report'
        tail = ' '.join((run.get('stderr_tail') or '').split()[-60:])
        if tail:
            notes.append(f'the sandbox worker said: ...{tail[-400:]}')
        return 'killed', f'no record from the sandbox ({why}; worker {how})', notes
    if summary.get('worker_error'):
        return 'error', f"the notebook could not be run: {summary['worker_error']}"[:300], notes
    dead = summary.get('dead_kernel')
    if dead:
        code = dead.get('returncode') if isinstance(dead, dict) else None
        how = f', signal {-code}' if isinstance(code, int) and code < 0 else \
            (f', exit code {code}' if code is not None else '')
        memory = ' (memory limit for the whole submission reached)' if run.get('oom_kills') else ''
        return 'killed', f"the kernel died in {cell(dead.get('cell') if isinstance(dead, dict) else None)}{how}{memory}", notes
    if summary.get('stuck') is not None:
        return 'timeout', (f"{cell(summary['stuck'])} exceeded the per-cell limit of {limits['cell']} s "
                           f"and ignored the interrupt; later cells did not run"), notes
    if summary.get('timeouts'):
        first = summary['timeouts'][0]
        return 'timeout', (f"{cell(first)} exceeded the per-cell limit of {limits['cell']} s "
                           f"(interrupted; later cells still ran)"), notes
    if summary.get('total_timeout'):
        return 'timeout', f"the total limit of {limits['total']} s was reached; later cells did not run", notes
    if errors:
        e = errors[0]
        memory = ' (memory cap reached)' if e.get('ename') == 'MemoryError' else ''
        more = f' and {len(errors) - 1} more error(s)' if len(errors) > 1 else ''
        return 'error', f"{cell(e.get('cell'))} raised {exception_name(e.get('ename'))}{memory}{more}", notes
    return 'ok', '', notes


def exception_name(ename):
    """An exception's class name for the gradebook's reason column, which is plain text: a
    (dotted) Python name as it is, anything else (a name made up to forge text) described."""
    ename = str(ename)
    return ename if re.fullmatch(r'[A-Za-z_][A-Za-z0-9_.]{0,99}', ename) else \
        'an exception whose class name is not a Python name'


def grade_one(path, assignment, options, scratch, name=None):
    """One gradebook row (dict) and the grading record (grading/feedback.py renders it).
    name: the file name its executed notebook is kept under (default: the file's own)."""
    from .feedback import make_record
    name = name or os.path.basename(path)
    text, why = read_submission(path)
    scores = {q: 0.0 for q in assignment.auto}
    if text is None:
        return row(name, 'unreadable', why, scores, assignment), make_record(
            name, assignment, 'unreadable', why, scores, {}, [])
    private = Path(tempfile.mkdtemp(prefix='tests-', dir=scratch))
    sweeper = getattr(options, 'sweeper', None)
    try:
        if sweeper:
            sweeper.started()
        try:
            run = sandbox().run_notebook(
                text, notebook_place(text), cell_timeout=options.cell_timeout,
                total_timeout=options.timeout, memory_bytes=options.memory_mb * 2**20,
                copy_dirs=[str(ROOT / 'utils'), str(ROOT / 'locale')], read_only=options.read_only,
                env=options.kernel_env,
                private_dir=str(private / 'export'),
                keep_executed=str(options.out / 'executed' / name) if options.keep_executed else None)
        finally:
            left = sweeper.finished() if sweeper else []
        run['cleanup'] = list(run.get('cleanup') or []) + left
        status, reason, notes = describe_run(run, options.limits)
        results, skipped, problem = run_tests(assignment, private / 'export', exported=run['exported'],
                                              timeout=options.test_timeout,
                                              memory_bytes=options.memory_mb * 2**20,
                                              profile=options.profile)
    finally:
        sandbox().remove_tree(str(private))
    for q, cases in results.items():
        if q in scores:
            scores[q] = sum(c['points'] for c in cases if c['passed'])
    clean = lambda s: sanitize(s, run.get('folder'))  # noqa: E731
    reason, notes = clean(reason), [clean(n) for n in notes]
    if problem:
        notes.append(problem)
    executed = options.out / 'executed' / name if options.keep_executed else None
    return (row(name, status, reason, scores, assignment),
            make_record(name, assignment, status, reason, scores, results, notes,
                        summary=run['summary'], nb_text=text, skipped=skipped, clean=clean,
                        executed_path=executed, cell_times=run.get('cell_times')))


def sanitize(text, folder):
    """Make messages identical between runs: no temporary paths, no colour codes; lone
    surrogates (from a submission's error message) escaped so that the text can be written."""
    text = re.sub(r'\x1b\[[0-9;]*m', '', str(text)).encode('utf-8', 'backslashreplace').decode('utf-8')
    if folder:
        text = text.replace(os.path.join(folder, 'run'), '<submission folder>').replace(folder, '<grader folder>')
    return re.sub(r'/tmp/(grade|tests)-[A-Za-z0-9_]+', '<grader folder>', text)


def row(name, status, reason, scores, assignment):
    score = round(sum(scores.values()), 4)
    out = {'submission': name, 'status': status, 'score': fmt(score),
           'max_score': fmt(assignment.max_score), 'reason': ' '.join(str(reason).split())[:300]}
    for q in assignment.questions:
        out[q['name']] = '' if q.get('manual') else fmt(scores.get(q['name'], 0.0))
    return out


def fmt(x):
    x = round(float(x), 4)
    return str(int(x)) if x == int(x) else f'{x:g}'


def sandbox():
    from . import sandbox as module
    return module


# ----------------------------------------------------------------------------- the folder


def notebook_place(text):
    """Where a submission runs, below the sandbox's notebooks/ folder: a Chinese edition notebook
    (notebooks/zh/ in the repository, `sys.path.append('../..')`) one folder deeper. The
    submission's metadata only picks one of these two fixed places."""
    try:
        language = json.loads(text).get('metadata', {}).get('course_edition', {}).get('language')
    except (ValueError, AttributeError):
        language = None
    return 'zh/submission.ipynb' if language == 'zh_CN' else 'submission.ipynb'


def grade_folder(assignment, submissions, options, log=print, book=None, entries=None):
    """Grade the planned files into the gradebook (grading/gradebook.py): rows of files not
    graded now are kept; written.csv is created once and never rewritten."""
    from .feedback import make_record
    from .gradebook import open_book
    if book is None:
        book = open_book(options.out, assignment, getattr(options, 'roster', None), log=log)
    if entries is None:
        entries = book.plan(submissions, getattr(options, 'only', None), getattr(options, 'deadline', None))
    from .batch import complete_plan
    # Every entry of the folder gets a row (other files, links, FIFOs, X.IPYNB, ...), every name
    # is escaped (undecodable bytes, control characters, spreadsheet formulas) before it is written.
    from .roster import lateness
    deadline = getattr(options, 'deadline', None)
    files = entries = complete_plan(entries, submissions, add_missing=not getattr(options, 'only', None),
                                    stamp=lambda path: lateness(path, deadline),
                                    reserved={k: r.get('safe') for k, r in book.records().items()})
    (options.out / 'feedback').mkdir(parents=True, exist_ok=True)
    if options.keep_executed:
        (options.out / 'executed').mkdir(parents=True, exist_ok=True)
    done = {}
    scratch = tempfile.mkdtemp(prefix='grade-scratch-')
    os.chmod(scratch, 0o700)

    def one(entry):
        start = time.time()
        name = entry['safe'] + '.ipynb'
        try:
            r, record = grade_one(entry['path'], assignment, options, scratch, name=name)
        except Exception as err:  # a grader bug on one file must not lose the others
            scores = {q: 0.0 for q in assignment.auto}
            why = f'grader error: {type(err).__name__}: {err}'
            r = row(name, 'error', why, scores, assignment)
            record = make_record(name, assignment, 'error', why, scores, {}, [])
        return entry, r, record, time.time() - start

    try:
        # Threads only wait on the sandboxes (separate processes); --jobs 1 grades one at a time.
        from concurrent.futures import ThreadPoolExecutor, as_completed
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            for future in as_completed([pool.submit(one, e) for e in files]):
                entry, r, record, seconds = future.result()
                done[entry['key']] = r
                try:
                    book.add(entry, record)  # its record, feedback and the whole grades.csv
                except Exception as err:  # e.g. its feedback cannot be written: a row all the same
                    why = sanitize(f'grader error: its results could not be written '
                                   f'({type(err).__name__}: {err})', None)
                    scores = {q: 0.0 for q in assignment.auto}
                    r = done[entry['key']] = row(entry['safe'] + '.ipynb', 'error', why, scores, assignment)
                    try:
                        book.add(entry, make_record(entry['safe'] + '.ipynb', assignment, 'error', why,
                                                    scores, {}, []))
                    except Exception as err2:
                        log(f"error: {entry['submission']}: no row could be written ({type(err2).__name__}: {err2})")
                late = f" (late: {entry['late']})" if entry['late'] else ''
                log(f"[{len(done)}/{len(files)}] {entry['submission']}: {r['status']}, {r['score']}/"
                    f"{r['max_score']} ({seconds:.0f} s){late}{' - ' + r['reason'] if r['reason'] else ''}")
        try:
            book.refresh()
        except Exception as err:  # every row was already written after its submission
            log(f'error: the gradebook could not be refreshed at the end ({type(err).__name__}: {err})')
    finally:
        sandbox().remove_tree(scratch)
    return [done[k] for k in sorted(done)]


def data_folder():
    folder = os.environ.get('FASHION_MNIST_DIR')
    if folder:
        return folder
    default = ROOT.parent / 'shared' / 'fashion-mnist'
    if default.is_dir():
        return str(default)
    try:  # the submissions run without network: fetch the data once, here
        # utils.data imports MXNet: only when the grader really has to download.
        sys.path.insert(0, str(ROOT))
        from utils.data import ensure_downloaded
        return str(ensure_downloaded())
    except Exception as err:
        print(f"warning: no Fashion-MNIST data ({err}); notebooks that load it will fail. "
              f"Set FASHION_MNIST_DIR to a folder with the four .gz files.", file=sys.stderr)
        return None


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='python -m grading', description=__doc__.split('\n\n')[0],
        epilog='Class tools, after grading: python -m grading written|report|export ASSIGNMENT OUT_DIR '
               '(pages for written answers, the class report, Canvas/Moodle gradebook CSVs; '
               'see instructors/README.md).')
    p.add_argument('assignment', nargs='?',
                   help='assignment name (e.g. exercise_1_more_epochs) or autograder .zip; '
                        'leave out with --autograder')
    p.add_argument('submissions', help='folder with the submitted .ipynb files')
    p.add_argument('--autograder', metavar='ZIP',
                   help='grade with this autograder zip (e.g. your private copy, kept outside the '
                        'repository: in a public repository the shipped hidden tests are public)')
    p.add_argument('--out', required=True, help='folder for grades.csv, feedback/ and executed/')
    p.add_argument('--profile', default='smoke', choices=('smoke', 'cpu', 'full'),
                   help='COURSE_PROFILE the notebooks run under (default smoke: the tests hold '
                        'under every profile, and smoke keeps each run to about a minute)')
    p.add_argument('--cell-timeout', type=int, default=300, help='seconds per cell (default 300)')
    p.add_argument('--timeout', type=int, default=900, help='seconds per notebook (default 900)')
    p.add_argument('--memory-mb', type=int, default=6144,
                   help='memory for the whole submission in MB (a cgroup, where the machine has '
                        'one) and address-space cap per process (default 6144)')
    p.add_argument('--test-timeout', type=int, default=300, help='seconds for the tests (default 300)')
    p.add_argument('--jobs', type=int, default=1,
                   help='submissions run at the same time (default 1; each uses the CPU cores)')
    p.add_argument('--no-executed', action='store_true', help='do not keep executed notebooks')
    p.add_argument('--only', nargs='+', metavar='FILE',
                   help='re-grade only these submissions (names or paths); every other row of '
                        'OUT/grades.csv is kept')
    p.add_argument('--roster', metavar='CSV',
                   help='students (student_id, and name/email/canvas_id/moodle_id/file columns as '
                        'available; a Canvas or Moodle gradebook export works): rows are keyed by '
                        'student id; Moodle and Canvas download names are recognised')
    p.add_argument('--deadline', metavar='ISO8601',
                   help='flag files modified after this time as late, e.g. 2026-12-01T23:59+01:00')
    p.add_argument('--reset-submitted', action='store_true',
                   help="take the files' submission time anew (the student handed in again); by "
                        "default a re-graded file keeps the time recorded when it was first graded")
    return p.parse_args(argv)


def main(argv=None):
    if argv is None and sys.argv[1:2] == ['--run-tests']:
        run_tests_main()
        return 0
    rest = sys.argv[1:] if argv is None else list(argv)
    if rest[:1] and rest[0] in ('written', 'report', 'export'):  # the class tools
        from .classtools import main as class_main
        return class_main(rest)
    for stream in (sys.stdout, sys.stderr):  # names and messages from submissions: never crash
        try:
            stream.reconfigure(errors='backslashreplace')
        except (AttributeError, ValueError):
            pass
    args = parse_args(argv)
    if bool(args.autograder) == bool(args.assignment):
        print('error: give either ASSIGNMENT or --autograder ZIP (not both)', file=sys.stderr)
        return 2
    try:
        assignment = find_assignment(args.assignment or args.autograder, private=bool(args.autograder))
        submissions = Path(args.submissions)
        if not submissions.is_dir():
            raise GraderError(f"submissions folder {submissions} does not exist")
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise GraderError(f"cannot create {out}: {err.strerror}") from None
        if out.resolve() == submissions.resolve():
            raise GraderError("--out must not be the submissions folder")
        from .gradebook import open_book
        from .roster import RosterError, parse_deadline
        try:
            args.deadline = parse_deadline(args.deadline)
            book = open_book(out, assignment, args.roster)
            entries = book.plan(submissions, args.only, args.deadline, reset_times=args.reset_submitted)
        except RosterError as err:
            raise GraderError(str(err)) from None
    except GraderError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    data = data_folder()
    # The sandbox binds the data's real path: hand the notebook that same path, not a link to it
    # (a link under /tmp would point into the submission's private /tmp, where it does not exist).
    data = os.path.realpath(data) if data else None
    args.out = out
    args.keep_executed = not args.no_executed
    args.read_only = [data] if data else []
    args.kernel_env = {'COURSE_PROFILE': args.profile, **({'FASHION_MNIST_DIR': data} if data else {})}
    # --jobs notebooks train at once: each gets its share of the cores, not all of them (MXNet's
    # default, one OpenMP thread per core, would run jobs x cores threads on the cores).
    args.kernel_env['OMP_NUM_THREADS'] = os.environ.get('OMP_NUM_THREADS') or \
        str(max(1, len(os.sched_getaffinity(0)) // max(1, args.jobs)))
    args.limits = {'cell': args.cell_timeout, 'total': args.timeout, 'max_output_mb': 2,
                   'memory_mb': args.memory_mb}
    print(f"Grading {assignment.name} ({len(assignment.auto)} auto-graded questions, "
          f"{assignment.max_score:g} points) | profile {args.profile} | limits: {args.cell_timeout} s "
          f"per cell, {args.timeout} s per notebook, {args.memory_mb} MB")
    warning = isolation_warning()
    if warning:
        print(f'warning: {warning}', file=sys.stderr)
    version, how = sandbox().memory_group_support()
    if version is None:  # said once per batch
        print(f'warning: {how}', file=sys.stderr)
    else:
        print(f'memory: {args.memory_mb} MB for all the processes of a submission together ({how})')
    from .batch import Sweeper
    args.sweeper = Sweeper(sandbox())
    try:
        for note in preflight(assignment, args):
            print(f'warning: {note}', file=sys.stderr)
    except GraderError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f"{len(entries)} submission(s) to grade" + (f" of {len(book.students)} students on the roster"
                                                      if book.students else ''))
    grade_folder(assignment, submissions, args, book=book, entries=entries)
    print(f"Wrote {out / 'grades.csv'} (written scores: {out / 'written.csv'}) and {out / 'feedback'}/")
    return 0


PREFLIGHT = '''
readable = []
for path in {paths!r}:
    try:
        with open(path, 'rb') as f:
            f.read(1)
        readable.append(path)
    except OSError:
        pass
ready = 1
'''


def preflight(assignment, args):
    """Run a two-line notebook in the sandbox before grading anything: if that fails, the grader
    cannot run (exit 2) rather than mark every submission as broken. Returns warnings."""
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        PREFLIGHT.format(paths=[str(assignment.path.resolve())]))])
    with tempfile.TemporaryDirectory(prefix='grade-preflight-') as private:
        run = sandbox().run_notebook(nbformat.writes(nb), 'preflight.ipynb', cell_timeout=120,
                                     total_timeout=180, memory_bytes=args.memory_mb * 2**20,
                                     copy_dirs=[], read_only=args.read_only, env=args.kernel_env,
                                     private_dir=os.path.join(private, 'export'))
        summary = run['summary'] or {}
        namespace = {}
        if run['exported']:
            namespace, _ = sandbox().read_exported(os.path.join(private, 'export'))
    if namespace.get('ready') != 1:
        problem = summary.get('worker_error') or summary.get('dead_kernel') or \
            (summary.get('errors') or [None])[0] or run['stderr_tail'].strip()[-500:] or \
            f"worker exit code {run['exit']}"
        raise GraderError(f"the sandbox cannot run a notebook on this machine: {problem}")
    notes = list(summary.get('notes') or [])
    if namespace.get('readable'):
        notes.append('submissions can read the autograder file: keep it where the sandbox user '
                     'cannot read it (run as root, or on a kernel with Landlock)')
    return notes


def isolation_warning():
    module = sandbox()
    if module.landlock_abi() < 1:
        return ('this Linux kernel has no Landlock: submissions are kept from the tests only by '
                'file permissions' + ('' if os.geteuid() == 0 else ' and run as YOUR user; '
                                      'run the grader as root to run them as nobody'))
    return None


if __name__ == '__main__':
    if sys.argv[1:2] == ['--run-tests']:
        run_tests_main()
    else:
        sys.exit(main())
