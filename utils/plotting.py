"""Plots shared by the chapters: training histories, image grids."""
import matplotlib.pyplot as plt


def plot_history(history, title=None, ax=None, label=None):
    """Loss and accuracy per epoch from a `train()` history (or several: {label: history})."""
    histories = history if isinstance(history, dict) else {label or '': history}
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    else:
        fig = ax[0].figure
    for name, h in histories.items():
        prefix = f'{name} ' if name else ''
        ax[0].plot(h['epoch'] + 1, h['loss'], 'o-', label=f'{prefix}train loss')
        ax[1].plot(h['epoch'] + 1, h['train_acc'], 'o-', label=f'{prefix}train acc')
        ax[1].plot(h['epoch'] + 1, h['test_acc'], 's--', label=f'{prefix}test acc')
    ax[0].set(xlabel='epoch', ylabel='loss')
    ax[1].set(xlabel='epoch', ylabel='accuracy', ylim=(0, 1))
    for a in ax:
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_images(images, titles=None, ncols=8, scale=1.4):
    """Grid of grayscale images (N, H, W) or (N, 1, H, W), NDArray or numpy."""
    if hasattr(images, 'asnumpy'):
        images = images.asnumpy()
    if images.ndim == 4:
        images = images[:, 0]
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * 1.15),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis('off')
        if i < len(images):
            ax.imshow(images[i], cmap='gray')
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


class LiveHistoryPlot:
    """Redraws the history figure in place after each epoch (in Jupyter); silent elsewhere."""

    def __init__(self):
        self.handle = None

    def update(self, history):
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        fig = plot_history(history)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)
