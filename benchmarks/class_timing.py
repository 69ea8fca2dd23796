"""How long grading a class takes: N submissions of one exercise at --jobs J, extrapolated to 200.

    .venv/bin/python -m benchmarks.class_timing [--exercise exercise_2_initialization] [-n 6]
                                                [--jobs 2] [--profile smoke]

Builds N submissions from the exercise's student notebook (half solved with the master's solutions,
the rest: untouched, one answer missing, a runtime error), grades them with
`python -m grading ... --jobs J` into a temporary folder, and prints a table: the wall time of
the whole run, per submission (from the grader's log), and the extrapolation to 200 submissions
at --jobs equal to this machine's cores: 200 x (mean time per submission) / cores. That assumes
the run's parallel speed-up holds at that many jobs, which it does only while memory and cores
are not shared with other work: the figure is an estimate, measured on a small class.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from tests.submissions.suite import solution_answers, with_answers

ROOT = Path(__file__).resolve().parents[1]


def make_class(name, n, folder):
    student = nbformat.read(ROOT / 'notebooks' / f'{name}.ipynb', as_version=4)
    solved = solution_answers(name)
    kinds = []
    for i in range(n):
        kind = ['solved', 'untouched', 'solved', 'one answer missing', 'solved', 'runtime error'][i % 6]
        if kind == 'solved':
            nb = with_answers(student, solved)
        elif kind == 'untouched':
            nb = student
        elif kind == 'one answer missing':
            nb = with_answers(student, solved[:-1] + ['...'])
        else:
            nb = with_answers(student, ['raise RuntimeError("oops")'] + solved[1:])
        nbformat.write(nb, folder / f'student_{i + 1:02d}.ipynb')
        kinds.append(kind)
    return kinds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--exercise', default='exercise_2_initialization')
    p.add_argument('-n', type=int, default=6)
    p.add_argument('--jobs', type=int, default=2)
    p.add_argument('--profile', default='smoke')
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='class-timing-') as tmp:
        subs, out = Path(tmp) / 'subs', Path(tmp) / 'out'
        subs.mkdir()
        kinds = make_class(args.exercise, args.n, subs)
        start = time.time()
        done = subprocess.run([sys.executable, '-m', 'grading', args.exercise, str(subs), '--out', str(out),
                               '--jobs', str(args.jobs), '--profile', args.profile],
                              cwd=ROOT, capture_output=True, text=True)
        wall = time.time() - start
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
        return 1
    per = {m.group(1): (m.group(2), float(m.group(3))) for m in re.finditer(
        r'\] (student_\d+\.ipynb): (\w+), [^(]*\((\d+) s\)', done.stdout)}
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float('nan')
    print(f'| {args.exercise}, profile {args.profile}, {args.n} submissions, --jobs {args.jobs}, '
          f'{cores} cores, load average at the end {load:.1f} |')
    print('| submission | kind | status | seconds |\n|---|---|---|---|')
    for i, kind in enumerate(kinds):
        name = f'student_{i + 1:02d}.ipynb'
        status, secs = per.get(name, ('?', float('nan')))
        print(f'| {name} | {kind} | {status} | {secs:.0f} |')
    mean = sum(s for _, s in per.values()) / max(1, len(per))
    print(f'\n| measure | value |\n|---|---|\n| wall time, whole run | {wall:.0f} s |\n'
          f'| wall time per submission (run / n) | {wall / args.n:.1f} s |\n'
          f'| mean time of one submission | {mean:.1f} s |\n'
          f'| 200 submissions at --jobs {cores} (estimate: 200 x mean / {cores}) | '
          f'{200 * mean / cores / 60:.0f} min |\n'
          f'| 200 submissions at --jobs {args.jobs} as measured (200 x run / n) | '
          f'{200 * wall / args.n / 60:.0f} min |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
