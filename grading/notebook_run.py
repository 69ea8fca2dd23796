"""Runs one notebook with nbclient inside the sandbox, within its limits, and collects its export.

Not a part of the isolation (grading/sandbox*.py makes the sandbox; this file runs in it, as the
submission's user, imported by the worker from /grader): the cells one by one (a time limit per
cell and per notebook; every message that reaches the executed notebook is charged to one output
budget, display updates included), then the grader's epilogue (same kernel, outputs kept out of
the notebook), then the export of the variables (grading/exported.py). Standard library at module
level: nbclient and friends are imported once the worker has dropped root.
"""
import json
import os
import sys
import time

import exported

MAX_EXECUTED_BYTES = 50 * 2**20


def message_size(content):
    """What a message adds to the executed notebook, in characters (every field counts: an
    error's traceback as much as a display's data)."""
    return len(json.dumps(content, default=str)) + 100


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

    def __init__(self, config, work):
        import nbformat
        from jupyter_client.manager import AsyncKernelManager
        self.config = config
        self.nb_path = os.path.join(work, 'notebooks', config['notebook'])
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
        kernel_name = kernel_spec(work)
        client_class = capped_client_class(self.summary, [config['max_output_bytes']],
                                           self.failed_replies, self.current)
        self.km = AsyncKernelManager(kernel_name=kernel_name, transport='ipc', ip=os.path.join(work, '.k'))
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
        code = exported.export_code(folder)
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
            for name, limit in exported.FILE_LIMITS.items():
                data = exported.read_file(fd, name, limit)
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


def kernel_spec(work):
    """A kernel spec that starts ipykernel with this very Python."""
    spec_dir = os.path.join(work, '.jupyter', 'kernels', 'grader-python3')
    os.makedirs(spec_dir, exist_ok=True)
    with open(os.path.join(spec_dir, 'kernel.json'), 'w') as f:
        json.dump({'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                   'display_name': 'grader', 'language': 'python'}, f)
    return 'grader-python3'
