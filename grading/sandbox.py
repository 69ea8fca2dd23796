"""Run one untrusted notebook in a throw-away sandbox, with limits, and hand back plain data.

The isolation is bubblewrap's with a seccomp filter (sandbox_seccomp), started through maintained
tools that each exec the next: cgexec (the submission's memory and pids cgroups, sandbox_limits,
which also hands out a user id per submission), prlimit (rlimits), keyctl (a new, empty session
keyring); bwrap's arguments (sandbox_bwrap, sandbox_image) come through `--args FD`. Inside,
sandbox_worker becomes the submission's user and runs the notebook (notebook_run.py).
What the kernel guarantees, and no code here polices: every process the submission starts lives
in the PID namespace, which dies with bwrap's init (and that with bwrap: --die-with-parent;
`_wait` waits for it); its SysV IPC dies with the IPC namespace; it can write nowhere but tmpfs
mounts that vanish with the mount namespace (tests/test_sandbox_isolation.py and
tests/test_grading_hostile.py prove each). Everything the grader keeps comes through one file it
opened before starting the sandbox and hands to the worker as a descriptor (`read_channel`): the
kernel never holds it (the worker is not dumpable, the descriptor is closed on exec), and no file
of the sandbox is ever read.
"""
import functools
import json
import os
import select
import shutil
import subprocess
import tarfile
import tempfile

from . import sandbox_bwrap as layout
from . import sandbox_image, sandbox_limits, sandbox_seccomp
from .exported import FILE_LIMITS, MAX_JSON_BYTES
from .records import UntrustedSummary

MAX_EXECUTED_BYTES = 50 * 2**20
MAX_OUTPUT_BYTES = 2 * 2**20           # everything a notebook's outputs add to it
WORKER_BYTES = 160 * 2**20             # the cgroup's room for the worker (nbclient), not the submission's
HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_FILES = {'/grader/worker.py': 'sandbox_worker.py', '/grader/notebook_run.py': 'notebook_run.py',
                '/grader/exported.py': 'exported.py'}
CHANNEL_LIMITS = {'summary.json': MAX_JSON_BYTES, 'executed.ipynb': MAX_EXECUTED_BYTES, **FILE_LIMITS}
CHANNEL_BYTES = sum(CHANNEL_LIMITS.values()) + tarfile.RECORDSIZE * (len(CHANNEL_LIMITS) + 1)  # with headers


# The maintained tools the sandbox is made of ({command: Debian package}); without one the grader
# refuses to start.
TOOLS = {'bwrap': 'bubblewrap', 'cgcreate': 'cgroup-tools', 'cgset': 'cgroup-tools',
         'cgexec': 'cgroup-tools', 'prlimit': 'util-linux', 'keyctl': 'keyutils'}


bwrap_path = functools.partial(sandbox_image.tool, 'bwrap')


def missing_tools():
    """None, or the sentence that names the Debian packages to install."""
    missing = {command: package for command, package in TOOLS.items() if not os.access(
        (bwrap_path() if command == 'bwrap' else shutil.which(command, path='/usr/bin:/bin')) or '', os.X_OK)}
    if missing:
        return (f"the sandbox is built on commands that are not installed here ({', '.join(missing)}): "
                f"install them (Debian/Ubuntu: apt-get install {' '.join(sorted(set(missing.values())))})")
    return None


def isolation_warnings():
    """Sentences, said once per batch, on guarantees this machine cannot give."""
    out = []
    if os.geteuid() != 0:
        out.append('the grader is not root: every submission runs as YOUR user (a user id of its '
                   'own per submission needs root), so process limits are shared between them, and '
                   'the course folders copied beside its notebook (utils/) are writable by it')
    version, how = sandbox_limits.support('pids')
    return out + ([how] if version is None else []) + [p for p in [sandbox_image.problem()] if p]


memory_group_support = functools.partial(sandbox_limits.support, 'memory')  # (True or None, how it holds)


class RefusedRecord(tarfile.TarError):
    pass


class _RecordHeader(tarfile.TarInfo):
    """A member header checked before tarfile acts on it: the worker writes plain USTAR files
    (write_channel), so an extension header (tarfile would load a pax header of any size into
    memory), a link, or a file over its cap is refused unread."""
    @classmethod
    def fromtarfile(cls, tar):
        header = cls.frombuf(tar.fileobj.read(tarfile.BLOCKSIZE), tar.encoding, tar.errors)
        if header.type != tarfile.REGTYPE or header.size > CHANNEL_LIMITS.get(header.name, -1):
            raise RefusedRecord(f'unexpected record {header.name[:40]!r} of {header.size} bytes')
        tar.fileobj.seek(-tarfile.BLOCKSIZE, os.SEEK_CUR)
        return super().fromtarfile(tar)


def read_channel(fd):
    """({name: bytes}, None) from the worker's channel file (a tar), or ({}, why it cannot be read)."""
    os.lseek(fd, 0, os.SEEK_SET)
    size = os.fstat(fd).st_size
    if size == 0:
        return {}, 'the sandbox wrote no record'
    if size > CHANNEL_BYTES:  # refused before tarfile reads any of it
        return {}, f'the record is {size} bytes, over its cap of {CHANNEL_BYTES}'
    out = {}
    try:
        with os.fdopen(os.dup(fd), 'rb') as f, tarfile.open(fileobj=f, mode='r:', tarinfo=_RecordHeader) as tar:
            for member in tar:
                if member.name in out:
                    return {}, f'unexpected record {member.name[:40]!r} twice'
                out[member.name] = tar.extractfile(member).read()
    except RefusedRecord as err:
        return {}, str(err)
    except (tarfile.TarError, OSError) as err:
        return {}, f'the record is cut or malformed ({err})'
    return out, None


def _start(config, mounts, files, base, channel, group):
    """Start bwrap (through cgexec, prlimit and keyctl); returns (Popen, its output file, a pidfd
    of the sandbox's init or None, bwrap's status pipe)."""
    fds = {path: layout.memfd('grader-file', data.encode() if isinstance(data, str) else data)
           for path, data in {**files, **mounts.files}.items()}
    seccomp_fd = layout.memfd('grader-seccomp', sandbox_seccomp.seccomp_bpf())
    status_read, status_write = os.pipe()
    args = layout.bwrap_args(uid=config['uid'], mounts=mounts, seccomp_fd=seccomp_fd,
                             work_bytes=config['work_bytes'], scratch_bytes=config['scratch_bytes'],
                             data_fds=fds) + ['--json-status-fd', str(status_write)]
    args_fd = layout.memfd('grader-args', b''.join(a.encode() + b'\0' for a in args))
    memory, cpu = config['memory_bytes'], config['total_timeout'] + 60
    # Before bwrap (and so everything in the sandbox) exists: the cgroups (what is forked later is
    # born in them), resource limits (RLIMIT_NPROC counts every process of the user: only for a
    # user of its own) and a new empty session keyring (a grader started from a login or sudo
    # session would else hand its keys to the sandbox). Each tool execs the next.
    command = (group.cgexec() if group else []) + [
        'prlimit', f'--as={memory}:{memory}', '--core=0:0', f'--cpu={cpu}:{cpu + 5}', f'--fsize={512 * 2**20}'] + (
        [f'--nproc={sandbox_limits.PIDS_MAX}'] if config['uid'] is not None else []) + [
        'keyctl', 'session', '-', bwrap_path() or 'bwrap', '--args', str(args_fd), '--',
        mounts.python, '-I', '-B', '/grader/worker.py']
    out = open(os.path.join(base, 'worker.err'), 'w+b')
    opened = [seccomp_fd, args_fd, status_write, *fds.values()]
    status = os.fdopen(status_read, 'rb')
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=base,
                                start_new_session=True, pass_fds=(channel, *opened),
                                env={'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8'})
    except BaseException:
        status.close()
        out.close()
        raise
    finally:
        for fd in opened:
            os.close(fd)
    return proc, out, _namespace_init(status), status


def _namespace_init(status):
    """A pidfd of the sandbox's init (PID 1 inside), whose end is the end of every process of the
    sandbox: bwrap names it in its JSON status while it is still bwrap's unreaped child."""
    for line in status:  # one JSON object a line
        pid = json.loads(line).get('child-pid')
        if pid:
            try:
                return os.pidfd_open(pid)
            except OSError:  # already gone
                return None
    return None  # bwrap failed before making the sandbox


def _wait(proc, err, init, total_timeout):
    """(hard timeout?, the worker's stderr tail). bwrap returns when the worker ends; its init
    then dies with it (--die-with-parent) and the kernel empties the PID namespace, which this
    waits for (a daemon of the submission is gone when run_notebook returns)."""
    try:
        # Kernel start-up and the export get their own minute on top of the notebook's time.
        proc.wait(total_timeout + 60)
        hard_timeout = False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        hard_timeout = True
    if init is not None:
        select.select([init], [], [], 30)
        os.close(init)
    err.seek(0, os.SEEK_END)
    err.seek(max(0, err.tell() - 4000))
    return hard_timeout, err.read().decode('utf-8', 'replace')


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
    exported = all(name in records for name in FILE_LIMITS)
    if exported:
        os.makedirs(private_dir, exist_ok=True)
        for file_name in FILE_LIMITS:
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
    be read, or None), cgroup (bool), oom_kills (int), epilogue_error (str or None), uid (the
    submission's user id, None when not root).
    """
    if missing_tools():  # the grader refuses to start (grade.py): only a caller of this module gets here
        raise OSError(missing_tools())
    mounts = layout.mounts(read_only)
    base = tempfile.mkdtemp(prefix='grade-', dir=work_root)  # 0700 from the start
    group, channel, claim = None, None, None
    try:
        channel = os.open(os.path.join(base, 'channel'), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        claim = sandbox_limits.claim_uid() if os.geteuid() == 0 else None
        group = sandbox_limits.Group.create(memory_bytes + WORKER_BYTES) if use_cgroup else None
        config = {'notebook': notebook_name, 'cell_timeout': int(cell_timeout),
                  'total_timeout': int(total_timeout), 'memory_bytes': int(memory_bytes),
                  'scratch_bytes': int(min(memory_bytes // 4, 2**30)),
                  'work_bytes': int(min(memory_bytes // 2, 2**30)), 'max_output_bytes': MAX_OUTPUT_BYTES,
                  'env': layout.inside_env(env, mounts.data),  # no host path goes in
                  'channel_fd': channel, 'uid': claim[0] if claim else None, 'epilogue': epilogue}
        files = {inside: open(os.path.join(HERE, name), 'rb').read() for inside, name in WORKER_FILES.items()}
        files.update({'/grader/input.tar': layout.input_archive(notebook_text, notebook_name, copy_dirs),
                      '/grader/config.json': json.dumps(config), **layout.identity_files(config['uid'])})
        proc, err, init, status = _start(config, mounts, files, base, channel, group)
        with err, status:
            hard_timeout, stderr_tail = _wait(proc, err, init, total_timeout)
        records, channel_error = ({}, 'the run hit the hard time limit') if hard_timeout else read_channel(channel)
        summary, exported, why = _keep(records, private_dir, keep_executed)
        if summary is not None:
            summary['notes'] = []
        epilogue_error = (summary or {}).get('epilogue_error') if epilogue else None
        checked = UntrustedSummary.from_report(summary)  # records.py validates the report's fields
        return {'summary': summary, 'folder': base, 'cell_times': list(checked.cell_times) if checked else [],
                'exit': proc.returncode, 'hard_timeout': hard_timeout, 'exported': exported,
                'stderr_tail': stderr_tail, 'channel_error': None if hard_timeout else (channel_error or why),
                'cgroup': bool(group and 'memory' in group.paths),
                'oom_kills': group.oom_kills() if group else 0,
                'executed_kept': bool(keep_executed and 'executed.ipynb' in records),
                'epilogue_error': None if epilogue_error is None else str(epilogue_error)[:500],
                'uid': config['uid']}
    finally:
        if channel is not None:
            os.close(channel)
        if group:
            group.remove()  # empty by now (see _wait)
        if claim:
            os.close(claim[1])
        shutil.rmtree(base)  # only the grader's own files: the channel and bwrap's output
