"""Typed records of one grading run, from the sandbox's report to the gradebook's record.

    sandbox.run_notebook -> SandboxRun (its `summary`: UntrustedSummary) -> describe_run -> Outcome
    testproc.run_tests   -> TestRun
    grade_one            -> Graded (the record feedback.make_record builds, as JSON-able data)

The sandbox's report is written inside the sandbox, where the submission runs: the submission can
forge it. `UntrustedSummary.from_report` is the only way to build one; it keeps known fields of
the expected types, cut to bounded sizes, so that a forged report can only make the submission's
own row worse (an error, a timeout), never crash the grader or inject text without limit.
Standard library only.
"""
import os
import re
from dataclasses import dataclass, field

MAX_ITEMS = 1000   # errors, timeouts, notes, cell times kept from one report


def _int(value, minimum=0):
    """An int >= minimum, or None (bools and other types are refused)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= minimum else None


def _float(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and value == value and 0 <= value < 1e9 else None


def _text(value, limit):
    return str(value)[:limit] if value is not None else ''


@dataclass(frozen=True)
class CellError:
    cell: int | None       # index among all cells
    ename: str
    evalue: str


@dataclass(frozen=True)
class DeadKernel:
    cell: int | None
    returncode: int | None


@dataclass(frozen=True)
class UntrustedSummary:
    """The sandbox worker's report of a run: may have been forged by the submission."""
    errors: tuple = ()              # CellError
    timeouts: tuple = ()            # cell indices interrupted at the per-cell limit
    dead_kernel: DeadKernel | None = None
    stuck: int | None = None        # the cell that ignored the interrupt
    total_timeout: bool = False
    truncated_output: bool = False
    worker_error: str | None = None
    notes: tuple = ()
    cell_times: tuple = ()          # (index among code cells, seconds)
    kernel_start_seconds: float | None = None
    export_seconds: float | None = None

    @classmethod
    def from_report(cls, report):
        """The validated summary of a report (a dict from JSON), or None when it is not one."""
        if not isinstance(report, dict) or not report:
            return None
        items = lambda key: report.get(key) if isinstance(report.get(key), list) else []  # noqa: E731
        errors = tuple(CellError(_int(e.get('cell')), _text(e.get('ename'), 200), _text(e.get('evalue'), 500))
                       for e in [e for e in items('errors') if isinstance(e, dict)][:MAX_ITEMS])
        dead = report.get('dead_kernel')
        dead = DeadKernel(_int(dead.get('cell')), _int(dead.get('returncode'), minimum=-(2**31))) \
            if isinstance(dead, dict) else (DeadKernel(None, None) if dead else None)
        times = []
        for item in items('cell_times')[:MAX_ITEMS]:
            if isinstance(item, (list, tuple)) and len(item) == 2 and _int(item[0]) is not None \
                    and _float(item[1]) is not None:
                times.append((item[0], round(float(item[1]), 3)))
        worker_error = report.get('worker_error')
        return cls(errors=errors,
                   timeouts=tuple(i for i in items('timeouts')[:MAX_ITEMS] if _int(i) is not None),
                   dead_kernel=dead, stuck=_int(report.get('stuck')),
                   total_timeout=report.get('total_timeout') is True,
                   truncated_output=report.get('truncated_output') is True,
                   worker_error=_text(worker_error, 500) if worker_error else None,
                   notes=tuple(_text(n, 300) for n in items('notes')[:MAX_ITEMS]),
                   cell_times=tuple(times),
                   kernel_start_seconds=_float(report.get('kernel_start_seconds')),
                   export_seconds=_float(report.get('export_seconds')))

    def as_report(self):
        """The validated fields as the sandbox's report shape (what feedback.make_record reads)."""
        return {'errors': [{'cell': e.cell, 'ename': e.ename, 'evalue': e.evalue} for e in self.errors],
                'timeouts': list(self.timeouts), 'stuck': self.stuck,
                'dead_kernel': {'cell': self.dead_kernel.cell, 'returncode': self.dead_kernel.returncode}
                if self.dead_kernel else None,
                'total_timeout': self.total_timeout, 'truncated_output': self.truncated_output,
                'worker_error': self.worker_error, 'notes': list(self.notes),
                'cell_times': [list(t) for t in self.cell_times]}


@dataclass
class SandboxRun:
    """What sandbox.run_notebook returned. Everything but `summary` the grader measured itself."""
    summary: UntrustedSummary | None
    exit: int | None
    hard_timeout: bool
    exported: bool
    channel_error: str | None = None
    stderr_tail: str = ''
    cleanup: list = field(default_factory=list)
    oom_kills: int = 0
    folder: str | None = None       # the run's temporary folder (gone after the run)
    executed_kept: bool = False
    epilogue_error: str | None = None   # why the assignment's probe did not finish (from the report)

    @classmethod
    def from_sandbox(cls, result):
        return cls(summary=UntrustedSummary.from_report(result.get('summary')),
                   exit=result.get('exit'), hard_timeout=bool(result.get('hard_timeout')),
                   exported=bool(result.get('exported')), channel_error=result.get('channel_error'),
                   stderr_tail=result.get('stderr_tail') or '', cleanup=list(result.get('cleanup') or []),
                   oom_kills=int(result.get('oom_kills') or 0), folder=result.get('folder'),
                   executed_kept=bool(result.get('executed_kept')),
                   epilogue_error=_text(result['epilogue_error'], 300) if result.get('epilogue_error') else None)

    @property
    def cell_times(self):
        return list(self.summary.cell_times) if self.summary else []


@dataclass(frozen=True)
class Limits:
    cell: int
    total: int
    memory_mb: int
    max_output_mb: int = 2


@dataclass
class Outcome:
    status: str         # ok, error, timeout, killed, unreadable
    reason: str = ''
    notes: list = field(default_factory=list)


@dataclass
class TestRun:
    results: dict = field(default_factory=dict)    # {q: [{'hidden','passed','points','message','hint'}]}
    skipped: dict = field(default_factory=dict)    # {variable: why it was not exported}
    problem: str | None = None


def _cell(i):
    return f'cell {i + 1}' if isinstance(i, int) else 'a cell'


def exception_name(ename):
    """An exception's class name for the gradebook's reason column, which is plain text: a
    (dotted) Python name as it is, anything else (a name made up to forge text) described."""
    ename = str(ename)
    return ename if re.fullmatch(r'[A-Za-z_][A-Za-z0-9_.]{0,99}', ename) else \
        'an exception whose class name is not a Python name'


def run_notes(run, limits):
    summary = run.summary or UntrustedSummary()
    notes = [f"output beyond {limits.max_output_mb} MB was dropped"] if summary.truncated_output else []
    notes += list(summary.notes)
    notes += [f"{_cell(e.cell)} raised {e.ename}: {e.evalue}"[:300] for e in summary.errors]
    notes += run.cleanup
    if run.oom_kills:
        notes.append(f"the memory limit for the whole submission ({limits.memory_mb} MB, "
                     f"all its processes together) was reached: {run.oom_kills} process(es) killed")
    if run.epilogue_error:
        notes.append(f"the grader's probe (run after your last cell) did not finish: {run.epilogue_error}")
    if run.channel_error and not run.hard_timeout:
        notes.append(f"no usable record from the sandbox: {run.channel_error}")
    return notes


def describe_run(run, limits):
    """The Outcome of a SandboxRun. Its report may be forged by the submission, which can only
    make its own row worse, never better."""
    notes = run_notes(run, limits)
    summary = run.summary
    if run.hard_timeout:
        return Outcome('timeout', f"stopped at the total limit of {limits.total} s", notes)
    if summary is None:
        code = run.exit
        how = f'signal {-code}' if isinstance(code, int) and code < 0 else f'exit code {code}'
        tail = ' '.join(run.stderr_tail.split()[-60:])
        if tail:
            notes.append(f'the sandbox worker said: ...{tail[-400:]}')
        return Outcome('killed', f'no record from the sandbox ({run.channel_error or "no report"}; '
                                 f'worker {how})', notes)
    if summary.worker_error:
        return Outcome('error', f"the notebook could not be run: {summary.worker_error}"[:300], notes)
    if summary.dead_kernel:
        code = summary.dead_kernel.returncode
        how = f', signal {-code}' if isinstance(code, int) and code < 0 else \
            (f', exit code {code}' if code is not None else '')
        memory = ' (memory limit for the whole submission reached)' if run.oom_kills else ''
        return Outcome('killed', f"the kernel died in {_cell(summary.dead_kernel.cell)}{how}{memory}", notes)
    if summary.stuck is not None:
        return Outcome('timeout', f"{_cell(summary.stuck)} exceeded the per-cell limit of {limits.cell} s "
                                  f"and ignored the interrupt; later cells did not run", notes)
    if summary.timeouts:
        return Outcome('timeout', f"{_cell(summary.timeouts[0])} exceeded the per-cell limit of "
                                  f"{limits.cell} s (interrupted; later cells still ran)", notes)
    if summary.total_timeout:
        return Outcome('timeout', f"the total limit of {limits.total} s was reached; later cells did "
                                  f"not run", notes)
    if summary.errors:
        e, more = summary.errors[0], len(summary.errors) - 1
        memory = ' (memory cap reached)' if e.ename == 'MemoryError' else ''
        return Outcome('error', f"{_cell(e.cell)} raised {exception_name(e.ename)}{memory}"
                                f"{f' and {more} more error(s)' if more else ''}", notes)
    return Outcome('ok', '', notes)


def sanitize(text, folder):
    """Make messages identical between runs: no temporary paths, no colour codes; lone
    surrogates (from a submission's error message) escaped so that the text can be written."""
    text = re.sub(r'\x1b\[[0-9;]*m', '', str(text)).encode('utf-8', 'backslashreplace').decode('utf-8')
    if folder:
        text = text.replace(os.path.join(folder, 'run'), '<submission folder>').replace(folder, '<grader folder>')
    return re.sub(r'/tmp/(grade|tests)-[A-Za-z0-9_]+', '<grader folder>', text)


@dataclass
class Graded:
    """One graded submission as it travels back to the process that writes the gradebook: its
    record (JSON-able, the keys grading/feedback.py and gradebook.py read) and its executed
    notebook's bytes (None when not kept)."""
    record: dict
    executed: bytes | None = None
    seconds: float = 0.0

    @property
    def score(self):
        return round(sum(float(v) for v in (self.record.get('scores') or {}).values()), 4)
