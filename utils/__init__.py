"""The course's shared helpers. Notebooks do `sys.path.append('..'); import utils`.

`import utils` itself is cheap and imports no MXNet, so `utils.config`, `utils.hardware` and
`utils.settings` (standard library only) serve the grader and the scripts too. The helpers that need
MXNet (`utils.train`, `utils.lenet`, ...) are imported on first use (PEP 562 `__getattr__`).

MXNet must be prepared before it is imported: the numpy names it still uses (utils.compat), the
CUDA-11 libraries of the GPU wheel, and one OpenMP thread per physical core (utils.hardware), all
before MXNet starts. `import utils` therefore registers a one-shot import hook: the first
`import mxnet` anywhere after it (a notebook's `from mxnet import gluon`, or utils' own modules)
runs that preparation first. So `import utils` must still come before any direct `import mxnet`.
"""
import importlib
import sys
from importlib.abc import MetaPathFinder

# name -> the submodule that defines it (imported on first use)
_EXPORTS = {
    'try_gpu': 'devices', 'gpu_available': 'devices',
    'active_profile': 'settings', 'settings_for': 'settings', 'RECIPES': 'settings',
    'load_data_fashion_mnist': 'data', 'CLASS_NAMES': 'data', 'DatasetError': 'data',
    'train': 'training', 'evaluate_accuracy': 'training',
    'plot_history': 'plotting', 'show_images': 'plotting',
    'lenet': 'models', 'alexnet': 'models', 'alexnet_2012': 'models',
    'layer_table': 'layer_accounting', 'flops_per_image': 'layer_accounting',
    'draw_architecture': 'diagrams', 'compare_architectures': 'diagrams',
    'draw_blocks': 'diagrams', 'compare_blocks': 'diagrams', 'draw_feature_maps': 'diagrams',
    'cpu_info': 'hardware',
    'gpu_info': 'speed', 'matmul_flops': 'speed', 'memory_bandwidth': 'speed',
    'training_speed': 'speed',
    'profile_note': 'notes', 'recipe_table': 'notes',
    'say': 'i18n',
    'exercise_checker': 'exercise_checks', 'not_written': 'exercise_checks',
    'require_written': 'exercise_checks',
    'layer_scales': 'diagnostics', 'batch_losses': 'diagnostics',
}


def prepare_mxnet():
    """Everything that must happen before MXNet is imported; safe to call more than once."""
    from . import compat, config, hardware
    config.current()
    hardware.set_cpu_threads()  # before MXNet starts its OpenMP threads
    compat.prepare()


class _PrepareBeforeMXNet(MetaPathFinder):
    """Runs prepare_mxnet() when `mxnet` is first imported, then steps aside (finds nothing)."""

    def find_spec(self, name, path=None, target=None):
        if name == 'mxnet':
            sys.meta_path.remove(self)
            prepare_mxnet()
        return None  # the ordinary finders import mxnet itself


if 'mxnet' not in sys.modules and not any(isinstance(f, _PrepareBeforeMXNet) for f in sys.meta_path):
    sys.meta_path.insert(0, _PrepareBeforeMXNet())


def __getattr__(name):
    if name == 'mx':
        from .compat import import_mxnet
        return import_mxnet()
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f'.{_EXPORTS[name]}', __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    try:  # a submodule such as utils.settings, used as an attribute after `import utils`
        return importlib.import_module(f'.{name}', __name__)
    except ModuleNotFoundError as err:
        if err.name != f'{__name__}.{name}':
            raise
    raise AttributeError(f"module 'utils' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | {'mx'})
