"""Figures of networks and of their two operations, drawn by code from the networks themselves.

- `draw_architecture`, `compare_architectures`: one bar per layer, its length the log of how many
  numbers the layer outputs per image (read with `layer_table`, so a figure never disagrees with
  the code that defines the network).
- `draw_blocks`, `compare_blocks`: block diagrams in the style of d2l's figures: one box per layer
  saying what it does, the shape of the data written on the arrows between them.
- `draw_feature_maps`: the classic LeNet picture: the data as stacks of feature maps.
- `draw_convolution`, `draw_channels`, `draw_pooling`: small numeric examples, every number shown.

Every label goes through `utils.i18n.translate`, so the figures speak the reader's language.
"""
import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle

from .i18n import join, translate
from .layer_accounting import layer_table

COLORS = {'Input': '#bbbbbb', 'Conv2D': '#4c72b0', 'MaxPool2D': '#dd8452', 'AvgPool2D': '#dd8452',
          'Dense': '#55a868', 'Dropout': '#c8c8c8', 'Flatten': '#e5e5e5'}
LIGHT = {'Input': '#eeeeee', 'Conv2D': '#c9d6ea', 'MaxPool2D': '#f6d5bd', 'AvgPool2D': '#f6d5bd',
         'Dense': '#cce5d2', 'Dropout': '#eeeeee', 'Flatten': '#f5f5f5'}


def _legend_handles():
    return [Patch(color=COLORS['Conv2D'], label=translate('convolution')),
            Patch(color=COLORS['MaxPool2D'], label=translate('pooling')),
            Patch(color=COLORS['Dense'], label=translate('dense')),
            Patch(color=COLORS['Dropout'], label=translate('dropout'))]


def _short(n):
    for unit, scale in (('M', 1e6), ('k', 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def _dims(shape):
    return '×'.join(str(d) for d in shape)


def _rows(net, input_shape):
    table = layer_table(net, input_shape)
    shape = tuple(input_shape)[-3:] if len(input_shape) == 4 else tuple(input_shape)
    rows = [('Input', shape, 0)]
    rows += list(zip(table['layer'], table['output_shape'], table['params']))
    return rows


# ----------------------------------------------------------------------------- bars

def draw_architecture(net, input_shape, ax=None, title=None, scale=None):
    """Draw `net` for one input of `input_shape` (e.g. (1, 28, 28)) on `ax`; returns the axes.

    scale: log10 of the output size that fills the bar (default: this network's largest), so two
    networks drawn with the same scale can be compared bar by bar. Drawn on its own axes (ax None),
    the figure says under it what a bar's length means.
    """
    rows = _rows(net, input_shape)
    sizes = [math.log10(max(math.prod(shape), 1)) for _, shape, _ in rows]
    scale = scale or max(sizes)
    alone = ax is None
    if alone:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(rows) + 0.9))
    for i, ((name, shape, params), size) in enumerate(zip(rows, sizes)):
        kind = name.split()[0]
        width = max(size / scale, 0.02)
        ax.add_patch(FancyBboxPatch((0, -i - 0.32), width, 0.64, boxstyle='round,pad=0,rounding_size=0.08',
                                    facecolor=COLORS.get(kind, '#8172b3'), edgecolor='none'))
        extra = f"   ({_short(params)} {translate('params')})" if params else ''
        label = translate('input') if name == 'Input' else name
        ax.text(width + 0.03, -i, f"{label}  →  {_dims(shape)}{extra}", va='center', fontsize=8.5)
    ax.set_xlim(0, 2.6)
    ax.set_ylim(-len(rows) + 0.4, 0.8)
    ax.axis('off')
    if title:
        ax.set_title(title, loc='left', fontsize=11)
    if alone:
        ax.figure.text(0.02, 0.01, _bar_meaning(), fontsize=8, color='#555555')
    return ax


def _bar_meaning():
    return translate('bar length: log of how many numbers the layer outputs per image '
                     '(one more digit, one more step)')


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
    fig.legend(handles=_legend_handles(), loc='lower center', ncol=4, fontsize=8, frameon=False,
               title=_bar_meaning(), title_fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


# ----------------------------------------------------------------------------- blocks

def describe_block(block):
    """What a layer does, in words for a diagram: 'convolution 5×5, 20 channels, ReLU'."""
    kw = getattr(block, '_kwargs', {})
    act = getattr(block, 'act', None)
    act = ['ReLU'] if act is not None and getattr(act, '_act_type', '') == 'relu' else []
    kind = type(block).__name__
    if 'num_filter' in kw:
        parts = [f"{translate('convolution')} {'×'.join(map(str, kw['kernel']))}",
                 translate('{n} channels').format(n=kw['num_filter'])]
        if any(s != 1 for s in kw['stride']):
            parts.append(translate('stride {s}').format(s=kw['stride'][0]))
        if any(kw['pad']):
            parts.append(translate('padding {p}').format(p=kw['pad'][0]))
        if kw.get('num_group', 1) > 1:
            parts.append(translate('{g} groups').format(g=kw['num_group']))
        return join(parts + act)
    if 'pool_type' in kw:
        name = translate('max-pooling') if kw['pool_type'] == 'max' else translate('average pooling')
        parts = [f"{name} {'×'.join(map(str, kw['kernel']))}"]
        if any(s != 1 for s in kw['stride']):
            parts.append(translate('stride {s}').format(s=kw['stride'][0]))
        return join(parts)
    if kind == 'Dense':
        return join([translate('dense, {n} units').format(n=block._units)] + act)
    if kind == 'Dropout':
        return translate('dropout {p}').format(p=block._rate)
    if kind == 'Flatten':
        return translate('flatten')
    return kind


def _block_rows(net, input_shape):
    from .layer_accounting import _layers
    table = layer_table(net, input_shape)
    shape = tuple(input_shape)[-3:] if len(input_shape) == 4 else tuple(input_shape)
    rows = [('Input', translate('input image'), shape)]
    for block, out in zip(_layers(net), table['output_shape']):
        rows.append((type(block).__name__, describe_block(block), out))
    return rows


def draw_blocks(net, input_shape, ax=None, title=None):
    """A block diagram of `net` (d2l style): one box per layer, top to bottom, saying what the
    layer does; between two boxes, the shape of the data that flows (channels×height×width, or
    the number of values). Returns the axes."""
    rows = _block_rows(net, input_shape)
    alone = ax is None
    if alone:
        _, ax = plt.subplots(figsize=(5.0, 0.62 * len(rows) + 0.9))
    for i, (kind, text, shape) in enumerate(rows):
        y = -i * 1.6
        ax.add_patch(FancyBboxPatch((-1.8, y - 0.45), 3.6, 0.9, boxstyle='round,pad=0,rounding_size=0.15',
                                    facecolor=LIGHT.get(kind, '#e0dcef'),
                                    edgecolor=COLORS.get(kind, '#8172b3'), linewidth=1.2))
        ax.text(0, y, text, ha='center', va='center', fontsize=8 if len(text) < 48 else 7)
        ax.annotate('', xy=(0, y - 1.15), xytext=(0, y - 0.45),
                    arrowprops=dict(arrowstyle='->', color='#555555', lw=1))
        ax.text(0.1, y - 0.8, _dims(shape), va='center', fontsize=7.5, color='#333333')
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(-1.6 * len(rows) + 0.2, 0.6)
    ax.axis('off')
    if title:
        ax.set_title(title, fontsize=10)
    if alone:
        ax.figure.text(0.02, 0.005, textwrap.fill(_arrow_meaning(), 70), fontsize=7.5,
                       color='#555555')
    return ax


def _arrow_meaning():
    return translate('on each arrow: the data passed on, channels×height×width (or a number of '
                     'values)')


def compare_blocks(nets):
    """Block diagrams side by side, `{title: (net, input_shape)}`; returns the figure."""
    lengths = [len(_block_rows(net, shape)) for net, shape in nets.values()]
    fig, axes = plt.subplots(1, len(nets), figsize=(5.0 * len(nets), 0.62 * max(lengths) + 0.8),
                             squeeze=False)
    for ax, (title, (net, shape)) in zip(axes[0], nets.items()):
        draw_blocks(net, shape, ax=ax, title=title)
        ax.set_ylim(-1.6 * max(lengths) + 0.2, 0.6)  # one scale: the shorter one starts at the top
    fig.text(0.02, 0.005, _arrow_meaning(), fontsize=8, color='#555555')
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def draw_feature_maps(net, input_shape, ax=None, title=None):
    """The data as it flows through `net`, in the style of the classic LeNet figure: each stage a
    stack of feature maps (square side ~ height; at most 4 maps drawn, the count written under
    it), dense layers as bars of their number of values. Returns the axes."""
    rows = [(k, s) for k, _, s in _block_rows(net, input_shape) if k not in ('Dropout', 'Flatten')]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.45 * len(rows) + 0.5, 2.9))
    biggest = max(s[1] for _, s in rows if len(s) == 3)
    x = 0.0
    for i, (kind, shape) in enumerate(rows):
        colour = COLORS.get(kind, '#8172b3')
        if len(shape) == 3:
            c, h, w = shape
            side = 0.35 + 1.05 * h / biggest
            for k in reversed(range(min(c, 4))):
                ax.add_patch(Rectangle((x + 0.09 * k, 0.09 * k - side / 2), side * w / h, side,
                                       facecolor=LIGHT.get(kind, '#eeeeee'), edgecolor=colour))
            label, width = f"{c}@{h}×{w}", side * w / h + 0.27
        else:
            height = 0.3 + 1.1 * min(shape[0], 512) / 512
            ax.add_patch(Rectangle((x, -height / 2), 0.18, height, facecolor=LIGHT[kind],
                                   edgecolor=colour))
            label, width = str(shape[0]), 0.18
        ax.text(x + width / 2, -0.95, label, ha='center', fontsize=8)
        name = translate('input') if kind == 'Input' else translate(
            {'Conv2D': 'convolution', 'MaxPool2D': 'pooling', 'AvgPool2D': 'pooling',
             'Dense': 'dense'}.get(kind, kind))
        ax.text(x + width / 2, 1.0, name, ha='center', fontsize=8, color=colour)
        x += width + 0.45
    ax.set_xlim(-0.1, x)
    ax.set_ylim(-1.15, 1.2)
    ax.set_aspect('equal')
    ax.axis('off')
    if title:
        ax.set_title(title, fontsize=10)
    return ax


# ----------------------------------------------------------------------------- worked examples

def correlate(x, kernel, padding=0, stride=1):
    """What a convolution layer computes on one channel (a cross-correlation, as in every deep
    learning library): numpy, written out so that the figures show the same numbers."""
    x = np.pad(np.asarray(x, dtype=float), padding)
    k = np.asarray(kernel, dtype=float)
    rows = (x.shape[0] - k.shape[0]) // stride + 1
    cols = (x.shape[1] - k.shape[1]) // stride + 1
    return np.array([[(x[i * stride:i * stride + k.shape[0], j * stride:j * stride + k.shape[1]]
                       * k).sum() for j in range(cols)] for i in range(rows)])


def _grid(ax, values, x0, title, window=None, padding=0, colour='#4c72b0', fill=None):
    """Numbers in a grid whose top-left corner is (x0, 0); window (row, col, height, width) is
    outlined; the outer `padding` rings are drawn as added zeros (grey, dashed)."""
    rows, cols = values.shape
    for i in range(rows):
        for j in range(cols):
            pad = min(i, j, rows - 1 - i, cols - 1 - j) < padding
            face = '#f2f2f2' if pad else (fill[i][j] if fill is not None else 'white')
            ax.add_patch(Rectangle((x0 + j, -i - 1), 1, 1, facecolor=face, edgecolor='#888888',
                                   linestyle='--' if pad else '-', linewidth=0.8))
            ax.text(x0 + j + 0.5, -i - 0.5, f"{values[i, j]:g}", ha='center', va='center',
                    fontsize=9, color='#999999' if pad else 'black')
    if window is not None:
        r, c, h, w = window
        ax.add_patch(Rectangle((x0 + c, -r - h), w, h, fill=False, edgecolor=colour, linewidth=2.6))
    ax.text(x0 + cols / 2, 0.35, title, ha='center', va='bottom', fontsize=9)
    return x0 + cols


def _panel(ax, width, rows):
    ax.set_xlim(-0.3, width + 0.3)
    ax.set_ylim(-rows - 1.3, 1.3)
    ax.set_aspect('equal')
    ax.axis('off')


# The sign between input and kernel: cross-correlation's star (chapter 0 writes $\star$), not
# the asterisk, which mathematics uses for convolution (which flips the kernel).
CORRELATE = r'$\star$'


def draw_convolution(x, kernel, positions=((0, 0), (0, 1)), padding=0, stride=1):
    """One row per output position in `positions`: the input (with its padding), the kernel, the
    output, the window and the output value it makes outlined, and the sum written out under it.
    Returns the figure."""
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    padded, out = np.pad(x, padding), correlate(x, kernel, padding, stride)
    k = kernel.shape[0]
    width = padded.shape[1] + k + out.shape[1] + 3
    fig, axes = plt.subplots(len(positions), 1, figsize=(0.5 * width, 0.62 * len(positions)
                                                         * (padded.shape[0] + 2.6)), squeeze=False)
    for ax, (r, c) in zip(axes[:, 0], positions):
        window = (r * stride, c * stride, k, k)
        end = _grid(ax, padded, 0, translate('input') + (
            translate(', padding {p}').format(p=padding) if padding else ''), window, padding)
        ax.text(end + 0.5, -padded.shape[0] / 2, CORRELATE, ha='center', va='center', fontsize=16)
        end = _grid(ax, kernel, end + 1, translate('kernel'), (0, 0, k, k))
        ax.text(end + 0.5, -padded.shape[0] / 2, '=', ha='center', va='center', fontsize=16)
        _grid(ax, out, end + 1, translate('output') + (
            translate(', stride {s}').format(s=stride) if stride > 1 else ''), (r, c, 1, 1))
        patch = padded[r * stride:r * stride + k, c * stride:c * stride + k]
        terms = ' + '.join(f"{a:g}·{b:g}" for a, b in zip(patch.ravel(), kernel.ravel()))
        ax.text(0, -padded.shape[0] - 0.9, f"{terms} = {out[r, c]:g}", fontsize=8.5, va='center')
        _panel(ax, width, padded.shape[0])
    fig.tight_layout()
    return fig


def draw_channels(x, kernels):
    """A convolution over several input channels: x (channels, h, w), kernels (channels, k, k):
    each channel is correlated with its own slice of the filter, and the results are added into
    ONE output map. Returns the figure."""
    x, kernels = np.asarray(x, dtype=float), np.asarray(kernels, dtype=float)
    parts = [correlate(xc, kc) for xc, kc in zip(x, kernels)]
    h, k, o = x.shape[1], kernels.shape[1], parts[0].shape[0]
    width = h + k + 2 * o + 5
    fig, axes = plt.subplots(len(x), 1, figsize=(0.5 * width, 0.62 * len(x) * (h + 2)),
                             squeeze=False)
    for n, ax in enumerate(axes[:, 0]):
        channel = translate('channel {n}').format(n=n + 1)
        end = _grid(ax, x[n], 0, f"{translate('input')}, {channel}")
        ax.text(end + 0.5, -h / 2, CORRELATE, ha='center', va='center', fontsize=16)
        end = _grid(ax, kernels[n], end + 1, f"{translate('kernel')}, {channel}")
        ax.text(end + 0.5, -h / 2, '=', ha='center', va='center', fontsize=16)
        end = _grid(ax, parts[n], end + 1, translate('partial sum'))
        if n == len(x) - 1:
            ax.text(end + 0.5, -o / 2, '→', ha='center', va='center', fontsize=16)
            _grid(ax, sum(parts), end + 1, translate('output: the sum'), colour='#c44e52')
        else:
            ax.text(end + 0.6, -o - 0.4, '+', ha='center', va='center', fontsize=16)
        _panel(ax, width, h)
    fig.tight_layout()
    return fig


def draw_pooling(x, size=2, stride=2):
    """Max-pooling of x (h, w) with a size×size window and `stride`: each window in its own colour
    in the input, the largest value of each window in the output. Returns the figure."""
    x = np.asarray(x, dtype=float)
    rows, cols = (x.shape[0] - size) // stride + 1, (x.shape[1] - size) // stride + 1
    out = np.array([[x[i * stride:i * stride + size, j * stride:j * stride + size].max()
                     for j in range(cols)] for i in range(rows)])
    palette = ['#c9d6ea', '#f6d5bd', '#cce5d2', '#f0c9c9', '#e0dcef', '#f3ebc2']
    colour = [[palette[(i * cols + j) % len(palette)] for j in range(cols)] for i in range(rows)]
    fill = [['white'] * x.shape[1] for _ in range(x.shape[0])]
    for i in range(rows):
        for j in range(cols):
            for a in range(size):
                for b in range(size):
                    fill[i * stride + a][j * stride + b] = colour[i][j]
    width = x.shape[1] + cols + 2
    fig, ax = plt.subplots(figsize=(0.5 * width, 0.62 * (x.shape[0] + 2.6)))
    end = _grid(ax, x, 0, translate('input'), fill=fill)
    ax.text(end + 1, -x.shape[0] / 2, '→', ha='center', va='center', fontsize=16)
    _grid(ax, out, end + 2, translate('{size}×{size} max-pooling, stride {s}').format(
        size=size, s=stride), fill=colour)
    _panel(ax, width, x.shape[0])
    fig.tight_layout()
    return fig
