"""The class tools: `python -m grading written|report|export ASSIGNMENT OUT`.

    written  pages to grade written questions (OUT/written/<q>.md); re-reads OUT/written.csv and
             rewrites grades.csv (previous version kept in OUT/history/) and the feedback files.
    report   OUT/report.html: status counts, score distribution, per-question statistics, why
             tests failed (hidden ones included: instructors only), similar code.
    export   OUT/export/canvas.csv and OUT/export/moodle.csv for the LMS gradebooks.

Exit code 2 with a message when OUT has no grading of that assignment or a file in it is broken.
"""
import argparse
import sys

from .gradebook import Book, BookError, STATE


def parse(argv):
    p = argparse.ArgumentParser(prog='python -m grading', description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    for name, text in (('written', 'pages for the written questions; merge written.csv'),
                       ('report', 'the class report (OUT/report.html)'),
                       ('export', 'Canvas and Moodle gradebook CSVs (OUT/export/)')):
        s = sub.add_parser(name, help=text, description=text)
        s.add_argument('assignment', help='assignment name or autograder .zip (as when grading)')
        s.add_argument('out', help='the --out folder of the grading run')
        if name == 'export':
            s.add_argument('--canvas-column', help="the Canvas gradebook column, 'Name (assignment "
                                                   "id)' as in a Canvas export, e.g. 'Exercise 2 (123456)'")
            s.add_argument('--moodle-item', help='the Moodle grade item name (default: the assignment name)')
    return p.parse_args(argv)


def open_existing(args):
    from .grade import GraderError, find_assignment
    from pathlib import Path
    assignment = find_assignment(args.assignment)
    out = Path(args.out)
    if not (out / STATE).exists() and not (out / 'grades.csv').exists():
        raise GraderError(f"{out} holds no grading (no grades.csv): run "
                          f"`python -m grading {args.assignment} SUBMISSIONS --out {out}` first")
    return Book(out, assignment)


def main(argv):
    from .grade import GraderError
    args = parse(argv)
    try:
        book = open_existing(args)
        if args.command == 'written':
            from .written import write_pages
            path = book.refresh()
            pages = write_pages(book)
            print(f"Wrote {len(pages)} page(s) in {book.out / 'written'}/ and updated {path} and "
                  f"the feedback from {book.written_path}")
        elif args.command == 'report':
            from .report import build
            book.refresh()
            path, summary = build(book)
            print(f"Wrote {path} ({sum(summary['status'].values())} rows, "
                  f"{len(summary['similar'])} similar pair(s))")
        else:
            from . import lms
            book.refresh()
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
            if not wrote:
                raise GraderError('no export written (see the warnings above)')
            print('Wrote ' + ', '.join(wrote))
    except (GraderError, BookError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0
