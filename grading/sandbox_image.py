"""The sandbox's read-only runtime (Python, virtual environment, data) as file systems of its own.

A bind mount shows in /proc/self/mountinfo (4th field) the bound folder's path inside its file
system: bound from the host, the Python installation, the venv and the data would show where they
live. Bound from a squashfs image (`mksquashfs`, Debian package squashfs-tools) mounted read-only
through a loop device, they show the image's paths (/python, /venv/lib, /data) and /dev/loopN.

Images live in CACHE, one per content (a hash of every file's path, size, mtime and mode: a changed
venv makes a new image), each mounted at CACHE/KEY.mnt and kept for later batches. One grader at
a time makes or mounts an image (an exclusive lock), writing it under a temporary name renamed
once complete: a half-written image is never mounted. A grader holds a shared lock on the images
it uses; those no grader holds and none used for a day are unmounted and deleted.
"""
import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import threading
import time

from .sandbox_limits import private_folder

CACHE = '/var/cache/grading-sandbox'
UNUSED_SECONDS = 24 * 3600
CAP_SYS_ADMIN = 21
_HELD = {}                   # key -> its shared-lock descriptor, for this process's lifetime
_KEYS = {}                   # (sources, excluded) -> key: the content is hashed once per process
_LOCK = threading.Lock()     # the threads of one grader (--jobs) make an image once


def tool(name):
    return shutil.which(name, path=os.environ.get('PATH', '') + ':/usr/sbin:/usr/bin:/sbin:/bin')


def problem():
    """None when images can be mounted here, else the sentence the grader says once per batch
    (the sandbox then binds the host folders)."""
    with open('/proc/self/status') as f:
        capabilities = int(next(line.split()[1] for line in f if line.startswith('CapEff:')), 16)
    missing = [what for what, ok in (
        ('root (mounting needs CAP_SYS_ADMIN)', os.geteuid() == 0 and capabilities >> CAP_SYS_ADMIN & 1),
        ('a loop device (/dev/loop-control)', os.access('/dev/loop-control', os.R_OK | os.W_OK)),
        ('mksquashfs (Debian/Ubuntu: apt-get install squashfs-tools)', tool('mksquashfs'))) if not ok]
    if not missing:
        return None
    return ('the Python installation, the virtual environment and the data are bound from their host '
            'folders, so /proc/self/mountinfo in the sandbox shows their host paths (read-only; images '
            'of their own need ' + ', '.join(missing) + ')')


def content_key(sources, excluded):
    """A hash of the names, sizes, mtimes and modes of every file the image would hold but the
    bytecode caches (Python adds to them whenever it first imports a module outside the sandbox:
    counted, they would make a new 1 GB image for every such import; left out of the key, an
    image may lack the newest .pyc files, which then compile in memory)."""
    digest = hashlib.sha256(repr((sorted(sources.items()), sorted(excluded))).encode())
    for name, top in sorted(sources.items()):
        for folder, dirs, files in os.walk(top) if os.path.isdir(top) else [(top, [], [])]:
            rel = os.path.relpath(folder, top)
            dirs[:] = sorted(d for d in dirs if d != '__pycache__'
                             and os.path.normpath(os.path.join(name, rel, d)) not in excluded)
            for entry in [folder] + [os.path.join(folder, f) for f in sorted(files)]:
                info = os.lstat(entry)
                digest.update(f'{entry}\0{info.st_size}\0{info.st_mode}\0'
                              f'{info.st_mtime_ns if not stat.S_ISDIR(info.st_mode) else 0}\n'.encode())
    return digest.hexdigest()[:32]


def mounted(sources, excluded=()):
    """The mount point of a read-only image that holds each host path of `sources` ({path inside
    the image: host path}) but `excluded` (paths inside); made and mounted if need be."""
    excluded = {os.path.normpath(p) for p in excluded}
    with _LOCK:
        asked = (tuple(sorted(sources.items())), tuple(sorted(excluded)))
        key = _KEYS[asked] = _KEYS.get(asked) or content_key(sources, excluded)
        mount_point = os.path.join(CACHE, f'{key}.mnt')
        if key in _HELD:
            return mount_point
        private_folder(CACHE)
        with open(os.path.join(CACHE, 'lock'), 'w') as exclusive:
            fcntl.flock(exclusive, fcntl.LOCK_EX)
            image = os.path.join(CACHE, f'{key}.sqfs')
            if not os.path.ismount(mount_point):
                if not os.path.exists(image):
                    _build(sources, excluded, image)
                os.makedirs(mount_point, exist_ok=True)
                _run([tool('mount'), '-t', 'squashfs', '-o', 'ro,nodev,nosuid,loop', image, mount_point])
            held = os.open(os.path.join(CACHE, f'{key}.lock'), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(held, fcntl.LOCK_SH)
            os.utime(held)
            _HELD[key] = held
            _drop_unused()
    return mount_point


def _build(sources, excluded, image):
    """mksquashfs of a staging folder where bwrap binds each source at its path inside the image
    (mksquashfs itself names its sources by their base names). Uncompressed: made and read fast."""
    started = time.monotonic()
    print(f"grader: making the sandbox's read-only image of {', '.join(sorted(sources))} (once per "
          f"change of their content)", file=sys.stderr, flush=True)
    stage, partial = os.path.join(CACHE, 'stage'), f'{image}.partial'  # one builder at a time
    os.makedirs(stage, exist_ok=True)
    command = [tool('bwrap'), '--ro-bind', '/', '/', '--bind', CACHE, CACHE, '--tmpfs', stage]
    for inside, host in sorted(sources.items()):
        command += ['--ro-bind', host, os.path.join(stage, inside)]
    _run(command + [tool('mksquashfs'), stage, partial, '-noappend', '-noI', '-noD', '-noF', '-noX', '-no-xattrs',
                    '-all-root', '-quiet', '-no-progress'] + (['-e', *sorted(excluded)] if excluded else []))
    os.rename(partial, image)  # complete, or not there at all
    print(f'grader: image made in {time.monotonic() - started:.1f} s', file=sys.stderr, flush=True)


def _drop_unused():
    """Unmount and delete the images no grader holds and none has used for UNUSED_SECONDS."""
    for name in os.listdir(CACHE):
        key, ext = os.path.splitext(name)
        if ext != '.lock' or key in _HELD:
            continue
        with open(os.path.join(CACHE, name)) as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another grader uses it
            if time.time() - os.fstat(lock.fileno()).st_mtime < UNUSED_SECONDS:
                continue
            if os.path.ismount(os.path.join(CACHE, f'{key}.mnt')):  # running sandboxes keep their copy
                _run([tool('umount'), '--lazy', os.path.join(CACHE, f'{key}.mnt')])
            for leftover in (f'{key}.sqfs', f'{key}.sqfs.partial', f'{key}.mnt', name):
                path = os.path.join(CACHE, leftover)
                if os.path.lexists(path):
                    (os.rmdir if os.path.isdir(path) else os.unlink)(path)


def _run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"could not make or mount the sandbox's read-only image ({' '.join(command[:3])}...: "
                      f"{(done.stderr or done.stdout).strip()[-500:]}); is there disk space under {CACHE}?")
