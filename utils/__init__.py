"""The course's shared helpers. Notebooks do `sys.path.append('..'); import utils`.

Importing this package reads the environment once (utils.config), gives MXNet one thread per
physical core (utils.hardware), and imports MXNet through utils.compat (numpy shim, CUDA-11
preload), so it must come before any direct `import mxnet`.
"""
from . import config, hardware
from .compat import import_mxnet

config.current()
hardware.set_cpu_threads()  # before MXNet starts its OpenMP threads
mx = import_mxnet()

from .devices import try_gpu, gpu_available  # noqa: E402
from .profiles import active_profile, settings_for_profile  # noqa: E402
from .recipes import settings_for, RECIPES  # noqa: E402
from .data import load_data_fashion_mnist, CLASS_NAMES, DatasetError  # noqa: E402
from .training import train, evaluate_accuracy  # noqa: E402
from .plotting import plot_history, show_images  # noqa: E402
from .models import lenet, alexnet  # noqa: E402
from .layer_accounting import layer_table, flops_per_image  # noqa: E402
from .diagrams import draw_architecture, compare_architectures  # noqa: E402
from .hardware import cpu_info  # noqa: E402
from .speed import gpu_info, matmul_flops, memory_bandwidth, training_speed  # noqa: E402
from .notes import profile_note  # noqa: E402
from .i18n import say  # noqa: E402
from .exercise_checks import exercise_checker  # noqa: E402
from .diagnostics import layer_scales, batch_losses  # noqa: E402
