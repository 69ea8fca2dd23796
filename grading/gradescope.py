"""Gradescope: `python -m grading gradescope ASSIGNMENT [--out PATH.zip]` writes an autograder zip in
Gradescope's format (https://gradescope-autograders.readthedocs.io/en/latest/specs/):

    setup.sh            installs the pinned stack (grading/templates/gradescope/setup.sh)
    run_autograder      grades /autograder/submission/*.ipynb   (grading/templates/gradescope/)
    course/             what the grader needs: grading/, utils/, locale/, requirements/,
                        scripts/setup_env.sh, instructors/autograder/<assignment>.zip,
                        gradescope.json (the assignment's name and the limits given here)

On Gradescope, `run_autograder` calls `python -m grading.gradescope run /autograder`: that runs
this course's own grader (`python -m grading grade`, the same sandbox and test process, no second
grader) on the one submitted notebook and turns its record into /autograder/results/results.json:
per question one test for the public cases (visibility `visible`) and one for the hidden cases
(`after_published`), scored like the grader's own score; outputs are the grader's feedback (for a
hidden test its hint, otter's failure_message, never its code). Written questions are left to
Gradescope's manual grading.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from .assignment import GraderError, find_assignment
from .options import positive
from .testproc import case_points

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / 'templates' / 'gradescope'
COURSE = 'course'                      # where the course's files sit inside the zip (and source/)
CONFIG = 'gradescope.json'
BUNDLED = ('grading', 'utils', 'locale', 'requirements')
# (package, why): what setup.sh installs with apt besides Python.
DEBIAN_PACKAGES = (('bubblewrap', 'the sandbox'), ('cgroup-tools', "the sandbox's cgroups"),
                   ('keyutils', "the sandbox's session keyring"), ('util-linux', "the sandbox's rlimits"),
                   ('ca-certificates', 'the Fashion-MNIST download'))
PUBLIC, HIDDEN = 'visible', 'after_published'


# ----------------------------------------------------------------------------- building the zip

def bundle_files(autograder_zip):
    """{path inside the zip: path here} of the course files the grader needs on Gradescope."""
    files = {}
    for top in BUNDLED:
        for path in sorted((ROOT / top).rglob('*')):
            if path.is_file() and '__pycache__' not in path.parts and path.suffix != '.pyc':
                files[f'{COURSE}/{path.relative_to(ROOT).as_posix()}'] = path
    files[f'{COURSE}/scripts/setup_env.sh'] = ROOT / 'scripts' / 'setup_env.sh'
    files[f'{COURSE}/instructors/autograder/{Path(autograder_zip).name}'] = Path(autograder_zip)
    return files


def setup_script():
    text = (TEMPLATES / 'setup.sh').read_text()
    return text.replace('@DEBIAN_PACKAGES@', ' '.join(p for p, _ in DEBIAN_PACKAGES)).replace(
        '@DEBIAN_PACKAGES_WHY@', ', '.join(f'{p} ({why})' for p, why in DEBIAN_PACKAGES))


def _add(zf, name, data, executable=False):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # same inputs, same zip
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_zip(assignment, out, limits):
    """Write Gradescope's autograder zip for `assignment` (an Assignment) to `out`, atomically."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {'assignment': assignment.path.stem, **limits}
    fd, tmp = tempfile.mkstemp(prefix='.gradescope-', suffix='.zip', dir=out.parent)
    try:
        with os.fdopen(fd, 'wb') as f, zipfile.ZipFile(f, 'w') as zf:
            _add(zf, 'setup.sh', setup_script(), executable=True)
            _add(zf, 'run_autograder', (TEMPLATES / 'run_autograder').read_bytes(), executable=True)
            _add(zf, f'{COURSE}/{CONFIG}', json.dumps(config, indent=1) + '\n')
            for name, path in sorted(bundle_files(assignment.path).items()):
                _add(zf, name, path.read_bytes(), executable=os.access(path, os.X_OK))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def build_parser():
    p = argparse.ArgumentParser(
        prog='python -m grading gradescope',
        description="Write a Gradescope autograder zip (setup.sh, run_autograder, this grader) for "
                    "one assignment; upload it in the assignment's Configure Autograder page.")
    p.add_argument('assignment', help='assignment name (e.g. exercise_1_more_epochs) or autograder .zip')
    p.add_argument('--out', help='the zip to write (default gradescope-<assignment>.zip)')
    p.add_argument('--profile', default='smoke', choices=('smoke', 'cpu', 'full'),
                   help='COURSE_PROFILE the notebooks run under on Gradescope (default smoke)')
    p.add_argument('--cell-timeout', type=positive, default=300, help='seconds per cell (default 300)')
    p.add_argument('--timeout', type=positive, default=900,
                   help="seconds per notebook (default 900); keep it under the Gradescope "
                        "assignment's own autograder timeout")
    p.add_argument('--memory-mb', type=positive, default=3072,
                   help="memory for the notebook in MB (default 3072); keep it under the memory "
                        "of the container chosen on Gradescope")
    return p


def main(argv):
    """`python -m grading gradescope ...` (argv[0] == 'gradescope'): exit code."""
    args = build_parser().parse_args(argv[1:])
    try:
        assignment = find_assignment(args.assignment)
    except GraderError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    out = Path(args.out or f'gradescope-{assignment.path.stem}.zip')
    if out.suffix.lower() != '.zip':
        print(f'error: --out {out} must end in .zip (Gradescope takes a zip)', file=sys.stderr)
        return 2
    limits = {'profile': args.profile, 'cell_timeout': args.cell_timeout,
              'timeout': args.timeout, 'memory_mb': args.memory_mb}
    build_zip(assignment, out, limits)
    print(f"Wrote {out}: upload it as the autograder of the Gradescope assignment "
          f"({assignment.name}, {assignment.max_score:g} auto-graded points"
          + (f"; written questions {', '.join(assignment.manual)} are graded by hand there"
             if assignment.manual else '') + ')')
    return 0


# ----------------------------------------------------------------------------- on Gradescope

def pick_submission(folder, assignment_name):
    """(the notebook to grade, None) or (None, why): the one .ipynb in the folder, or the one named
    after the assignment. Links are never followed."""
    notebooks = sorted(p for p in Path(folder).glob('*')
                       if p.suffix.lower() == '.ipynb' and p.is_file() and not p.is_symlink())
    named = [p for p in notebooks if p.stem == assignment_name]
    if len(notebooks) == 1 or len(named) == 1:
        return (named or notebooks)[0], None
    if not notebooks:
        return None, f'no notebook (.ipynb) was submitted: upload {assignment_name}.ipynb'
    names = ', '.join(p.name for p in notebooks)
    return None, (f'{len(notebooks)} notebooks were submitted ({names}): upload only one, or name '
                  f'the one to grade {assignment_name}.ipynb')


def grade_notebook(notebook, config, work):
    """Run `python -m grading grade` on the one notebook: (its record or None, its feedback
    Markdown, the grader's exit code, its log)."""
    submissions, out = Path(work) / 'submissions', Path(work) / 'out'
    submissions.mkdir()
    shutil.copyfile(notebook, submissions / 'submission.ipynb', follow_symlinks=False)
    command = [sys.executable, '-m', 'grading', 'grade', config['assignment'], str(submissions),
               '--out', str(out), '--no-speed-check', '--profile', config['profile'],
               '--cell-timeout', str(config['cell_timeout']), '--timeout', str(config['timeout']),
               '--memory-mb', str(config['memory_mb'])]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, errors='replace')
    records = sorted((out / 'private' / 'records').glob('*.json')) if out.is_dir() else []
    feedback = sorted((out / 'feedback').glob('*.md')) if out.is_dir() else []
    record = json.loads(records[0].read_text()) if records else None
    return record, (feedback[0].read_text() if feedback else ''), proc.returncode, proc.stdout + proc.stderr


def case_groups(assignment, record):
    """[(question, visibility, [(points, result or None)])] for every auto-graded question, public
    cases first; result: the grader's case result ({'hidden', 'passed', 'message', 'hint'})."""
    groups = []
    for q, spec in assignment.graded_tests().items():
        cases = spec['suites'][0]['cases']
        results = ((record or {}).get('results') or {}).get(q) or []
        for hidden, visibility in ((False, PUBLIC), (True, HIDDEN)):
            chosen = [(points, results[i] if i < len(results) else None)
                      for i, (case, points) in enumerate(zip(cases, case_points(spec)))
                      if bool(case.get('hidden', True)) == hidden]  # testproc.run_case's default
            if chosen:
                groups.append((q, visibility, chosen))
    return groups


def case_output(record, q, visibility, cases):
    """What the student reads under one test: the grader's own feedback lines for it."""
    from . import feedback as fb  # its renderers: the same words as the grader's feedback files
    results = [r for _, r in cases if r is not None]
    kind = 'public' if visibility == PUBLIC else 'hidden'
    if len(results) < len(cases):
        return f"The {kind} tests of {q} did not run: {record.get('reason') or 'the notebook did not finish'}."
    if all(r.get('passed') for r in results):
        return f"All {len(results)} {kind} test(s) of {q} passed."
    lines = fb._public_lines(record, results) if visibility == PUBLIC else fb._hidden_lines(q, results)
    return '\n'.join(lines).strip()


def results_json(assignment, record, feedback, seconds, warnings):
    """Gradescope's results.json (as a dict) from the grader's record of one submission."""
    tests = []
    for number, (q, visibility, cases) in enumerate(case_groups(assignment, record), start=1):
        max_score = sum(points for points, _ in cases)
        score = sum(points for points, r in cases if r and r.get('passed'))
        tests.append({'name': f"{q}: {'public' if visibility == PUBLIC else 'hidden'} tests",
                      'number': str(number), 'score': round(score, 4), 'max_score': round(max_score, 4),
                      'status': 'passed' if score >= max_score else 'failed',
                      'output': case_output(record, q, visibility, cases), 'output_format': 'md',
                      'visibility': visibility})
    output = feedback
    if warnings:  # never grade with a weaker sandbox without saying so
        output += '\n## How this notebook was isolated\n\n' + ''.join(f'- {w}\n' for w in warnings)
    return {'score': round(sum(float(v) for v in record['scores'].values()), 4),
            'execution_time': int(round(seconds)), 'output': output, 'output_format': 'md',
            'stdout_visibility': 'hidden', 'tests': tests,
            'extra_data': {'status': record.get('status'), 'reason': record.get('reason')}}


def not_graded(why, seconds, detail=''):
    """results.json when nothing could be graded: score 0, and the output says it is no grade.
    `detail` (the grader's log) is for the instructors: extra_data and stdout only."""
    return {'score': 0, 'execution_time': int(round(seconds)), 'output_format': 'md',
            'output': f'**Not graded:** {why}', 'stdout_visibility': 'hidden', 'tests': [],
            'extra_data': {'status': 'not graded', 'reason': why, 'detail': detail[-2000:]}}


def isolation_warnings(log):
    """The grader's warnings about this machine's sandbox (no Landlock, no memory cgroup, a
    sandbox that cannot run...), from its log."""
    return [line[len('warning: '):].strip() for line in log.splitlines() if line.startswith('warning: ')]


def write_results(root, result):
    results = Path(root) / 'results' / 'results.json'
    results.parent.mkdir(parents=True, exist_ok=True)
    tmp = results.with_name('.results.json.tmp')
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, results)
    print(f"score {result['score']}; wrote {results}")


def run(root):
    """Grade /autograder/submission (root: /autograder) into root/results/results.json; whatever
    goes wrong, a results.json that says the submission was not graded."""
    started = time.monotonic()
    try:
        result = grade_submission(Path(root), started)
    except Exception:  # a broken autograder zip or machine: said so, never a silent failure
        import traceback
        detail = traceback.format_exc()
        print(detail)
        result = not_graded('the autograder failed (the instructors see why in the autograder '
                            'output). This is not your score.', time.monotonic() - started, detail)
    write_results(root, result)
    return 0


def grade_submission(root, started):
    """results.json's content for the submission under root (/autograder)."""
    config = json.loads((ROOT / CONFIG).read_text())
    assignment = find_assignment(config['assignment'])
    notebook, why = pick_submission(root / 'submission', config['assignment'])
    result, detail = None, ''
    if notebook is not None:
        with tempfile.TemporaryDirectory(prefix='gradescope-') as work:
            record, feedback, code, log = grade_notebook(notebook, config, work)
        print(log)  # Gradescope keeps stdout for the instructors (results/stdout)
        if record is None:  # e.g. a container that refuses the sandbox: never grade without it
            detail = log
            why = (f'the autograder could not run on this machine (exit code {code}; the instructors '
                   f'see why in the autograder output). This is not your score.')
        else:
            result = results_json(assignment, record, feedback, time.monotonic() - started,
                                  isolation_warnings(log))
    if result is None:
        print(f'not graded: {why}')
        result = not_graded(why, time.monotonic() - started, detail)
    return result


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'run':
        sys.exit(run(sys.argv[2]))
    sys.exit(main(['gradescope', *sys.argv[1:]]))
