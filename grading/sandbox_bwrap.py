"""bubblewrap's arguments for one submission: what exists inside the sandbox, and where.

Nothing of the host but: the system (/usr and its top-level links, /etc with a passwd and group
of its own), the grader's Python installation at /opt/python (a virtual environment's packages
at /opt/venv), each read-only folder the grader names at /data/N (all read-only, at paths that
name nothing of the host), a fresh /proc of the sandbox's own PID namespace, bwrap's minimal
/dev, the CPU list of /sys (for thread counts; nothing else of /sys, so no cgroup of anyone), and
size-capped tmpfs mounts: /work (the submission's folder), /tmp, /var/tmp, /dev/shm, /export. Their pages
count towards the submission's memory cgroup; no byte of it reaches the host's disks.
What mountinfo still shows: the 4th field (root) of a bind mount is the bound folder's path
inside its file system (e.g. the Python installation's, the data folder's). The kernel describes
a bind mount that way and no mount option hides it; only copies or image files of those folders
would. Mount points, /proc/1/cmdline (arguments come through `--args FD`) and the cgroup paths
(a cgroup namespace) name nothing of the host.
"""
import os
import sys

PYTHON, VENV, DATA = '/opt/python', '/opt/venv', '/data'
EXPORT_BYTES = 240 * 2**20  # sandbox_worker's MAX_EXPORT_BYTES + MAX_JSON_BYTES and some room


def python_layout():
    """(bwrap arguments, the Python to run inside, {file name: text} for `--ro-bind-data`).

    A virtual environment's pyvenv.cfg names its base Python by host path: inside, it gets a
    pyvenv.cfg of its own that names /opt/python. Links are resolved first, so a `.venv` that is
    a link to another folder works like any other."""
    exe = os.path.realpath(sys.executable)
    base = os.path.realpath(sys.base_prefix)
    prefix = os.path.realpath(sys.prefix)
    args = ['--ro-bind', base, PYTHON]
    inside = exe.replace(base, PYTHON, 1) if exe.startswith(base + '/') else None
    data = {}
    if prefix != base:  # a virtual environment
        args += ['--ro-bind', os.path.join(prefix, 'lib'), f'{VENV}/lib', '--symlink', 'lib', f'{VENV}/lib64',
                 '--ro-bind', exe, f'{VENV}/bin/python3']
        home = os.path.dirname(inside) if inside else f'{PYTHON}/bin'
        data[f'{VENV}/pyvenv.cfg'] = (f'home = {home}\ninclude-system-site-packages = false\n'
                                      f'version = {".".join(map(str, sys.version_info[:3]))}\n')
        inside = f'{VENV}/bin/python3'
    elif inside is None:
        args += ['--ro-bind', exe, '/opt/bin/python3']
        inside = '/opt/bin/python3'
    return args, inside, data


def system_args():
    args = ['--ro-bind', '/usr', '/usr']
    for top in ('/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'):
        if os.path.islink(top):
            args += ['--symlink', os.readlink(top), top]
        elif os.path.isdir(top):
            args += ['--ro-bind', top, top]
    return args + ['--ro-bind', '/etc', '/etc', '--proc', '/proc', '--dev', '/dev',
                   '--ro-bind-try', '/sys/devices/system/cpu', '/sys/devices/system/cpu']


def data_paths(read_only):
    """{host path: path inside} for the extra read-only folders or files."""
    return {os.path.realpath(p): f'{DATA}/{i}' for i, p in enumerate(p for p in read_only if p)}


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


def bwrap_args(*, uid, read_only, work_bytes, scratch_bytes, seccomp_fd, data_fds):
    """The arguments (for `--args FD`) of one sandbox. data_fds: {path inside: fd} of files
    bwrap copies in (the worker, its settings, the submission, pyvenv.cfg, passwd, group)."""
    python_args, _, _ = python_layout()
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
    args += system_args() + python_args
    for host, inside in data_paths(read_only).items():
        args += ['--ro-bind', host, inside]
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
        for name in ('home', 'tmp', 'notebooks'):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o700
            tar.addfile(info)
        data = notebook_text.encode('utf-8', 'surrogateescape')
        info = tarfile.TarInfo(f'notebooks/{notebook_name}')
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
