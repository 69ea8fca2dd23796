"""Plots shared by the chapters: training histories, image grids."""
import matplotlib.pyplot as plt


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
        prefix = f'{name}: ' if name else ''
        colour = colours[i % len(colours)]
        ax[0].plot(h['epoch'], h['loss'], 'o-', color=colour, label=f'{prefix}train loss')
        ax[1].plot(h['epoch'], h['train_acc'], 'o-', color=colour, label=f'{prefix}train acc')
        ax[1].plot(h['epoch'], h['test_acc'], 's--', color=colour, label=f'{prefix}test acc')
    ax[0].set(xlabel='epoch', ylabel='loss')
    ax[1].set(xlabel='epoch', ylabel='accuracy', ylim=(0, 1))
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

