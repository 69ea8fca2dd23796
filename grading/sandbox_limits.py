"""Per-submission limits the grader sets up outside bubblewrap: a user id of its own and cgroups.

- `claim_uid`: every concurrent submission runs under its own user id, taken from the range that
  systemd reserves for dynamic users (61184-65519, DynamicUser=), so that limits the kernel
  counts per user (RLIMIT_NPROC: threads and processes; kernel key quotas) are per submission,
  and nothing of one submission (a process, a file) belongs to the user of another. A lock file
  per id (flock, held while the submission runs: the caller closes it) keeps two graders on one
  machine apart; an id that a user account or a running process has is skipped.
- `Group`: a memory cgroup (one memory limit for all the submission's processes, tmpfs pages
  included) and a pids cgroup (a thread bomb stops at its own limit), made and limited by
  libcgroup's cgcreate and cgset (Debian package cgroup-tools; bwrap starts in them through
  cgexec) inside the grader's own cgroups, whose limits then hold too. cgset writes a name as
  given (bookworm's libcgroup 2.0.2 has no cgxset, which maps v1 names to v2): each v1 name has
  its v2 name beside it. What a machine lacks is said once per batch (`support`).
"""
import fcntl
import os
import pwd
import signal
import stat
import subprocess
import time

FIRST_UID, LAST_UID = 61184, 65519
LOCK_DIR = '/run/grading-sandbox'
PIDS_MAX = 512  # processes and threads of one submission (MXNet training uses a few dozen)
CGROUP_TABLE, MOUNT_TABLE = '/proc/self/cgroup', '/proc/self/mountinfo'  # tests give fakes


def private_folder(path):
    """Make `path`, a folder of root with mode 0700, or refuse one that anyone else could change."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if info.st_uid != 0 or info.st_mode & 0o077 or not stat.S_ISDIR(info.st_mode):
        raise OSError(f'{path} must be a folder of root with mode 0700')


def uid_taken(uid):
    """Whether an account or a process (e.g. of a systemd DynamicUser service) has uid."""
    try:
        return bool(pwd.getpwuid(uid))
    except KeyError:
        pass
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/status') as f:
                if next(int(line.split()[1]) for line in f if line.startswith('Uid:')) == uid:
                    return True
        except (OSError, ValueError, StopIteration):
            continue
    return False


def claim_uid(lock_dir=LOCK_DIR):
    """(uid, lock fd: closing it frees the id) of a free id (as root); OSError when all are in use."""
    private_folder(lock_dir)
    count, start = LAST_UID - FIRST_UID + 1, int.from_bytes(os.urandom(2), 'big')
    for offset in range(count):
        uid = FIRST_UID + (start + offset) % count
        fd = os.open(os.path.join(lock_dir, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not uid_taken(uid):
                return uid, fd
        except BlockingIOError:  # another grader's submission has it
            pass
        os.close(fd)
    raise OSError(f'every user id from {FIRST_UID} to {LAST_UID} is in use')


def _tool(*command):
    """None when a libcgroup tool succeeds, else its complaint."""
    done = subprocess.run(command, capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()[-300:] or command[0]


def own_cgroup(controller):
    """The grader's cgroup in the hierarchy of `controller` (v1), else its v2 cgroup."""
    with open(CGROUP_TABLE) as f:
        lines = [line.rstrip('\n').split(':', 2) for line in f]
    return next((p for _, c, p in lines if controller in c.split(',')),
                next((p for h, _, p in lines if h == '0'), '/'))


def folder(controller, path):
    """The folder of cgroup `path`: libcgroup reads it to remove a group by migrating what is
    left in it to the parent (out of the limits), so the grader kills what is left and rmdirs."""
    with open(MOUNT_TABLE) as f:
        mounts = [(m[m.index('-') + 1], m[-1].split(','), m[4]) for m in map(str.split, f)]
    points = [p for t, o, p in mounts if t == 'cgroup' and controller in o] + \
        [p for t, o, p in mounts if t == 'cgroup2']  # v1 first: a hybrid machine has both
    return os.path.join(points[0], path.lstrip('/')) if points else None


class Group:
    """The memory and pids cgroups ({controller: path}) of one submission."""

    def __init__(self, paths, why=None):
        self.paths, self.why = paths, why or {}

    @classmethod
    def create(cls, memory_bytes, pids_max=PIDS_MAX, name=None):
        """A new group; controllers the machine lacks are left out (`why` says why)."""
        name = name or f'grading-{os.getpid()}-{os.urandom(4).hex()}'
        # [v1 name, v2 name] of the limit, then of no swap (where the kernel counts swap).
        settings = {'memory': [[f'memory.limit_in_bytes={memory_bytes}', f'memory.max={memory_bytes}'],
                               [f'memory.memsw.limit_in_bytes={memory_bytes}', 'memory.swap.max=0']],
                    'pids': [[f'pids.max={pids_max}']]}
        group = cls({})
        for controller, (first, *more) in settings.items():
            path = f"{own_cgroup(controller).rstrip('/')}/{name}"
            remove_stale(controller, path)
            why = _tool('cgcreate', '-g', f'{controller}:{path}')
            if why is None and all(_tool('cgset', '-r', s, path) for s in first):
                why = f"cannot set {' or '.join(first)}"
            if why is None:
                group.paths[controller] = path
                for alternatives in more:
                    any(_tool('cgset', '-r', s, path) is None for s in alternatives)
            else:
                group.why[controller] = why
                cls({controller: path}).remove()
        return group

    def cgexec(self):
        """The command prefix that runs a command in the group."""
        return ['cgexec'] + [f'-g{c}:{p}' for c, p in sorted(self.paths.items())] if self.paths else []

    def folders(self):
        return [f for f in (folder(c, p) for c, p in self.paths.items()) if f and os.path.isdir(f)]

    def oom_kills(self):
        """How many processes the kernel killed for the group's memory limit."""
        memory = folder('memory', self.paths['memory']) if 'memory' in self.paths else None
        for name in ('memory.oom_control', 'memory.events'):  # v1, v2
            try:
                with open(os.path.join(memory, name)) as f:
                    return next(int(line.split()[1]) for line in f if line.startswith('oom_kill '))
            except (OSError, TypeError, ValueError, StopIteration):
                continue
        return 0

    def remove(self):
        """Remove the group. bwrap returns once its PID namespace is empty, so nothing is left in
        it but after a hard timeout (bwrap killed: its namespace dies a moment later)."""
        for _ in range(200):
            for path in self.folders():
                try:
                    with open(os.path.join(path, 'cgroup.procs')) as f:
                        for pid in f.read().split():
                            os.kill(int(pid), signal.SIGKILL)
                    os.rmdir(path)
                except OSError:  # gone, or not empty yet
                    pass
            if not self.folders():
                return
            time.sleep(0.025)


def remove_stale(controller, path):
    """Remove empty groups left by a grader that was killed (its pid is in the name)."""
    parent = folder(controller, os.path.dirname(path))
    for name in os.listdir(parent) if parent and os.path.isdir(parent) else []:
        part = name.split('-')
        if len(part) == 3 and part[0] == 'grading' and part[1].isdigit() and not os.path.exists(f'/proc/{part[1]}'):
            try:
                os.rmdir(os.path.join(parent, name))  # fails, harmlessly, if it is not empty
            except OSError:
                pass


def support(controller):
    """(True, a sentence on where), or (None, what a submission can then do): a probe group."""
    probe = Group.create(2**30, name=f'grading-{os.getpid()}-probe')
    probe.remove()
    if controller in probe.paths:
        return True, f'a cgroup made by cgroup-tools under {own_cgroup(controller)}'
    where = probe.why.get(controller, '')
    if controller == 'memory':
        return None, (f'no memory cgroup available ({where}): memory is capped per process only, '
                      'so a submission that starts several processes can use a multiple of the cap')
    return None, (f'no pids cgroup available ({where}): threads and processes are limited per '
                  + ('submission user only (RLIMIT_NPROC)' if os.geteuid() == 0 else
                     "submission only by your user's process limit, which they all share"))
