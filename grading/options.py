"""The `grade` command's options: its argument parser and the dataclass every part of a grading
run reads (never the parsed argparse.Namespace)."""
import argparse
from dataclasses import dataclass, fields
from pathlib import Path

from .records import Limits

USAGE = 'python -m grading [grade] ASSIGNMENT SUBMISSIONS_DIR --out OUT_DIR [options]'


@dataclass(frozen=True)
class GradeOptions:
    submissions: Path
    out: Path
    assignment: str | None = None       # a name in instructors/autograder/ or a .zip path
    autograder: str | None = None       # --autograder ZIP (a private copy)
    profile: str = 'smoke'
    cell_timeout: int = 300
    timeout: int = 900
    memory_mb: int = 6144
    test_timeout: int = 300
    jobs: int = 1
    keep_executed: bool = True
    only: tuple = ()
    roster: str | None = None
    deadline: object = None             # ISO 8601 text as given; a datetime once checked
    reset_submitted: bool = False
    scheduler: str | None = None        # a Dask scheduler's address
    workers: int = 0                    # a local Dask cluster of this many worker processes
    speed_fraction: float = 0.25
    speed_check: bool = True

    @property
    def limits(self):
        return Limits(cell=self.cell_timeout, total=self.timeout, memory_mb=self.memory_mb)

    @property
    def memory_bytes(self):
        return self.memory_mb * 2**20

    @property
    def uses_dask(self):
        return bool(self.scheduler or self.workers)

    @classmethod
    def from_args(cls, args):
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in vars(args).items() if k in names}
        values.update(submissions=Path(args.submissions), out=Path(args.out),
                      keep_executed=not args.no_executed, only=tuple(args.only or ()),
                      speed_check=not args.no_speed_check)
        return cls(**values)


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not a positive whole number')
    return value


def fraction(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not a fraction between 0 and 1')
    return value


def add_grade_arguments(p):
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
    p.add_argument('--cell-timeout', type=positive, default=300, help='seconds per cell (default 300)')
    p.add_argument('--timeout', type=positive, default=900, help='seconds per notebook (default 900)')
    p.add_argument('--memory-mb', type=positive, default=6144,
                   help='memory for the whole submission in MB (a cgroup, where the machine has '
                        'one) and address-space cap per process (default 6144)')
    p.add_argument('--test-timeout', type=positive, default=300, help='seconds for the tests (default 300)')
    p.add_argument('--jobs', type=positive, default=1,
                   help='submissions run at the same time on this machine (default 1; each uses '
                        'the CPU cores)')
    p.add_argument('--no-executed', action='store_true', help='do not keep executed notebooks')
    p.add_argument('--only', nargs='+', metavar='FILE',
                   help='re-grade only these submissions (names or paths); every other row of '
                        'OUT/grades.csv is kept')
    # (duplicates pairs the next six lines with benchmarks/vs_d2l.py's and benchmarks/grading.py's
    # options by shape alone: three programs' option declarations, no logic in common)
    p.add_argument('--roster', metavar='CSV',
                   help='students (student_id, and name/email/canvas_id/moodle_id/file columns as '
                        'available; a Canvas or Moodle gradebook export works): rows are keyed by '
                        'student id; Moodle and Canvas download names are recognised')
    p.add_argument('--deadline', metavar='ISO8601',
                   help='flag files modified after this time as late, e.g. 2026-12-01T23:59+01:00')
    p.add_argument('--reset-submitted', action='store_true',
                   help="take the files' submission time anew (the student handed in again); by "
                        "default a re-graded file keeps the time recorded when it was first graded")
    dask = p.add_mutually_exclusive_group()
    dask.add_argument('--scheduler', metavar='ADDRESS',
                      help='grade on a Dask cluster (e.g. tcp://HOST:8786; see instructors/README.md): '
                           'each worker runs whole submissions, only this process writes OUT')
    dask.add_argument('--workers', type=positive, metavar='N', default=0,
                      help='grade on a local Dask cluster of N worker processes')
    p.add_argument('--speed-fraction', type=fraction, default=0.25,
                   help="flag a question whose cells ran in less than this fraction of the "
                        "reference solution's time in the same batch (default 0.25)")
    p.add_argument('--no-speed-check', action='store_true',
                   help='do not run the reference solution (no speed flags)')
    return p
