"""Where and how submissions are graded: the command line, the typed records of a run, the probe
handed to the sandbox, the speed check against the reference solution, and grading on Dask.

Everything runs the tests' tiny assignment (tests/submissions/tiny_master.ipynb): each notebook
costs seconds, not an MXNet training.
"""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, SHARED_DATA
from submissions.suite import with_answers

from grading import cli, runner, sandbox  # noqa: E402
from grading.assignment import Assignment, GraderError  # noqa: E402
from grading.checks import require_probe_support, supports_epilogue  # noqa: E402
from grading.options import GradeOptions  # noqa: E402
from grading.records import SandboxRun, UntrustedSummary, describe_run  # noqa: E402
from grading.speed import reference_notebook, speed_flags  # noqa: E402

TINY_MASTER = ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb'
CORRECT = ['total = sum(range(1, 11))', 'grid = np.linspace(0, 1, 5)',
           "table = pd.DataFrame({'n': [1, 2, 3]})\ntable['square'] = table['n'] ** 2"]
SLEEPY = ['import time\ntime.sleep(4)\ntotal = sum(range(1, 11))'] + CORRECT[1:]


def run_grader(*args, timeout=300):
    env = dict(os.environ, FASHION_MNIST_DIR=str(SHARED_DATA))
    return subprocess.run([sys.executable, '-m', 'grading', *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=timeout)


def rows_of(out):
    with open(Path(out) / 'grades.csv', newline='') as f:
        return {r['submission']: r for r in csv.DictReader(f) if r['submission'] != 'Points Possible'}


def write_class(folder, student, answers_by_name):
    folder.mkdir(parents=True, exist_ok=True)
    for name, answers in answers_by_name.items():
        nbformat.write(with_answers(student, answers), str(folder / name))
    return folder


def with_files(zip_path, target, extra):
    """A copy of an autograder zip with files added or replaced ({name: text})."""
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(target, 'w') as dst:
        for name in src.namelist():
            if name not in extra:
                dst.writestr(name, src.read(name))
        for name, text in extra.items():
            dst.writestr(name, text)
    return target


# ----------------------------------------------------------------------------- the command line

def test_every_command_is_listed_and_a_new_one_is_one_registration(monkeypatch, capsys):
    assert cli.main(['--help']) == 0
    shown = capsys.readouterr().out
    for name in ('grade', 'written', 'report', 'export', '--only', '--scheduler', '--workers'):
        assert name in shown
    seen = []
    monkeypatch.setitem(cli.COMMANDS, 'gradescope', cli.Command('gradescope', 'x', lambda a: seen.append(a) or 7))
    assert cli.main(['gradescope', 'a', 'b']) == 7 and seen == [['gradescope', 'a', 'b']]


def test_grade_named_or_left_out_grades_the_same(tiny_assignment, tmp_path):
    student, autograder = tiny_assignment
    subs = write_class(tmp_path / 'subs', student, {'a.ipynb': CORRECT})
    named = run_grader('grade', autograder, subs, '--out', tmp_path / 'named', '--cell-timeout', 20)
    assert named.returncode == 0, named.stderr[-2000:]
    assert rows_of(tmp_path / 'named')['a.ipynb']['score'] == '5'
    bad = run_grader(autograder, subs, '--out', tmp_path / 'x', '--jobs', '0')
    assert bad.returncode == 2 and 'not a positive whole number' in bad.stderr
    both = run_grader(autograder, subs, '--out', tmp_path / 'x', '--jobs', '2', '--scheduler', 'tcp://h:1',
                      '--workers', '2')
    assert both.returncode == 2 and 'not allowed with' in both.stderr


# ----------------------------------------------------------------------------- the sandbox's report

def test_a_forged_report_is_cut_to_known_fields_of_the_right_types():
    assert UntrustedSummary.from_report(['not', 'a', 'dict']) is None
    assert UntrustedSummary.from_report({}) is None
    forged = UntrustedSummary.from_report({
        'errors': [{'cell': True, 'ename': 'X' * 5000, 'evalue': 1}, 'junk'] + [{'cell': 1}] * 5000,
        'timeouts': ['1', -3, 2], 'dead_kernel': 'yes', 'stuck': 1.5, 'total_timeout': 'true',
        'cell_times': [[0, 'nan'], [1, 2.5], [True, 1], [2, float('nan')]], 'notes': [{'a': 1}],
        'injected': 'anything'})
    assert forged.errors[0].cell is None and len(forged.errors[0].ename) == 200
    assert len(forged.errors) == 1000 and forged.timeouts == (2,) and forged.stuck is None
    assert forged.dead_kernel is not None and forged.total_timeout is False
    assert forged.cell_times == ((1, 2.5),) and forged.notes == ("{'a': 1}",)
    run = SandboxRun(summary=forged, exit=0, hard_timeout=False, exported=True)
    outcome = describe_run(run, GradeOptions(Path('s'), Path('o'), cell_timeout=7).limits)
    assert outcome.status == 'killed' and outcome.reason == 'the kernel died in a cell'


def test_a_missing_report_is_a_killed_run_with_the_workers_last_words():
    run = SandboxRun.from_sandbox({'summary': None, 'exit': -9, 'hard_timeout': False, 'exported': False,
                                   'channel_error': 'the sandbox wrote no record', 'stderr_tail': 'Boom'})
    outcome = describe_run(run, GradeOptions(Path('s'), Path('o')).limits)
    assert outcome.status == 'killed' and 'signal 9' in outcome.reason
    assert any('Boom' in n for n in outcome.notes)


def test_a_probe_that_did_not_finish_is_noted_for_the_student():
    run = SandboxRun.from_sandbox({'summary': {'errors': []}, 'exit': 0, 'hard_timeout': False,
                                   'exported': True, 'epilogue_error': 'not run: the total time limit was reached'})
    outcome = describe_run(run, GradeOptions(Path('s'), Path('o')).limits)
    assert outcome.status == 'ok'
    assert outcome.notes == ["the grader's probe (run after your last cell) did not finish: "
                             "not run: the total time limit was reached"]


# ----------------------------------------------------------------------------- the probe

def probe_test(real_sources):
    """An OK-format test file: the probe's seed, the real sources, a failing case with a hint."""
    cases = [{'code': '>>> probe_seed == grader_seed and 0 <= grader_seed < 2**31\nTrue', 'hidden': True},
             {'code': f'>>> submission_sources == {real_sources!r}\nTrue', 'hidden': True},
             {'code': '>>> total == 56\nTrue', 'hidden': False, 'failure_message': 'Count again: 1 + ... + 10.'}]
    return 'test = ' + repr({'name': 'q1', 'points': 3, 'suites': [{'type': 'doctest', 'cases': cases}]})


class FakeSandbox:
    """run_notebook as grading/sandbox.py will have it (epilogue=): records the call and exports
    what the probe would have computed (the seed it was given) and a forged `submission_sources`."""

    def __init__(self):
        self.calls = []

    def run_notebook(self, notebook_text, notebook_name, *, cell_timeout, total_timeout, memory_bytes,
                     copy_dirs=(), read_only=(), env=None, private_dir, keep_executed=None, epilogue=None):
        import numpy as np
        self.calls.append(dict(text=notebook_text, epilogue=epilogue, env=dict(env or {})))
        seed = int(re.match(r'__grader_seed = (\d+)\n', epilogue).group(1)) if epilogue else -1
        os.makedirs(private_dir)
        names = {'probe_seed': {'t': 'int', 'v': str(seed)}, 'total': {'t': 'int', 'v': '55'},
                 'submission_sources': {'t': 'list', 'v': [{'t': 'json', 'v': 'forged'}]}}
        Path(private_dir, 'names.json').write_text(json.dumps({'names': names, 'skipped': {}}))
        np.savez(Path(private_dir, 'arrays.npz'))
        return {'summary': {'errors': [], 'cell_times': [[0, 0.1]]}, 'exit': 0, 'hard_timeout': False,
                'exported': True, 'channel_error': None, 'stderr_tail': '', 'cleanup': [], 'oom_kills': 0,
                'folder': None, 'executed_kept': False}


def probe_assignment(tmp_path, student):
    real = [c.source for c in student.cells if c.cell_type == 'code']
    zip_path = tmp_path / 'probe.zip'
    with zipfile.ZipFile(zip_path, 'w') as zf:
        zf.writestr('tests/q1.py', probe_test(real))
        zf.writestr('otter_config.json', json.dumps({'assignment_name': 'probe_fixture'}))
        zf.writestr('probe.py', 'probe_seed = __grader_seed\n')
    return Assignment(zip_path)


def grade_in_fake_sandbox(student, assignment, tmp_path, monkeypatch, *, runs=1, concurrent=1):
    """(FakeSandbox, records) of grading `student` `runs` times with runner.grade_job, its
    runtime prepared for `concurrent` notebooks at once."""
    fake = FakeSandbox()
    monkeypatch.setattr(sandbox, 'run_notebook', fake.run_notebook)
    options = GradeOptions(tmp_path / 'subs', tmp_path / 'out', cell_timeout=20, keep_executed=False)
    runtime = runner.Runtime.prepare(options, concurrent)
    try:
        job = runner.Job('a', 'a.ipynb', nbformat.writes(student))
        return fake, [runner.grade_job(job, assignment, options, runtime).record for _ in range(runs)]
    finally:
        runtime.close()


def test_the_probe_gets_a_fresh_seed_that_the_hidden_tests_see_with_the_real_sources(tiny_assignment, tmp_path, monkeypatch):
    student, _ = tiny_assignment
    fake, records = grade_in_fake_sandbox(student, probe_assignment(tmp_path, student), tmp_path,
                                          monkeypatch, runs=2)
    seeds = [int(c['epilogue'].split('\n')[0].split('= ')[1]) for c in fake.calls]
    assert all(c['epilogue'].endswith('\nprobe_seed = __grader_seed\n') for c in fake.calls)
    assert seeds[0] != seeds[1], 'a fresh seed for every run'
    for record in records:
        cases = record['results']['q1']
        assert [c['passed'] for c in cases] == [True, True, False], cases
        assert cases[2]['hint'] == 'Count again: 1 + ... + 10.' and cases[0]['hint'] is None
        assert record['scores']['q1'] == 2


def test_a_probe_without_a_sandbox_that_runs_it_stops_the_grader(tiny_assignment, tmp_path, monkeypatch):
    student, _ = tiny_assignment
    assignment = probe_assignment(tmp_path, student)

    def old_run_notebook(notebook_text, notebook_name, *, cell_timeout, total_timeout, memory_bytes,
                         copy_dirs=(), read_only=(), env=None, private_dir, keep_executed=None):
        raise AssertionError('never called')
    monkeypatch.setattr(sandbox, 'run_notebook', old_run_notebook)
    with pytest.raises(GraderError, match='carries a probe'):
        require_probe_support(assignment)


def test_the_sandbox_runs_the_probe_or_the_grader_refuses_the_assignment(tiny_assignment, tmp_path):
    """End to end with the real sandbox: the probe's variables reach the hidden tests, with the seed
    the grader drew; a sandbox without `epilogue=` stops the grader before anything runs."""
    student, autograder = tiny_assignment
    cases = [{'code': '>>> probe_seed == grader_seed\nTrue', 'hidden': True},
             {'code': ">>> probe_table_rows == 3 and any('square' in s for s in submission_sources)\nTrue",
              'hidden': True}]
    q3 = 'test = ' + repr({'name': 'q3', 'points': 1, 'suites': [{'type': 'doctest', 'cases': cases}]})
    zip_path = with_files(autograder, tmp_path / 'probe.zip', {
        'tests/q3.py': q3, 'probe.py': 'probe_seed = __grader_seed\nprobe_table_rows = len(table)\n'})
    subs = write_class(tmp_path / 'subs', student, {'a.ipynb': CORRECT})
    done = run_grader(zip_path, subs, '--out', tmp_path / 'out', '--cell-timeout', 20)
    if not supports_epilogue():
        assert done.returncode == 2 and 'carries a probe' in done.stderr, done.stderr[-2000:]
        return
    assert done.returncode == 0, done.stderr[-2000:]
    assert rows_of(tmp_path / 'out')['a.ipynb']['q3'] == '1'


# ----------------------------------------------------------------------------- threads

def threads_assignment(tmp_path):
    """An assignment whose one hidden test reports the OpenMP settings its process runs with."""
    case = (">>> import os\n>>> print(os.environ.get('OMP_NUM_THREADS'))\n2\n")
    zip_path = tmp_path / 'threads.zip'
    with zipfile.ZipFile(zip_path, 'w') as zf:
        zf.writestr('tests/q1.py', 'test = ' + repr({'name': 'q1', 'points': 1, 'suites': [
            {'type': 'doctest', 'cases': [{'code': case, 'hidden': True}]}]}))
        zf.writestr('otter_config.json', json.dumps({'assignment_name': 'threads_fixture'}))
    return Assignment(zip_path)


def test_the_notebook_and_its_test_process_both_get_the_submissions_share_of_the_cores(
        tiny_assignment, tmp_path, monkeypatch):
    # Two submissions at once on four cores: two OpenMP threads for each MXNet process of a
    # submission, its kernel's and its test process's (which scores the exported networks again).
    student, _ = tiny_assignment
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3})
    fake, (record,) = grade_in_fake_sandbox(student, threads_assignment(tmp_path), tmp_path,
                                            monkeypatch, concurrent=2)
    assert fake.calls[0]['env']['OMP_NUM_THREADS'] == '2'
    assert record['results']['q1'][0]['passed'], record['results']['q1'][0]['message']


def test_each_of_n_submissions_graded_at_once_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1})
    assert [runner.openmp_share(n) for n in (1, 2, 3)] == ['2', '1', '1']
    monkeypatch.setenv('OMP_NUM_THREADS', '3')  # the instructor's own choice wins
    assert runner.openmp_share(2) == '3'


# ----------------------------------------------------------------------------- the speed check

def test_speed_flags_only_questions_scored_far_faster_than_the_reference():
    def record(times, scores):
        return {'scores': scores, 'cell_times': [{'question': q, 'seconds': s} for q, s in times]}
    reference = {'q1': 40.0, 'q2': 1.0, 'q3': 8.0}
    fast = record([('q1', 2.0), ('q1', 1.0), ('q2', 0.01), ('q3', 7.0)], {'q1': 2, 'q2': 1, 'q3': 1})
    assert speed_flags(fast, reference, 0.25) == [{'question': 'q1', 'seconds': 3.0, 'reference_seconds': 40.0}]
    unscored = record([('q1', 2.0)], {'q1': 0})
    assert speed_flags(unscored, reference, 0.25) == []


def test_the_reference_runs_without_its_tests_and_probe(tmp_path):
    master = nbformat.read(str(TINY_MASTER), as_version=4)
    master.cells.append(nbformat.v4.new_code_cell('probe = 1', metadata={'tags': ['grader-probe']}))
    text, why = reference_notebook(nbformat.writes(master))
    codes = [c.source for c in nbformat.reads(text, as_version=4).cells if c.cell_type == 'code']
    assert why is None and not any('hidden-marker' in c or 'assert' in c or 'probe' in c for c in codes)
    assert 'total = sum(range(1, 11))  # SOLUTION' in codes


def test_the_reference_run_gets_no_probe_and_no_tests_while_a_submission_gets_both(tiny_assignment,
                                                                                 tmp_path, monkeypatch):
    """The speed check reads only the reference's cell times: its probe and tests are not run."""
    student, _ = tiny_assignment
    assignment = probe_assignment(tmp_path, student)
    fake, tested = FakeSandbox(), []
    monkeypatch.setattr(sandbox, 'run_notebook', fake.run_notebook)
    real_tests = runner.run_tests
    monkeypatch.setattr(runner, 'run_tests', lambda *a, **k: tested.append(k['grader_seed']) or real_tests(*a, **k))
    options = GradeOptions(tmp_path / 'subs', tmp_path / 'out', cell_timeout=20, keep_executed=False)
    runtime = runner.Runtime.prepare(options, 1)
    try:
        records = [runner.grade_job(runner.Job('k', 'a.ipynb', nbformat.writes(student), reference=reference),
                                    assignment, options, runtime).record for reference in (True, False)]
    finally:
        runtime.close()
    assert [c['epilogue'] is None for c in fake.calls] == [True, False]
    assert len(tested) == 1 and f'__grader_seed = {tested[0]}' in fake.calls[1]['epilogue']
    assert records[0]['status'] == 'ok' and records[0]['scores']['q1'] == 0
    assert records[1]['scores']['q1'] == 2


def test_the_reference_seconds_are_reused_by_a_later_batch_into_the_same_out_with_the_same_settings(
        tiny_assignment, tmp_path, monkeypatch):
    """A second batch into the same OUT (re-grading, late submissions) reuses the reference's
    seconds instead of running it again, unless the settings differ or the measurement is old."""
    import datetime as dt
    from grading import speed
    from grading.records import Graded
    _, autograder = tiny_assignment
    master = nbformat.read(str(TINY_MASTER), as_version=4)
    assignment = Assignment(with_files(autograder, tmp_path / 'ref.zip', {'reference.ipynb': nbformat.writes(master)}))
    options = GradeOptions(tmp_path / 'subs', tmp_path / 'out', jobs=2)
    first = speed.SpeedCheck(assignment, options, log=lambda m: None)
    assert first.waiting
    ran = {'status': 'ok', 'scores': {'q1': 0.0}, 'cell_times': [{'question': 'q1', 'seconds': 9.0}]}
    first.settle(Graded(ran))
    said = []
    again = speed.SpeedCheck(assignment, options, log=said.append)
    assert again.job is None and not again.waiting and again.reference == {'q1': 9.0}
    assert 'reused' in said[0] and 'q1 9.0 s' in said[0]
    assert speed.SpeedCheck(assignment, GradeOptions(tmp_path / 'subs', tmp_path / 'out', jobs=1)).waiting
    assert speed.SpeedCheck(assignment, GradeOptions(tmp_path / 'subs', tmp_path / 'other', jobs=2)).waiting
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=speed.MAX_REUSE_SECONDS + 1)
    assert speed.read_kept(tmp_path / 'out' / speed.KEPT_FILE, now=later) == {}
    (tmp_path / 'out' / speed.KEPT_FILE).write_text('{"x": {"seconds": "bad"}}')
    assert speed.SpeedCheck(assignment, options).waiting


def test_a_question_answered_far_faster_than_the_reference_is_flagged(tiny_assignment, tmp_path):
    student, autograder = tiny_assignment
    master = nbformat.read(str(TINY_MASTER), as_version=4)
    for cell in master.cells:
        if cell.source.startswith('total = sum'):
            cell.source = SLEEPY[0]
    zip_path = with_files(autograder, tmp_path / 'speed.zip', {'reference.ipynb': nbformat.writes(master)})
    subs = write_class(tmp_path / 'subs', student, {'fast.ipynb': CORRECT, 'slow.ipynb': SLEEPY})
    done = run_grader(zip_path, subs, '--out', tmp_path / 'out', '--jobs', 2, '--cell-timeout', 20)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'speed check: reference solution' in done.stdout
    records = {json.loads(p.read_text())['submission']: json.loads(p.read_text())
               for p in (tmp_path / 'out' / 'private' / 'records').glob('*.json')}
    assert set(records) == {'fast.ipynb', 'slow.ipynb'}, 'the reference gets no row'
    [flag] = records['fast.ipynb']['speed_flags']
    assert flag['question'] == 'q1' and flag['seconds'] < 0.25 * flag['reference_seconds']
    assert 'speed_flags' not in records['slow.ipynb']
    plain = run_grader(autograder, subs, '--out', tmp_path / 'plain', '--cell-timeout', 20)
    assert plain.stdout.count('speed check skipped: no reference solution') == 1


# ----------------------------------------------------------------------------- Dask

def feedback_without_times(out):
    return {p.name: re.sub(r'## Run time of each code cell.*?(?=\n## |\Z)', '', p.read_text(), flags=re.S)
            for p in sorted((Path(out) / 'feedback').glob('*.md'))}


def test_a_local_dask_cluster_grades_like_jobs_2(tiny_assignment, tmp_path):
    student, autograder = tiny_assignment
    partly = ['total = 55', 'grid = np.zeros(5)', CORRECT[2]]
    subs = write_class(tmp_path / 'subs', student, {'correct.ipynb': CORRECT, 'partly.ipynb': partly,
                                                    'broken.ipynb': [CORRECT[0], '1/0', CORRECT[2]]})
    (subs / 'not_a_notebook.ipynb').write_text('{')
    outs = {}
    for engine in (('--jobs', 2), ('--workers', 2)):
        out = tmp_path / engine[0][2:]
        done = run_grader(autograder, subs, '--out', out, *engine, '--cell-timeout', 20)
        assert done.returncode == 0, done.stderr[-2000:]
        outs[engine[0]] = out
    assert rows_of(outs['--jobs']) == rows_of(outs['--workers'])
    assert feedback_without_times(outs['--jobs']) == feedback_without_times(outs['--workers'])
    assert rows_of(outs['--workers'])['partly.ipynb']['score'] == '4'
    assert sorted(p.name for p in (outs['--workers'] / 'executed').iterdir()) == \
        ['broken.ipynb', 'correct.ipynb', 'partly.ipynb']


def test_a_worker_killed_mid_batch_still_gives_one_row_per_student(tiny_assignment, tmp_path):
    from distributed import Client, LocalCluster
    student, autograder = tiny_assignment
    names = [f'student_{i}.ipynb' for i in range(4)]
    subs = write_class(tmp_path / 'subs', student, {n: SLEEPY for n in names})
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host='127.0.0.1',
                      dashboard_address=None, memory_limit=0) as cluster, Client(cluster) as client:
        grader = subprocess.Popen([sys.executable, '-m', 'grading', str(autograder), str(subs), '--out',
                                   str(tmp_path / 'out'), '--scheduler', cluster.scheduler_address,
                                   '--cell-timeout', '20', '--timeout', '60'], cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=dict(os.environ, FASHION_MNIST_DIR=str(SHARED_DATA)))
        deadline = time.monotonic() + 120
        busy = []
        while not busy and time.monotonic() < deadline and grader.poll() is None:
            time.sleep(0.5)
            busy = [w for w, keys in client.processing().items()
                    if any(str(k).startswith('grade_on_worker') for k in keys)]
        assert busy, 'no submission ever ran on the cluster'
        time.sleep(2)  # inside its sandbox now
        pids = client.run(os.getpid, workers=[busy[0]])
        os.kill(pids[busy[0]], signal.SIGKILL)
        stdout, stderr = grader.communicate(timeout=300)
    assert grader.returncode == 0, stderr[-2000:]
    rows = rows_of(tmp_path / 'out')
    assert sorted(rows) == names
    assert all(r['status'] == 'ok' and r['score'] == '5' for r in rows.values()), rows
    logged = re.findall(r'^\[\d+/(\d+)\] (\S+):', stdout, re.M)
    assert sorted(n for _, n in logged) == names and {t for t, _ in logged} == {'4'}, stdout


@pytest.mark.parametrize('threads, most_at_once', [('1', 3), ('2', 2)])
def test_the_reference_runs_beside_the_submissions_only_when_each_notebook_has_one_thread(
        tmp_path, monkeypatch, threads, most_at_once):
    """At --jobs 2 with one OpenMP thread per notebook, the speed check's reference takes no
    submission's slot (a class of N must not end with one notebook alone on the cores); with
    several threads per notebook it waits for a slot like a submission."""
    import threading
    from grading import engines
    from grading.records import Graded
    from grading.runner import Job
    running, most, lock = [0], [0], threading.Lock()

    def fake_grade(job, assignment, options, runtime):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        return Graded({'status': 'ok'})
    monkeypatch.setattr(engines, 'grade_safely', fake_grade)
    engine = engines.ThreadEngine(GradeOptions(tmp_path / 'subs', tmp_path / 'out', jobs=2))
    engine.runtime.kernel_env['OMP_NUM_THREADS'] = threads
    jobs = [Job('(reference solution)', 'reference.ipynb', '{}', reference=True)] + \
        [Job(f's{i}', f's{i}.ipynb', '{}') for i in range(4)]
    try:
        done = [job.key for job, _ in engine.run(jobs, assignment=None)]
    finally:
        engine.close()
    assert sorted(done) == sorted(job.key for job in jobs)  # every job once
    assert most[0] == most_at_once
