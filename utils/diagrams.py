"""Architecture diagrams drawn from the networks themselves (via `layer_table`).

A figure can never disagree with the code that defines the network. One row per layer, top to bottom; the bar's
length is the log of how many numbers the layer outputs per image, its colour the kind of layer."""
import math

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch, Patch

from .layer_accounting import layer_table

COLORS = {'Input': '#bbbbbb', 'Conv2D': '#4c72b0', 'MaxPool2D': '#dd8452', 'AvgPool2D': '#dd8452',
          'Dense': '#55a868', 'Dropout': '#c8c8c8', 'Flatten': '#e5e5e5'}
LEGEND = [('Conv2D', 'convolution'), ('MaxPool2D', 'pooling'), ('Dense', 'dense'),
          ('Dropout', 'dropout')]


def _short(n):
    for unit, scale in (('M', 1e6), ('k', 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def _rows(net, input_shape):
    table = layer_table(net, input_shape)
    shape = tuple(input_shape)[-3:] if len(input_shape) == 4 else tuple(input_shape)
    rows = [('Input', shape, 0)]
    rows += list(zip(table['layer'], table['output_shape'], table['params']))
    return rows


def draw_architecture(net, input_shape, ax=None, title=None, scale=None):
    """Draw `net` for one input of `input_shape` (e.g. (1, 28, 28)) on `ax`; returns the axes.

    scale: log10 of the output size that fills the bar (default: this network's largest), so two
    networks drawn with the same scale can be compared bar by bar.
    """
    rows = _rows(net, input_shape)
    sizes = [math.log10(max(math.prod(shape), 1)) for _, shape, _ in rows]
    scale = scale or max(sizes)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(rows) + 0.6))
    for i, ((name, shape, params), size) in enumerate(zip(rows, sizes)):
        kind = name.split()[0]
        width = max(size / scale, 0.02)
        ax.add_patch(FancyBboxPatch((0, -i - 0.32), width, 0.64, boxstyle='round,pad=0,rounding_size=0.08',
                                    facecolor=COLORS.get(kind, '#8172b3'), edgecolor='none'))
        dims = '×'.join(str(d) for d in shape)
        extra = f"   ({_short(params)} params)" if params else ''
        ax.text(width + 0.03, -i, f"{name}  →  {dims}{extra}", va='center', fontsize=8.5)
    ax.set_xlim(0, 2.6)
    ax.set_ylim(-len(rows) + 0.4, 0.8)
    ax.axis('off')
    if title:
        ax.set_title(title, loc='left', fontsize=11)
    return ax


def compare_architectures(nets):
    """Diagrams of several networks, one above the other: `{title: (net, input_shape)}`; returns
    the figure. All bars share one scale, so bar lengths compare across networks."""
    rows = {title: _rows(net, shape) for title, (net, shape) in nets.items()}
    scale = max(math.log10(max(math.prod(s), 1)) for r in rows.values() for _, s, _ in r)
    counts = [len(r) for r in rows.values()]
    fig, axes = plt.subplots(len(nets), 1, figsize=(7.5, 0.3 * sum(counts) + 0.7 * len(nets) + 0.8),
                             gridspec_kw={'height_ratios': [c + 1.5 for c in counts]},
                             squeeze=False)
    for ax, (title, (net, shape)) in zip(axes[:, 0], nets.items()):
        draw_architecture(net, shape, ax=ax, title=title, scale=scale)
    fig.legend(handles=[Patch(color=COLORS[k], label=label) for k, label in LEGEND],
               loc='lower center', ncol=len(LEGEND), fontsize=8, frameon=False,
               title='bar length: log of the numbers a layer outputs per image',
               title_fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
