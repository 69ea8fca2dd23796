"""bubblewrap's arguments for one submission: what exists inside the sandbox, and where.

Nothing of the host but: the system (/usr and its top-level links, /etc with a passwd and group
of its own), the grader's Python installation at /opt/python (a virtual environment's packages
at /opt/venv), each read-only folder the grader names at /data/N (all read-only, at paths that
name nothing of the host), a fresh /proc of the sandbox's own PID namespace, bwrap's minimal
/dev, the CPU list of /sys (for thread counts; nothing else of /sys, so no cgroup of anyone), and
size-capped tmpfs mounts: /work (the submission's folder), /tmp, /var/tmp, /dev/shm, /export.
Their pages count towards the submission's memory cgroup; no byte of it reaches the host's disks.
The Python installation, the venv and the data are bound from squashfs images of their own
(grading/sandbox_image.py), so mountinfo's root field names only the images' paths (/python,
/venv/lib, /data); where images cannot be made, from the host folders (the grader says so).
Mount points, /proc/1/cmdline (arguments come through `--args FD`) and the cgroup paths (a
cgroup namespace) name nothing of the host.
"""
import functools
import glob
import os
import sys
from dataclasses import dataclass

from . import sandbox_image
from .sandbox_worker import SUBMISSION_FOLDERS

PYTHON, VENV, DATA = '/opt/python', '/opt/venv', '/data'
EXPORT_BYTES = 240 * 2**20  # exported.py's MAX_EXPORT_BYTES + MAX_JSON_BYTES and some room


@dataclass
class Mounts:
    """The read-only runtime of every sandbox of a batch."""
    args: list      # bwrap arguments that bind the Python installation, the venv and the data
    python: str     # the Python to run inside
    files: dict     # {path inside: text} for `--ro-bind-data` (the venv's pyvenv.cfg)
    data: dict      # {host path: path inside} of the read-only data


def mounts(read_only):
    """The Mounts for these read-only data paths (images made and mounted once per process)."""
    return _make_mounts(tuple(os.path.realpath(p) for p in read_only if p))


def _bound_from(sources, excluded=()):
    """{name: the path bwrap binds} of `sources` ({name inside the image: host path}): inside the
    mounted image, or on the host where images cannot be made."""
    if sandbox_image.problem() is not None:
        return sources
    root = sandbox_image.mounted(sources, excluded)
    return {name: os.path.join(root, name) for name in sources}


@functools.cache
def _make_mounts(read_only):
    """A virtual environment's pyvenv.cfg names its base Python by host path: inside, it gets a
    pyvenv.cfg of its own that names /opt/python. Links are resolved first, so a `.venv` that is
    a link to another folder works like any other."""
    exe, base, prefix = (os.path.realpath(p) for p in (sys.executable, sys.base_prefix, sys.prefix))
    lib = f'python/lib/python{sys.version_info[0]}.{sys.version_info[1]}'
    # Not imaged: a system Python (/usr is visible as /usr anyway); nor what a sandbox never
    # runs: the test suite, headers, the static library's folder.
    sources = {'exe': exe} if base == '/usr' else {'python': base, 'exe': exe}
    excluded = [f'{lib}/test', 'python/include', 'python/share'] + \
        [f'{lib}/{os.path.basename(p)}' for p in glob.glob(os.path.join(base, lib[7:], 'config-*'))]
    if prefix != base:  # a virtual environment: its own packages only (include-system-site-packages = false)
        sources['venv/lib'] = os.path.join(prefix, 'lib')
        excluded.append(f'{lib}/site-packages')
    bound = _bound_from(sources, excluded)
    args = ['--ro-bind', base if base == '/usr' else bound['python'], PYTHON]
    files, python = {}, PYTHON + exe[len(base):]
    if prefix != base:
        args += ['--ro-bind', bound['venv/lib'], f'{VENV}/lib', '--symlink', 'lib', f'{VENV}/lib64',
                 '--ro-bind', bound['exe'], f'{VENV}/bin/python3']
        files[f'{VENV}/pyvenv.cfg'] = (f'home = {PYTHON}/bin\ninclude-system-site-packages = false\n'
                                       f'version = {".".join(map(str, sys.version_info[:3]))}\n')
        python = f'{VENV}/bin/python3'
    elif not exe.startswith(base + '/'):
        raise OSError(f'the grader\'s Python ({exe}) is not inside its installation ({base}): '
                      'run the grader from a virtual environment (scripts/setup_env.sh makes .venv)')
    data = {host: f'{DATA}/{i}' for i, host in enumerate(read_only)}
    for host, inside in data.items():
        args += ['--ro-bind', _bound_from({'data': host})['data'], inside]
    return Mounts(args, python, files, data)


def inside_env(env, mapping):
    """env with every value that names a read-only host path rewritten to its path inside."""
    out = {}
    for key, value in (env or {}).items():
        value = str(value)
        for host, inside in mapping.items():
            if value == host or value.startswith(host + '/'):
                value = inside + value[len(host):]
        out[str(key)] = value
    return out


def bwrap_args(*, uid, mounts, work_bytes, scratch_bytes, seccomp_fd, data_fds):
    """The arguments (for `--args FD`) of one sandbox. data_fds: {path inside: fd} of files
    bwrap copies in (the worker, its settings, the submission, pyvenv.cfg, passwd, group)."""
    args = ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup',
            '--hostname', 'sandbox', '--die-with-parent', '--new-session', '--clearenv',
            '--seccomp', str(seccomp_fd)]
    if os.geteuid() == 0:
        # bwrap runs as root (it binds folders below /root, say); the worker keeps only what it
        # needs to become the submission's user, which then has no capability at all.
        args += ['--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID']
    else:
        args += ['--unshare-user', '--disable-userns']
    # bwrap makes the parents of a mount point 0700: these must be traversable by the user.
    for folder in ('/opt', f'{VENV}', f'{VENV}/bin', DATA, '/var', '/sys', '/sys/devices', '/sys/devices/system'):
        args += ['--perms', '0755', '--dir', folder]
    args += ['--ro-bind', '/usr', '/usr']
    for top in ('/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'):
        if os.path.islink(top):
            args += ['--symlink', os.readlink(top), top]
        elif os.path.isdir(top):
            args += ['--ro-bind', top, top]
    args += ['--ro-bind', '/etc', '/etc', '--proc', '/proc', '--dev', '/dev',
             '--ro-bind-try', '/sys/devices/system/cpu', '/sys/devices/system/cpu'] + mounts.args
    # /export: where the kernel writes the variables at the end, apart from the folders the
    # submission may fill (a full /work does not cost it its export).
    for path, size in (('/work', work_bytes), ('/tmp', scratch_bytes), ('/var/tmp', scratch_bytes),
                       ('/dev/shm', scratch_bytes), ('/export', EXPORT_BYTES)):
        args += ['--perms', '1777', '--size', str(size), '--tmpfs', path]
    for path, fd in data_fds.items():  # the grader's own files (/grader/*) for root only
        args += ['--perms', '0600' if path.startswith('/grader/') else '0644', '--ro-bind-data', str(fd), path]
    args += ['--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'LANG', 'C.UTF-8',
             '--setenv', 'LD_LIBRARY_PATH', f'{PYTHON}/lib', '--chdir', '/']
    return args


def identity_files(uid):
    """passwd and group as the sandbox sees them: root and the submission's user, nobody else."""
    uid = os.getuid() if uid is None else uid
    return {'/etc/passwd': f'root:x:0:0:root:/root:/usr/sbin/nologin\n'
                           f'submission:x:{uid}:{uid}:submission:/work/submission/home:/usr/sbin/nologin\n',
            '/etc/group': f'root:x:0:\nsubmission:x:{uid}:\n'}


def memfd(name, data):
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def input_archive(notebook_text, notebook_name, copy_dirs):
    """The submission's folder as a tar (made here, unpacked by the worker into /work)."""
    import io
    import tarfile
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        for src in copy_dirs:
            tar.add(src, arcname=os.path.basename(src.rstrip('/')),
                    filter=lambda info: None if '__pycache__' in info.name or info.name.endswith('.pyc')
                    or info.issym() or info.islnk() else info)
        for name in SUBMISSION_FOLDERS:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o700
            tar.addfile(info)
        data = notebook_text.encode('utf-8', 'surrogateescape')
        info = tarfile.TarInfo(f'notebooks/{notebook_name}')
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
