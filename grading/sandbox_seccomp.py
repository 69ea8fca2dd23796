"""The sandbox's seccomp filter, compiled to BPF by libseccomp (through pyseccomp) for bwrap's
`--seccomp FD`.

The denied calls are those of the maintained default profiles of Docker and Podman
(moby/profiles/seccomp/default.json, containers/common seccomp.json): a call they allow only with
a capability the sandbox never has is denied here outright. The classes that matter here:
kernel keyrings (a key would outlive the submission and be read by the next one), tracing and
reading other processes' memory, BPF and perf, userfaultfd, every way to mount or to make new
namespaces (user namespaces above all: inside one, a submission would be root again), kernel
modules, clocks, swap, reboot, accounting. clone3 answers ENOSYS, as in those profiles, so that
the C library falls back to clone, whose flags a filter can see.
"""
import errno
import functools
import tempfile

# Denied with EPERM (what a process without the capability would get).
DENIED = (
    'add_key', 'keyctl', 'request_key',                                   # kernel keyrings
    'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd',
    'bpf', 'perf_event_open', 'userfaultfd', 'lookup_dcookie', 'fanotify_init',
    'mount', 'umount2', 'pivot_root', 'chroot', 'move_mount', 'open_tree', 'fsopen', 'fsconfig',
    'fsmount', 'fspick', 'mount_setattr', 'name_to_handle_at', 'open_by_handle_at',
    'unshare', 'setns',
    'init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load',
    'acct', 'quotactl', 'swapon', 'swapoff', 'reboot', 'syslog', 'vhangup',
    'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'sethostname', 'setdomainname',
    'iopl', 'ioperm', 'uselib', 'ustat', 'sysfs', 'nfsservctl', 'personality',
    'io_uring_setup', 'io_uring_enter', 'io_uring_register',
    'get_mempolicy', 'set_mempolicy', 'mbind', 'move_pages', 'migrate_pages',
)
# clone flags that make a new namespace (CLONE_NEWNS ... CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME).
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                         0x40000000, 0x00000080)


@functools.cache
def seccomp_bpf():
    """The filter as BPF bytes (allow by default; deny the list above)."""
    import pyseccomp as seccomp
    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        try:
            flt.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError, OSError):  # not a system call on this architecture
            pass
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), 'clone3')
    # Any namespace flag at all: one rule per flag (a rule compares one masked value).
    for flag in CLONE_NAMESPACE_FLAGS:
        flt.add_rule(seccomp.ERRNO(errno.EPERM), 'clone', seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as f:
        flt.export_bpf(f)  # writes to the descriptor
        f.seek(0)
        return f.read()
