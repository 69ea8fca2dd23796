"""Per-submission limits the grader sets up outside bubblewrap: a user id of its own and a cgroup.

- `UserIds`: every concurrent submission runs under its own user id, taken from the range that
  systemd reserves for dynamic users (61184-65519, DynamicUser=), so that limits the kernel
  counts per user (RLIMIT_NPROC: threads and processes; kernel key quotas) are per submission,
  and nothing of one submission (a process, a file) belongs to the user of another. A lock file
  per id (flock, held while the submission runs: the caller closes it) keeps two graders on one
  machine apart; an id that a user account or a running process has is skipped.
- `Group`: one cgroup for all the processes of a submission, with the memory controller (one
  memory limit, tmpfs pages included) and the pids controller (a thread bomb stops at its own
  limit): cgroup v2 where the grader's cgroup may have children with those controllers, else the
  cgroup v1 hierarchies (hybrid systems such as this course's test machine). What a machine lacks
  is said once per batch (`support`).
"""
import fcntl
import os
import pwd
import signal
import stat
import time

FIRST_UID, LAST_UID = 61184, 65519
LOCK_DIR = '/run/grading-sandbox'
PIDS_MAX = 512  # processes and threads of one submission (MXNet training uses a few dozen)


def processes_of(uid):
    """Pids of the processes whose real user id is uid."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/status') as f:
                if next(int(line.split()[1]) for line in f if line.startswith('Uid:')) == uid:
                    found.append(int(pid))
        except (OSError, ValueError, StopIteration):
            continue
    return found


class UserIds:
    """Hands out user ids from the reserved range (as root; else None: the grader's own user)."""

    def __init__(self, lock_dir=LOCK_DIR):
        self.lock_dir = lock_dir

    def claim(self):
        """(uid, lock fd: closing it frees the id) of a free id; OSError when all are in use."""
        os.makedirs(self.lock_dir, mode=0o700, exist_ok=True)
        info = os.lstat(self.lock_dir)
        if info.st_uid != 0 or info.st_mode & 0o077 or not stat.S_ISDIR(info.st_mode):
            raise OSError(f'{self.lock_dir} must be a folder of root with mode 0700')
        count, start = LAST_UID - FIRST_UID + 1, int.from_bytes(os.urandom(2), 'big')
        for offset in range(count):
            uid = FIRST_UID + (start + offset) % count
            fd = os.open(os.path.join(self.lock_dir, str(uid)),
                         os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if not self.taken(uid):
                    return uid, fd
            except BlockingIOError:  # another grader's submission has it
                pass
            os.close(fd)
        raise OSError(f'every user id from {FIRST_UID} to {LAST_UID} is in use')

    @staticmethod
    def taken(uid):
        """Whether an account or a process (e.g. of a systemd DynamicUser service) has uid."""
        try:
            pwd.getpwuid(uid)
            return True
        except KeyError:
            return bool(processes_of(uid))


def _mounts():
    """[(fstype, super options, mount point)] of the cgroup file systems."""
    out = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            m = line.split()
            sep = m.index('-')
            if m[sep + 1] in ('cgroup', 'cgroup2'):
                out.append((m[sep + 1], m[sep + 3] if len(m) > sep + 3 else '', m[4]))
    return out


def locate(controller):
    """(version, parent folder) where this process may make cgroups with `controller`
    ('memory' or 'pids'), or (None, why not)."""
    try:
        with open('/proc/self/cgroup') as f:
            lines = [line.rstrip('\n').split(':', 2) for line in f]
        mounts = _mounts()
    except OSError as err:
        return None, f'cannot read the cgroups of this process ({err})'
    reasons = []
    for fstype, options, point in mounts:
        if fstype == 'cgroup2':
            own = next((p for h, c, p in lines if h == '0' and c == ''), None)
            if own is None:
                continue
            parent = os.path.join(point, own.lstrip('/'))
            try:
                subtree = open(os.path.join(parent, 'cgroup.subtree_control')).read().split()
                available = open(os.path.join(parent, 'cgroup.controllers')).read().split()
                if controller not in subtree and own == '/' and controller in available:
                    with open(os.path.join(parent, 'cgroup.subtree_control'), 'w') as f:
                        f.write(f'+{controller}')
                    subtree.append(controller)
            except OSError as err:
                reasons.append(f'cgroup v2 at {parent}: {err.strerror}')
                continue
            if controller in subtree and os.access(parent, os.W_OK):
                return 2, parent
            reasons.append(f'cgroup v2 at {parent} cannot have a child with the {controller} '
                           f'controller (available: {" ".join(available) or "none"})')
        elif fstype == 'cgroup' and controller in options.split(','):
            own = next((p for h, c, p in lines if controller in c.split(',')), None)
            if own is None:
                continue
            parent = os.path.join(point, own.lstrip('/'))
            if os.access(parent, os.W_OK):
                return 1, parent
            reasons.append(f'cgroup v1 {controller} at {parent} is not writable')
    return None, '; '.join(reasons) or f'no cgroup file system with the {controller} controller'


def support(controller):
    """(version, a sentence on where), or (None, what a submission can then do)."""
    version, where = locate(controller)
    if version is not None:
        return version, f'cgroup v{version} under {where}'
    if controller == 'memory':
        return None, (f'no memory cgroup available ({where}): memory is capped per process only, '
                      'so a submission that starts several processes can use a multiple of the cap')
    return None, (f'no pids cgroup available ({where}): threads and processes are limited per '
                  + ('submission user only (RLIMIT_NPROC)' if os.geteuid() == 0 else
                     "submission only by your user's process limit, which they all share"))


class Group:
    """The cgroup folders (one per v1 hierarchy, or one v2 folder) of one submission."""

    def __init__(self, paths, memory_version):
        self.paths, self.memory_version = paths, memory_version  # {controller: folder}

    @classmethod
    def create(cls, memory_bytes, pids_max=PIDS_MAX):
        """A new group; controllers the machine lacks are left out (see `support`)."""
        paths, memory_version = {}, None
        name = f'grading-{os.getpid()}-{os.urandom(4).hex()}'
        for controller in ('memory', 'pids'):
            version, parent = locate(controller)
            if version is None:
                continue
            remove_stale(parent)
            path = os.path.join(parent, name)
            try:
                if path not in paths.values():
                    os.mkdir(path)
                limits = {'memory': [('memory.max', memory_bytes), ('memory.swap.max', 0)] if version == 2
                          else [('memory.limit_in_bytes', memory_bytes), ('memory.memsw.limit_in_bytes', memory_bytes)],
                          'pids': [('pids.max', pids_max)]}[controller]
                for i, (key, value) in enumerate(limits):
                    if i == 0 or os.path.exists(os.path.join(path, key)):
                        with open(os.path.join(path, key), 'w') as f:
                            f.write(str(value))
            except OSError:
                if path not in paths.values():
                    Group({controller: path}, None).remove()
                continue
            paths[controller] = path
            memory_version = version if controller == 'memory' else memory_version
        return cls(paths, memory_version)

    @property
    def procs(self):
        """The cgroup.procs files to write a pid into (one per hierarchy)."""
        return sorted({os.path.join(p, 'cgroup.procs') for p in self.paths.values()})

    def pids(self):
        found = set()
        for procs in self.procs:
            try:
                with open(procs) as f:
                    found |= {int(x) for x in f.read().split()}
            except OSError:
                pass
        return sorted(found)

    def oom_kills(self):
        """How many processes the kernel killed for the group's memory limit."""
        if 'memory' not in self.paths:
            return 0
        name = 'memory.events' if self.memory_version == 2 else 'memory.oom_control'
        try:
            with open(os.path.join(self.paths['memory'], name)) as f:
                for line in f:
                    key, _, value = line.partition(' ')
                    if key == 'oom_kill':
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def remove(self):
        """Remove the group. bwrap returns once its PID namespace is empty, so nothing is left in
        it but after a hard timeout (bwrap killed: its namespace dies a moment later)."""
        for _ in range(200):
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            for path in set(self.paths.values()):
                try:
                    os.rmdir(path)
                except OSError:  # gone, or not empty yet
                    pass
            if not any(os.path.exists(p) for p in self.paths.values()):
                return
            time.sleep(0.025)


def remove_stale(parent):
    """Remove empty groups left by a grader that was killed (its pid is in the name)."""
    for name in os.listdir(parent) if os.path.isdir(parent) else []:
        part = name.split('-')
        if len(part) == 3 and part[0] == 'grading' and part[1].isdigit() and not os.path.exists(f'/proc/{part[1]}'):
            try:
                os.rmdir(os.path.join(parent, name))  # fails, harmlessly, if it is not empty
            except OSError:
                pass
