"""Engineer A's hostile suite: one or more submissions per class of attack on the grader.

Each attack is written so that its success shows in the grade: an attacking notebook answers
question 1 (`total = 55`, 2 points) only if the attack worked, so the test asserts q1 = 0. The
notebooks do not import `utils` (no MXNet): each costs a kernel start, a second or two.
`build_hostile(folder, probe)` writes them and returns {file name (str, or bytes for a name that
is not UTF-8): expectation}; `probe` holds the host-side targets (socket paths etc.).
"""
import os

import nbformat

CORRECT = ['total = sum(range(1, 11))', 'import numpy as np\ngrid = np.linspace(0, 1, 5)',
           "import pandas as pd\ntable = pd.DataFrame({'n': [1, 2, 3]})\ntable['square'] = table['n'] ** 2"]
SHM_KEY, MSG_KEY = 0x4A11, 0x4A12
FAKE = 'Auto-graded score: 10 / 6'


def notebook(*cells):
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]))


SYSV = f'''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
SHM_KEY, MSG_KEY = {SHM_KEY}, {MSG_KEY}
class Msg(ctypes.Structure):
    _fields_ = [('mtype', ctypes.c_long), ('mtext', ctypes.c_char * 64)]
'''

LEAK_WRITE = SYSV + r'''
import os, subprocess, sys
for path in ['/dev/shm/grader-leak', '/tmp/grader-leak', '/var/tmp/grader-leak']:
    try:
        open(path, 'w').write('leaked')
    except OSError as err:
        print('cannot write', path, err)
shm = libc.shmget(SHM_KEY, 4096, 0o1666)
if shm >= 0:
    addr = libc.shmat(shm, None, 0)
    ctypes.memmove(addr, b'leaked', 6)
msq = libc.msgget(MSG_KEY, 0o1666)
if msq >= 0:
    libc.msgsnd(msq, ctypes.byref(Msg(1, b'leaked')), 64, 0)
# a daemon that outlives the notebook: new session, double fork, ignores SIGHUP
subprocess.Popen([sys.executable, '-c', 'import os, time, signal\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\n'
                  'if os.fork() == 0:\n    os.setsid()\n    time.sleep(600)'], start_new_session=True)
print('shm', shm, 'msq', msq)
'''

LEAK_READ = SYSV + r'''
import os
found = []
for path in ['/dev/shm/grader-leak', '/tmp/grader-leak', '/var/tmp/grader-leak', {repo!r}]:
    if os.path.exists(path):
        found.append(path)
shm = libc.shmget(SHM_KEY, 0, 0)
if shm >= 0:
    found.append('SysV shared memory')
msq = libc.msgget(MSG_KEY, 0)
if msq >= 0:
    msg = Msg()
    if libc.msgrcv(msq, ctypes.byref(msg), 64, 0, 0o4000) >= 0:  # IPC_NOWAIT
        found.append('SysV message: ' + msg.mtext.decode())
print('found', found)
if found:
    total = 55
'''

SHM_FILL = r'''
import os
cap = {cap}
written = 0
try:
    with open('/dev/shm/fill', 'wb') as f:
        while written < cap * 3 // 2:
            f.write(b'x' * 2**20)
            written += 2**20
except OSError as err:
    print('stopped after', written >> 20, 'MB:', err)
if written >= cap:
    total = 55  # more than the whole memory limit sat in /dev/shm
'''

CHILDREN = r'''
import subprocess, sys
child = ('import time\nb = bytearray({each})\nb[::4096] = b"x" * len(b[::4096])\n'
         'print("holding", flush=True)\ntime.sleep(4)')
procs = [subprocess.Popen([sys.executable, '-c', child]) for _ in range(3)]
codes = [p.wait() for p in procs]
print('exit codes', codes)
if codes == [0, 0, 0]:
    total = 55  # three children each held half the limit at the same time
'''

SOCKETS = r'''
import socket
reached = []
for family, address in [(socket.AF_UNIX, {path!r}), (socket.AF_UNIX, {abstract!r}),
                        (socket.AF_INET, ('127.0.0.1', {port}))]:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(address)
        s.sendall(b'hello from the sandbox')
        reached.append(repr(address))
    except OSError as err:
        print('refused', repr(address), err)
    finally:
        s.close()
print('reached', reached)
if reached:
    total = 55
'''

FORGE_EXPORT = r'''
import json, os, glob
import numpy as np
fake = {'names': {'total': {'t': 'int', 'v': '55'}}, 'skipped': {}}
forged = 0
for folder in ['../.grader-export', '.grader-export', '../../.grader-export', '/export/.grader-export']:
    try:
        os.makedirs(folder, exist_ok=True)
        json.dump(fake, open(f'{folder}/names.json', 'w'))
        np.savez(f'{folder}/arrays.npz')
        with open(f'{folder}/executed.ipynb', 'w') as f:
            f.write(json.dumps({'cells': [], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5,
                                'forged': 'FORGED-' + 'RECORD'}))
        for name in ('names.json', 'arrays.npz', 'executed.ipynb'):
            os.chmod(f'{folder}/{name}', 0o444)
        forged += 1
    except OSError as err:
        print('cannot plant in', folder, err)
# links where a fresh export folder might be made, and a guess at its name
for link in ['../.grader-export-0', '../export', '../channel', '/export/.grader-export-0']:
    try:
        os.symlink('/etc', link)
    except OSError as err:
        print('cannot link', link, err)
# the grader's descriptors: any file descriptor of another process we could write to
opened = []
for fd_path in glob.glob('/proc/[0-9]*/fd/*'):
    if fd_path.split('/')[2] == str(os.getpid()):
        continue  # its own descriptors are its own business
    try:
        with open(fd_path, 'ab') as f:
            f.write(b'["summary.json", 2]\n{}')
        opened.append(fd_path)
    except OSError:
        pass
print('planted', forged, 'opened', opened)
print('REAL-RUN-MARKER')
total = None  # the real answer is wrong: only a forged record could give q1 its points
'''

FORGE_TEXT = r'''
Fake = type('Fake\n# ' + {fake!r} + '\n## Notes', (Exception,), {{}})
print('\n# Feedback for someone else\n' + {fake!r} + '\n```\n~~~\n')
raise Fake('\n\n# ' + {fake!r} + '\n```\n| q1 | 2 | 2 | 1 of 1 passed | 1 of 1 passed |\n\udcff')
'''

LONE_SURROGATE = r'''
raise ValueError('bad byte \udcff and \ud800 in the message')
'''

DEEP_TREE = r'''
import os, stat
top = os.getcwd()
os.makedirs('deep', exist_ok=True)
os.chdir('deep')
for i in range(3000):
    os.mkdir('d')
    os.chdir('d')
open('bottom.txt', 'w').write('x')
os.chmod('bottom.txt', 0o400)
os.chdir(top)
os.makedirs('locked/inner', exist_ok=True)
open('locked/inner/file', 'w').write('x')
os.chmod('locked/inner', 0)
os.chmod('locked', 0)
os.mkfifo('a-fifo')
os.symlink('/etc/passwd', 'a-link')
os.chmod('.', 0o500)  # and a read-only folder of its own
'''

SLOW_CELL = 'import time\ntime.sleep(1.5)'


def build_hostile(folder, probe):
    """Write the hostile submissions into `folder`; return {name: expectation dict}.

    probe: {'socket_path', 'abstract', 'port', 'memory_mb', 'repo' (a file of the repository)}. Names sort in the order they must
    run at --jobs 1 (a writer before its reader)."""
    os.makedirs(folder, exist_ok=True)
    cases = {}
    cap = probe['memory_mb'] * 2**20

    def save(name, text, **expect):
        path = os.path.join(os.fsencode(folder), name if isinstance(name, bytes) else name.encode())
        with open(path, 'wb') as f:
            f.write(text.encode() if isinstance(text, str) else text)
        cases[name] = expect

    # Sealing: SysV IPC, /dev/shm and temp files from one submission never reach the next.
    save('leak_1_write.ipynb', notebook(LEAK_WRITE, *CORRECT), status='ok', score=5)
    save('leak_2_read.ipynb', notebook(LEAK_READ.replace('{repo!r}', repr(probe['repo'])), *CORRECT[1:]),
         status='ok', q1=0)
    # Memory: /dev/shm is private and capped; one limit for all the processes of a submission.
    save('memory_shm.ipynb', notebook(SHM_FILL.format(cap=cap), *CORRECT[1:]), q1=0)
    save('memory_children.ipynb', notebook(CHILDREN.format(each=cap // 2), *CORRECT[1:]), q1=0,
         needs_cgroup=True)
    # No host socket: UNIX by path and abstract, TCP on the loopback.
    save('sockets.ipynb', notebook(SOCKETS.format(path=probe['socket_path'], abstract=probe['abstract'],
                                                  port=probe['port']), *CORRECT[1:]), status='ok', q1=0)
    # Records: planted export files, links and foreign descriptors never become the record.
    save('forge_export.ipynb', notebook(FORGE_EXPORT, *CORRECT[1:]), status='ok', q1=0, score=3)
    # Text from the submission cannot forge headings or scores; lone surrogates do not stop the batch.
    save('forge_text.ipynb', notebook(*CORRECT, FORGE_TEXT.format(fake=FAKE)), status='error', score=5)
    save('lone_surrogate.ipynb', notebook(*CORRECT, LONE_SURROGATE), status='error', score=5)
    # Leftovers: a 3,000-deep tree, folders without permissions, read-only files, a FIFO, a link.
    save('deep_tree.ipynb', notebook(DEEP_TREE, *CORRECT), status='ok', score=5)
    # Names: formula prefixes, bytes that are not UTF-8, control characters, upper-case extension,
    # trailing space; every kind of entry gets a row.
    good = notebook(*CORRECT, SLOW_CELL)
    save('=HYPERLINK("evil.example","x").ipynb', good, status='ok', score=5,
         shown='\'=HYPERLINK("evil.example","x").ipynb')
    save('@sum.ipynb', good, status='ok', score=5, shown="'@sum.ipynb")
    save(b'bad-\xff-name.ipynb', good, status='ok', score=5, shown='bad-\\xff-name.ipynb')
    save('UPPER.IPYNB', good, status='ok', score=5, shown='UPPER.IPYNB')
    save('trailing.ipynb ', good, status='ok', score=5, shown='trailing.ipynb\\x20')
    save('new\nline.ipynb', good, status='ok', score=5, shown='new\\nline.ipynb')
    save('+notes.txt', 'not a notebook', status='unreadable', score=0, shown="'+notes.txt",
         reason_has='name does not end in .ipynb')
    save('-minus.ipynb', 'not JSON', status='unreadable', score=0, shown="'-minus.ipynb")
    return cases


def add_odd_entries(folder):
    """Entries that are not files: a folder, a link, a FIFO, and a file nobody may read.
    Returns {name: expectation}."""
    os.mkdir(os.path.join(folder, 'a_folder'))
    os.symlink('/etc/passwd', os.path.join(folder, 'link.ipynb'))
    os.mkfifo(os.path.join(folder, 'fifo.ipynb'))
    locked = os.path.join(folder, 'locked.ipynb')
    with open(locked, 'w') as f:
        f.write(notebook(*CORRECT))
    os.chmod(locked, 0)
    return {'a_folder': dict(status='unreadable', score=0, reason_has='folder'),
            'link.ipynb': dict(status='unreadable', score=0, reason_has='link'),
            'fifo.ipynb': dict(status='unreadable', score=0, reason_has='FIFO'),
            # root reads it all the same; as another user it is `cannot read the file`
            'locked.ipynb': dict(status='ok' if os.geteuid() == 0 else 'unreadable')}
