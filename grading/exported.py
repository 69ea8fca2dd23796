"""The variables a notebook leaves, as plain data: encoded by its kernel, decoded by the grader.

Not a part of the isolation (grading/sandbox*.py); the format both sides agree on. After the last
cell, the worker (inside the sandbox) runs `export_code(folder)` in the kernel, which writes the
variables as JSON (names.json) and numeric arrays (arrays.npz, never pickle) into a fresh folder;
the worker reads them with `read_file` and sends them through the record channel. Outside, the
tests' process rebuilds them with `read_exported`, trusting nothing in them.
Standard library at module level: grading/testproc.py imports this file by path, and the worker
imports it inside the sandbox from /grader.
"""
import json
import os
import stat

MAX_EXPORT_BYTES = 200 * 2**20         # all exported arrays together
MAX_ARRAY_ELEMENTS = 5_000_000         # one exported array (LeNet's ~62k parameters pass easily)
MAX_JSON_BYTES = 20 * 2**20
FILE_LIMITS = {'names.json': MAX_JSON_BYTES, 'arrays.npz': MAX_EXPORT_BYTES + 2**20}

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


def export_code(folder):
    """The code the kernel runs after the last cell (and the grader's epilogue)."""
    return (EXPORT_CODE.replace('__FOLDER__', repr(folder)).replace('__MAX_ELEMENTS__', str(MAX_ARRAY_ELEMENTS))
            .replace('__MAX_TOTAL__', str(MAX_EXPORT_BYTES)))


def read_file(folder_fd, name, max_bytes):
    """The bytes of the plain file `name` in the folder, or None if it is missing, a link (never
    followed), a FIFO (never blocked on) or anything but a regular file, or larger than max_bytes.
    One name, no path: the kernel that wrote the folder may have planted links in it."""
    if '/' in name or name in ('', '.', '..'):
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder_fd)
    except OSError:
        return None
    with os.fdopen(fd, 'rb') as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = f.read(max_bytes + 1)
    return data if len(data) <= max_bytes else None


class ExportError(ValueError):
    """The exported data is not in the expected shape (the submission may have tampered with it)."""


def read_exported(private_dir):
    """{name: value} of plain data from the export files; (namespace, skipped).

    Only builds None/bool/int/float/str, lists, tuples, dicts, numeric numpy arrays, pandas
    DataFrames and Series; anything else raises ExportError. No pickle: `allow_pickle=False`.
    """
    import zipfile

    import numpy as np
    import pandas as pd

    with open(os.path.join(private_dir, 'names.json'), 'rb') as f:
        doc = json.loads(f.read().decode('utf-8'))
    npz_path = os.path.join(private_dir, 'arrays.npz')
    with zipfile.ZipFile(npz_path) as zf:  # refuse archives that expand beyond the export limit
        if sum(info.file_size for info in zf.infolist()) > MAX_EXPORT_BYTES + 2**20:
            raise ExportError('exported arrays are larger than the limit')
    arrays = np.load(npz_path, allow_pickle=False)
    count = [0]

    def dec(node, depth=0):
        count[0] += 1
        if depth > 10 or count[0] > 2_000_000 or not isinstance(node, dict) or set(node) != {'t', 'v'}:
            raise ExportError('malformed value')
        kind, value = node['t'], node['v']
        if kind == 'json' and (value is None or isinstance(value, (bool, str))):
            return value
        if kind == 'int' and isinstance(value, str) and len(value) < 5000:
            return int(value)
        if kind == 'float' and isinstance(value, str):
            return float(value)
        if kind in ('list', 'tuple') and isinstance(value, list):
            items = [dec(v, depth + 1) for v in value]
            return items if kind == 'list' else tuple(items)
        if kind == 'dict' and isinstance(value, list):
            out = {}
            for pair in value:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise ExportError('malformed dict')
                key = dec(pair[0], depth + 1)
                if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                    raise ExportError('unhashable key')
                out[key] = dec(pair[1], depth + 1)
            return out
        if kind == 'array' and isinstance(value, str) and value in arrays.files:
            array = arrays[value]
            if array.dtype.kind not in 'biuf':
                raise ExportError('non-numeric array')
            return array
        if kind == 'dataframe' and isinstance(value, dict) and set(value) == {'columns', 'data', 'index'}:
            columns = dec(value['columns'], depth + 1)
            data = [dec(col, depth + 1) for col in _list(value['data'])]
            index = dec(value['index'], depth + 1)
            if not (isinstance(columns, list) and len(columns) == len(data)):
                raise ExportError('malformed DataFrame')
            return pd.DataFrame({c: d for c, d in zip(columns, data)}, index=index, columns=columns)
        if kind == 'series' and isinstance(value, dict) and set(value) == {'data', 'index', 'name'}:
            return pd.Series(dec(value['data'], depth + 1), index=dec(value['index'], depth + 1),
                             name=dec(value['name'], depth + 1))
        raise ExportError(f'unexpected value of kind {str(kind)[:20]!r}')

    def _list(x):
        if not isinstance(x, list):
            raise ExportError('malformed list')
        return x

    if not isinstance(doc, dict) or not isinstance(doc.get('names'), dict):
        raise ExportError('malformed export')
    namespace, skipped = {}, {}
    for name, node in doc['names'].items():
        if not (isinstance(name, str) and name.isidentifier()):
            continue
        try:
            namespace[name] = dec(node)
        except (ExportError, ValueError, TypeError, KeyError) as err:
            skipped[name] = f'unreadable ({err})'
    for name, why in (doc.get('skipped') or {}).items():
        if isinstance(name, str) and name.isidentifier():
            skipped[name] = str(why)[:200]
    return namespace, skipped
