"""The part of the sandbox that runs inside bubblewrap: runs one notebook and reports as data.

bwrap (grading/sandbox.py starts it) has already made the namespaces, the file system (nothing of
the host but the system, the Python installation and the data, read-only, at neutral paths) and
loaded the seccomp filter. This script, at /grader/worker.py in there, then:
- reads its configuration and the submission's files (made by the grader), while still root;
- becomes the submission's own user id (a different one for every concurrent submission: process
  limits are per user) and makes itself not dumpable, so the kernel it starts (same user) can
  neither trace it nor open its descriptors (the record channel);
- unpacks the submission into /work, a size-capped tmpfs (its pages count towards the memory
  cgroup: a full disk cannot happen);
- runs the notebook cell by cell with nbclient (cell and total time limits; every message that
  reaches the executed notebook is charged to one output budget, display updates included),
  then the grader's epilogue (same kernel, outputs kept out of the notebook), then asks the kernel
  to write its variables as plain data (JSON + .npz, no pickle) into a folder with a random name,
  reads them back without following links and writes everything to the grader's record channel.
Standard library at module level; nbclient etc. are imported once the user is dropped.
"""
import json
import os
import stat
import sys
import tarfile
import time

MAX_EXPORT_BYTES = 200 * 2**20         # all exported arrays together
MAX_ARRAY_ELEMENTS = 5_000_000         # one exported array (LeNet's ~62k parameters pass easily)
MAX_JSON_BYTES = 20 * 2**20
MAX_EXECUTED_BYTES = 50 * 2**20
WORK = '/work/submission'  # on /work, the size-capped tmpfs; '../..' of its notebooks is that tmpfs
SUBMISSION_FOLDERS = ('home', 'tmp', 'notebooks')  # the input archive's folders the submission owns

EXPORT_CODE = r'''
def __grader_export(folder, max_elements, max_total):
    import json, os, numpy as np
    ns = get_ipython().user_ns
    arrays, skipped, budget = {}, {}, [max_total]

    def array(value):
        value = np.asarray(value)
        if value.dtype.kind not in 'biuf' or value.size > max_elements:
            raise TypeError(f'array of {value.dtype} with {value.size} elements')
        if value.nbytes > budget[0]:
            raise TypeError('export size limit reached')
        budget[0] -= value.nbytes
        key = f'a{len(arrays)}'
        arrays[key] = np.ascontiguousarray(value)
        return {'t': 'array', 'v': key}

    def enc(value, depth=0):
        if depth > 8:
            raise TypeError('nested too deeply')
        if value is None or isinstance(value, (bool, str)):
            return {'t': 'json', 'v': value}
        if isinstance(value, int):
            return {'t': 'int', 'v': str(value)}
        if isinstance(value, float):
            return {'t': 'float', 'v': repr(value)}
        if isinstance(value, np.generic) and value.dtype.kind in 'biuf':
            return enc(value.item(), depth)
        if isinstance(value, (list, tuple)):
            if len(value) > 100000:
                raise TypeError('list too long')
            return {'t': type(value).__name__, 'v': [enc(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            if len(value) > 100000:
                raise TypeError('dict too long')
            return {'t': 'dict', 'v': [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, np.ndarray):
            return array(value)
        module = type(value).__module__ or ''
        if module.startswith('mxnet') and hasattr(value, 'asnumpy'):
            return array(value.asnumpy())
        if module.startswith('pandas') and type(value).__name__ == 'DataFrame':
            return {'t': 'dataframe', 'v': {'columns': enc(list(value.columns), depth + 1),
                    'data': [enc(value[c].tolist(), depth + 1) for c in value.columns],
                    'index': enc(value.index.tolist(), depth + 1)}}
        if module.startswith('pandas') and type(value).__name__ == 'Series':
            return {'t': 'series', 'v': {'data': enc(value.tolist(), depth + 1),
                    'index': enc(value.index.tolist(), depth + 1), 'name': enc(value.name, depth + 1)}}
        raise TypeError(type(value).__name__)

    names = {}
    for name in sorted(ns):
        if name.startswith('_') or name in ('In', 'Out', 'exit', 'quit', 'get_ipython'):
            continue
        value = ns[name]
        if callable(value) or type(value).__name__ == 'module':
            continue
        try:
            names[name] = enc(value)
        except Exception as err:
            skipped[name] = f'{type(value).__name__}: {err}'[:200]
    os.makedirs(folder, exist_ok=True)
    np.savez(os.path.join(folder, 'arrays.npz'), **arrays)
    with open(os.path.join(folder, 'names.json'), 'w') as f:
        json.dump({'names': names, 'skipped': skipped}, f)

__grader_export(__FOLDER__, __MAX_ELEMENTS__, __MAX_TOTAL__)
del __grader_export
'''


def message_size(content):
    """What a message adds to the executed notebook, in characters (every field counts: an
    error's traceback as much as a display's data)."""
    return len(json.dumps(content, default=str)) + 100


def open_inside(folder_fd, relpath, max_bytes):
    """Read a file the sandbox wrote, without following links or blocking on FIFOs.

    Every path component is opened relative to the previous one with O_NOFOLLOW, so a symlink
    planted by the submission cannot make the reader read or block on anything else.
    Returns bytes, or None if the file is missing, not a regular file, or too large.
    """
    parts = relpath.split('/')
    fds = [folder_fd]
    try:
        for part in parts[:-1]:
            fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                               dir_fd=fds[-1]))
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=fds[-1])
        fds.append(fd)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                return None
            chunks.append(chunk)
        return b''.join(chunks)
    except OSError:
        return None
    finally:
        for fd in fds[1:]:
            os.close(fd)


def capped_client_class(summary, budget, failed_replies, current):
    """nbclient's NotebookClient with one output budget for everything that reaches the
    executed notebook: new outputs, display updates (which rewrite every output of their display
    id) and widget state (not stored at all)."""
    import nbformat
    from nbclient import NotebookClient

    def afford(size, outs=None):
        if size <= budget[0]:
            budget[0] -= max(0, size)
            return True
        if not summary['truncated_output'] and outs is not None:
            outs.append(nbformat.v4.new_output('stream', name='stderr',
                                               text='[grader: further output dropped]\n'))
        summary['truncated_output'] = True
        budget[0] = 0
        return False

    class CappedClient(NotebookClient):
        async def _check_raise_for_error(self, cell, cell_index, exec_reply):
            # An error whose output message never arrived (e.g. a message the kernel could not
            # send, such as one with a lone surrogate) still counts: the reply says so.
            if exec_reply and exec_reply.get('content', {}).get('status') == 'error':
                failed_replies[cell_index] = exec_reply['content']
            return await super()._check_raise_for_error(cell, cell_index, exec_reply)

        async def _async_handle_timeout(self, timeout, cell=None):
            summary['timeouts'].append(current[0])
            self.iopub_timeout = 1  # do not wait for the rest of a runaway cell's output
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            if not afford(message_size(msg.get('content', {})), outs):
                return None
            return super().output(outs, msg, display_id, cell_index)

        def _update_display_id(self, display_id, msg):
            # Each update replaces the data of every output with this id: charge the growth.
            targets = [self.nb['cells'][c]['outputs'][i]
                       for c, indices in self._display_id_map.get(display_id, {}).items()
                       for i in indices]
            content = msg.get('content', {})
            new = message_size({'data': content.get('data'), 'metadata': content.get('metadata')})
            old = sum(message_size({'data': t.get('data'), 'metadata': t.get('metadata')}) for t in targets)
            if not afford(new * len(targets) - old):
                return None
            return super()._update_display_id(display_id, msg)

    return CappedClient


class Run:
    """One notebook's execution: the cells, then the epilogue, then the export."""

    def __init__(self, config):
        import nbformat
        from jupyter_client.manager import AsyncKernelManager
        self.config = config
        self.nb_path = os.path.join(WORK, 'notebooks', config['notebook'])
        self.nb = nbformat.read(self.nb_path, as_version=4)
        self.summary = {'errors': [], 'timeouts': [], 'dead_kernel': None, 'truncated_output': False,
                        'cells': 0, 'total_timeout': False, 'export': None, 'cell_times': [],
                        'epilogue_error': None}
        self.records = {}
        self.failed_replies = {}  # cell index -> content of an execute_reply with status "error"
        self.current = [None]     # index of the cell being run
        self.code_number = {}     # index among all cells -> index among code cells
        for i, c in enumerate(self.nb.cells):
            if c.cell_type == 'code':
                self.code_number[i] = len(self.code_number)
        kernel_name = kernel_spec()
        client_class = capped_client_class(self.summary, [config['max_output_bytes']],
                                           self.failed_replies, self.current)
        self.km = AsyncKernelManager(kernel_name=kernel_name, transport='ipc', ip=os.path.join(WORK, '.k'))
        self.client = client_class(
            self.nb, km=self.km, kernel_name=kernel_name, allow_errors=True, store_widget_state=False,
            interrupt_on_timeout=True, timeout=config['cell_timeout'],
            startup_timeout=min(120, config['total_timeout']),
            error_on_timeout={'ename': 'CellTimeoutError', 'evalue': 'cell took longer than the time limit',
                              'traceback': []},
            shutdown_kernel='immediate', iopub_timeout=15)
        self.deadline = time.monotonic() + config['total_timeout']

    async def responsive(self, seconds):
        """Does the kernel answer a kernel_info request within `seconds`?"""
        kc = self.client.kc
        msg_id = kc.kernel_info()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                msg = await kc.shell_channel.get_msg(timeout=max(0.1, end - time.monotonic()))
            except Exception:  # queue.Empty
                return False
            if msg.get('parent_header', {}).get('msg_id') == msg_id:
                return True
        return False

    async def run_cell(self, index, cell):
        """Run one notebook cell; False when nothing more can run (dead or stuck kernel)."""
        from nbclient.exceptions import DeadKernelError
        client, summary = self.client, self.summary
        client.timeout = int(max(1, min(self.config['cell_timeout'], self.deadline - time.monotonic())))
        client.iopub_timeout = 15  # output still arriving after the cell's reply
        self.current[0] = index
        started = time.monotonic()
        try:
            await client.async_execute_cell(cell, index)
        except DeadKernelError:
            code = getattr(getattr(self.km.provisioner, 'process', None), 'returncode', None)
            summary['dead_kernel'] = {'cell': index, 'returncode': code}
            summary['cell_times'].append([self.code_number[index], round(time.monotonic() - started, 3)])
            return False
        summary['cell_times'].append([self.code_number[index], round(time.monotonic() - started, 3)])
        summary['cells'] += 1
        if summary['timeouts'] and summary['timeouts'][-1] == index and not await self.responsive(5):
            summary['stuck'] = index  # ignored the interrupt: nothing more can run
            return False
        shown = [out for out in cell.get('outputs', []) if out.get('output_type') == 'error']
        if not shown and index in self.failed_replies:
            reply = self.failed_replies[index]
            shown = [{'ename': reply.get('ename') or 'an error',
                      'evalue': reply.get('evalue') or '(its message did not reach the grader)'}]
        for out in shown:
            if index not in summary['timeouts']:
                summary['errors'].append({'cell': index, 'ename': str(out.get('ename'))[:200],
                                          'evalue': str(out.get('evalue'))[:500]})
        return True

    async def run_hidden(self, code, seconds):
        """Run code in the kernel as a cell that never reaches the executed notebook; returns
        'ename: evalue' of its error, or None."""
        import nbformat
        cell = nbformat.v4.new_code_cell(code)
        self.nb.cells.append(cell)
        index = len(self.nb.cells) - 1
        self.client.timeout = int(max(1, seconds))
        try:
            await self.client.async_execute_cell(cell, index, store_history=False)
        finally:
            self.nb.cells.pop()
        replied = self.failed_replies.pop(index, None)  # the index is reused by the next hidden cell
        errors = [o for o in cell.outputs if o.get('output_type') == 'error'] or ([replied] if replied else [])
        return f"{errors[0].get('ename')}: {errors[0].get('evalue')}"[:500] if errors else None

    async def epilogue(self, code):
        from nbclient.exceptions import DeadKernelError
        left = self.deadline - time.monotonic()
        if left <= 1:
            self.summary['epilogue_error'] = 'not run: the total time limit was reached'
            return
        try:
            self.summary['epilogue_error'] = await self.run_hidden(code, min(self.config['cell_timeout'], left))
        except DeadKernelError:
            self.summary['epilogue_error'] = 'the kernel died in the epilogue'

    async def export(self):
        """Variables as plain data; the grader decides later what they are worth."""
        from nbclient.exceptions import DeadKernelError
        # A fresh folder with a name the submission cannot guess: a file planted earlier (read-only,
        # a link, a FIFO) can never be taken for the export.
        folder = os.path.join('/export', f'.grader-export-{os.urandom(16).hex()}')
        os.mkdir(folder, 0o700)  # fails if it exists: nothing can be there before
        code = (EXPORT_CODE.replace('__FOLDER__', repr(folder))
                .replace('__MAX_ELEMENTS__', str(MAX_ARRAY_ELEMENTS)).replace('__MAX_TOTAL__', str(MAX_EXPORT_BYTES)))
        started = time.monotonic()
        try:
            error = await self.run_hidden(code, max(5, min(60, self.deadline + 30 - time.monotonic())))
        except DeadKernelError:
            self.summary['export'] = 'kernel died'
            return
        self.summary['export_seconds'] = round(time.monotonic() - started, 3)
        self.summary['export'] = f'failed: {error}' if error else 'ok'
        if error:
            return
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for name, limit in (('names.json', MAX_JSON_BYTES), ('arrays.npz', MAX_EXPORT_BYTES + 2**20)):
                data = open_inside(fd, name, limit)
                if data is None:
                    self.summary['export'] = f'{name} missing, not a plain file or too large'
                    return
                self.records[name] = data
        finally:
            os.close(fd)

    async def run(self):
        started = time.monotonic()
        devnull = open(os.devnull, 'w')
        async with self.client.async_setup_kernel(cwd=os.path.dirname(self.nb_path), stdout=devnull, stderr=devnull):
            self.summary['kernel_start_seconds'] = round(time.monotonic() - started, 3)
            alive = True
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != 'code' or not cell.source.strip():
                    continue
                if self.deadline - time.monotonic() <= 1:
                    self.summary['total_timeout'] = True
                    break
                alive = await self.run_cell(index, cell)
                if not alive:
                    break
            if alive and self.config.get('epilogue'):
                await self.epilogue(self.config['epilogue'])
            elif self.config.get('epilogue'):
                self.summary['epilogue_error'] = 'not run: the kernel died or stopped answering'
            if alive:
                await self.export()

    def save_executed(self):
        # For the instructor (outputs, plots, written answers); the grade never reads it. Built
        # from the worker's own copy of the cells and the outputs it received from the kernel.
        import nbformat
        try:
            data = nbformat.writes(self.nb).encode('utf-8', 'backslashreplace')
        except Exception as err:
            self.summary['executed'] = f'could not be written ({type(err).__name__})'
            return
        if len(data) > MAX_EXECUTED_BYTES:
            self.summary['executed'] = f'larger than {MAX_EXECUTED_BYTES // 2**20} MB: not kept'
        else:
            self.records['executed.ipynb'] = data


def kernel_spec():
    """A kernel spec that starts ipykernel with this very Python."""
    spec_dir = os.path.join(WORK, '.jupyter', 'kernels', 'grader-python3')
    os.makedirs(spec_dir, exist_ok=True)
    with open(os.path.join(spec_dir, 'kernel.json'), 'w') as f:
        json.dump({'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                   'display_name': 'grader', 'language': 'python'}, f)
    return 'grader-python3'


def write_channel(fd, records):
    """Hand records ({name: bytes}) to the grader through the file descriptor it opened for us:
    a JSON header line [[name, length], ...], then the bytes, in that order."""
    payload = [json.dumps([[k, len(v)] for k, v in records.items()]).encode() + b'\n']
    payload += list(records.values())
    for chunk in payload:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


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
    }
    env.update(config.get('env', {}))
    return env


def main():
    with open('/grader/config.json') as f:
        config = json.load(f)
    with open('/grader/input.tar', 'rb') as f:
        archive = f.read()
    channel = config['channel_fd']
    os.set_inheritable(channel, False)  # the kernel (a later exec) never gets it
    os.closerange(3, channel)
    os.closerange(channel + 1, 1 << 16)
    import io
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
        run = Run(config)
        asyncio.run(run.run())
    except Exception as err:  # a broken notebook must still produce a report
        summary['worker_error'] = f'{type(err).__name__}: {err}'[:500]
    finally:
        if run is not None:
            run.save_executed()
            summary, records = {**run.summary, **summary}, run.records
    summary['notes'] = config.get('notes', [])
    summary['private_root'] = True
    try:
        write_channel(channel, {'summary.json': json.dumps(summary).encode(), **records})
    except OSError as err:
        sys.stderr.write(f'grader channel: {err}\n')
        os._exit(71)
    os._exit(0)


if __name__ == '__main__':
    main()
