"""Checks made once per grading process before any submission runs: where the data is, whether the
sandbox works on this machine, whether it supports what the assignment needs."""
import inspect
import os
import sys
import tempfile

from .assignment import GraderError

PREFLIGHT = '''
readable = []
for path in {paths!r}:
    try:
        with open(path, 'rb') as f:
            f.read(1)
        readable.append(path)
    except OSError:
        pass
ready = 1
'''


def sandbox():
    from . import sandbox as module
    return module


def data_folder():
    """The Fashion-MNIST folder the notebooks get (read-only), or None with a warning:
    $FASHION_MNIST_DIR, else the course's download cache, filled here (instructors/README.md). No
    folder beside the checkout is guessed: what gets graded against is what the instructor chose."""
    folder = os.environ.get('FASHION_MNIST_DIR')
    if folder:
        return folder
    try:  # the submissions run without network: fetch the data once, here
        # utils.data imports MXNet: only when the grader really has to download.
        from utils.data import ensure_downloaded
        return str(ensure_downloaded())
    except Exception as err:
        print(f"warning: no Fashion-MNIST data ({err}); notebooks that load it will fail. "
              f"Set FASHION_MNIST_DIR to a folder with the four .gz files.", file=sys.stderr)
        return None


def supports_epilogue():
    """Whether this grading/sandbox.py runs code after the notebook's last cell (`epilogue=`)."""
    return 'epilogue' in inspect.signature(sandbox().run_notebook).parameters


def require_probe_support(assignment):
    if assignment.probe and not supports_epilogue():
        raise GraderError(f"{assignment.path.name} carries a probe (probe.py) but this grader's "
                          f"sandbox cannot run it (sandbox.run_notebook has no epilogue=): update "
                          f"grading/ to a version that has it before grading this assignment")


def preflight(runtime, memory_bytes, secret_paths=()):
    """Run a two-line notebook in the sandbox before grading anything: if that fails, the grader
    cannot run (exit 2) rather than mark every submission as broken. Returns warnings.
    secret_paths: files the submissions must not be able to read (the autograder)."""
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        PREFLIGHT.format(paths=[str(p) for p in secret_paths]))])
    with tempfile.TemporaryDirectory(prefix='grade-preflight-') as private:
        try:
            run = sandbox().run_notebook(nbformat.writes(nb), 'preflight.ipynb', cell_timeout=120,
                                         total_timeout=180, memory_bytes=memory_bytes, copy_dirs=[],
                                         read_only=runtime.read_only, env=runtime.kernel_env,
                                         private_dir=os.path.join(private, 'export'))
        except OSError as err:  # e.g. its read-only image could not be made (disk full)
            raise GraderError(f'the sandbox cannot run a notebook on this machine: {err}') from err
        summary = run['summary'] if isinstance(run['summary'], dict) else {}
        namespace = {}
        if run['exported']:
            from .exported import read_exported
            namespace, _ = read_exported(os.path.join(private, 'export'))
    if namespace.get('ready') != 1:
        problem = summary.get('worker_error') or summary.get('dead_kernel') or \
            (summary.get('errors') or [None])[0] or run['stderr_tail'].strip()[-500:] or \
            f"worker exit code {run['exit']}"
        raise GraderError(f"the sandbox cannot run a notebook on this machine: {problem}")
    notes = [str(n) for n in summary.get('notes') or []]
    if namespace.get('readable'):
        notes.append('submissions can read the autograder file: the sandbox (bubblewrap) should '
                     'show them nothing of the host; check grading/sandbox_bwrap.py')
    return notes


def isolation_warning():
    """What this machine's sandbox cannot guarantee (bubblewrap missing, not root, no pids
    cgroup), said once per batch; None when everything holds."""
    return '; '.join(sandbox().isolation_warnings()) or None

