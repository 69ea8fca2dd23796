"""Benchmark: seconds per submission of `python -m grading`, at --jobs 1 and 2 and on a local Dask
cluster (--workers 2), on the same machine.

For each exercise, grades N copies of the master's solution (the solution cells of
instructors/masters/<name>.ipynb typed into the student notebook, as a perfect student would) and
N copies of the student notebook as handed out (notebooks/<name>.ipynb, answers left as `...`),
once per engine, and prints a table: wall seconds of the whole batch divided by the number
of submissions (so it includes the grader's one-off start, sandbox check and the reference
solution's run for the speed check), the median of the per-submission times the grader logs, and
how many got full marks (each kind of notebook is its own batch). `--tiny` grades the test suite's
tiny assignment (tests/submissions/tiny_master.ipynb: three one-line answers) instead: what is
left is the grader's own cost per submission, which shows the Dask overhead beside --jobs 2.
Wall times include whatever else the machine runs: the load average is printed, and the CPU
seconds of each batch (every process the grader started, in a cpuacct cgroup: CpuGroup). Then, for the
first solution graded at the first engine, where its time went: the notebook's slowest code cells
(from the run times the grader records) and the rest (kernel start, export, the tests).
`--phases` instead grades the first exercise's N solutions in this process, at the first --jobs
value, and prints the median seconds of every phase of one submission (sandbox, kernel, each
cell, probe, export, each question's tests, writing) beside the reference run's
(benchmarks/grading_phases.py).

    .venv/bin/python -m benchmarks.grading                      # every exercise, N=2, smoke
    .venv/bin/python -m benchmarks.grading --exercises exercise_1 --copies 2 --jobs 1 2 --workers 2
    .venv/bin/python -m benchmarks.grading --tiny --copies 8 --jobs 2 --workers 2
    .venv/bin/python -m benchmarks.grading --exercises exercise_1 --copies 4 --jobs 2 --phases

Reads the offline data from $FASHION_MNIST_DIR (default: tests/offline_data.py). Grades in a
temporary folder; appends its table, with the commit it measured (`-dirty` when tracked files
differed from it) and the load average, to benchmarks/results/grading.csv (`--csv`).
"""
import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from benchmarks.vs_d2l_report import source_commit
from scripts import make_exercises
from tests.offline_data import fashion_mnist_dir
from tests.submissions.suite import answer_cells, solution_answers, with_answers

ROOT = Path(__file__).resolve().parents[1]

LOG_LINE = re.compile(r'^\[\d+/\d+\] (?P<name>.+?): (?P<status>\w+), (?P<score>[\d.]+)/(?P<max>[\d.]+) '
                      r'\((?P<seconds>\d+) s\)')
TINY_MASTER = ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb'


def tiny_assignment(folder):
    """(autograder zip, student notebook) of the tests' tiny assignment, built into folder."""
    student, zip_bytes = make_exercises.build(TINY_MASTER)
    (folder / 'tiny.zip').write_bytes(zip_bytes)
    (folder / 'tiny_student.ipynb').write_text(student)
    return folder / 'tiny.zip', folder / 'tiny_student.ipynb'


def build(name, copies, folder, student_path=None, master=None):
    """folder/solution/solution_<i>.ipynb and folder/student/student_<i>.ipynb: one batch each."""
    student = nbformat.read(student_path or ROOT / 'notebooks' / f'{name}.ipynb', as_version=4)
    answers = solution_answers(master or name)
    if len(answers) != len(answer_cells(student)):
        raise SystemExit(f'{name}: {len(answers)} solution cells for {len(answer_cells(student))} answer cells')
    solved = with_answers(student, answers)
    for kind, nb in (('solution', solved), ('student', student)):
        (folder / kind).mkdir(parents=True)
        for i in range(copies):
            nbformat.write(nb, folder / kind / f'{kind}_{i + 1}.ipynb')


def grade(name, folder, out, engine, profile, data):
    """engine: ('--jobs', n) or ('--workers', n)."""
    env = dict(os.environ, FASHION_MNIST_DIR=data)
    command = [sys.executable, '-m', 'grading', str(name), str(folder), '--out', str(out),
               engine[0], str(engine[1]), '--profile', profile]
    with CpuGroup() as group:
        start = time.monotonic()
        done = subprocess.run(group.prefix + command, cwd=ROOT, capture_output=True, text=True, env=env)
        wall, cpu = time.monotonic() - start, group.seconds()
    if done.returncode != 0:
        raise SystemExit(f'grading {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}')
    own = {}
    ready = re.search(r'started and checked in ([\d.]+) s', done.stdout)
    print(f'  {folder.name} {engine[0]} {engine[1]}: {wall:.1f} s in all, of which '
          f'{ready[1] if ready else "?"} s to start and check the engine; CPU time of the grader '
          f'and every process it started (kernels, test processes): '
          f'{"?" if cpu is None else f"{cpu:.1f}"} s')
    for line in done.stdout.splitlines():
        m = LOG_LINE.match(line)
        if m:
            own[m['name']] = float(m['seconds'])
    with open(out / 'grades.csv', newline='') as f:
        rows = {r['submission']: r for r in csv.DictReader(f) if r['submission'].endswith('.ipynb')}
    return wall, own, rows


class CpuGroup:
    """A cpuacct cgroup (v1) for one grading run, made with cgroup-tools (cgcreate, cgexec, cgget):
    `prefix` starts a command in it, so the CPU seconds of everything that command starts are
    counted, the sandboxed kernels included (they run in cgroups and PID namespaces of their own
    for memory and pids only, and are never waited for by the grader, so getrusage misses them).
    Under load a batch's CPU time moves far less than its wall time. Where the tools or the
    controller are missing (or not root), `prefix` is empty and `seconds()` None."""

    def __init__(self):
        self.name = f'bench-grading-{os.getpid()}-{time.monotonic_ns()}'
        self.prefix = []

    def __enter__(self):
        made = subprocess.run(['cgcreate', '-g', f'cpuacct:/{self.name}'], capture_output=True) \
            if shutil.which('cgcreate') and shutil.which('cgexec') else None
        if made and made.returncode == 0:
            self.prefix = ['cgexec', '-g', f'cpuacct:/{self.name}']
        return self

    def seconds(self):
        if not self.prefix:
            return None
        read = subprocess.run(['cgget', '-nv', '-r', 'cpuacct.usage', f'/{self.name}'],
                              capture_output=True, text=True)
        return int(read.stdout.split()[0]) / 1e9 if read.returncode == 0 and read.stdout.strip() else None

    def __exit__(self, *exc):
        if self.prefix:
            subprocess.run(['cgdelete', '-g', f'cpuacct:/{self.name}'], capture_output=True)


def breakdown(out, name):
    """(seconds of the slowest code cells, their sum) from the grader's record of `name`."""
    for path in (out / 'private' / 'records').glob('*.json'):
        rec = json.loads(path.read_text())
        if rec.get('submission') == name:
            times = sorted(((t['seconds'], t.get('code_cell'), t.get('question')) for t in rec['cell_times']),
                           reverse=True)
            return times, sum(t[0] for t in times)
    return [], 0.0


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--exercises', nargs='+', default=['exercise_1', 'exercise_2', 'exercise_3', 'exercise_4'],
                   help='exercise name prefixes (default: all four)')
    p.add_argument('--tiny', action='store_true',
                   help="grade the tests' tiny assignment instead of the exercises (the grader's own cost)")
    p.add_argument('--copies', type=int, default=2, help='copies of each notebook (default 2)')
    p.add_argument('--jobs', type=int, nargs='*', default=[1, 2], help='--jobs values (default 1 2)')
    p.add_argument('--workers', type=int, nargs='*', default=[2],
                   help='local Dask cluster sizes, --workers values (default 2)')
    p.add_argument('--profile', default='smoke')
    # (duplicates pairs the next six lines with vs_d2l.py's and grading/options.py's options by
    # shape alone: option declarations of three programs, no logic in common)
    p.add_argument('--phases', action='store_true',
                   help="instead of the table above, grade the first exercise's solutions in this "
                        "process at the first --jobs value, timing each phase of the grader "
                        "(benchmarks/grading_phases.py)")
    p.add_argument('--profile-one', action='store_true',
                   help='also time the phases of one solution of the first exercise alone (--jobs 1)')
    p.add_argument('--csv', default=str(ROOT / 'benchmarks' / 'results' / 'grading.csv'),
                   help='append the table to this CSV, with the commit measured and the load '
                        "(default benchmarks/results/grading.csv; '' for none)")
    p.add_argument('--keep', metavar='DIR', help='grade into DIR and keep it (default: a temporary folder)')
    return p.parse_args(argv)


def exercises(args, tmp):
    """[(assignment argument, label, student notebook or None, master or None)]."""
    if args.tiny:
        autograder, student = tiny_assignment(Path(tmp))
        return [(autograder, 'tiny', student, TINY_MASTER)]
    out = []
    for prefix in args.exercises:
        found = sorted(q.stem for q in (ROOT / 'instructors' / 'masters').glob(f'{prefix}*.ipynb'))
        if len(found) != 1:
            raise SystemExit(f'{prefix}: matches {found or "no master"}')
        out.append((found[0], found[0], None, None))
    return out


def bench_one(assignment, label, folder, engines, args, data, tmp, table):
    for n, engine in enumerate(engines):
        owns = {}
        for kind in ('solution', 'student'):
            out = Path(tmp) / f'out-{label}-{kind}-{engine[0][2:]}{engine[1]}'
            wall, own, rows = grade(assignment, folder / kind, out, engine, args.profile, data)
            count = len(rows)
            owns[kind] = own
            full = sum(1 for r in rows.values() if r['score'] == r['max_score'])
            times = list(own.values())
            table.append((label, kind, f'{engine[0]} {engine[1]}', count, wall / count,
                          statistics.median(times) if times else float('nan'), f'{full}/{count}'))
            if full < count and kind == 'solution':
                for k, r in sorted(rows.items()):
                    print(f"  {k}: {r['status']} {r['score']}/{r['max_score']} {r['reason']}")
        if n == 0:
            out = Path(tmp) / f'out-{label}-solution-{engine[0][2:]}{engine[1]}'
            cells, total = breakdown(out, 'solution_1.ipynb')
            spent = owns['solution'].get('solution_1.ipynb')
            top = ', '.join(f'code cell {c} ({q or "-"}) {s:.1f} s' for s, c, q in cells[:3])
            print(f'{label} solution_1 at {engine[0]} {engine[1]}: {spent} s in all; code cells '
                  f'{total:.1f} s (slowest: {top}); the rest (kernel start, export, tests) '
                  f'{(spent or 0) - total:.1f} s')


CSV_COLUMNS = ('commit', 'started', 'cores', 'profile', 'exercise', 'notebook', 'engine', 'submissions',
               'wall_s_per_submission', 'median_s_per_submission', 'full_marks', 'load_before', 'load_after')


def write_csv(path, rows):
    """Append the rows to the CSV at `path` (its header written when the file is new)."""
    path = Path(path)
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'a', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def run_phases(args, names, data, table):
    """--phases / --profile-one: the first exercise's solutions graded in this process, timed."""
    from benchmarks import grading_phases
    os.environ['FASHION_MNIST_DIR'] = data
    copies, jobs = (1, 1) if args.profile_one else (args.copies, args.jobs[0])
    with tempfile.TemporaryDirectory(prefix='bench-grading-') as tmp:
        build(names[0][0], copies, Path(tmp) / 'nb')
        wall, _ = grading_phases.measure(names[0][0], Path(tmp) / 'nb' / 'solution', Path(tmp) / 'out',
                                         jobs, args.profile)
    table.append((names[0][1], 'solution (phases, in-process)', f'--jobs {jobs}', copies, wall / copies,
                  float('nan'), '-'))


def main(argv=None):
    args = parse(argv)
    commit, started = source_commit(), time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    data = str(fashion_mnist_dir())
    engines = [] if args.phases else [('--jobs', j) for j in args.jobs] + [('--workers', w) for w in args.workers]
    load_before = os.getloadavg()[0]
    print(f'commit {commit}; {os.cpu_count()} CPU cores, profile {args.profile}, {args.copies} copies of '
          f'each notebook; load average before: {load_before:.2f}')
    table = []
    with tempfile.TemporaryDirectory(prefix='bench-grading-') as tmp:
        if args.keep:
            tmp = args.keep
            Path(tmp).mkdir(parents=True, exist_ok=False)
        names = exercises(args, tmp)
        for assignment, label, student, master in names:
            folder = Path(tmp) / label
            build(label, args.copies, folder, student, master)
            bench_one(assignment, label, folder, engines, args, data, tmp, table)
    if (args.phases or args.profile_one) and not args.tiny:
        run_phases(args, names, data, table)
    load_after = os.getloadavg()[0]
    print()
    print('| exercise | notebook | engine | submissions | wall s per submission (batch / n) '
          '| median s per submission (grader log) | full marks |')
    print('|---|---|---|---|---|---|---|')
    for name, kind, engine, count, per, median, full in table:
        print(f'| {name} | {kind} | {engine} | {count} | {per:.1f} | {median:.0f} | {full} |')
    print(f'\nload average after: {load_after:.2f}')
    if args.csv:
        write_csv(args.csv, [dict(zip(CSV_COLUMNS, (commit, started, os.cpu_count(), args.profile, *row[:4],
                                                    f'{row[4]:.2f}', f'{row[5]:.1f}', row[6],
                                                    f'{load_before:.2f}', f'{load_after:.2f}')))
                             for row in table])
        print(f'appended {len(table)} row(s) to {args.csv}')


if __name__ == '__main__':
    main()
