"""Run one untrusted notebook in a throw-away folder, with limits, and hand back plain data.

Used by `grading.grade`. The grader (parent) prepares a private folder (0700), opens a record
file, makes a memory cgroup for the submission where the machine allows one, and starts this file
as a script with the record file as an inherited descriptor:

    python -I -B grading/sandbox.py CONFIG.json

The worker then, before any submission code runs:
- joins the submission's memory cgroup (one limit for all its processes; cgroup v2, or v1 on
  hybrid systems) and sets resource limits (address space = the memory cap per process, CPU
  seconds, file size, no core dumps);
- enters new mount, PID, network and IPC namespaces (as root directly; otherwise through a user
  namespace when the system allows it): everything the notebook starts dies with it, it has no
  network and its own abstract UNIX socket names, and its own SysV IPC and POSIX queues;
- moves into a new root file system (`build_root`): only the system, the Python installation and
  the data, read-only; its own folder, read-write; private size-capped tmpfs mounts on /dev/shm,
  /tmp and /var/tmp; a minimal /dev; a fresh /proc. No host socket file exists in it;
- when started as root, becomes `nobody`, and is not dumpable (the kernel, same user, can neither
  ptrace it nor open its descriptors);
- restricts the file system with Landlock (Linux >= 5.13) as a second wall.
Then it executes the notebook cell by cell with nbclient (per-cell and total time limits, output
capped, each code cell timed), and finally asks the kernel to write its variables as *plain data*
(JSON + .npz, no pickle) into a folder with a random name made just then, reads them back at once
(never following links), and writes its report, the executed notebook (built from its own copy of
the cells and the outputs it received) and the exported data to the record descriptor. The parent
reads only that record (`read_channel`), never a path in the submission's folder, rebuilds values
with `read_exported`, which trusts nothing in them, and runs the tests in a separate process
(`grading.grade`): test code never enters the sandbox, and nothing the submission defines
(functions, objects with a custom `__eq__`) reaches the tests. Afterwards the parent kills what is
left in the cgroup and the worker's session and removes the folder whatever it holds
(`remove_tree`).

This file must stay importable on its own (standard library at module level): the worker runs it
as a script, without importing the `utils` package (and so without importing MXNet).
"""
import ctypes
import ctypes.util
import errno
import json
import os
import pwd
import resource
import signal
import stat
import sys
import sysconfig
import time

UNPRIVILEGED_USER = 'nobody'
MAX_EXPORT_BYTES = 200 * 2**20         # all exported arrays together
MAX_ARRAY_ELEMENTS = 5_000_000         # one exported array
MAX_JSON_BYTES = 20 * 2**20
MAX_EXECUTED_BYTES = 50 * 2**20

# ----------------------------------------------------------------------------- Linux interfaces

_libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
CLONE_NEWIPC = 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = {'x86_64': 155, 'aarch64': 41, 'riscv64': 41}.get(os.uname().machine)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38

SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_ALL_ABI1 = (1 << 13) - 1
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
FILE_ONLY_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV


def _check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f'{what}: {os.strerror(err)}')
    return result


def _unshare(flags):
    _check(_libc.unshare(ctypes.c_int(flags)), 'unshare')


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f'mount {target}')


def _prctl(option, value):
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0)), 'prctl')


def landlock_abi():
    """The Landlock ABI version this kernel offers (0 when it has none)."""
    version = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                            ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(int(version), 0)


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [('allowed_access', ctypes.c_uint64), ('parent_fd', ctypes.c_int32)]


def apply_landlock(read_only, read_write, devices=()):
    """Allow only these paths from now on (this process and its children). Returns the ABI used.

    read_only: directories/files to read and execute; read_write: full access; devices: files or
    directories (like /dev) that may be read, written and ioctl'd but not created or removed.
    Paths that do not exist are skipped. TCP bind/connect is denied (ABI >= 4), and so are signals
    and abstract Unix sockets towards processes outside the sandbox (ABI >= 6).
    """
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, 'this kernel has no Landlock (Linux >= 5.13 with landlock)')
    handled = FS_ALL_ABI1 | (FS_REFER if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0) \
        | (FS_IOCTL_DEV if abi >= 5 else 0)
    fields = [handled]
    if abi >= 4:
        fields.append(NET_BIND_TCP | NET_CONNECT_TCP)
    if abi >= 6:
        fields.append(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL)
    attr = (ctypes.c_uint64 * len(fields))(*fields)
    ruleset = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                            ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    _check(ruleset, 'landlock_create_ruleset')
    read = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    device = read | FS_WRITE_FILE | (FS_TRUNCATE if abi >= 3 else 0) | (FS_IOCTL_DEV if abi >= 5 else 0)
    try:
        for paths, rights in ((read_only, read), (read_write, handled), (devices, device)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = rights & handled
                    if not stat.S_ISDIR(os.fstat(fd).st_mode):
                        allowed &= FILE_ONLY_RIGHTS
                    rule = _PathBeneath(allowed, fd)
                    _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                                         ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                                         ctypes.byref(rule), ctypes.c_uint32(0)),
                           f'landlock_add_rule {path}')
                finally:
                    os.close(fd)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)),
               'landlock_restrict_self')
    finally:
        os.close(ruleset)
    return abi


# ----------------------------------------------------------------------------- isolation steps

def set_limits(memory_bytes, cpu_seconds, file_bytes, as_nobody):
    """Resource limits inherited by the kernel and everything it starts."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if as_nobody:  # counts every process of the user: only meaningful for a dedicated user
        resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))


def _traversable_by_others(path):
    try:
        return bool(os.stat(path).st_mode & stat.S_IXOTH)
    except OSError:
        return False


def make_reachable(paths):
    """(root, inside our mount namespace) Let `nobody` reach `paths` whose parents are private.

    For a path like /root/.pyenv/versions/3.11 (where /root is 0700) an empty tmpfs is mounted on
    /root and only the needed path is bind-mounted back: the rest of /root stays invisible.
    """
    plans = {}
    for path in paths:
        parts = os.path.realpath(path).split(os.sep)[1:]
        for i in range(1, len(parts)):
            ancestor = os.sep + os.path.join(*parts[:i])
            if not _traversable_by_others(ancestor):
                plans.setdefault(ancestor, []).append(os.path.realpath(path))
                break
    for ancestor, targets in sorted(plans.items(), key=lambda kv: -len(kv[0])):
        fds = [(t, os.open(t, os.O_PATH | os.O_CLOEXEC)) for t in targets]
        _mount('tmpfs', ancestor, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0755,size=1m')
        for target, fd in fds:
            os.makedirs(target, mode=0o755, exist_ok=True)
            _mount(f'/proc/self/fd/{fd}', target, None, MS_BIND | MS_REC)
            os.close(fd)


def _statvfs_flags(path):
    """The mount flags of the file system holding `path`, as MS_* bits to keep on a remount
    (in a user namespace, a bind mount must keep the flags its source is locked with)."""
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            out |= ms
    return out


def _bind(source, target, read_only, device=False):
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            with open(target, 'w'):
                pass
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = _statvfs_flags(source) | MS_NOSUID | (0 if device else MS_NODEV) | (MS_RDONLY if read_only else 0)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | flags)


def _pivot_root(new_root, put_old):
    if SYS_PIVOT_ROOT is None:
        raise OSError(errno.ENOSYS, f'pivot_root number unknown on {os.uname().machine}')
    _check(_libc.syscall(ctypes.c_long(SYS_PIVOT_ROOT), new_root.encode(), put_old.encode()),
           'pivot_root')


DEVICES = ('null', 'zero', 'full', 'random', 'urandom', 'tty')


def build_root(staging, read_only, read_write, scratch_bytes):
    """(root, inside new mount + PID namespaces) Make a new root file system and move into it.

    The new root is an empty read-only tmpfs holding only: `read_only` paths bound read-only (the
    system, the Python installation, the data), `read_write` paths bound read-write (the
    submission's own folder), a minimal /dev (null, zero, full, random, urandom, tty), a fresh
    /proc of the new PID namespace, and private tmpfs mounts for /dev/shm, /tmp and /var/tmp of
    at most `scratch_bytes` each (their pages also count towards the memory cgroup). Nothing else
    of the host exists there: no /run, /home, /root, the repository or other submissions' folders,
    and so no host UNIX socket file can even be named. Paths keep their host names.
    `staging` is an empty directory used as the mount point of the new root.
    """
    _mount('tmpfs', staging, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0755,size=8m')
    old_umask = os.umask(0o022)
    try:
        size = max(1, scratch_bytes // 4096)
        for sub in ('tmp', 'var/tmp', 'dev', 'dev/shm', 'proc', 'sys'):
            os.makedirs(os.path.join(staging, sub), mode=0o755, exist_ok=True)
        _mount('tmpfs', os.path.join(staging, 'dev'), 'tmpfs', MS_NOSUID | MS_NOEXEC, 'mode=0755,size=64k')
        os.makedirs(os.path.join(staging, 'dev', 'shm'), mode=0o755, exist_ok=True)
        for sub in ('tmp', 'var/tmp', 'dev/shm'):
            _mount('tmpfs', os.path.join(staging, sub), 'tmpfs', MS_NOSUID | MS_NODEV,
                   f'mode=1777,nr_blocks={size},nr_inodes=100000')
        for name in DEVICES:
            if os.path.exists(f'/dev/{name}'):
                _bind(f'/dev/{name}', os.path.join(staging, 'dev', name), read_only=False, device=True)
        for name, target in (('fd', '/proc/self/fd'), ('stdin', '/proc/self/fd/0'),
                             ('stdout', '/proc/self/fd/1'), ('stderr', '/proc/self/fd/2')):
            os.symlink(target, os.path.join(staging, 'dev', name))
        _mount('proc', os.path.join(staging, 'proc'), 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC)
        binds = []
        for path, ro in [(p, True) for p in read_only] + [(p, False) for p in read_write]:
            if not path or not os.path.lexists(path) or path in ('/proc', '/dev', '/dev/shm', '/tmp'):
                continue
            # Top-level links such as /lib -> usr/lib are recreated as links.
            if os.path.islink(path) and os.path.dirname(path) == '/':
                link = os.path.join(staging, path.lstrip('/'))
                if not os.path.lexists(link):
                    os.symlink(os.readlink(path), link)
            binds.append((os.path.realpath(path), ro))
        done = []
        for path, ro in sorted(set(binds), key=lambda b: (b[0].count('/'), b[0], not b[1])):
            # A path inside one already bound the same way comes with it.
            if any(path == d or path.startswith(d.rstrip('/') + '/') for d, r in done if r == ro):
                continue
            _bind(path, os.path.join(staging, path.lstrip('/')), read_only=ro)
            done.append((path, ro))
        os.makedirs(os.path.join(staging, '.old-root'), mode=0o700)
    finally:
        os.umask(old_umask)
    _pivot_root(staging, os.path.join(staging, '.old-root'))
    os.chdir('/')
    _check(_libc.umount2(b'/.old-root', ctypes.c_int(MNT_DETACH)), 'umount old root')
    os.rmdir('/.old-root')
    _mount(None, '/', None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)



def enter_namespaces():
    """New mount, PID, network and IPC namespaces; returns a word describing what was possible.

    The IPC namespace gives the submission its own SysV shared memory, semaphores and message
    queues (and POSIX message queues): they vanish with it and no other submission sees them.
    The network namespace has no interface but a down loopback, and its own abstract UNIX socket
    names: no host listener is reachable through it.
    """
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
    if os.geteuid() == 0:
        _unshare(flags)
        return 'root'
    uid, gid = os.getuid(), os.getgid()
    _unshare(CLONE_NEWUSER | flags)
    for name, text in (('setgroups', 'deny'), ('uid_map', f'{uid} {uid} 1'),
                       ('gid_map', f'{gid} {gid} 1')):
        with open(f'/proc/self/{name}', 'w') as f:
            f.write(text)
    return 'user'


def _chown_tree(folder, user):
    """Give the (grader-made, link-free) sandbox folder to the sandbox user."""
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(folder):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(name, entry.pw_uid, entry.pw_gid)


def drop_to(user):
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError('could not drop root privileges')


def isolation_paths(config):
    """The paths the sandboxed kernel may read, and may write."""
    read_only = ['/usr', '/lib', '/lib64', '/lib32', '/libx32', '/bin', '/sbin', '/etc',
                 '/proc', '/sys', sys.prefix, sys.base_prefix, sys.exec_prefix,
                 os.path.dirname(os.path.realpath(sys.executable))]
    for key in ('stdlib', 'platstdlib', 'purelib', 'platlib'):
        read_only.append(sysconfig.get_paths()[key])
    read_only += [p for p in config.get('read_only', []) if p]
    read_write = [config['folder'], '/dev/shm']
    devices = ['/dev']
    return read_only, read_write, devices


# ----------------------------------------------------------------------------- the worker

EXPORT_CODE = r'''
def __grader_export(folder, max_elements, max_total):
    import json, os, numpy as np
    ns = get_ipython().user_ns
    arrays, skipped, budget = {}, {}, [max_total]

    def array(value):
        value = np.asarray(value)
        if value.dtype.kind not in 'biuf' or value.size > max_elements:
            raise TypeError(f'array of {value.dtype} with {value.size} elements')
        if value.nbytes > budget[0]:
            raise TypeError('export size limit reached')
        budget[0] -= value.nbytes
        key = f'a{len(arrays)}'
        arrays[key] = np.ascontiguousarray(value)
        return {'t': 'array', 'v': key}

    def enc(value, depth=0):
        if depth > 8:
            raise TypeError('nested too deeply')
        if value is None or isinstance(value, (bool, str)):
            return {'t': 'json', 'v': value}
        if isinstance(value, int):
            return {'t': 'int', 'v': str(value)}
        if isinstance(value, float):
            return {'t': 'float', 'v': repr(value)}
        if isinstance(value, np.generic) and value.dtype.kind in 'biuf':
            return enc(value.item(), depth)
        if isinstance(value, (list, tuple)):
            if len(value) > 100000:
                raise TypeError('list too long')
            return {'t': type(value).__name__, 'v': [enc(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            if len(value) > 100000:
                raise TypeError('dict too long')
            return {'t': 'dict', 'v': [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, np.ndarray):
            return array(value)
        module = type(value).__module__ or ''
        if module.startswith('mxnet') and hasattr(value, 'asnumpy'):
            return array(value.asnumpy())
        if module.startswith('pandas') and type(value).__name__ == 'DataFrame':
            return {'t': 'dataframe', 'v': {'columns': enc(list(value.columns), depth + 1),
                    'data': [enc(value[c].tolist(), depth + 1) for c in value.columns],
                    'index': enc(value.index.tolist(), depth + 1)}}
        if module.startswith('pandas') and type(value).__name__ == 'Series':
            return {'t': 'series', 'v': {'data': enc(value.tolist(), depth + 1),
                    'index': enc(value.index.tolist(), depth + 1), 'name': enc(value.name, depth + 1)}}
        raise TypeError(type(value).__name__)

    names = {}
    for name in sorted(ns):
        if name.startswith('_') or name in ('In', 'Out', 'exit', 'quit', 'get_ipython'):
            continue
        value = ns[name]
        if callable(value) or type(value).__name__ == 'module':
            continue
        try:
            names[name] = enc(value)
        except Exception as err:
            skipped[name] = f'{type(value).__name__}: {err}'[:200]
    os.makedirs(folder, exist_ok=True)
    np.savez(os.path.join(folder, 'arrays.npz'), **arrays)
    with open(os.path.join(folder, 'names.json'), 'w') as f:
        json.dump({'names': names, 'skipped': skipped}, f)

__grader_export(__FOLDER__, __MAX_ELEMENTS__, __MAX_TOTAL__)
del __grader_export
'''


def _kernel_spec(folder):
    """A kernel spec that starts ipykernel with this very Python."""
    spec_dir = os.path.join(folder, '.jupyter', 'kernels', 'grader-python3')
    os.makedirs(spec_dir, exist_ok=True)
    with open(os.path.join(spec_dir, 'kernel.json'), 'w') as f:
        json.dump({'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f',
                            '{connection_file}'],
                   'display_name': 'grader', 'language': 'python'}, f)
    return 'grader-python3'


def execute(config):
    """Run the notebook; return a JSON-able summary. Runs inside the sandbox, as the sandbox user."""
    import asyncio
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    folder = config['folder']
    nb_path = os.path.join(folder, 'notebooks', config['notebook'])
    nb = nbformat.read(nb_path, as_version=4)
    kernel_name = _kernel_spec(folder)
    output_budget = [config['max_output_bytes']]
    current = [None]  # index of the cell being run
    summary = {'errors': [], 'timeouts': [], 'dead_kernel': None, 'truncated_output': False,
               'cells': 0, 'total_timeout': False, 'export': None, 'cell_times': []}
    code_number = {}  # index among all cells -> index among code cells (0-based)
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'code':
            code_number[i] = len(code_number)
    # A fresh folder with a name the submission cannot guess before the export cell runs: a file
    # planted earlier (read-only, a link, a FIFO) can never be taken for the export.
    export_dir = os.path.join(folder, f'.grader-export-{os.urandom(16).hex()}')
    records = {}

    failed_replies = {}  # cell index -> content of an execute_reply with status "error"

    class CappedClient(NotebookClient):
        async def _check_raise_for_error(self, cell, cell_index, exec_reply):
            # An error whose output message never arrived (e.g. a message the kernel could not
            # send, such as one with a lone surrogate) still counts: the reply says so.
            if exec_reply and exec_reply.get('content', {}).get('status') == 'error':
                failed_replies[cell_index] = exec_reply['content']
            return await super()._check_raise_for_error(cell, cell_index, exec_reply)

        async def _async_handle_timeout(self, timeout, cell=None):
            summary['timeouts'].append(current[0])
            self.iopub_timeout = 1  # do not wait for the rest of a runaway cell's output
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get('content', {})
            size = len(str(content.get('text', ''))) + sum(
                len(str(v)) for v in (content.get('data') or {}).values()) + 1000
            if size > output_budget[0]:
                if not summary['truncated_output']:
                    summary['truncated_output'] = True
                    outs.append(nbformat.v4.new_output(
                        'stream', name='stderr', text='[grader: further output dropped]\n'))
                output_budget[0] = 0
                return None
            output_budget[0] -= size
            return super().output(outs, msg, display_id, cell_index)

    km = AsyncKernelManager(kernel_name=kernel_name, transport='ipc',
                            ip=os.path.join(folder, '.k'))
    client = CappedClient(nb, km=km, kernel_name=kernel_name, allow_errors=True,
                          interrupt_on_timeout=True, timeout=config['cell_timeout'],
                          startup_timeout=min(120, config['total_timeout']),
                          error_on_timeout={'ename': 'CellTimeoutError',
                                            'evalue': 'cell took longer than the time limit',
                                            'traceback': []},
                          shutdown_kernel='immediate', iopub_timeout=15)
    deadline = time.monotonic() + config['total_timeout']
    devnull = open(os.devnull, 'w')

    async def responsive(client, seconds):
        """Does the kernel answer a kernel_info request within `seconds`?"""
        msg_id = client.kc.kernel_info()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                msg = await client.kc.shell_channel.get_msg(timeout=max(0.1, end - time.monotonic()))
            except Exception:  # queue.Empty
                return False
            if msg.get('parent_header', {}).get('msg_id') == msg_id:
                return True
        return False

    async def run():
        started = time.monotonic()
        async with client.async_setup_kernel(cwd=os.path.dirname(nb_path),
                                             stdout=devnull, stderr=devnull):
            summary['kernel_start_seconds'] = round(time.monotonic() - started, 3)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != 'code' or not cell.source.strip():
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 1:
                    summary['total_timeout'] = True
                    break
                client.timeout = int(max(1, min(config['cell_timeout'], remaining)))
                client.iopub_timeout = 15  # output still arriving after the cell's reply
                current[0] = index
                started = time.monotonic()
                try:
                    await client.async_execute_cell(cell, index)
                except DeadKernelError:
                    code = getattr(getattr(km.provisioner, 'process', None), 'returncode', None)
                    summary['dead_kernel'] = {'cell': index, 'returncode': code}
                    summary['cell_times'].append([code_number[index], round(time.monotonic() - started, 3)])
                    return
                summary['cell_times'].append([code_number[index], round(time.monotonic() - started, 3)])
                summary['cells'] += 1
                if summary['timeouts'] and summary['timeouts'][-1] == index \
                        and not await responsive(client, 5):
                    summary['stuck'] = index  # ignored the interrupt: nothing more can run
                    return
                shown = [out for out in cell.get('outputs', []) if out.get('output_type') == 'error']
                if not shown and index in failed_replies:
                    reply = failed_replies[index]
                    shown = [{'ename': reply.get('ename') or 'an error',
                              'evalue': reply.get('evalue') or '(its message did not reach the grader)'}]
                for out in shown:
                    item = {'cell': index, 'ename': str(out.get('ename'))[:200],
                            'evalue': str(out.get('evalue'))[:500]}
                    if index not in summary['timeouts']:
                        summary['errors'].append(item)
            # Variables as plain data; the grader decides later what they are worth.
            os.mkdir(export_dir, 0o700)  # fails if it exists: nothing can be there before
            code = (EXPORT_CODE.replace('__FOLDER__', repr(export_dir))
                    .replace('__MAX_ELEMENTS__', str(MAX_ARRAY_ELEMENTS))
                    .replace('__MAX_TOTAL__', str(MAX_EXPORT_BYTES)))
            export_cell = nbformat.v4.new_code_cell(code)
            nb.cells.append(export_cell)
            client.timeout = int(max(5, min(60, deadline + 30 - time.monotonic())))
            export_started = time.monotonic()
            try:
                await client.async_execute_cell(export_cell, len(nb.cells) - 1, store_history=False)
                summary['export_seconds'] = round(time.monotonic() - export_started, 3)
                errors = [o for o in export_cell.outputs if o.get('output_type') == 'error']
                summary['export'] = 'failed' if errors else 'ok'
                if not errors:
                    # Read at once, by the worker, without following links; handed to the grader
                    # through the channel it opened, never left for it to find in the folder.
                    fd = os.open(export_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                    try:
                        for name, limit in (('names.json', MAX_JSON_BYTES),
                                            ('arrays.npz', MAX_EXPORT_BYTES + 2**20)):
                            data = open_inside(fd, name, limit)
                            if data is None:
                                summary['export'] = f'{name} missing, not a plain file or too large'
                                break
                            records[name] = data
                    finally:
                        os.close(fd)
            except DeadKernelError:
                summary['export'] = 'kernel died'
            finally:
                nb.cells.pop()

    def save_executed():
        # For the instructor (outputs, plots, written answers); the grade never reads it. Built
        # from the worker's own copy of the cells and the outputs it received from the kernel.
        try:
            data = nbformat.writes(nb).encode('utf-8', 'backslashreplace')
        except Exception as err:
            summary['executed'] = f'could not be written ({type(err).__name__})'
            return
        if len(data) > MAX_EXECUTED_BYTES:
            summary['executed'] = f'larger than {MAX_EXECUTED_BYTES // 2**20} MB: not kept'
        else:
            records['executed.ipynb'] = data

    try:
        asyncio.run(run())
    finally:
        save_executed()
    return summary, records


def join_cgroup(procs_path):
    """Move this process (and so everything it starts) into the submission's memory cgroup."""
    with open(procs_path, 'w') as f:
        f.write(str(os.getpid()))


def write_channel(fd, records):
    """Hand records ({name: bytes}) to the grader through the file descriptor it opened for us:
    a JSON header line [[name, length], ...], then the bytes, in that order."""
    payload = [json.dumps([[k, len(v)] for k, v in records.items()]).encode() + b'\n']
    payload += list(records.values())
    for chunk in payload:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def worker_main(config_path):
    with open(config_path) as f:
        config = json.load(f)
    folder = config['folder']
    channel = config['channel_fd']
    os.set_inheritable(channel, False)  # the kernel (a later exec) never gets it
    is_root = os.geteuid() == 0
    notes = []
    if config.get('cgroup_procs'):
        try:
            join_cgroup(config['cgroup_procs'])
        except OSError as err:
            notes.append(f'could not join the memory cgroup ({err}): memory capped per process only')
    set_limits(config['memory_bytes'], config['total_timeout'] + 60, config['max_file_bytes'],
               as_nobody=is_root)
    try:
        mode = enter_namespaces()
    except OSError as err:
        mode = None
        notes.append(f'no namespaces ({err}): processes the notebook starts may outlive it, and '
                     'SysV IPC, /dev/shm and host UNIX sockets are shared with the machine')
    if mode:
        child = os.fork()
        if child:
            # Outside: wait, and report how the inside ended. Killing us kills the namespace.
            os.close(channel)
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else 70)
        # Inside: PID 1 of the new namespace; everything below dies with us.
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    read_only, read_write, devices = isolation_paths(config)
    if is_root:
        _chown_tree(folder, UNPRIVILEGED_USER)
    os.chmod(folder, 0o700)
    new_root = False
    if mode:
        try:
            _mount(None, '/', None, MS_REC | MS_PRIVATE)
            build_root(config['staging'], read_only, [folder], config['scratch_bytes'])
            new_root = True
        except OSError as err:
            notes.append(f'no private root file system ({err}): host files and UNIX sockets '
                         'outside Landlock\'s reach may be visible')
            try:
                _mount('proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC)
            except OSError as err2:  # e.g. a container that forbids it: /proc shows the host
                notes.append(f'own /proc not mounted ({err2})')
            for scratch in ('/dev/shm', '/tmp'):
                if scratch != '/tmp' or not folder.startswith('/tmp/'):
                    try:
                        _mount('tmpfs', scratch, 'tmpfs', MS_NOSUID | MS_NODEV,
                               f"mode=1777,size={config['scratch_bytes']}")
                    except OSError as err2:
                        notes.append(f'{scratch} shared with the machine ({err2})')
            if is_root:
                try:
                    make_reachable([p for p in read_only + [folder] if os.path.exists(p)])
                except OSError as err2:
                    notes.append(f'could not expose the Python installation to {UNPRIVILEGED_USER} ({err2})')
    if new_root:
        read_write = [folder, '/dev/shm', '/tmp', '/var/tmp']
    if is_root:
        drop_to(UNPRIVILEGED_USER)  # must work: never run a submission as root
    _prctl(PR_SET_DUMPABLE, 0)  # the kernel (same user) cannot ptrace us or open our descriptors
    os.umask(0o077)
    try:
        apply_landlock(read_only, read_write, devices)
    except OSError as err:
        notes.append(f'no Landlock ({err}): file system protected by user permissions only')
    env = {
        'PATH': f'{os.path.dirname(sys.executable)}:/usr/bin:/bin',
        'HOME': os.path.join(folder, 'home'), 'TMPDIR': os.path.join(folder, 'tmp'),
        'MPLCONFIGDIR': os.path.join(folder, 'home', '.matplotlib'),
        'MPLBACKEND': 'module://matplotlib_inline.backend_inline',  # figures kept, as inline PNG
        'IPYTHONDIR': os.path.join(folder, 'home', '.ipython'),
        'JUPYTER_PATH': os.path.join(folder, '.jupyter'),
        'JUPYTER_RUNTIME_DIR': os.path.join(folder, 'home', '.jupyter-runtime'),
        'JUPYTER_CONFIG_DIR': os.path.join(folder, 'home', '.jupyter'),
        'JUPYTER_PLATFORM_DIRS': '1', 'PYTHONDONTWRITEBYTECODE': '1', 'LANG': 'C.UTF-8',
    }
    env.update(config.get('env', {}))
    os.environ.clear()
    os.environ.update(env)
    for key in ('HOME', 'TMPDIR'):
        os.makedirs(env[key], exist_ok=True)
    records = {}
    try:
        summary, records = execute(config)
    except Exception as err:  # a broken notebook must still produce a report
        summary = {'worker_error': f'{type(err).__name__}: {err}'[:500]}
    summary['notes'] = notes
    summary['private_root'] = new_root
    records = {'summary.json': json.dumps(summary).encode(), **records}
    try:
        write_channel(channel, records)
    except OSError as err:
        sys.stderr.write(f'grader channel: {err}\n')
        os._exit(71)
    os._exit(0)


# ----------------------------------------------------------------------------- parent side

def open_inside(folder_fd, relpath, max_bytes):
    """Read a file the sandbox wrote, without following links or blocking on FIFOs.

    Every path component is opened relative to the previous one with O_NOFOLLOW, so a symlink
    planted by the submission cannot make the grader read or block on anything else.
    Returns bytes, or None if the file is missing, not a regular file, or too large.
    """
    parts = relpath.split('/')
    fds = [folder_fd]
    try:
        for part in parts[:-1]:
            fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                               dir_fd=fds[-1]))
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=fds[-1])
        fds.append(fd)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                return None
            chunks.append(chunk)
        return b''.join(chunks)
    except OSError:
        return None
    finally:
        for fd in fds[1:]:
            os.close(fd)


class MemoryGroup:
    """One memory limit for all the processes of one submission: a cgroup it cannot leave.

    cgroup v2 where the grader's own cgroup can have a child with the memory controller (the
    root cgroup, or a delegated one with `memory` in cgroup.subtree_control); else a cgroup v1
    memory hierarchy (hybrid systems such as this course's test machine); else None, and the
    caller keeps only the per-process address-space cap. Pages of its private /dev/shm and /tmp
    count towards the limit too.
    """

    def __init__(self, path, version):
        self.path, self.version = path, version

    @staticmethod
    def locate():
        """(version, parent directory) where this process may make memory cgroups, or
        (None, why not)."""
        try:
            with open('/proc/self/cgroup') as f:
                lines = [line.rstrip('\n').split(':', 2) for line in f]
            with open('/proc/self/mountinfo') as f:
                mounts = [line.split() for line in f]
        except OSError as err:
            return None, f'cannot read the cgroups of this process ({err})'
        reasons = []
        for m in mounts:
            sep = m.index('-')
            fstype, options, point = m[sep + 1], m[sep + 3] if len(m) > sep + 3 else '', m[4]
            if fstype == 'cgroup2':
                own = next((p for h, c, p in lines if h == '0' and c == ''), None)
                if own is None:
                    continue
                parent = os.path.join(point, own.lstrip('/'))
                try:
                    subtree = open(os.path.join(parent, 'cgroup.subtree_control')).read().split()
                    available = open(os.path.join(parent, 'cgroup.controllers')).read().split()
                    if 'memory' not in subtree and own == '/' and 'memory' in available:
                        with open(os.path.join(parent, 'cgroup.subtree_control'), 'w') as f:
                            f.write('+memory')
                        subtree.append('memory')
                except OSError as err:
                    reasons.append(f'cgroup v2 at {parent}: {err.strerror}')
                    continue
                if 'memory' in subtree and os.access(parent, os.W_OK):
                    return 2, parent
                reasons.append(f'cgroup v2 at {parent} cannot have a child with the memory '
                               f'controller (available: {" ".join(available) or "none"})')
            elif fstype == 'cgroup' and 'memory' in options.split(','):
                own = next((p for h, c, p in lines if 'memory' in c.split(',')), None)
                if own is None:
                    continue
                parent = os.path.join(point, own.lstrip('/'))
                if os.access(parent, os.W_OK):
                    return 1, parent
                reasons.append(f'cgroup v1 memory at {parent} is not writable')
        return None, '; '.join(reasons) or 'no cgroup file system with the memory controller'

    @classmethod
    def create(cls, memory_bytes):
        """A new group limited to memory_bytes, or (None, why not)."""
        version, parent = cls.locate()
        if version is None:
            return None, parent
        cls.remove_stale(parent)
        path = os.path.join(parent, f'grading-{os.getpid()}-{os.urandom(4).hex()}')
        try:
            os.mkdir(path)
        except OSError as err:
            return None, f'cannot create a cgroup in {parent} ({err.strerror})'
        group = cls(path, version)
        try:
            if version == 2:
                group._write('memory.max', memory_bytes)
                if os.path.exists(os.path.join(path, 'memory.swap.max')):
                    group._write('memory.swap.max', 0)
            else:
                group._write('memory.limit_in_bytes', memory_bytes)
                if os.path.exists(os.path.join(path, 'memory.memsw.limit_in_bytes')):
                    group._write('memory.memsw.limit_in_bytes', memory_bytes)
        except OSError as err:
            group.remove()
            return None, f'cannot set the memory limit of {path} ({err.strerror})'
        return group, None

    @staticmethod
    def remove_stale(parent):
        """Remove empty groups left by a grader that was killed (its pid is in the name)."""
        try:
            names = os.listdir(parent)
        except OSError:
            return
        for name in names:
            m = name.split('-')
            if len(m) == 3 and m[0] == 'grading' and m[1].isdigit() and not os.path.exists(f'/proc/{m[1]}'):
                try:
                    os.rmdir(os.path.join(parent, name))  # fails, harmlessly, if it is not empty
                except OSError:
                    pass

    def _write(self, name, value):
        with open(os.path.join(self.path, name), 'w') as f:
            f.write(str(value))

    @property
    def procs(self):
        return os.path.join(self.path, 'cgroup.procs')

    def pids(self):
        try:
            with open(self.procs) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def oom_kills(self):
        """How many processes the kernel killed for the group's limit."""
        name = 'memory.events' if self.version == 2 else 'memory.oom_control'
        try:
            with open(os.path.join(self.path, name)) as f:
                for line in f:
                    key, _, value = line.partition(' ')
                    if key == 'oom_kill':
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill_all(self):
        """Kill whatever is left in the group; return how many processes that was."""
        left = self.pids()
        if not left:
            return 0
        if self.version == 2 and os.path.exists(os.path.join(self.path, 'cgroup.kill')):
            try:
                self._write('cgroup.kill', 1)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        return len(left)

    def remove(self):
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)


def memory_group_support():
    """A sentence on how the whole-submission memory limit is enforced on this machine."""
    version, where = MemoryGroup.locate()
    if version is None:
        return None, (f'no memory cgroup available ({where}): memory is capped per process only, '
                      'so a submission that starts several processes can use a multiple of the cap')
    return version, f'cgroup v{version} under {where}'


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


def run_notebook(notebook_text, notebook_name, *, cell_timeout, total_timeout, memory_bytes,
                 copy_dirs=(), read_only=(), env=None, private_dir, keep_executed=None,
                 work_root=None, use_cgroup=True):
    """Execute a notebook (JSON text) in a fresh sandbox; copy what it exported into private_dir.

    copy_dirs: folders copied next to the notebook's folder (e.g. the repository's utils/, so that
    `sys.path.append('..'); import utils` works as in the repository). read_only: extra paths the
    kernel may read (e.g. the data folder). keep_executed: where to write the executed notebook.
    Returns a dict: summary (the worker's report, untrusted), exit (the worker's exit code or
    None), hard_timeout (bool), exported (bool), channel_error (why the worker's record could not
    be read, or None), cleanup (notes on what had to be killed), cgroup (bool), oom_kills (int).

    Everything the grader keeps (the report, the executed notebook, the exported variables) comes
    through one file the grader opened before starting the worker and handed to it as a file
    descriptor: the submission's kernel never holds that descriptor (the worker is not dumpable
    and the descriptor is closed on exec), and no path in the submission's folder is ever read.
    """
    import shutil
    import subprocess
    import tempfile

    base = tempfile.mkdtemp(prefix='grade-', dir=work_root)  # 0700 from the start
    folder = os.path.join(base, 'run')
    staging = os.path.join(base, 'root')
    group, cleanup = None, []
    channel = None
    try:
        os.makedirs(os.path.join(folder, 'notebooks'), mode=0o700)
        os.mkdir(staging, 0o700)
        for sub in ('home', 'tmp'):
            os.makedirs(os.path.join(folder, sub), mode=0o700)
        for src in copy_dirs:
            shutil.copytree(src, os.path.join(folder, os.path.basename(src.rstrip('/'))),
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'), symlinks=False)
        # 'zh/submission.ipynb': a Chinese notebook runs one folder deeper, as in the repository.
        os.makedirs(os.path.dirname(os.path.join(folder, 'notebooks', notebook_name)), mode=0o700,
                    exist_ok=True)
        with open(os.path.join(folder, 'notebooks', notebook_name), 'w', encoding='utf-8') as f:
            f.write(notebook_text)
        channel = os.open(os.path.join(base, 'channel'),
                          os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        if use_cgroup:
            group, _ = MemoryGroup.create(memory_bytes)
        config = {'folder': folder, 'staging': staging, 'notebook': notebook_name,
                  'cell_timeout': int(cell_timeout), 'total_timeout': int(total_timeout),
                  'memory_bytes': int(memory_bytes), 'scratch_bytes': int(min(memory_bytes // 4, 2**30)),
                  'max_file_bytes': 512 * 2**20, 'max_output_bytes': 2 * 2**20,
                  'read_only': [os.path.realpath(p) for p in read_only], 'env': dict(env or {}),
                  'channel_fd': channel, 'cgroup_procs': group.procs if group else None}
        config_path = os.path.join(base, 'config.json')
        with open(config_path, 'w') as f:
            json.dump(config, f)
        os.chmod(config_path, 0o600)
        with open(os.path.join(base, 'worker.out'), 'w+b') as out, \
                open(os.path.join(base, 'worker.err'), 'w+b') as err:
            proc = subprocess.Popen([sys.executable, '-I', '-B', os.path.abspath(__file__), config_path],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=base,
                                    start_new_session=True, pass_fds=(channel,),
                                    env={'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8'})
            hard_timeout, strays = False, []
            try:
                # Kernel start-up and the export get their own minute on top of the notebook's time.
                hard_timeout = not wait_unreaped(proc.pid, total_timeout + 60)
            finally:
                # The worker is not reaped yet: its pid, and so its process group and session id,
                # cannot be given to another process (another submission's worker or kernel, of
                # this batch or of another grader) before everything in them is killed.
                strays = kill_session(proc.pid)
                proc.wait()
            err.seek(0, os.SEEK_END)
            err.seek(max(0, err.tell() - 4000))
            stderr_tail = err.read().decode('utf-8', 'replace')
        if strays:
            cleanup.append(f'{len(strays)} process(es) the submission started outlived it: killed')
        oom_kills = 0
        if group:
            killed = group.kill_all()
            if killed:
                cleanup.append(f'{killed} process(es) of the submission were still running after '
                               'it ended: killed')
            oom_kills = group.oom_kills()
        records, channel_error = ({}, 'the run hit the hard time limit') if hard_timeout \
            else read_channel(channel)
        summary = None
        if 'summary.json' in records:
            try:
                summary = json.loads(records['summary.json'].decode('utf-8'))
            except ValueError:
                channel_error = 'the report is not JSON'
        elif channel_error is None:
            channel_error = 'no report in the record'
        if keep_executed and 'executed.ipynb' in records:
            with open(keep_executed, 'wb') as f:
                f.write(records['executed.ipynb'])
        exported = False
        if 'names.json' in records and 'arrays.npz' in records:
            os.makedirs(private_dir, exist_ok=True)
            for file_name in ('names.json', 'arrays.npz'):
                with open(os.path.join(private_dir, file_name), 'wb') as f:
                    f.write(records[file_name])
            exported = True
        summary = summary if isinstance(summary, dict) else None
        return {'summary': summary, 'folder': base, 'cell_times': _cell_times(summary),
                'exit': proc.returncode, 'hard_timeout': hard_timeout, 'exported': exported,
                'stderr_tail': stderr_tail, 'channel_error': None if hard_timeout else channel_error,
                'cleanup': cleanup, 'cgroup': group is not None, 'oom_kills': oom_kills,
                'executed_kept': bool(keep_executed and 'executed.ipynb' in records)}
    finally:
        if channel is not None:
            os.close(channel)
        if group:
            group.kill_all()
            group.remove()
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



# ----------------------------------------------------------------------------- leftovers

IPC_RMID = 0
SYSV_KINDS = {'shm': 'shared-memory segment', 'msg': 'message queue', 'sem': 'semaphore set'}


def _sysv_objects(uid):
    """[(kind, id)] of SysV IPC objects of the host owned (or created) by uid."""
    found = []
    for kind in SYSV_KINDS:
        try:
            with open(f'/proc/sysvipc/{kind}') as f:
                header = f.readline().split()
                rows = [line.split() for line in f]
        except OSError:
            continue
        id_col = header.index({'shm': 'shmid', 'msg': 'msqid', 'sem': 'semid'}[kind])
        cols = [header.index(c) for c in ('uid', 'cuid') if c in header]
        for r in rows:
            if any(int(r[c]) == uid for c in cols):
                found.append((kind, int(r[id_col])))
    return found


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


def _owned_entries(folder, uid):
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    out = []
    for name in names:
        try:
            if os.lstat(os.path.join(folder, name)).st_uid == uid:
                out.append(os.path.join(folder, name))
        except OSError:
            pass
    return out


def leftovers(uid, temp_dirs=None):
    """What the user `uid` owns on the host now: {'sysv': [(kind, id)], 'file': [path]} (files in
    /dev/shm, the system temp folder and /var/tmp).

    Processes are not listed here: another grader running at the same time has live sandboxes of
    the same user. A submission's own processes are found by its cgroup and its session instead
    (see `run_notebook`)."""
    import tempfile
    temp_dirs = temp_dirs or sorted({'/dev/shm', tempfile.gettempdir(), '/var/tmp'})
    return {'sysv': _sysv_objects(uid),
            'file': [p for d in temp_dirs for p in _owned_entries(d, uid)]}


def clean_leftovers(uid, baseline):
    """Remove what `uid` owns now but did not own in `baseline` (a `leftovers` result taken before
    grading); return one sentence per kind of thing that had to be removed."""
    now = leftovers(uid)
    notes = []
    sysv = [o for o in now['sysv'] if o not in baseline['sysv']]
    for kind, ident in sysv:
        ctl = {'shm': _libc.shmctl, 'msg': _libc.msgctl, 'sem': _libc.semctl}[kind]
        if kind == 'sem':
            ctl(ctypes.c_int(ident), ctypes.c_int(0), ctypes.c_int(IPC_RMID))
        else:
            ctl(ctypes.c_int(ident), ctypes.c_int(IPC_RMID), None)
    if sysv:
        notes.append('cleanup removed ' + ', '.join(f'a SysV {SYSV_KINDS[k]}' for k, _ in sysv))
    files = [p for p in now['file'] if p not in baseline['file']]
    for path in files:
        try:
            remove_tree(path)
        except OSError:
            pass
    if files:
        notes.append(f"cleanup removed {len(files)} file(s) or folder(s) of the sandbox user from "
                     f"{', '.join(sorted({os.path.dirname(p) for p in files}))}")
    return notes


# ----------------------------------------------------------------------------- exported data

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


if __name__ == '__main__':
    worker_main(sys.argv[1])
