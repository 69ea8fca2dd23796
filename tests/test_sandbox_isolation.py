"""The bubblewrap sandbox (grading/sandbox*.py) against the classes a hostile review found:
kernel keyrings, a full disk, one user for every sandbox (thread limits), the output cap
(display updates), host paths in /proc (mountinfo, cmdline, environ, cwd) and /sys/fs/cgroup, a
daemon that would outlive its sandbox, seccomp-denied calls, a linked .venv, the read-only images
(made once per content, never half-written); and the epilogue and export the grader builds on.
Each notebook here imports no MXNet: a run costs a kernel start (a few seconds).
"""
import ctypes
import errno
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import types

import pytest

from conftest import ROOT, SHARED_DATA
from submissions.hostile import notebook

from grading import exported, sandbox, sandbox_image, sandbox_limits

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None, reason='needs bubblewrap (apt-get install bubblewrap)')
AS_ROOT = os.geteuid() == 0
MEMORY = 1000 * 2**20
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def run(tmp_path, *cells, name='run', **kw):
    kw.setdefault('memory_bytes', MEMORY)
    result = sandbox.run_notebook(notebook(*cells), 'x.ipynb', cell_timeout=60, total_timeout=120,
                                  private_dir=str(tmp_path / name / 'export'), work_root=str(tmp_path),
                                  keep_executed=str(tmp_path / f'{name}.ipynb'), **kw)
    assert result['channel_error'] is None, result
    namespace = exported.read_exported(str(tmp_path / name / 'export'))[0] if result['exported'] else {}
    return result, namespace


SYSCALLS = r'''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {'add_key': 248, 'request_key': 249, 'keyctl': 250, 'ptrace': 101, 'bpf': 321,
      'perf_event_open': 298, 'userfaultfd': 323, 'mount': 165, 'umount2': 166, 'pivot_root': 155,
      'unshare': 272, 'clone': 56, 'clone3': 435, 'setns': 308}
ARGS = {'add_key': (b'user', b'hostile-key', b'payload', 7, -3),   # into the session keyring
        'request_key': (b'user', b'grader-secret', None, 0), 'keyctl': (11, SECRET, 0, 0),  # KEYCTL_READ
        'ptrace': (0, 0, 0, 0), 'bpf': (0, 0, 0), 'perf_event_open': (0, 0, -1, -1, 0), 'userfaultfd': (1,),
        'mount': (b'none', b'/tmp', b'tmpfs', 0, None), 'umount2': (b'/work', 2), 'pivot_root': (b'/tmp', b'/tmp'),
        'unshare': (0x10000000,), 'clone': (0x10000000 | 17, 0, 0, 0, 0), 'clone3': (0, 0), 'setns': (0, 0)}
denied = {}
for name, number in NR.items():
    if libc.syscall(number, *ARGS[name]) == 0 and name == 'clone':
        os._exit(0)  # a child in a new user namespace: must never happen
    denied[name] = ctypes.get_errno()
keys = open('/proc/keys').read()
'''

HOST_VIEW = r'''
import glob, os
mountinfo = open('/proc/self/mountinfo').read()
mounts = [line.split() for line in mountinfo.splitlines()]
mount_points = [m[4] for m in mounts]
seen = {'mountinfo': mountinfo}
for pid in glob.glob('/proc/[0-9]*'):
    for kind in ('cmdline', 'environ'):
        try:
            seen[f'{pid}/{kind}'] = open(f'{pid}/{kind}', 'rb').read().decode('utf-8', 'replace')
        except OSError:
            pass
    try:
        seen[f'{pid}/cwd'] = os.readlink(f'{pid}/cwd')
    except OSError:
        pass
cgroups = open('/proc/self/cgroup').read()
sys_cgroup = os.path.exists('/sys/fs/cgroup')
sys_entries = sorted(os.listdir('/sys'))
uid = os.getuid()
'''


@pytest.fixture
def grader_key():
    """A secret key in the grader's own session keyring (as a login or sudo session has)."""
    if libc.syscall(250, 1, b'grader-test-session') < 0:  # KEYCTL_JOIN_SESSION_KEYRING
        pytest.skip(f'no keyrings here ({os.strerror(ctypes.get_errno())})')
    serial = libc.syscall(248, b'user', b'grader-secret', b'top-secret', 10, -3)
    assert serial > 0, os.strerror(ctypes.get_errno())
    yield serial
    libc.syscall(250, 3, serial)  # KEYCTL_REVOKE


def test_keyrings_namespaces_tracing_and_mounts_are_denied_and_the_graders_key_is_unseen(tmp_path, grader_key):
    result, ns = run(tmp_path, f'SECRET = {grader_key}\n' + SYSCALLS)
    assert not result['summary']['errors'], result['summary']
    denied = ns['denied']
    assert denied.pop('clone3') == errno.ENOSYS, denied  # so that the C library falls back to clone
    assert denied == {name: errno.EPERM for name in denied}, denied
    assert 'grader-secret' not in ns['keys'] and 'grader-test-session' not in ns['keys'], ns['keys']
    assert 'hostile-key' not in ns['keys']


def test_nothing_of_the_host_shows_in_proc_mountinfo_or_sys(tmp_path):
    """A submission that reads mountinfo, every /proc/*/cmdline and environ and the cwd links it
    can see finds no host path: not the checkout, the venv, the Python installation, the data
    folder, the grader's temporary folder or $HOME."""
    data = os.path.realpath(SHARED_DATA)
    result, ns = run(tmp_path, HOST_VIEW, read_only=[data], env={'FASHION_MNIST_DIR': data})
    assert set(ns['mount_points']) <= {'/', '/usr', '/etc', '/etc/passwd', '/etc/group', '/proc', '/proc/irq',
                                       '/proc/bus', '/dev', '/dev/pts', '/dev/shm', '/sys/devices/system/cpu',
                                       '/opt/python', '/opt/venv/lib', '/opt/venv/bin/python3',
                                       '/opt/venv/pyvenv.cfg', '/data/0', '/work', '/tmp', '/var/tmp', '/export',
                                       '/grader/worker.py', '/grader/notebook_run.py', '/grader/exported.py',
                                       '/grader/input.tar', '/grader/config.json'} \
        | {f'/dev/{d}' for d in ('null', 'zero', 'full', 'random', 'urandom', 'tty')}, ns['mount_points']
    assert any(key.endswith('/cwd') for key in ns['seen']) and any(key.endswith('/environ') for key in ns['seen'])
    hosts = {'checkout': str(ROOT), 'venv': os.path.realpath(sys.prefix), 'python': os.path.realpath(sys.base_prefix),
             'data': data, 'grader temp': str(tmp_path), 'home': os.path.expanduser('~')}
    if sandbox_image.problem() is None:
        found = {(what, where) for what, host in hosts.items() for where, text in ns['seen'].items() if host in text}
        assert not found, found
        images = [m for m in ns['mounts'] if m[4] in ('/opt/python', '/opt/venv/lib', '/data/0')]
        assert len(images) == 3 and all(m[m.index('-') + 2].startswith('/dev/loop') for m in images), images
        roots = {m[4]: m[3] for m in images}
        assert roots == {'/opt/python': '/python', '/opt/venv/lib': '/venv/lib', '/data/0': '/data'}, roots
    else:  # bound from the host: only mountinfo's root field may name them, as the grader warns
        del ns['seen']['mountinfo']
        assert not {w for w, h in hosts.items() for text in ns['seen'].values() if h in text}
        assert 'mountinfo in the sandbox shows their host paths' in ' '.join(sandbox.isolation_warnings())
    assert '/data/0' in ns['seen']['mountinfo'] and any('/data/0' in t for k, t in ns['seen'].items() if 'environ' in k)
    assert not ns['sys_cgroup'] and ns['sys_entries'] == ['devices']
    assert all(line.endswith(':/') for line in ns['cgroups'].splitlines()), ns['cgroups']
    if AS_ROOT:
        assert sandbox_limits.FIRST_UID <= ns['uid'] == result['uid'] <= sandbox_limits.LAST_UID


DAEMON = r'''
import os, signal, subprocess, sys, time
marker = MARKER
code = (f'import os, signal, time\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\n'
        f'if os.fork() == 0:\n    os.setsid()\n    time.sleep(600)  # {marker}')
subprocess.Popen([sys.executable, '-c', code], start_new_session=True)
time.sleep(1)
running = [p for p in os.listdir('/proc') if p.isdigit() and marker.encode() in open(f'/proc/{p}/cmdline', 'rb').read()]
'''


def marked(marker):
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if marker.encode() in open(f'/proc/{pid}/cmdline', 'rb').read():
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_a_daemon_dies_with_its_sandbox_even_without_a_cgroup(tmp_path):
    """The PID namespace holds every process of a submission and dies with bwrap: a daemon (own
    session, double fork, SIGHUP ignored) is gone when run_notebook returns, with no cgroup and
    no grader code that hunts for it."""
    marker = f'grader-daemon-{os.getpid()}-{time.time_ns()}'
    result, ns = run(tmp_path, DAEMON.replace('MARKER', repr(marker)), use_cgroup=False)
    assert result['exported'] and not result['summary']['errors'], result['summary']
    assert len(ns['running']) == 1  # the daemon ran while the notebook did
    assert marked(marker) == []


FILL = r'''
written, error = 0, None
try:
    with open('ballast', 'wb') as f:
        while written < 3 * 2**30:
            f.write(b'x' * 2**20)
            written += 2**20
except OSError as err:
    error = err.errno
'''


def test_a_submission_cannot_fill_the_disk(tmp_path):
    result, ns = run(tmp_path, FILL)
    assert ns['error'] in (errno.ENOSPC, errno.EFBIG), ns
    assert ns['written'] <= MEMORY // 2  # its folder is a tmpfs of half the memory limit
    assert result['exported'] and result['summary']['errors'] == []  # its export still had room


FLOOD = r'''
from IPython.display import display, update_display
for _ in range(40):
    display({'text/plain': 'x'}, raw=True, display_id='same')
for i in range(60):
    update_display({'text/plain': str(i) * 2**20}, raw=True, display_id='same')
'''


def test_the_output_cap_holds_for_display_updates_and_tracebacks(tmp_path):
    result, _ = run(tmp_path, FLOOD, "raise ValueError('y' * 2**23)", 'total = 55')
    size = (tmp_path / 'run.ipynb').stat().st_size
    assert size < 3 * 2**20, size  # the documented cap is 2 MB of output
    assert result['summary']['truncated_output'] is True
    assert result['exported']


HOG = r'''
import subprocess, time
sleepers = []
try:
    for _ in range(5000):
        sleepers.append(subprocess.Popen(['sleep', '30']))
except OSError as err:
    print('stopped at', len(sleepers), err)
held = len(sleepers)
time.sleep(30)
'''

NEIGHBOUR = r'''
import threading, time
import numpy
workers = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(8)]
for t in workers:
    t.start()
for t in workers:
    t.join()
ok = 1
'''


def tasks_of_range():
    """How many processes and threads the sandbox user ids have now."""
    tasks = 0
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            status = dict(line.split(':', 1) for line in open(f'/proc/{pid}/status'))
        except (OSError, ValueError):
            continue
        if sandbox_limits.FIRST_UID <= int(status['Uid'].split()[0]) <= sandbox_limits.LAST_UID:
            tasks += int(status['Threads'])
    return tasks


@pytest.mark.skipif(not AS_ROOT, reason='a user id of its own per submission needs root')
def test_a_thread_hog_does_not_stop_its_neighbour(tmp_path):
    results = {}
    hog = threading.Thread(target=lambda: results.update(hog=run(tmp_path, HOG, name='hog')))
    hog.start()
    deadline = time.time() + 90
    while tasks_of_range() < 400 and time.time() < deadline and hog.is_alive():
        time.sleep(0.2)
    assert tasks_of_range() >= 400, 'the hog never held its processes'
    results['neighbour'] = run(tmp_path, NEIGHBOUR, name='neighbour', memory_bytes=2 * MEMORY)  # room for 8 stacks
    hog.join()
    (hog_result, hog_ns), (neighbour_result, neighbour_ns) = results['hog'], results['neighbour']
    assert neighbour_ns.get('ok') == 1 and not neighbour_result['summary']['errors'], neighbour_result['summary']
    assert 400 <= hog_ns['held'] < sandbox_limits.PIDS_MAX  # stopped at its own limit
    assert hog_result['uid'] != neighbour_result['uid']


LENET = r'''
import numpy as np
shapes = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,), (10, 84), (10,)]
params = {f'p{i}': np.random.default_rng(i).normal(size=s).astype('float32') for i, s in enumerate(shapes)}
flat = [float(v) for p in params.values() for v in p.ravel()]
'''


def test_the_epilogue_runs_after_an_error_stays_out_of_the_notebook_and_is_exported(tmp_path):
    epilogue = "__grader_seed = 3\nprobe = [__grader_seed, total]\nprint('EPILOGUE-OUTPUT')\n" + LENET
    result, ns = run(tmp_path, 'total = 55', '1 / 0', epilogue=epilogue)
    assert result['epilogue_error'] is None and ns['probe'] == [3, 55]
    assert len(ns['flat']) == sum(p.size for p in ns['params'].values()) == 61706
    assert ns['params']['p4'].shape == (120, 400)
    assert 'EPILOGUE-OUTPUT' not in (tmp_path / 'run.ipynb').read_text()
    assert [e['ename'] for e in result['summary']['errors']] == ['ZeroDivisionError']
    failed, _ = run(tmp_path, 'total = 55', epilogue='raise KeyError("probe")', name='failed')
    assert failed['epilogue_error'] == "KeyError: 'probe'" and failed['exported']


def test_numpy_in_a_submission_asks_for_no_transparent_huge_pages(tmp_path):
    # Their first touch cost ~15x the CPU of small pages on the grading VM (sandbox_worker says the
    # numbers): a memory bomb then ran out its cell limit under load before meeting RLIMIT_AS.
    _, ns = run(tmp_path, 'import numpy as np\nhuge_pages = int(np.core.multiarray._get_madvise_hugepage())')
    assert ns['huge_pages'] == 0


def test_a_linked_venv_runs_notebooks(tmp_path):
    linked = tmp_path / 'linked-venv'
    linked.symlink_to(os.path.realpath(sys.prefix), target_is_directory=True)
    script = ('import json, sys; from grading import sandbox\n'
              'from submissions.hostile import notebook\n'
              f'r = sandbox.run_notebook(notebook("total = 55"), "x.ipynb", cell_timeout=60, total_timeout=120, '
              f'memory_bytes={MEMORY}, private_dir={str(tmp_path / "export")!r})\n'
              'print(json.dumps([r["exported"], r["stderr_tail"], sys.prefix]))')
    done = subprocess.run([str(linked / 'bin' / 'python'), '-c', script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=f'{ROOT}:{ROOT / "tests"}'))
    exported, tail, prefix = json.loads(done.stdout.splitlines()[-1])
    assert prefix == str(linked) and exported, (tail, done.stderr[-2000:])


@pytest.mark.parametrize('command, package', [('bwrap', 'bubblewrap'), ('cgexec', 'cgroup-tools'),
                                              ('keyctl', 'keyutils'), ('prlimit', 'util-linux')])
def test_without_a_tool_of_the_sandbox_the_grader_refuses_to_start_and_names_the_package(
        tmp_path, monkeypatch, command, package):
    from grading import grade
    bwrap, which = str(tmp_path / 'bwrap') if command == 'bwrap' else '/usr/bin/bwrap', shutil.which
    monkeypatch.setattr(sandbox, 'bwrap_path', lambda: bwrap)
    monkeypatch.setattr(sandbox.shutil, 'which', lambda name, path=None: None if name == command else which(name, path=path))
    with pytest.raises(OSError, match=f'apt-get install {package}'):
        sandbox.run_notebook(notebook('total = 55'), 'x.ipynb', cell_timeout=10, total_timeout=20,
                             memory_bytes=MEMORY, private_dir=str(tmp_path / 'export'))
    options = types.SimpleNamespace(cell_timeout=10, timeout=20, memory_mb=100, profile='smoke')
    with pytest.raises(grade.GraderError, match=f'not installed here \\({command}\\): install them '
                       f'\\(Debian/Ubuntu: apt-get install {package}\\)'):
        grade.start_engine(types.SimpleNamespace(name='tiny', auto=[], max_score=0), options)


COURSE_FILES_ATTACK = r'''
import os, shutil
attempts = {}
def attempt(name, fn):
    try:
        fn()
        attempts[name] = 'done'
    except OSError as err:
        attempts[name] = err.__class__.__name__
attempt('overwrite', lambda: open('../utils/evidence.py', 'w').write('FORGED = 1\n'))
attempt('add', lambda: open('../utils/forged.py', 'w').write('FORGED = 1\n'))
attempt('remove', lambda: os.remove('../utils/evidence.py'))
attempt('rename', lambda: os.rename('../utils', '../utils-old'))
attempt('replace', lambda: shutil.rmtree('../utils'))
attempt('chmod', lambda: os.chmod('../utils', 0o777))
attempt('own folder', lambda: os.mkdir('../mine'))
still_real = 'FORGED' not in open('../utils/evidence.py').read()
'''


@pytest.mark.skipif(not AS_ROOT, reason='a user of its own per submission needs a root grader')
def test_the_course_modules_the_probe_imports_are_read_only_to_the_submission(tmp_path):
    """utils/ (whose modules the grader's probe imports after the last cell) cannot be rewritten,
    removed, renamed or added to; the submission still makes folders of its own beside it."""
    _, ns = run(tmp_path, COURSE_FILES_ATTACK, copy_dirs=[str(ROOT / 'utils')])
    assert ns['still_real'] is True
    attempts = ns['attempts']
    assert attempts.pop('own folder') == 'done'
    assert all(result != 'done' for result in attempts.values()), attempts


@pytest.mark.skipif(sandbox_image.problem() is not None, reason='images need root, a loop device and mksquashfs')
def test_an_image_is_made_once_per_content_and_never_mounted_half_written(tmp_path, monkeypatch):
    cache, source = tmp_path / 'cache', tmp_path / 'data'
    monkeypatch.setattr(sandbox_image, 'CACHE', str(cache))
    source.mkdir()
    (source / 'a.txt').write_text('one')
    held = set(sandbox_image._HELD)
    try:
        first = sandbox_image.mounted({'data': str(source)})
        assert open(os.path.join(first, 'data', 'a.txt')).read() == 'one'
        assert sandbox_image.mounted({'data': str(source)}) == first
        (source / '__pycache__').mkdir()  # Python caching bytecode outside: not a new image
        (source / '__pycache__' / 'a.cpython-311.pyc').write_bytes(b'cached')
        sandbox_image._KEYS.clear()
        assert sandbox_image.mounted({'data': str(source)}) == first
        (source / 'a.txt').write_text('two')  # a changed venv or data folder: a new image
        sandbox_image._KEYS.clear()
        second = sandbox_image.mounted({'data': str(source)})
        assert second != first and open(os.path.join(second, 'data', 'a.txt')).read() == 'two'
        half = tmp_path / 'half-mksquashfs'  # writes part of an image, then fails
        half.write_text('#!/bin/sh\necho half-written > "$2"\nexit 1\n')
        half.chmod(0o755)
        real_tool = sandbox_image.tool
        monkeypatch.setattr(sandbox_image, 'tool', lambda name: str(half) if name == 'mksquashfs' else real_tool(name))
        (source / 'b.txt').write_text('three')
        sandbox_image._KEYS.clear()
        with pytest.raises(OSError, match="could not make or mount the sandbox's read-only image"):
            sandbox_image.mounted({'data': str(source)})
        assert len(list(cache.glob('*.sqfs'))) == 2 and len(list(cache.glob('*.sqfs.partial'))) == 1
        monkeypatch.setattr(sandbox_image, 'tool', real_tool)
        third = sandbox_image.mounted({'data': str(source)})  # made again, whole
        assert sorted(os.listdir(os.path.join(third, 'data'))) == ['__pycache__', 'a.txt', 'b.txt']
        assert not list(cache.glob('*.sqfs.partial'))
    finally:
        sandbox_image._KEYS.clear()
        for key in set(sandbox_image._HELD) - held:
            os.close(sandbox_image._HELD.pop(key))
            subprocess.run(['umount', str(cache / f'{key}.mnt')], check=False)


def test_a_batch_whose_image_cannot_be_made_stops_before_grading_and_says_why(monkeypatch):
    from types import SimpleNamespace

    from grading import checks, sandbox_bwrap
    from grading.assignment import GraderError

    def full_disk(*args, **kwargs):
        raise OSError(f"could not make or mount the sandbox's read-only image (No space left on device); "
                      f"is there disk space under {sandbox_image.CACHE}?")
    monkeypatch.setattr(sandbox_bwrap, '_make_mounts', functools.cache(sandbox_bwrap._make_mounts.__wrapped__))
    monkeypatch.setattr(sandbox_image, 'problem', lambda: None)
    monkeypatch.setattr(sandbox_image, 'mounted', full_disk)
    with pytest.raises(GraderError, match='cannot run a notebook on this machine: could not make .* disk space'):
        checks.preflight(SimpleNamespace(read_only=[], kernel_env={}), MEMORY)
