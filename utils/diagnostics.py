"""Looking inside a network before and during its first steps (used by the exercises).

- `layer_scales`: for each layer with weights, the spread (standard deviation) of its output and of
  its weight gradient (of the mean loss) on one batch, before any update ("step 0"). This shows whether an
  initialization keeps the signal and the gradients at a usable size through the depth.
- `batch_losses`: the loss and accuracy of every batch of the first steps, to see a curve inside
  the first epoch (a per-epoch history has a single point there) and the step where it diverges.
"""
import math

import pandas as pd

from .compat import import_mxnet

mx = import_mxnet()
nd, autograd, nn = mx.nd, mx.autograd, mx.gluon.nn


def _weighted_layers(net):
    """(name, block) for every Conv2D/Dense of a Sequential network: conv1.., dense1.."""
    counts, out = {}, []
    for block in net:
        kind = 'conv' if isinstance(block, nn.Conv2D) else 'dense' if isinstance(block, nn.Dense) else None
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
            out.append((f'{kind}{counts[kind]}', block))
    return out


def layer_scales(net, X, y, loss=None, chunk=None):
    """DataFrame, one row per Conv2D/Dense layer in order: layer (1, 2, ...), name, activation_std
    (its output, after its ReLU), gradient_std and weight_std (of its weights), on the batch (X, y)
    before any update.

    gradient_std is the gradient of the **mean** loss over the batch: the step `trainer.step(
    batch_size)` takes after a summed loss (as in `utils.train`) is `learning_rate x` this gradient,
    so `learning_rate * gradient_std / weight_std` is the size of the first update relative to the
    weights. Dropout layers are skipped (they are the identity at prediction time), so the numbers
    do not depend on chance.

    net: an initialized Sequential/HybridSequential (not hybridized: each layer is run in turn).
    chunk: run the batch this many examples at a time (less memory, the same numbers).
    """
    loss = loss or mx.gluon.loss.SoftmaxCrossEntropyLoss()
    weighted = _weighted_layers(net)
    layers = dict((id(block), name) for name, block in weighted)
    if not layers:
        raise ValueError("the network has no Conv2D or Dense layer to measure")
    if any(isinstance(block, nn.BatchNorm) for block in net):
        raise ValueError("layer_scales measures networks without BatchNorm (its statistics differ "
                         "between training and prediction); remove it or measure by hand")
    n = X.shape[0]
    chunk = n if chunk is None else int(chunk)
    if chunk < 1:
        raise ValueError(f"chunk must be a positive number of examples, got {chunk}")
    params = [block.weight for _, block in weighted]
    saved_req = [p.grad_req for p in params]
    moments = {name: [0.0, 0.0, 0] for name, _ in weighted}  # sum, sum of squares, count
    try:
        for p in params:  # gradients of every chunk add up to that of the whole batch's mean
            p.grad_req = 'add'
            p.zero_grad()
        for start in range(0, n, chunk):
            Xc, yc = X[start:start + chunk], y[start:start + chunk]
            activations = {}
            # Recorded in training mode on purpose: after a prediction-mode forward pass, MXNet
            # 1.9.1's max pooling (MKLDNN) passes wrong, call-to-call different gradients back, so
            # every layer below a pooling layer gets wrong weight gradients; the convolution
            # itself is right in both modes (reproduction: benchmarks/maxpool_gradient.py).
            # Dropout, the only layer of these networks that behaves differently in training, is
            # skipped instead.
            with autograd.record(train_mode=True):
                h = Xc
                for block in net:
                    if isinstance(block, nn.Dropout):
                        continue
                    h = block(h)
                    if id(block) in layers:
                        activations[layers[id(block)]] = h
                chunk_loss = loss(h, yc).sum() / n
            chunk_loss.backward()
            for name, a in activations.items():
                values = a.asnumpy().astype('float64')
                moments[name][0] += values.sum()
                moments[name][1] += (values ** 2).sum()
                moments[name][2] += values.size
        rows = []
        for i, (name, block) in enumerate(weighted, 1):
            total, squares, count = moments[name]
            mean = total / count
            rows.append(dict(layer=i, name=name,
                             activation_std=float(math.sqrt(max(squares / count - mean ** 2, 0.0))),
                             gradient_std=float(block.weight.grad().asnumpy().std()),
                             weight_std=float(block.weight.data().asnumpy().std())))
    finally:
        for p, req in zip(params, saved_req):
            p.grad_req = req
    return pd.DataFrame(rows)


def batch_losses(net, train_data, loss, trainer, ctx, num_batches):
    """Train for (at most) `num_batches` batches and return a DataFrame with one row per batch:
    batch, loss (mean over the batch), train_acc. Stops after the first batch whose loss is not
    finite (that row is kept, so a divergence shows as its last row). In the book build the
    batches are trained once for both editions (utils.shared_results)."""
    from . import shared_results
    return shared_results.trains_once(
        'batch_losses', lambda: _batch_losses(net, train_data, loss, trainer, ctx, num_batches),
        net, trainer, [train_data], ctx, num_batches)


def _batch_losses(net, train_data, loss, trainer, ctx, num_batches):
    rows = []
    while len(rows) < num_batches:
        before = len(rows)
        for X, y in train_data:
            X, y = X.as_in_context(ctx), y.as_in_context(ctx)
            with autograd.record():
                output = net(X)
                batch_loss = loss(output, y)
            batch_loss.backward()
            trainer.step(X.shape[0])
            value = batch_loss.mean().asscalar()
            acc = (output.argmax(axis=1) == y.astype('float32')).mean().asscalar()
            rows.append(dict(batch=len(rows), loss=float(value), train_acc=float(acc)))
            if not math.isfinite(value) or len(rows) >= num_batches:
                return pd.DataFrame(rows)
        if len(rows) == before:
            raise ValueError("train_data yielded no batches")
    return pd.DataFrame(rows)


class BlankImages:
    """The batches of `data` with every pixel set to zero and the labels kept: what a loader that
    turns images into zeros feeds a network (chapter 6 and exercise 2 compare it with real images)."""

    def __init__(self, data):
        self.data = data

    def __iter__(self):
        for X, y in self.data:
            yield nd.zeros_like(X), y

    def __len__(self):
        return len(self.data)


def plot_batch_curves(curves, title=None, reference=None):
    """Loss and accuracy of every batch, as `batch_losses` records them: one curve, or several
    as {label: curve}. reference: a loss to draw as a dotted line (ln 10: a network that guesses).
    Returns the figure."""
    import matplotlib.pyplot as plt
    from .i18n import translate
    curves = curves if isinstance(curves, dict) else {'': curves}
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.1))
    for label, curve in curves.items():
        axes[0].plot(curve['batch'] + 1, curve['loss'], '.-', label=label or None)
        axes[1].plot(curve['batch'] + 1, curve['train_acc'], '.-', label=label or None)
    if reference is not None:
        axes[0].axhline(reference, color='gray', linestyle=':', label=f'{reference:.3f}')
    axes[0].set(xlabel=translate('batch (counted from 1)'), ylabel=translate('loss of the batch'))
    axes[1].set(xlabel=translate('batch (counted from 1)'),
                ylabel=translate('accuracy on the batch'), ylim=(0, 1))
    for ax in axes:
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if any(curves) or reference is not None:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
