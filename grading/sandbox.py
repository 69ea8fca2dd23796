"""Run one untrusted notebook in a throw-away sandbox, with limits, and hand back plain data.

Used by `grading.grade`. The isolation is bubblewrap's (Debian package `bubblewrap`) with a
seccomp filter from libseccomp; this module only decides what goes in:
- `sandbox_limits`: a user id of its own for every concurrent submission (61184-65519, systemd's
  range for dynamic users: process limits and key quotas are per submission) and one cgroup for
  all its processes (memory limit, tmpfs pages included; pids limit);
- `sandbox_launch`: joins those cgroups and a new empty session keyring, sets the resource
  limits, then becomes bwrap (arguments through `--args FD`: no host path on a command line);
- `sandbox_bwrap`: the file system inside (system, Python and data read-only at neutral paths;
  size-capped tmpfs for the submission's folder /work, /tmp, /var/tmp, /dev/shm; own /proc, no
  /sys/fs/cgroup), new PID, network, IPC, UTS and cgroup namespaces;
- `sandbox_seccomp`: denies keyrings, ptrace, bpf, perf, userfaultfd, mounts and new (user)
  namespaces, after Docker's and Podman's default profiles;
- `sandbox_worker` (runs inside): becomes the submission's user, runs the notebook with
  nbclient (time limits, one output budget for every message type), the grader's epilogue, and
  exports the variables as plain data (JSON + .npz, no pickle).
Landlock (the previous sandbox's second wall) is gone: with nothing of the host mounted, every
path it guarded does not exist, the network namespace has no route out and its own abstract
socket names, and the PID namespace holds no process to signal.

Everything the grader keeps comes through one file it opened before starting the sandbox and
hands to the worker as a descriptor (`read_channel`): the kernel never holds it (the worker is
not dumpable and the descriptor is closed on exec), and no file of the sandbox is ever read.
`read_exported` rebuilds the values and trusts nothing in them; the tests run in a separate
process (`grading.grade`). This file must stay importable on its own (standard library at module
level): grade.py's test process imports it by path for `read_exported`.
"""
import importlib.util
import json
import os
import shutil
import signal
import stat
import sys
import time

MAX_EXPORT_BYTES = 200 * 2**20         # all exported arrays together (see sandbox_worker)
MAX_JSON_BYTES = 20 * 2**20
MAX_EXECUTED_BYTES = 50 * 2**20
MAX_OUTPUT_BYTES = 2 * 2**20           # everything a notebook's outputs add to it
WORKER_BYTES = 160 * 2**20             # the cgroup's room for the worker (nbclient), not the submission's
HERE = os.path.dirname(os.path.abspath(__file__))


def _sibling(name):
    """grading/NAME.py, imported by path (this file is also imported outside its package)."""
    module = sys.modules.get(f'grading_{name}')
    if module is None:
        spec = importlib.util.spec_from_file_location(f'grading_{name}', os.path.join(HERE, f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[f'grading_{name}'] = module
    return module


def open_inside(folder_fd, relpath, max_bytes):
    """Read a file without following links or blocking on FIFOs (sandbox_worker.open_inside)."""
    return _sibling('sandbox_worker').open_inside(folder_fd, relpath, max_bytes)


def bwrap_path():
    return shutil.which('bwrap', path=os.environ.get('PATH', '') + ':/usr/bin:/bin')


def isolation_warnings():
    """Sentences, said once per batch, on guarantees this machine cannot give."""
    limits = _sibling('sandbox_limits')
    out = []
    if bwrap_path() is None:
        out.append('bwrap is not installed: no submission can run. The sandbox is built on '
                   'bubblewrap: install it (Debian/Ubuntu: apt-get install bubblewrap)')
    if os.geteuid() != 0:
        out.append('the grader is not root: every submission runs as YOUR user (a user id of its '
                   'own per submission needs root), so process limits are shared between them')
    version, how = limits.support('pids')
    if version is None:
        out.append(how)
    return out


def memory_group_support():
    """(cgroup version or None, a sentence on how the whole-submission memory limit holds)."""
    return _sibling('sandbox_limits').support('memory')


CHANNEL_LIMITS = {'summary.json': MAX_JSON_BYTES, 'executed.ipynb': MAX_EXECUTED_BYTES,
                  'names.json': MAX_JSON_BYTES, 'arrays.npz': MAX_EXPORT_BYTES + 2**20}


def read_channel(fd):
    """({name: bytes}, None) from the worker's channel file, or ({}, why it cannot be read)."""
    os.lseek(fd, 0, os.SEEK_SET)
    size = os.fstat(fd).st_size
    with os.fdopen(os.dup(fd), 'rb') as f:
        header = f.readline(65536)
        if not header.endswith(b'\n'):
            return {}, 'the sandbox wrote no record' if size == 0 else 'the record header is cut'
        try:
            entries = json.loads(header)
            entries = [(str(k), int(n)) for k, n in entries]
        except (ValueError, TypeError):
            return {}, 'the record header is malformed'
        out = {}
        for name, length in entries:
            if name not in CHANNEL_LIMITS or not 0 <= length <= CHANNEL_LIMITS[name] or name in out:
                return {}, f'unexpected record {name[:40]!r} of {length} bytes'
            data = f.read(length)
            if len(data) != length:
                return {}, f'record {name} is cut ({len(data)} of {length} bytes)'
            out[name] = data
        if f.read(1):
            return {}, 'extra bytes after the records'
    return out, None


def _cell_times(summary):
    """[(index among the notebook's code cells, counting from 0, seconds)] from a report."""
    out = []
    for item in (summary or {}).get('cell_times') or []:
        try:
            index, seconds = item
            if isinstance(index, int) and not isinstance(index, bool) and index >= 0:
                out.append((index, round(float(seconds), 3)))
        except (TypeError, ValueError):
            continue
    return out




def _start(config, read_only, settings, files, seccomp, base, channel):
    """Start the launcher (which becomes bwrap); returns (Popen, the descriptors to close)."""
    import subprocess
    bwrap = _sibling('sandbox_bwrap')
    _, python_inside, layout_files = bwrap.python_layout()
    fds = {path: bwrap.memfd('grader-file', data.encode() if isinstance(data, str) else data)
           for path, data in {**files, **layout_files}.items()}
    seccomp_fd = bwrap.memfd('grader-seccomp', seccomp)
    args = bwrap.bwrap_args(uid=config['uid'], read_only=read_only, seccomp_fd=seccomp_fd,
                            work_bytes=config['work_bytes'], scratch_bytes=config['scratch_bytes'],
                            data_fds=fds)
    args_fd = bwrap.memfd('grader-args', b''.join(a.encode() + b'\0' for a in args))
    opened = [seccomp_fd, args_fd, *fds.values()]
    command = [sys.executable, '-I', '-S', '-B', os.path.join(HERE, 'sandbox_launch.py'),
               json.dumps(settings), bwrap_path() or 'bwrap', '--args', str(args_fd), '--',
               python_inside, '-I', '-B', '/grader/worker.py']
    out = open(os.path.join(base, 'worker.err'), 'w+b')
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=base,
                            start_new_session=True, pass_fds=(channel, *opened),
                            env={'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8'})
    return proc, out, opened


def _settings(config, group):
    rlimits = {'RLIMIT_AS': [config['memory_bytes']] * 2, 'RLIMIT_CORE': [0, 0],
               'RLIMIT_CPU': [config['total_timeout'] + 60, config['total_timeout'] + 65],
               'RLIMIT_FSIZE': [512 * 2**20] * 2}
    if config['uid'] is not None:  # counts every process of the user: only for a user of its own
        rlimits['RLIMIT_NPROC'] = [_sibling('sandbox_limits').PIDS_MAX] * 2
    return {'cgroup_procs': group.procs if group else [], 'rlimits': rlimits}


_SECCOMP = []


def _wait(proc, err, total_timeout):
    """(hard timeout?, the worker's stderr tail, pids that outlived it and were killed)."""
    hard_timeout, strays = False, []
    try:
        # Kernel start-up and the export get their own minute on top of the notebook's time.
        hard_timeout = not wait_unreaped(proc.pid, total_timeout + 60)
    finally:
        # The launcher (bwrap) is not reaped yet: its pid, and so its process group and session
        # id, cannot be given to another process before everything in them is killed.
        strays = kill_session(proc.pid)
        proc.wait()
    err.seek(0, os.SEEK_END)
    err.seek(max(0, err.tell() - 4000))
    return hard_timeout, err.read().decode('utf-8', 'replace'), strays


def _keep(records, private_dir, keep_executed):
    """Write the executed notebook and the export where the grader wants them; (summary or
    None, exported?, why the report is unusable or None)."""
    summary, why = None, None
    if 'summary.json' in records:
        try:
            summary = json.loads(records['summary.json'].decode('utf-8'))
        except ValueError:
            why = 'the report is not JSON'
    else:
        why = 'no report in the record'
    if keep_executed and 'executed.ipynb' in records:
        with open(keep_executed, 'wb') as f:
            f.write(records['executed.ipynb'])
    exported = 'names.json' in records and 'arrays.npz' in records
    if exported:
        os.makedirs(private_dir, exist_ok=True)
        for file_name in ('names.json', 'arrays.npz'):
            with open(os.path.join(private_dir, file_name), 'wb') as f:
                f.write(records[file_name])
    return (summary if isinstance(summary, dict) else None), exported, why


def run_notebook(notebook_text, notebook_name, *, cell_timeout, total_timeout, memory_bytes,
                 copy_dirs=(), read_only=(), env=None, private_dir, keep_executed=None,
                 work_root=None, use_cgroup=True, epilogue=None):
    """Execute a notebook (JSON text) in a fresh sandbox; copy what it exported into private_dir.

    copy_dirs: folders copied next to the notebook's folder (e.g. the repository's utils/, so that
    `sys.path.append('..'); import utils` works as in the repository). read_only: extra paths the
    kernel may read, seen inside at /data/N (a value of `env` naming one is rewritten to match).
    keep_executed: where to write the executed notebook. epilogue: Python code run in the same
    kernel after the last cell (whether or not a cell raised), within the same limits; its
    outputs stay out of the executed notebook, its variables are exported like the notebook's.
    Returns a dict: summary (the worker's report, untrusted), exit (the worker's exit code or
    None), hard_timeout (bool), exported (bool), channel_error (why the worker's record could not
    be read, or None), cleanup (notes on what had to be killed), cgroup (bool), oom_kills (int),
    epilogue_error (str or None), uid (the submission's user id, None when not root).
    """
    limits, layout = _sibling('sandbox_limits'), _sibling('sandbox_bwrap')
    if not _SECCOMP:
        _SECCOMP.append(_sibling('sandbox_seccomp').seccomp_bpf())
    import tempfile
    base = tempfile.mkdtemp(prefix='grade-', dir=work_root)  # 0700 from the start
    group, cleanup, channel, claim = None, [], None, None
    try:
        channel = os.open(os.path.join(base, 'channel'), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        claim = limits.UserIds().claim() if os.geteuid() == 0 else None
        group = limits.Group.create(memory_bytes + WORKER_BYTES) if use_cgroup else None
        mapping = layout.data_paths(read_only)
        config = {'notebook': notebook_name, 'cell_timeout': int(cell_timeout),
                  'total_timeout': int(total_timeout), 'memory_bytes': int(memory_bytes),
                  'scratch_bytes': int(min(memory_bytes // 4, 2**30)),
                  'work_bytes': int(min(memory_bytes // 2, 2**30)), 'max_output_bytes': MAX_OUTPUT_BYTES,
                  'env': layout.inside_env(env, mapping),  # no host path goes in
                  'channel_fd': channel, 'uid': claim[0] if claim else None, 'epilogue': epilogue}
        files = {'/grader/worker.py': open(os.path.join(HERE, 'sandbox_worker.py'), 'rb').read(),
                 '/grader/input.tar': layout.input_archive(notebook_text, notebook_name, copy_dirs),
                 **layout.identity_files(config['uid'])}
        settings = _settings(config, group)
        files['/grader/config.json'] = json.dumps(config)
        proc, err, opened = _start(config, list(mapping), settings, files, _SECCOMP[0], base, channel)
        for fd in opened:
            os.close(fd)
        with err:
            hard_timeout, stderr_tail, strays = _wait(proc, err, total_timeout)
        if strays:
            cleanup.append(f'{len(strays)} process(es) the submission started outlived it: killed')
        for killed, what in ((group.kill_all() if group else 0, 'of the submission were still running after it ended'),
                             (limits.UserIds.release(*claim) if claim else 0, "of the submission's user outlived it")):
            if killed:
                cleanup.append(f'{killed} process(es) {what}: killed')
        claim = None
        records, channel_error = ({}, 'the run hit the hard time limit') if hard_timeout else read_channel(channel)
        summary, exported, why = _keep(records, private_dir, keep_executed)
        if summary is not None:
            summary['notes'] = []
        epilogue_error = (summary or {}).get('epilogue_error') if epilogue else None
        return {'summary': summary, 'folder': base, 'cell_times': _cell_times(summary),
                'exit': proc.returncode, 'hard_timeout': hard_timeout, 'exported': exported,
                'stderr_tail': stderr_tail, 'channel_error': None if hard_timeout else (channel_error or why),
                'cleanup': cleanup, 'cgroup': bool(group and 'memory' in group.paths),
                'oom_kills': group.oom_kills() if group else 0,
                'executed_kept': bool(keep_executed and 'executed.ipynb' in records),
                'epilogue_error': None if epilogue_error is None else str(epilogue_error)[:500],
                'uid': config['uid']}
    finally:
        if channel is not None:
            os.close(channel)
        if group:
            group.kill_all(grace=0)
            group.remove()
        if claim:
            limits.UserIds.release(*claim)
        remove_tree(base)


def remove_tree(path):
    """Remove a folder whatever a submission did to it: any depth (no recursion, one open folder
    at a time, so neither the recursion limit nor PATH_MAX nor the descriptor limit matters),
    read-only files, folders without permissions (they are given 0700 first), links (removed,
    never followed), FIFOs and sockets."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return

    def open_dir(name, dir_fd):
        try:
            return os.open(name, flags, dir_fd=dir_fd)
        except PermissionError:
            os.chmod(name, 0o700, dir_fd=dir_fd)
            return os.open(name, flags, dir_fd=dir_fd)

    fd = open_dir(path, None)
    names = []  # the path from `path` down to the folder `fd` is open on
    try:
        while True:
            try:
                os.fchmod(fd, 0o700)  # so that we may list it and remove from it
            except OSError:
                pass
            sub = None
            with os.scandir(fd) as it:
                entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
            for name, is_dir in entries:
                if is_dir:
                    sub = name
                    break
                os.unlink(name, dir_fd=fd)
            if sub is not None:
                child = open_dir(sub, fd)
                os.close(fd)
                fd = child
                names.append(sub)
                continue
            if not names:
                break
            parent = os.open('..', flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)



def wait_unreaped(pid, timeout):
    """Wait up to `timeout` seconds for our child `pid` to exit, without reaping it (so its pid
    stays ours until the caller waits for it). True if it exited."""
    import select
    deadline = time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(0.1, left))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def kill_session(pid):
    """SIGKILL the process group and session of our child `pid`, which must not be reaped yet
    (else the number may already belong to an unrelated process, e.g. another sandbox's kernel:
    a pid, process group or session id is reused only when nothing holds it). Returns the pids
    of the session's other members that were still alive."""
    try:
        os.killpg(pid, signal.SIGKILL)  # the worker and all it left behind
    except ProcessLookupError:
        pass
    # Those in its group got the signal above; the others left the group (still in the session).
    strays = [p for p, state, group in session_members(pid) if p != pid and state != 'Z' and group != pid]
    for p in strays:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    return strays


def session_members(sid):
    """(pid, state, process group) of the processes in session `sid` (the worker starts one; a
    process that escaped the PID namespace, where there is none, would still be in it unless it
    called setsid)."""
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/stat', 'rb') as f:
                fields = f.read().rsplit(b')', 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid:
            found.append((int(name), fields[0].decode('ascii', 'replace'), int(fields[2])))
    return found



class ExportError(ValueError):
    """The exported data is not in the expected shape (the submission may have tampered with it)."""


def read_exported(private_dir):
    """{name: value} of plain data from the export files; (namespace, skipped).

    Only builds None/bool/int/float/str, lists, tuples, dicts, numeric numpy arrays, pandas
    DataFrames and Series; anything else raises ExportError. No pickle: `allow_pickle=False`.
    """
    import zipfile

    import numpy as np
    import pandas as pd

    with open(os.path.join(private_dir, 'names.json'), 'rb') as f:
        doc = json.loads(f.read().decode('utf-8'))
    npz_path = os.path.join(private_dir, 'arrays.npz')
    with zipfile.ZipFile(npz_path) as zf:  # refuse archives that expand beyond the export limit
        if sum(info.file_size for info in zf.infolist()) > MAX_EXPORT_BYTES + 2**20:
            raise ExportError('exported arrays are larger than the limit')
    arrays = np.load(npz_path, allow_pickle=False)
    count = [0]

    def dec(node, depth=0):
        count[0] += 1
        if depth > 10 or count[0] > 2_000_000 or not isinstance(node, dict) or set(node) != {'t', 'v'}:
            raise ExportError('malformed value')
        kind, value = node['t'], node['v']
        if kind == 'json' and (value is None or isinstance(value, (bool, str))):
            return value
        if kind == 'int' and isinstance(value, str) and len(value) < 5000:
            return int(value)
        if kind == 'float' and isinstance(value, str):
            return float(value)
        if kind in ('list', 'tuple') and isinstance(value, list):
            items = [dec(v, depth + 1) for v in value]
            return items if kind == 'list' else tuple(items)
        if kind == 'dict' and isinstance(value, list):
            out = {}
            for pair in value:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise ExportError('malformed dict')
                key = dec(pair[0], depth + 1)
                if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                    raise ExportError('unhashable key')
                out[key] = dec(pair[1], depth + 1)
            return out
        if kind == 'array' and isinstance(value, str) and value in arrays.files:
            array = arrays[value]
            if array.dtype.kind not in 'biuf':
                raise ExportError('non-numeric array')
            return array
        if kind == 'dataframe' and isinstance(value, dict) and set(value) == {'columns', 'data', 'index'}:
            columns = dec(value['columns'], depth + 1)
            data = [dec(col, depth + 1) for col in _list(value['data'])]
            index = dec(value['index'], depth + 1)
            if not (isinstance(columns, list) and len(columns) == len(data)):
                raise ExportError('malformed DataFrame')
            return pd.DataFrame({c: d for c, d in zip(columns, data)}, index=index, columns=columns)
        if kind == 'series' and isinstance(value, dict) and set(value) == {'data', 'index', 'name'}:
            return pd.Series(dec(value['data'], depth + 1), index=dec(value['index'], depth + 1),
                             name=dec(value['name'], depth + 1))
        raise ExportError(f'unexpected value of kind {str(kind)[:20]!r}')

    def _list(x):
        if not isinstance(x, list):
            raise ExportError('malformed list')
        return x

    if not isinstance(doc, dict) or not isinstance(doc.get('names'), dict):
        raise ExportError('malformed export')
    namespace, skipped = {}, {}
    for name, node in doc['names'].items():
        if not (isinstance(name, str) and name.isidentifier()):
            continue
        try:
            namespace[name] = dec(node)
        except (ExportError, ValueError, TypeError, KeyError) as err:
            skipped[name] = f'unreadable ({err})'
    for name, why in (doc.get('skipped') or {}).items():
        if isinstance(name, str) and name.isidentifier():
            skipped[name] = str(why)[:200]
    return namespace, skipped
