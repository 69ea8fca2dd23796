"""Make MXNet 1.9.1 (the last release) importable on today's Python and numpy.

Every notebook reaches MXNet through `import utils`, which calls `import_mxnet()` from here before
anything else touches `mxnet`. Two jobs:

1. numpy shim: numpy >= 1.24 and 2.x removed names MXNet still reads. We add *only* the names the
   installed numpy lacks, so nothing changes on numpy 1.23.5. `sometrue`, `alltrue`, `round_` and
   `product` must be new wrapper functions, not the objects `np.any`/`np.all`/`np.round`/`np.prod`:
   MXNet keys its `__array_function__` table by function object and would otherwise re-map those.
2. (GPU) preload of the CUDA-11 libraries MXNet's GPU wheel links against; see `preload_cuda11`.
"""
import warnings

import numpy as np


def _wrapper(name, target):
    def fn(*args, **kwargs):
        return target(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"Compatibility wrapper for the removed numpy.{name}; calls numpy.{target.__name__}."
    return fn


def _missing_numpy_names():
    """name -> value for every name MXNet needs that this numpy lacks."""
    plain = {
        'bool': bool,
        'NaN': np.nan, 'NAN': np.nan, 'Inf': np.inf, 'PINF': np.inf, 'NINF': -np.inf,
        'PZERO': 0.0, 'NZERO': -0.0,
        'msort': lambda a: np.sort(a, axis=0),
    }
    wrapped = {'sometrue': np.any, 'alltrue': np.all, 'round_': np.round, 'product': np.prod}
    if hasattr(np, 'isin'):
        wrapped['in1d'] = lambda ar1, ar2, assume_unique=False, invert=False: np.isin(
            np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)
    if hasattr(np, 'trapezoid'):
        wrapped['trapz'] = np.trapezoid
    names = {}
    for name, value in plain.items():
        if not _has(name):
            names[name] = value
    for name, target in wrapped.items():
        if not _has(name):
            names[name] = target if name == 'in1d' else _wrapper(name, target)
    return names


def _has(name):
    # numpy 1.2x still answers deprecated names (with a warning): those are not missing.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return hasattr(np, name)


def patch_numpy():
    """Add the missing names to numpy (idempotent). Returns the list of names added."""
    added = []
    for name, value in _missing_numpy_names().items():
        setattr(np, name, value)
        added.append(name)
    if not hasattr(np, 'compat'):
        import types
        np.compat = types.SimpleNamespace(basestring=str, long=int, unicode=str)
        added.append('compat')
    elif not hasattr(np.compat, 'basestring'):
        np.compat.basestring = str
        added.append('compat.basestring')
    return added


def import_mxnet():
    """Import MXNet through the compatibility layer and return the module."""
    patch_numpy()
    try:
        import mxnet
    except ModuleNotFoundError as err:
        if err.name != 'mxnet':
            raise ModuleNotFoundError(
                f"MXNet 1.9.1 needs the module {err.name!r}, which is not installed. "
                f"Install it with `pip install {err.name if err.name != 'distutils' else 'setuptools'}` "
                "(on Python 3.12+ MXNet needs setuptools for distutils, and requests)."
            ) from err
        raise ModuleNotFoundError(
            "MXNet is not installed. Locally run the README's set-up command "
            "(`bash scripts/test.sh` or `bash scripts/build_book.sh`); on Colab run the notebook's "
            "first cell; or install it with `pip install mxnet==1.9.1 --no-deps`."
        ) from err
    return mxnet
