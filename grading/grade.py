"""The `grade` command: grade a folder of submitted exercise notebooks against one assignment's
autograder.

    python -m grading [grade] ASSIGNMENT SUBMISSIONS_DIR --out OUT_DIR

ASSIGNMENT: an assignment name (`exercise_1_more_epochs`, or a unique prefix like `exercise_1`)
looked up in instructors/autograder/, or the path of an autograder .zip made by
scripts/make_exercises.py (otter-grader's format: tests/q*.py, public and hidden cases).

For every `*.ipynb` in SUBMISSIONS_DIR, in name order:
1. the notebook is read and checked here (status `unreadable` if it is not a notebook);
2. it runs in a fresh sandbox (bubblewrap), as a user id of its own when the grader runs as root,
   with a per-cell and a total time limit and a memory cap, walled off from the rest of the machine
   (grading/sandbox.py); afterwards its variables are exported as plain data;
3. a separate process, outside that folder, runs the public and hidden tests against that data
   (grading/testproc.py). The tests are never copied where the submission's code runs.
Steps 2-3 run in threads of this process (--jobs) or on a Dask cluster (--scheduler, --workers;
grading/engines.py); this process alone writes OUT_DIR: grades.csv (rewritten atomically after
each submission; rows of submissions not graded in this run are kept, the previous version goes
to OUT_DIR/history/), written.csv (created once for the written questions' points and comments,
never rewritten), feedback/<name>.md (grading/feedback.py), executed/<name>.ipynb (the run, with
figures) and private/ (records with the hidden tests' failure messages, for instructors).
See grading/gradebook.py. `--only FILE...` re-grades chosen files, `--roster CSV` keys rows by
student id, `--deadline` flags late files. Once per batch the assignment's solution runs as a
reference for the speed check (grading/speed.py).

Statuses: ok (every cell ran without an error), error (some cell raised; the rest still ran and
was graded), timeout (a cell or the whole notebook hit its limit), killed (the kernel died, e.g.
`os._exit` or a crash), unreadable (not a notebook). Exit code 0 whatever the submissions did;
2 when the grader itself cannot run (missing assignment or folder, no notebook found, a bad
roster or written.csv, a sandbox or Dask cluster that cannot run).
"""
import argparse
import sys
import time
from dataclasses import replace

from .assignment import Assignment, GraderError, find_assignment  # noqa: F401  (the grader's API)
from .checks import isolation_warning, require_probe_support, sandbox
from .feedback import fmt
from .options import USAGE, GradeOptions, add_grade_arguments
from .records import Graded
from .submission import read_submission  # noqa: F401  (the grader's API)
from .testproc import case_points, course_settings, run_tests  # noqa: F401  (the grader's API)


def grade_parser():
    p = argparse.ArgumentParser(prog='python -m grading grade', usage=USAGE,
                                description=__doc__.split('\n\n')[0].replace('\n', ' '),
                                epilog='Class tools, after grading: python -m grading '
                                       'written|report|export ASSIGNMENT OUT_DIR (see `python -m '
                                       'grading --help` and instructors/README.md).')
    return add_grade_arguments(p)


def main(argv=None):
    """The whole command line (`python -m grading ...`): see grading/cli.py."""
    from .cli import main as cli_main
    return cli_main(argv)


def run_command(argv):
    """`python -m grading grade ARGS`: exit code."""
    args = grade_parser().parse_args(argv)
    if bool(args.autograder) == bool(args.assignment):
        print('error: give either ASSIGNMENT or --autograder ZIP (not both)', file=sys.stderr)
        return 2
    try:
        options = GradeOptions.from_args(args)
        assignment, book, entries, options = prepare(options)
        engine = start_engine(assignment, options)
    except GraderError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    try:
        print(f"{len(entries)} submission(s) to grade" + (
            f" of {len(book.students)} students on the roster" if book.students else ''))
        grade_folder(assignment, options, book, entries, engine)
    finally:
        engine.close()
    out = options.out
    print(f"Wrote {out / 'grades.csv'} (written scores: {out / 'written.csv'}) and {out / 'feedback'}/")
    return 0


def prepare(options):
    """(assignment, gradebook, planned entries, options with the deadline parsed) or GraderError."""
    from .gradebook import open_book
    from .roster import RosterError, parse_deadline
    assignment = find_assignment(options.assignment or options.autograder,
                                 private=bool(options.autograder))
    require_probe_support(assignment)
    if not options.submissions.is_dir():
        raise GraderError(f"submissions folder {options.submissions} does not exist")
    try:
        options.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GraderError(f"cannot create {options.out}: {err.strerror}") from None
    if options.out.resolve() == options.submissions.resolve():
        raise GraderError("--out must not be the submissions folder")
    try:
        options = replace(options, deadline=parse_deadline(options.deadline))
        book = open_book(options.out, assignment, options.roster)
        entries = book.plan(options.submissions, list(options.only) or None, options.deadline,
                            reset_times=options.reset_submitted)
    except RosterError as err:
        raise GraderError(str(err)) from None
    return assignment, book, entries, options


def start_engine(assignment, options):
    """The engine the submissions run on, checked (GraderError when it cannot run them)."""
    from .engines import open_engine
    print(f"Grading {assignment.name} ({len(assignment.auto)} auto-graded questions, "
          f"{assignment.max_score:g} points) | profile {options.profile} | limits: "
          f"{options.cell_timeout} s per cell, {options.timeout} s per notebook, {options.memory_mb} MB")
    if sandbox().missing_tools():
        raise GraderError(sandbox().missing_tools())
    warning = isolation_warning()
    if warning:
        print(f'warning: {warning}', file=sys.stderr)
    version, how = sandbox().memory_group_support()
    if version is None:  # said once per batch
        print(f'warning: {how}', file=sys.stderr)
    else:
        print(f'memory: {options.memory_mb} MB for all the processes of a submission together ({how})')
    started = time.monotonic()
    engine = open_engine(options)
    try:
        for note in engine.check(assignment):
            print(f'warning: {note}', file=sys.stderr)
    except BaseException:
        engine.close()
        raise
    print(f'running on {engine.name} (started and checked in {time.monotonic() - started:.1f} s)')
    return engine


class Collector:
    """Writes each graded submission into the gradebook as it comes back; this process alone
    writes OUT. A row is written for every entry, whatever went wrong."""

    def __init__(self, assignment, options, book, total, log):
        self.assignment, self.options, self.book, self.total, self.log = assignment, options, book, total, log
        self.done = 0

    def store(self, entry, graded):
        name = entry['safe'] + '.ipynb'
        try:
            if graded.executed is not None:
                from .gradebook import write_atomically
                # the sandbox's bytes (untrusted): undecodable bytes are replaced, never written raw
                write_atomically(self.options.out / 'executed' / name,
                                 graded.executed.decode('utf-8', 'replace'))
            record = self.book.add(entry, graded.record)  # its record, feedback and grades.csv
        except Exception as err:  # e.g. its feedback cannot be written: a row all the same
            from .records import sanitize
            from .runner import plain_record
            why = sanitize(f'grader error: its results could not be written ({type(err).__name__}: {err})', None)
            record = plain_record(name, self.assignment, 'error', why)
            try:
                self.book.add(entry, record)
            except Exception as err2:
                self.log(f"error: {entry['submission']}: no row could be written ({type(err2).__name__}: {err2})")
        self.done += 1
        score = sum(float(v) for v in (record.get('scores') or {}).values())
        late = f" (late: {entry['late']})" if entry['late'] else ''
        reason = f" - {' '.join(str(record.get('reason')).split())[:300]}" if record.get('reason') else ''
        flags = ''.join(f" [speed: {f['question']} {f['seconds']:g} s, reference {f['reference_seconds']:g} s]"
                        for f in record.get('speed_flags') or [])
        self.log(f"[{self.done}/{self.total}] {entry['submission']}: {record.get('status')}, "
                 f"{fmt(score)}/{fmt(self.assignment.max_score)} ({graded.seconds:.0f} s){late}{reason}{flags}")


def grade_folder(assignment, options, book, entries, engine, log=print):
    """Grade the planned files into the gradebook (grading/gradebook.py): rows of files not
    graded now are kept; written.csv is created once and never rewritten."""
    from .batch import complete_plan
    from .roster import lateness
    from .runner import Job, plain_record
    from .speed import SpeedCheck
    # Every entry of the folder gets a row (other files, links, FIFOs, X.IPYNB, ...), every name
    # is escaped (undecodable bytes, control characters, spreadsheet formulas) before it is written.
    files = complete_plan(entries, options.submissions, add_missing=not options.only,
                          stamp=lambda path: lateness(path, options.deadline),
                          reserved={k: r.get('safe') for k, r in book.records().items()})
    (options.out / 'feedback').mkdir(parents=True, exist_ok=True)
    if options.keep_executed:
        (options.out / 'executed').mkdir(parents=True, exist_ok=True)
    collector = Collector(assignment, options, book, len(files), log)
    speed = SpeedCheck(assignment, options, log)
    by_key, jobs = {}, [speed.job] if speed.job else []
    for entry in files:
        by_key[entry['key']] = entry
        name = entry['safe'] + '.ipynb'
        text, why = read_submission(entry['path'])  # here: workers never see the folder
        if text is None:
            collector.store(entry, Graded(plain_record(name, assignment, 'unreadable', why)))
        else:
            jobs.append(Job(entry['key'], name, text))
    for job, graded in engine.run(jobs, assignment):
        if job.reference:
            for held_entry, held in speed.settle(graded):
                collector.store(held_entry, held)
        elif speed.waiting:
            speed.pending.append((by_key[job.key], graded))
        else:
            collector.store(by_key[job.key], speed.flag(graded))
    try:
        book.refresh()
    except Exception as err:  # every row was already written after its submission
        log(f'error: the gradebook could not be refreshed at the end ({type(err).__name__}: {err})')
