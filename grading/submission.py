"""Reading one submitted file, by the grader (never inside the sandbox): checks that it is a
notebook, drops its outputs, and says where below the sandbox's notebooks/ folder it runs."""
import json
import os
import stat

MAX_SUBMISSION_BYTES = 50 * 2**20


def read_submission(path):
    """(notebook JSON text without outputs, None) or (None, why it is unreadable)."""
    from .batch import is_notebook_name, kind_of
    kind = kind_of(path)
    if kind:
        return None, f'not a notebook file: {kind}'
    if not is_notebook_name(path):
        return None, 'not a notebook (the name does not end in .ipynb)'
    try:  # never follows a link, never blocks on a FIFO swapped in since
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        return None, f'cannot read the file ({err.strerror})'
    with os.fdopen(fd, 'rb') as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, 'not a regular file'
        if info.st_size == 0:
            return None, 'empty file'
        if info.st_size > MAX_SUBMISSION_BYTES:
            return None, f'file is larger than {MAX_SUBMISSION_BYTES // 2**20} MB'
        try:
            raw = f.read(MAX_SUBMISSION_BYTES + 1)
        except OSError as err:
            return None, f'cannot read the file ({err.strerror})'
    return parse_notebook(raw)


def parse_notebook(raw):
    """(notebook JSON text without outputs, None) or (None, why) for a file's bytes."""
    import nbformat
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        return None, 'not a notebook (not UTF-8 text)'
    try:
        data = json.loads(text)
    except ValueError as err:
        return None, f'not a notebook (invalid JSON: {err.msg} at line {err.lineno})'
    if not isinstance(data, dict) or not isinstance(data.get('cells'), list) \
            or 'nbformat' not in data:
        return None, 'not a notebook (JSON without notebook cells)'
    try:
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.cells:
            if cell.get('cell_type') not in ('code', 'markdown', 'raw') or \
                    not isinstance(cell.get('source'), str):
                raise ValueError('a cell has no type or source')
            if cell.cell_type == 'code':
                cell.outputs, cell.execution_count = [], None
    except Exception as err:
        return None, f'not a notebook ({str(err).splitlines()[0][:150] if str(err) else type(err).__name__})'
    return nbformat.writes(nb), None


def code_sources(text):
    """The code cells' sources, in order, of a notebook read by `read_submission` (what the
    hidden tests get as `submission_sources`)."""
    sources = [cell['source'] for cell in json.loads(text)['cells'] if cell['cell_type'] == 'code']
    return [''.join(s) if isinstance(s, list) else s for s in sources]  # nbformat writes lines


def notebook_place(text):
    """Where a submission runs, below the sandbox's notebooks/ folder: a Chinese edition notebook
    (notebooks/zh/ in the repository, `sys.path.append('../..')`) one folder deeper. The
    submission's metadata only picks one of these two fixed places."""
    try:
        language = json.loads(text).get('metadata', {}).get('course_edition', {}).get('language')
    except (ValueError, AttributeError):
        language = None
    return 'zh/submission.ipynb' if language == 'zh_CN' else 'submission.ipynb'
