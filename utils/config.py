"""The course's settings from the environment, read in this one module, once per notebook.

Every environment variable `utils` obeys is read here, when a notebook first imports `utils`; the
rest of the library takes explicit arguments and asks `current()` only for a default it documents.
Standard library only (the Colab bootstrap loads it before MXNet is installed).

| variable | meaning | default |
|---|---|---|
| COURSE_PROFILE | smoke, cpu or full: how much each notebook does (see utils.settings) | full with a usable GPU, else cpu |
| COURSE_PROGRESS | 0 hides the per-batch progress bars (the book build sets it) | bars shown |
| FASHION_MNIST_DIR | folder holding the four Fashion-MNIST .gz files | download into the cache |
| XDG_CACHE_HOME | where downloads are cached (`lenet-to-alexnet/fashion-mnist` inside) | ~/.cache |
| OMP_NUM_THREADS | MXNet's CPU threads | one per physical core |
| MXNET_CPU_PARALLEL_SIZE, GOMP_SPINCOUNT | MXNet's and libgomp's own; utils.hardware sets them unless you did | 2147483647, 1000 |
| COURSE_LANG | language of the computed sentences (utils.i18n reads it from here) | en |
| COURSE_CUDA11_DIR | folder holding MXNet's CUDA-11 libraries | /content/cuda11, sys.path |
| COURSE_LIBCUDA | the NVIDIA driver library to ask about GPUs (tests use a stand-in) | libcuda.so.1 |
| COURSE_SHARED_RESULTS | folder where the book build keeps the expensive results (training runs, speed measurements) of its first edition for the second (utils.shared_results); students never set it | off |
| COURSE_FIGURE_FORMAT | `svg`: notebooks show figures as SVG with real text (the book build sets it) | png |
| COURSE_EVIDENCE_CACHE | folder where the grader's test processes share the seeded networks and data subsets (utils.evidence; grading/testproc.py sets it) | off |
"""
import os
from dataclasses import dataclass, replace
from pathlib import Path

from .settings import PROFILES  # the names are defined there, with what each profile runs

# Read by MXNet and libgomp themselves; utils.hardware sets its own values for those not chosen here.
OPENMP_TUNABLES = ('MXNET_CPU_PARALLEL_SIZE', 'GOMP_SPINCOUNT')


class ConfigError(ValueError):
    """An environment variable has a value the course cannot use; the message says which."""


@dataclass(frozen=True)
class Config:
    profile: str = None            # None: not chosen (utils.settings decides from the device)
    progress: bool = True
    fashion_mnist_dir: str = None  # None: download into cache_dir
    cache_dir: Path = None
    omp_threads: int = None        # None: not chosen (utils.hardware sets one per physical core)
    lang: str = 'en'
    cuda11_dir: str = None
    libcuda: str = None
    shared_results: str = None     # None: every result is computed (the book build sets a folder)
    figure_format: str = None      # None: Jupyter's default (PNG)
    evidence_cache: str = None     # None: the hidden tests' inputs are computed in each process
    openmp_chosen: frozenset = frozenset()  # which of OPENMP_TUNABLES the user set

    def replace(self, **changes):
        return replace(self, **changes)


def _positive_int(name, value):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"{name}={value!r} is not a positive whole number. Set it to a number of "
                          f"threads such as 2, or unset it for one per physical core.")
    return number


def from_environment(environ=None):
    """A Config from `environ` (default os.environ); raises ConfigError on an unusable value."""
    env = os.environ if environ is None else environ
    profile = env.get('COURSE_PROFILE', '').strip().lower() or None
    if profile is not None and profile not in PROFILES:
        raise ConfigError(f"COURSE_PROFILE={env['COURSE_PROFILE']!r} is not a profile. Use one of "
                          f"{', '.join(PROFILES)} (or unset it for the default).")
    lang = env.get('COURSE_LANG', '').strip() or 'en'  # utils.i18n checks it has that catalog
    threads = env.get('OMP_NUM_THREADS', '').strip()
    figure_format = env.get('COURSE_FIGURE_FORMAT', '').strip().lower() or None
    if figure_format not in (None, 'png', 'svg'):
        raise ConfigError(f"COURSE_FIGURE_FORMAT={env['COURSE_FIGURE_FORMAT']!r} is not a figure "
                          f"format of this course. Use png or svg (or unset it for png).")
    cache_base = env.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Config(
        profile=profile,
        progress=env.get('COURSE_PROGRESS', '1').strip() != '0',
        fashion_mnist_dir=env.get('FASHION_MNIST_DIR') or None,
        cache_dir=Path(cache_base) / 'lenet-to-alexnet' / 'fashion-mnist',
        omp_threads=_positive_int('OMP_NUM_THREADS', threads) if threads else None,
        lang=lang,
        cuda11_dir=env.get('COURSE_CUDA11_DIR') or None,
        libcuda=env.get('COURSE_LIBCUDA') or None,
        shared_results=env.get('COURSE_SHARED_RESULTS') or None,
        figure_format=figure_format,
        evidence_cache=env.get('COURSE_EVIDENCE_CACHE') or None,
        openmp_chosen=frozenset(name for name in OPENMP_TUNABLES if env.get(name, '').strip()),
    )


_current = None


def current():
    """The configuration read when the notebook imported utils (read now if it has not been)."""
    global _current
    if _current is None:
        _current = from_environment()
    return _current


def reload(environ=None):
    """Read the environment again (after changing a variable in a running notebook); returns it."""
    global _current
    _current = from_environment(environ)
    return _current
