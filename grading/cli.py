"""`python -m grading COMMAND ...`: the grader's commands.

    grade    grade a folder of submissions (the default: `python -m grading ASSIGNMENT DIR --out OUT`)
    written  pages for the written questions; merge OUT/written.csv     (grading/classtools.py)
    report   the class report, OUT/report.html                          (grading/classtools.py)
    export   Canvas and Moodle gradebook CSVs, OUT/export/              (grading/classtools.py)
    gradescope  a Gradescope autograder zip for one assignment          (grading/gradescope.py)

A new command is one `register(Command(name, summary, run))` call: `run(argv)` gets the command
line from the command's name on and returns the exit code. Nothing here imports more than the
standard library: `--help` stays fast and imports neither MXNet nor matplotlib.
"""
import sys
from dataclasses import dataclass
from typing import Callable

COMMANDS = {}
DEFAULT = 'grade'


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    run: Callable      # run(argv: list[str], argv[0] == name) -> exit code


def register(command):
    COMMANDS[command.name] = command
    return command


def _grade(argv):
    from .grade import run_command
    return run_command(argv[1:])


def _class_tool(argv):
    from .classtools import main
    return main(argv)


register(Command('grade', 'grade a folder of submissions (the default command)', _grade))
register(Command('written', 'pages for the written questions; merge OUT/written.csv', _class_tool))
register(Command('report', 'the class report (OUT/report.html)', _class_tool))
register(Command('export', 'Canvas and Moodle gradebook CSVs (OUT/export/)', _class_tool))


def _gradescope(argv):
    from .gradescope import main
    return main(argv)


register(Command('gradescope', 'a Gradescope autograder zip for one assignment', _gradescope))


def overview():
    from .grade import grade_parser
    width = max(len(n) for n in COMMANDS)
    lines = ['usage: python -m grading COMMAND ...', '',
             'commands (`python -m grading COMMAND --help` for each):']
    lines += [f'  {c.name:<{width}}  {c.summary}' for c in COMMANDS.values()]
    lines += ['', f'Without a command name, the arguments are those of `{DEFAULT}` '
                  f'(`python -m grading {DEFAULT} ...` when an assignment is named like a command).',
              '', grade_parser().format_help()]
    return '\n'.join(lines)


def protect_streams():
    """Names and messages from submissions reach the log: never crash on printing them."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors='backslashreplace')
        except (AttributeError, ValueError):
            pass


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    protect_streams()
    if not argv or argv[0] in ('-h', '--help'):
        print(overview(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        argv = [DEFAULT, *argv]
    return COMMANDS[argv[0]].run(argv)
