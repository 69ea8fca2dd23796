"""The part of the sandbox that runs inside bubblewrap, at /grader/worker.py, first as root.

bwrap (grading/sandbox.py starts it) has made the namespaces and the file system and loaded the
seccomp filter. This script reads its configuration and the submission's files (made by the
grader), becomes the submission's own user id and makes itself not dumpable (the kernel it
starts, same user, can neither trace it nor open its descriptors: the record channel), unpacks
the submission into /work (a size-capped tmpfs), runs the notebook (grading/notebook_run.py, at
/grader beside it) and writes the report, the executed notebook and the export to the channel.
"""
import io
import json
import os
import sys
import tarfile

WORK = '/work/submission'  # on /work, the size-capped tmpfs; '../..' of its notebooks is that tmpfs
SUBMISSION_FOLDERS = ('home', 'tmp', 'notebooks')  # the input archive's folders the submission owns


def write_channel(fd, records):
    """Hand records ({name: bytes}) to the grader, as a tar, through the file it opened for us."""
    with os.fdopen(fd, 'wb', closefd=False) as f, tarfile.open(fileobj=f, mode='w', format=tarfile.USTAR_FORMAT) as tar:
        for name, data in records.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def become(uid):
    """Root inside bwrap (which left only CAP_SETUID and CAP_SETGID) becomes the submission's user."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if 0 in os.getresuid() or 0 in os.getresgid():
        raise OSError('could not drop root privileges')


def kernel_environment(config):
    env = {
        'PATH': f'{os.path.dirname(sys.executable)}:/usr/bin:/bin', 'HOME': f'{WORK}/home',
        'TMPDIR': '/tmp', 'MPLCONFIGDIR': f'{WORK}/home/.matplotlib',
        'MPLBACKEND': 'module://matplotlib_inline.backend_inline',  # figures kept, as inline PNG
        'IPYTHONDIR': f'{WORK}/home/.ipython', 'JUPYTER_PATH': f'{WORK}/.jupyter',
        'JUPYTER_RUNTIME_DIR': f'{WORK}/home/.jupyter-runtime', 'JUPYTER_CONFIG_DIR': f'{WORK}/home/.jupyter',
        'JUPYTER_PLATFORM_DIRS': '1', 'PYTHONDONTWRITEBYTECODE': '1', 'LANG': 'C.UTF-8',
        'LD_LIBRARY_PATH': os.environ.get('LD_LIBRARY_PATH', ''),
        # numpy asks for transparent huge pages for every large array (madvise); on the grading VM
        # (Firecracker, THP 'madvise') a first touch of them costs ~9 CPU s per GB instead of 0.6
        # (np.ones, 1 GB, measured 2026-12-05), so a memory bomb spent its 20 s cell limit under
        # load 6 before reaching RLIMIT_AS (its group at 1071 of 2160 MB, failcnt 0).
        'NUMPY_MADVISE_HUGEPAGE': '0',
    }
    env.update(config.get('env', {}))
    return env


def main():
    sys.path.insert(0, '/grader')  # read while still root: the files are root's, mode 0600
    import notebook_run
    with open('/grader/config.json') as f:
        config = json.load(f)
    with open('/grader/input.tar', 'rb') as f:
        archive = f.read()
    channel = config['channel_fd']
    os.set_inheritable(channel, False)  # the kernel (a later exec) never gets it
    os.closerange(3, channel)
    os.closerange(channel + 1, 1 << 16)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:  # made by the grader, not the submission
        members = tar.getmembers()
        submissions = [m for m in members if m.name.split('/')[0] in SUBMISSION_FOLDERS]
        if config.get('uid') is not None:
            # The course's folders (utils/, locale/) are unpacked while the worker is still root:
            # owned by root they are read-only to the submission, which could otherwise rewrite the
            # modules the grader's probe imports after the last cell. WORK is sticky, so the
            # submission adds its own folders there but cannot move or replace root's.
            os.mkdir(WORK, 0o755)
            os.chmod(WORK, 0o1777)
            tar.extractall(WORK, members=[m for m in members if m not in submissions])
            become(config['uid'])  # must work: never run a submission as root
        else:  # no user of its own (grader not root): one user owns everything, as documented
            os.mkdir(WORK, 0o700)
            submissions = members
        import ctypes
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the kernel cannot read our fds
        os.umask(0o077)
        tar.extractall(WORK, members=submissions)
    env = kernel_environment(config)
    os.environ.clear()
    os.environ.update(env)
    for folder in (env['HOME'], os.path.join(WORK, '.jupyter')):
        os.makedirs(folder, exist_ok=True)
    records, summary = {}, {}
    run = None
    try:
        import asyncio
        run = notebook_run.Run(config, WORK)
        asyncio.run(run.run())
    except Exception as err:  # a broken notebook must still produce a report
        summary['worker_error'] = f'{type(err).__name__}: {err}'[:500]
    finally:
        if run is not None:
            run.save_executed()
            summary, records = {**run.summary, **summary}, run.records
    try:
        write_channel(channel, {'summary.json': json.dumps(summary).encode(), **records})
    except OSError as err:
        sys.stderr.write(f'grader channel: {err}\n')
        os._exit(71)
    os._exit(0)


if __name__ == '__main__':
    main()
