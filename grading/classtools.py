"""The class tools: `python -m grading written|report|export ASSIGNMENT OUT`.

    written  pages to grade written questions (OUT/written/<q>.md); re-reads OUT/written.csv and
             OUT/adjustments.csv and rewrites grades.csv (previous version kept in OUT/history/)
             and the feedback files.
    report   OUT/report.html: status counts, score distribution, per-question statistics, why
             tests failed (hidden ones included: instructors only), every student's row, similar code.
    export   OUT/export/canvas.csv and OUT/export/moodle.csv for the LMS gradebooks; with
             --moodle-feedback-zip and --canvas-feedback, the students' feedback files for the LMS.

`--late-penalty 10%/day` (or '10%/day,max=50%', or 'none') sets the late policy of OUT: it is kept
and applies to the totals, the exports and the feedback from then on.
Exit code 2 with a message when OUT has no grading of that assignment or a file in it is broken.
"""
import argparse
import sys

from .gradebook import UNSET, Book, STATE
from .roster import RosterError


def parse(argv):
    p = argparse.ArgumentParser(prog='python -m grading', description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    for name, text in (('written', 'pages for the written questions; merge written.csv'),
                       ('report', 'the class report (OUT/report.html)'),
                       ('export', 'Canvas and Moodle gradebook CSVs (OUT/export/)')):
        s = sub.add_parser(name, help=text, description=text)
        s.add_argument('assignment', help='assignment name or autograder .zip (as when grading)')
        s.add_argument('out', help='the --out folder of the grading run')
        s.add_argument('--late-penalty', metavar='RATE', default=None,
                       help="late policy kept for OUT: e.g. 10%%/day or '10%%/day,max=50%%' (of the "
                            "assignment's points per started day after --deadline); 'none' turns it off")
        if name == 'export':
            s.add_argument('--canvas-column', help="the Canvas gradebook column, 'Name (assignment "
                                                   "id)' as in a Canvas export, e.g. 'Exercise 2 (123456)'")
            s.add_argument('--moodle-item', help='the Moodle grade item name (default: the assignment name)')
            s.add_argument('--moodle-feedback-zip', action='store_true',
                           help="also write OUT/export/moodle-feedback.zip for Moodle's 'Upload "
                                "multiple feedback files in a zip'")
            s.add_argument('--canvas-feedback', action='store_true',
                           help='also write OUT/export/canvas-feedback/<Canvas user id>.md')
    return p.parse_args(argv)


def open_existing(args):
    from pathlib import Path
    from . import policy
    from .grade import GraderError, find_assignment
    assignment = find_assignment(args.assignment)
    out = Path(args.out)
    if not (out / STATE).exists() and not (out / 'grades.csv').exists():
        raise GraderError(f"{out} holds no grading (no grades.csv): run "
                          f"`python -m grading {args.assignment} SUBMISSIONS --out {out}` first")
    try:
        late = UNSET if args.late_penalty is None else policy.parse(args.late_penalty)
    except policy.PolicyError as err:
        raise GraderError(str(err)) from None
    return Book(out, assignment, late_penalty=late)


def export(book, args):
    from . import lms
    from .grade import GraderError
    rows, _ = book.rows()
    folder = book.out / 'export'
    folder.mkdir(exist_ok=True)
    pending = lms.incomplete_written(book, rows)
    if pending:
        print(f"warning: {len(pending)} submission(s) have written questions without points "
              f"in written.csv; their totals count those as 0", file=sys.stderr)
    wrote = []
    for name, make, extra in (('canvas.csv', lms.canvas_csv, args.canvas_column),
                              ('moodle.csv', lms.moodle_csv, args.moodle_item)):
        try:
            text, warnings = make(book, rows, extra)
        except lms.ExportError as err:
            print(f"warning: {name} not written: {err}", file=sys.stderr)
            continue
        for w in warnings:
            print(f'warning: {w}', file=sys.stderr)
        (folder / name).write_text(text, encoding='utf-8')
        wrote.append(str(folder / name))
    if args.moodle_feedback_zip:
        n, warnings = lms.moodle_feedback_zip(book, folder / 'moodle-feedback.zip')
        wrote.append(f"{folder / 'moodle-feedback.zip'} ({n} students)")
        for w in warnings:
            print(f'warning: {w}', file=sys.stderr)
    if args.canvas_feedback:
        n, warnings = lms.canvas_feedback(book, rows, folder / 'canvas-feedback')
        wrote.append(f"{folder / 'canvas-feedback'}/ ({n} students)")
        for w in warnings:
            print(f'warning: {w}', file=sys.stderr)
    if not wrote:
        raise GraderError('no export written (see the warnings above)')
    print('Wrote ' + ', '.join(wrote))


def main(argv):
    from .grade import GraderError
    args = parse(argv)
    try:
        book = open_existing(args)
        path = book.refresh()
        if args.command == 'written':
            from .written import write_pages
            pages = write_pages(book)
            print(f"Wrote {len(pages)} page(s) in {book.out / 'written'}/ and updated {path} and "
                  f"the feedback from {book.written_path} and {book.adjust.path}")
        elif args.command == 'report':
            from .report import build
            path, summary = build(book)
            print(f"Wrote {path} ({sum(summary['status'].values())} rows, "
                  f"{len(summary['similar'])} similar pair(s))")
        else:
            export(book, args)
    except (GraderError, RosterError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0
