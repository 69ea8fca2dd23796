"""Started by the grader for one submission; prepares this process, then becomes bubblewrap.

    python -I -S -B grading/sandbox_launch.py SETTINGS_JSON bwrap --args FD -- COMMAND...

Before bwrap (and so everything in the sandbox) exists, this process:
- joins the submission's cgroups (what is forked later is born in them: no race);
- joins a new, empty session keyring: a grader started from a login or sudo session would else
  hand its own session keyring (and the keys in it) to the sandbox;
- sets the resource limits (address space per process, CPU seconds, file size, no core dumps, and
  the number of processes of the submission's user).
Python's subprocess could do this in `preexec_fn`, which is unsafe in a grader with threads;
an exec'd script is not. Standard library only.
"""
import ctypes
import json
import os
import resource
import sys

KEYCTL_JOIN_SESSION_KEYRING = 1
SYS_KEYCTL = {'x86_64': 250, 'aarch64': 219, 'riscv64': 219}.get(os.uname().machine)


def main(argv):
    settings = json.loads(argv[1])
    command = argv[2:]
    for procs in settings['cgroup_procs']:
        with open(procs, 'w') as f:
            f.write(str(os.getpid()))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if SYS_KEYCTL is None or libc.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        sys.stderr.write(f'grader: cannot join a new session keyring ({os.strerror(ctypes.get_errno())})\n')
        os._exit(70)
    for name, value in settings['rlimits'].items():
        resource.setrlimit(getattr(resource, name), tuple(value))
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        sys.stderr.write(f'grader: {command[0]} not found. The sandbox is built on bubblewrap: '
                         'install it (Debian/Ubuntu: apt-get install bubblewrap)\n')
        os._exit(127)


if __name__ == '__main__':
    main(sys.argv)
