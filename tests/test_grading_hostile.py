"""The grader against engineer A's hostile suite (tests/submissions/hostile.py), one batch at --jobs 1.

Classes held here (issue 9): sealed submissions (SysV IPC, /dev/shm, temp files, daemons, host
sockets, one memory limit per submission), a batch that never stops (every entry one row, names
escaped, formulas neutralised), records that cannot be forged (planted export files, links,
foreign descriptors; headings and scores in error messages and output), nothing left on the host
(deep trees, locked folders, FIFOs, SysV objects and daemons vanish with the sandbox's tmpfs and
namespaces: the grader has nothing to clean; temp folders 0700 while they exist), the private
--autograder, and `--help` without MXNet. The notebooks do not import MXNet: the batch takes
about a minute.
"""
import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from conftest import ROOT, SHARED_DATA
from submissions.hostile import MSG_KEY, SHM_KEY, add_odd_entries, build_hostile, notebook

from scripts import make_exercises

from grading import batch, sandbox

TINY_MASTER = ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb'
MEMORY_MB = 1000
AS_ROOT = os.geteuid() == 0
CGROUP = sandbox.memory_group_support()[0] is not None


class Listener:
    """Host-side UNIX (path and abstract) and TCP listeners that record every connection."""

    def __init__(self, folder):
        folder.mkdir()
        folder.chmod(0o777)
        self.path = str(folder / 'host.sock')
        self.abstract = f'\0grading-hostile-{os.getpid()}'
        self.accepted = []
        self.socks = []
        for family, address in ((socket.AF_UNIX, self.path), (socket.AF_UNIX, self.abstract),
                                (socket.AF_INET, ('127.0.0.1', 0))):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.bind(address)
            s.listen(5)
            s.settimeout(0.2)
            self.socks.append(s)
        os.chmod(self.path, 0o777)
        self.port = self.socks[2].getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            for s in self.socks:
                try:
                    conn, _ = s.accept()
                    self.accepted.append(s.getsockname())
                    conn.close()
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.thread.join()
        for s in self.socks:
            s.close()


def sysv_keys():
    keys = set()
    for kind in ('shm', 'msg'):
        with open(f'/proc/sysvipc/{kind}') as f:
            next(f)
            keys |= {int(line.split()[0]) for line in f}
    return keys


def daemons():
    """Pids of the daemon leak_1_write.ipynb starts (found by its command line)."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            cmd = Path(f'/proc/{pid}/cmdline').read_bytes()
        except OSError:
            continue
        if b'signal.SIGHUP, signal.SIG_IGN' in cmd:
            found.append(int(pid))
    return found


def outside_code(text):
    """The lines of a Markdown text that are not inside a fenced code block, with inline code
    spans removed (what a reader takes for the grader's own words)."""
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r' {0,3}(`{3,}|~{3,})', line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and not line.strip()[len(m.group(1)):].strip():
            fence = None
        elif fence is None:
            out.append(re.sub(r'(`+)(?!`).*?(?<!`)\1(?!`)', '<code>', line))
    return out


@pytest.fixture(scope='module')
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp('hostile')
    student, zip_bytes = make_exercises.build(TINY_MASTER)
    private = base / 'private-course'  # outside the repository, like an instructor's own copy
    private.mkdir()
    autograder = private / 'tiny-private.zip'
    autograder.write_bytes(zip_bytes)
    listener = Listener(base / 'listen')
    subs = base / 'submissions'
    probe = {'socket_path': listener.path, 'abstract': listener.abstract, 'port': listener.port,
             'memory_mb': MEMORY_MB, 'repo': str(ROOT / 'instructors' / 'README.md')}
    cases = build_hostile(subs, probe)
    cases.update(add_odd_entries(subs))
    temp = base / 'tmp'  # the grader's temporary folders go here, so that leftovers are ours
    temp.mkdir()
    keys_before = sysv_keys()
    out = base / 'out'
    env = dict(os.environ, FASHION_MNIST_DIR=str(SHARED_DATA), TMPDIR=str(temp))
    started = time.time()
    args = ['--autograder', autograder, subs, '--out', out, '--jobs', 1, '--memory-mb', MEMORY_MB,
            '--cell-timeout', 60, '--timeout', 120]
    done = subprocess.run([sys.executable, '-m', 'grading', *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    seconds = time.time() - started
    listener.close()
    with open(out / 'grades.csv', newline='', encoding='utf-8') as f:
        rows = {r['submission']: r for r in csv.DictReader(f) if r['submission'] != 'Points Possible'}
    shown = {(name.decode('utf-8', 'backslashreplace') if isinstance(name, bytes) else name):
             dict(expect, shown=expect.get('shown', name if isinstance(name, str) else None))
             for name, expect in cases.items()}
    return dict(done=done, rows=rows, cases=shown, out=out, temp=temp, listener=listener,
                keys_before=keys_before, keys_after=sysv_keys(), daemons=daemons(), seconds=seconds)


def row_of(hostile, name):
    return hostile['rows'][hostile['cases'][name]['shown']]


def feedback_of(hostile, name):
    records = [json.loads(p.read_text()) for p in (hostile['out'] / 'private' / 'records').glob('*.json')]
    rec = next(r for r in records if r.get('submission') == hostile['cases'][name]['shown'])
    return rec, (hostile['out'] / 'feedback' / f"{rec['safe']}.md").read_text(encoding='utf-8')


# ----------------------------------------------------------------------------- a batch that never stops

def test_every_entry_gets_exactly_one_row_under_a_safe_name(hostile):
    assert hostile['done'].returncode == 0, hostile['done'].stderr[-3000:]
    assert 'can read the autograder' not in hostile['done'].stderr  # --autograder kept private
    rows = hostile['rows']
    assert sorted(rows) == sorted(c['shown'] for c in hostile['cases'].values()), \
        (sorted(rows), hostile['done'].stdout[-3000:])
    for name in rows:
        assert not name.startswith(('=', '+', '-', '@', '\t', '\r')), name
        assert name.isprintable(), name
    raw = (hostile['out'] / 'grades.csv').read_bytes()
    raw.decode('utf-8')  # strict: no lone surrogate or undecodable byte reached the file
    for line in raw.decode().splitlines():
        assert not line.startswith(('=', '+', '-', '@')), line


def test_each_hostile_submission_gets_the_grade_its_real_run_earned(hostile):
    for name, expect in hostile['cases'].items():
        if expect.get('needs_cgroup') and not CGROUP:
            continue
        r = row_of(hostile, name)
        if 'status' in expect:
            assert r['status'] == expect['status'], (name, r)
        if 'score' in expect:
            assert float(r['score']) == expect['score'], (name, r)
        if 'q1' in expect:
            assert float(r['q1']) == expect['q1'], (name, 'the attack worked', r)
        if 'reason_has' in expect:
            assert expect['reason_has'] in r['reason'], (name, r)


# ----------------------------------------------------------------------------- sealed submissions

@pytest.mark.skipif(not AS_ROOT, reason='namespaces as set up by the grader need root here')
def test_nothing_a_submission_makes_outlives_it_or_reaches_the_next(hostile):
    # it found nothing of leak_1, and not the repository either
    assert float(row_of(hostile, 'leak_2_read.ipynb')['q1']) == 0
    for path in ('/dev/shm/grader-leak', '/tmp/grader-leak', '/var/tmp/grader-leak'):
        assert not os.path.exists(path), path
    assert {SHM_KEY, MSG_KEY} & (hostile['keys_after'] - hostile['keys_before']) == set()
    assert hostile['daemons'] == [], 'a daemon of the submission is still running'
    assert list(hostile['temp'].iterdir()) == [], 'temporary folders left behind'


@pytest.mark.skipif(not AS_ROOT, reason='namespaces as set up by the grader need root here')
def test_no_host_socket_is_reachable(hostile):
    assert hostile['listener'].accepted == []
    assert float(row_of(hostile, 'sockets.ipynb')['q1']) == 0


def test_dev_shm_is_private_and_capped(hostile):
    assert float(row_of(hostile, 'memory_shm.ipynb')['q1']) == 0


@pytest.mark.skipif(not CGROUP, reason='no memory cgroup on this machine: per-process cap only '
                                       '(the grader says so once per batch)')
def test_one_memory_limit_holds_for_all_the_processes_of_a_submission(hostile):
    assert float(row_of(hostile, 'memory_children.ipynb')['q1']) == 0
    rec, text = feedback_of(hostile, 'memory_children.ipynb')
    assert any('memory limit for the whole submission' in n for n in rec['notes']), rec['notes']
    assert 'memory: 1000 MB for all the processes of a submission together' in hostile['done'].stdout


# ----------------------------------------------------------------------------- records

def test_planted_files_links_and_descriptors_do_not_forge_the_record(hostile):
    r = row_of(hostile, 'forge_export.ipynb')
    assert float(r['q1']) == 0 and r['status'] == 'ok', r
    rec, _ = feedback_of(hostile, 'forge_export.ipynb')
    executed = (hostile['out'] / 'executed' / f"{rec['safe']}.ipynb").read_text()
    assert 'FORGED-RECORD' not in executed
    outputs = json.dumps([c.get('outputs') for c in json.loads(executed)['cells']])
    assert 'REAL-RUN-MARKER' in outputs and "opened []" in outputs


def test_text_from_a_submission_cannot_forge_headings_or_scores(hostile):
    for name in ('forge_text.ipynb', 'lone_surrogate.ipynb'):
        _, text = feedback_of(hostile, name)
        lines = outside_code(text)
        scores = [line for line in lines if 'Auto-graded score' in line]
        assert len(scores) == 1 and scores[0].startswith('Auto-graded score: 5 / 5'), scores
        assert not [line for line in lines if '10 / 6' in line], text
        assert [line for line in lines if line.startswith('# ')] == [lines[0]], text
        assert not [line for line in lines if 'Feedback for someone else' in line]


def test_cell_run_times_reach_the_record_and_the_feedback(hostile):
    rec, text = feedback_of(hostile, '@sum.ipynb')
    times = {t['code_cell']: t['seconds'] for t in rec['cell_times']}
    assert len(times) == 4 and max(times.values()) >= 1.4, rec['cell_times']
    assert 'Run time of each code cell' in text


# ----------------------------------------------------------------------------- pieces, no batch

def test_sandbox_folders_are_private_while_they_exist_and_cell_times_are_pairs(tmp_path):
    nb = notebook('import time\ntime.sleep(3)', 'total = 55')
    seen = {}
    result = {}

    def run():
        result.update(sandbox.run_notebook(nb, 'x.ipynb', cell_timeout=30, total_timeout=60,
                                           memory_bytes=1000 * 2**20, work_root=str(tmp_path),
                                           private_dir=str(tmp_path / 'export')))
    thread = threading.Thread(target=run)
    thread.start()
    while thread.is_alive():
        for base in tmp_path.glob('grade-*'):
            for path in [base] + [p for p in base.iterdir() if p.is_dir()]:
                try:
                    seen[str(path)] = path.stat().st_mode & 0o777
                except OSError:
                    pass
        time.sleep(0.1)
    thread.join()
    assert seen and all(mode & 0o077 == 0 for mode in seen.values()), seen
    assert result['exported'] and result['channel_error'] is None
    assert [i for i, _ in result['cell_times']] == [0, 1]
    assert result['cell_times'][0][1] >= 2.9 > result['cell_times'][1][1]
    assert [p.name for p in tmp_path.iterdir()] == ['export']


def test_record_channel_rejects_what_the_worker_did_not_write(tmp_path):
    from grading import sandbox_worker

    def channel(records=None, raw=None):
        fd = os.open(tmp_path / 'c', os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        if records is not None:
            sandbox_worker.write_channel(fd, records)
        else:
            os.write(fd, raw)
        return fd
    os.close(channel({'summary.json': b'{}' * 400}))
    whole = (tmp_path / 'c').read_bytes()
    link = tarfile.TarInfo('summary.json')
    link.type, link.linkname = tarfile.SYMTYPE, '/etc/passwd'
    cases = {(None, b''): 'no record', (None, whole[:1200]): 'cut', (None, b'not a tar\n' * 100): 'malformed',
             (('evil.py', b'{}'),): 'unexpected record', (None, link.tobuf() + bytes(1024)): 'unexpected record',
             (('summary.json', b'x' * (sandbox.MAX_JSON_BYTES + 1)),): 'unexpected record',
             (('names.json', b'a'), ('names.json', b'b')): 'unexpected record'}
    for case, why in cases.items():
        if case[0] is None:
            fd = channel(raw=case[1])
        else:
            fd = os.open(tmp_path / 'c', os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(os.dup(fd), 'wb') as f, tarfile.open(fileobj=f, mode='w') as tar:
                for name, data in case:
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        try:
            records, error = sandbox.read_channel(fd)
        finally:
            os.close(fd)
        assert records == {} and why in error, (case, error)
    fd = channel({'summary.json': b'{}', 'names.json': b'abc'})
    assert sandbox.read_channel(fd) == ({'summary.json': b'{}', 'names.json': b'abc'}, None)
    os.close(fd)


def test_record_channel_refuses_a_huge_pax_header_or_file_without_reading_it(tmp_path):
    """tarfile loads a pax header of any size into memory: the worker writes plain USTAR, so the
    grader refuses one before it is read, and a channel over the cap before tarfile sees it."""
    from grading import sandbox_worker
    size = 60 * 2**20
    pax = tarfile.TarInfo('././@PaxHeader')
    pax.type, pax.size = tarfile.XHDTYPE, size
    fd = os.open(tmp_path / 'c', os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, pax.tobuf(tarfile.USTAR_FORMAT) + f'{size} comment='.encode())
        os.ftruncate(fd, tarfile.BLOCKSIZE * 3 + size)  # sparse: 60 MB of it cost no disk
        tracemalloc.start()
        try:
            records, error = sandbox.read_channel(fd)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert records == {} and "unexpected record '././@PaxHeader'" in error, error
        assert peak < 2**20, f'{peak} bytes allocated to refuse it'
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        sandbox_worker.write_channel(fd, {'summary.json': b'{}'})  # a good record, then too long
        os.ftruncate(fd, sandbox.CHANNEL_BYTES + 1)
        assert sandbox.read_channel(fd) == ({}, f'the record is {sandbox.CHANNEL_BYTES + 1} bytes, '
                                                f'over its cap of {sandbox.CHANNEL_BYTES}')
    finally:
        os.close(fd)


@pytest.mark.parametrize('name, shown', [
    ('plain.ipynb', 'plain.ipynb'), ('=1+1.ipynb', "'=1+1.ipynb"), ('+a', "'+a"), ('-a', "'-a"),
    ('@a', "'@a"), ('\tx', '\\tx'), ('a\nb', 'a\\nb'), ('caf\udce9.ipynb', 'caf\\xe9.ipynb'),
    ('\u202eevil', '\\u202eevil'), ('é.ipynb', 'é.ipynb')])
def test_names_are_written_escaped(name, shown):
    assert batch.display_name(name) == shown


def test_notebook_names_in_any_case_and_with_trailing_space():
    assert all(batch.is_notebook_name(n) for n in ('a.ipynb', 'A.IPYNB', 'a.IpYnB', 'a.ipynb  '))
    assert not any(batch.is_notebook_name(n) for n in ('a.ipynb.txt', 'ipynb', 'a.json'))


def test_feedback_file_names_are_unique_and_plain():
    taken = set()
    stems = [batch.safe_stem(n, taken) for n in ('a.ipynb', 'A.IPYNB', 'a', "'=x.ipynb", 'ä.ipynb',
                                                 'ö.ipynb', 'a\\nb.ipynb')]
    assert len({s.lower() for s in stems}) == len(stems) and stems[0] == 'a'
    assert all(re.fullmatch(r'[A-Za-z0-9_.@+() -]+', s) for s in stems), stems


def test_names_that_clean_to_the_same_file_name_do_not_stop_the_batch(tmp_path):
    from grading.grade import Assignment
    from grading.gradebook import Book
    _, zip_bytes = make_exercises.build(TINY_MASTER)
    (tmp_path / 'a.zip').write_bytes(zip_bytes)
    subs = tmp_path / 'subs'
    subs.mkdir()
    for name in ('ä.ipynb', 'ö.ipynb'):
        (subs / name).write_text(notebook('total = 55'))
    book = Book(tmp_path / 'out', Assignment(tmp_path / 'a.zip'), log=lambda *a: None)
    entries = book.plan(subs)
    assert len(entries) == 2 and len({e['safe'] for e in entries}) == 2


# ----------------------------------------------------------------------------- starting without MXNet

def test_help_and_argument_errors_need_neither_mxnet_nor_pandas_nor_matplotlib(tmp_path):
    stubs = tmp_path / 'stubs'
    for module in ('mxnet', 'pandas', 'matplotlib', 'numpy'):
        (stubs / module).mkdir(parents=True)
        (stubs / module / '__init__.py').write_text(f'raise ImportError("{module} must not be imported")\n')
    env = dict(os.environ, PYTHONPATH=str(stubs))

    def grader(*args):
        return subprocess.run([sys.executable, '-X', 'importtime', '-m', 'grading', *map(str, args)],
                              cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    done = grader('--help')
    assert done.returncode == 0 and '--autograder' in done.stdout, done.stderr[-2000:]
    imported = {line.split('|')[-1].strip() for line in done.stderr.splitlines() if '|' in line}
    assert not {m for m in imported if m.split('.')[0] in ('mxnet', 'pandas', 'matplotlib', 'numpy')}
    for args, message in ((['a', 'b', '--out', 'c', '--no-such-option'], 'unrecognized arguments'),
                          (['no_such_assignment', tmp_path, '--out', tmp_path / 'o'], 'not found'),
                          (['--autograder', tmp_path / 'missing.zip', tmp_path, '--out', tmp_path / 'o'],
                           'does not exist'),
                          ([tmp_path, '--out', tmp_path / 'o'], 'either ASSIGNMENT or --autograder')):
        done = grader(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr[-2000:])
        assert 'must not be imported' not in done.stderr


def test_complete_plan_adds_every_entry_once_with_the_plans_lateness(tmp_path):
    for name in ('a.ipynb', 'B.IPYNB', 'c.ipynb ', 'notes.txt'):
        (tmp_path / name).write_text('{}')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'x.ipynb').write_text('{}')
    (tmp_path / 'empty').mkdir()
    planned = [{'submission': 'a.ipynb', 'path': str(tmp_path / 'a.ipynb'), 'key': 'a.ipynb', 'safe': 'a',
                'student': None, 'late': '', 'submitted': 'x'},
               {'submission': 'sub/x.ipynb', 'path': str(tmp_path / 'sub' / 'x.ipynb'), 'key': 'sub/x.ipynb',
                'safe': 'sub__x', 'student': None, 'late': '', 'submitted': 'x'}]
    out = batch.complete_plan(planned, tmp_path, stamp=lambda p: ('late', 'then'))
    shown = {e['submission']: e for e in out}
    assert sorted(shown) == ['B.IPYNB', 'a.ipynb', 'c.ipynb\\x20', 'empty', 'notes.txt', 'sub/x.ipynb']
    assert shown['B.IPYNB']['late'] == 'late' and shown['empty']['late'] == ''
    assert len({e['safe'].lower() for e in out}) == len(out)
    only = batch.complete_plan(planned[:1], tmp_path, add_missing=False)
    assert [e['submission'] for e in only] == ['a.ipynb']


# ----------------------------------------------------------------------------- a grader that is not root

NOBODY = 65534


def as_nobody(command, folder, env):
    """Run `command` as uid/gid 65534 with no capability (setpriv). This machine's Python may live
    below /root (mode 0700): an outer bwrap, still root, shows that user the Python installation
    alone, read-only, at its own path; everything else is the machine's own file system."""
    base = Path(os.path.realpath(sys.base_prefix))
    outer = ['bwrap', '--dev-bind', '/', '/', '--die-with-parent', '--chdir', str(ROOT)]
    if Path('/root') in base.parents:
        outer += ['--tmpfs', '/root']
        for parent in reversed([p for p in base.parents if Path('/root') in p.parents]):
            outer += ['--perms', '0755', '--dir', str(parent)]
        outer += ['--ro-bind', str(base), str(base)]
    setpriv = ['setpriv', f'--reuid={NOBODY}', f'--regid={NOBODY}', '--clear-groups', '--']
    return subprocess.run(outer + setpriv + command, capture_output=True, text=True, timeout=600,
                          env={'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8', 'HOME': str(folder),
                               'TMPDIR': str(folder), 'PYTHONDONTWRITEBYTECODE': '1', **env})


@pytest.mark.skipif(not AS_ROOT or not shutil.which('setpriv'),
                    reason='becoming another user needs root and setpriv (util-linux)')
def test_a_grader_that_is_not_root_grades_and_says_once_what_it_cannot_guarantee():
    """As a plain user (no user id of its own per submission, no cgroup it may create, no image
    it may mount) the grader still grades in its sandbox, and says once per batch which
    guarantees do not hold."""
    folder = Path(tempfile.mkdtemp(prefix='grader-not-root-'))
    try:
        _, zip_bytes = make_exercises.build(TINY_MASTER)
        (folder / 'tiny.zip').write_bytes(zip_bytes)
        (folder / 'subs').mkdir()
        (folder / 'subs' / 'answer.ipynb').write_text(notebook('total = sum(range(1, 11))'))
        for path in (folder, *folder.rglob('*')):
            os.chown(path, NOBODY, NOBODY)
        folder.chmod(0o755)
        probe = as_nobody(['id', '-u'], folder, {})
        if probe.returncode != 0:
            pytest.skip(f'this machine cannot run a command as uid {NOBODY}: {probe.stderr[-300:]}')
        done = as_nobody([sys.executable, '-m', 'grading', '--autograder', str(folder / 'tiny.zip'),
                          str(folder / 'subs'), '--out', str(folder / 'out'), '--jobs', '1', '--memory-mb', '1000'],
                         folder, {'FASHION_MNIST_DIR': str(SHARED_DATA), 'COURSE_PROFILE': 'smoke'})
        assert done.returncode == 0, done.stderr[-3000:]
        with open(folder / 'out' / 'grades.csv', newline='', encoding='utf-8') as f:
            row = next(r for r in csv.DictReader(f) if r['submission'] == 'answer.ipynb')
        assert row['status'] == 'ok' and float(row['q1']) == 2, row
        for sentence in ('the grader is not root: every submission runs as YOUR user',
                         'no pids cgroup available', 'no memory cgroup available',
                         'mountinfo in the sandbox shows their host paths'):
            assert done.stderr.count(sentence) == 1, (sentence, done.stderr[-3000:])
    finally:
        shutil.rmtree(folder)
