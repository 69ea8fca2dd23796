"""Plots shared by the chapters: training histories, image grids; figures in the reader's language.

The labels go through utils.i18n, and for Chinese the figures use the Noto Sans CJK font (Debian's
fonts-noto-cjk, installed by the scripts), with DejaVu Sans for what it lacks. The class names
(utils.CLASS_NAMES) follow the language too. With COURSE_FIGURE_FORMAT=svg (the book build)
notebooks show figures as SVG whose text stays text: sharp at any size, searchable in the PDFs.
"""
import warnings

import matplotlib
import matplotlib.pyplot as plt

from . import config, data, i18n
from .i18n import translate

# Labels shown in tables, translated through the catalogs (scripts/translations.py collects the
# strings of a tuple named WORDS): train()'s history, layer_table's columns, the class names.
WORDS = ('epoch', 'loss', 'train_acc', 'test_acc', 'seconds', 'examples_per_sec',
         'layer', 'output_shape', 'params', 'flops',
         't-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag',
         'ankle boot')
ENGLISH_CLASS_NAMES = tuple(data.CLASS_NAMES)
CJK_FONTS = ['Noto Sans CJK SC', 'Noto Sans CJK JP', 'Noto Sans CJK', 'DejaVu Sans']
_LATIN_FONTS = list(matplotlib.rcParams['font.sans-serif'])


def _find_cjk_font():
    """True when matplotlib knows a Noto Sans CJK font. Its font list is cached on first use, maybe
    before fonts-noto-cjk was installed: then the system's fonts are looked through once more."""
    from matplotlib import font_manager
    known = {font.name for font in font_manager.fontManager.ttflist}
    if not known.intersection(CJK_FONTS[:-1]):
        for path in font_manager.findSystemFonts():
            if 'NotoSansCJK' in path or 'NotoSansSC' in path:
                font_manager.fontManager.addfont(path)
        known = {font.name for font in font_manager.fontManager.ttflist}
    if not known.intersection(CJK_FONTS[:-1]):
        warnings.warn("No Chinese font for the figures: install Noto Sans CJK (Debian/Ubuntu: "
                      "apt-get install fonts-noto-cjk), then restart the notebook.")
        return False
    return True


def _follow_language(lang):
    """Fonts and class names for `lang` (called by utils.i18n.use_language)."""
    fonts = CJK_FONTS if lang == 'zh' and _find_cjk_font() else _LATIN_FONTS
    matplotlib.rcParams['font.sans-serif'] = fonts + [f for f in _LATIN_FONTS if f not in fonts]
    matplotlib.rcParams['font.family'] = 'sans-serif'
    # the course's list, changed in place: `utils.CLASS_NAMES` is this same list
    data.CLASS_NAMES[:] = [i18n.translate_if_known(name) for name in ENGLISH_CLASS_NAMES]


def _use_figure_format(fmt):
    if fmt is None:
        return
    matplotlib.rcParams['svg.fonttype'] = 'none'  # text as text, not as outlines
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats(fmt)


i18n.on_language_change(_follow_language)
_use_figure_format(config.current().figure_format)


def plot_history(history, title=None, ax=None, label=None):
    """Loss and accuracy per epoch from a `train()` history (or several: {label: history}).

    Epochs are numbered from 1, as in `train()`'s printout and history. Each history keeps one
    colour in both panels: solid lines for training, dashed for test accuracy.
    """
    from matplotlib.ticker import MaxNLocator
    histories = history if isinstance(history, dict) else {label or '': history}
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    else:
        fig = ax[0].figure
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for i, (name, h) in enumerate(histories.items()):
        prefix = f'{i18n.translate_if_known(name)}: ' if name else ''
        colour = colours[i % len(colours)]
        ax[0].plot(h['epoch'], h['loss'], 'o-', color=colour,
                   label=prefix + translate('train loss'))
        ax[1].plot(h['epoch'], h['train_acc'], 'o-', color=colour,
                   label=prefix + translate('train acc'))
        ax[1].plot(h['epoch'], h['test_acc'], 's--', color=colour,
                   label=prefix + translate('test acc'))
    ax[0].set(xlabel=translate('epoch'), ylabel=translate('loss'))
    ax[1].set(xlabel=translate('epoch'), ylabel=translate('accuracy'), ylim=(0, 1))
    for a in ax:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_images(images, titles=None, ncols=8, scale=1.4, cmap='gray', vmin=None, vmax=None):
    """Grid of grayscale images (N, H, W) or (N, 1, H, W), NDArray or numpy.

    By default each image is scaled to its own range; pass vmin and vmax to draw all of them on
    one colour scale (a colour bar is then added)."""
    if hasattr(images, 'asnumpy'):
        images = images.asnumpy()
    if images.ndim == 4:
        images = images[:, 0]
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * 1.15),
                             squeeze=False)
    shown = None
    for i, ax in enumerate(axes.flat):
        ax.axis('off')
        if i < len(images):
            shown = ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    if shown is not None and (vmin is not None or vmax is not None):
        fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.8)
    return fig

