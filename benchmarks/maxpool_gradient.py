"""Which MXNet 1.9.1 operator gives wrong gradients when autograd records in prediction mode?

    .venv/bin/python -m benchmarks.maxpool_gradient

utils/diagnostics.py records its backward pass in training mode because of this. The script
differentiates the sum of one operator's output, recorded with `autograd.record(train_mode=False)`
and with `train_mode=True`, three times each, and compares every gradient with a numpy reference
(for max pooling: each input counts once per window it is the maximum of; for a convolution:
sums of the input and of the weights). It prints one row per operator: the largest error of each
mode, and whether repeated prediction-mode calls agree. On this project's machine (MXNet 1.9.1
with MKLDNN, CPU), max pooling is wrong in prediction mode (and differs from call to call); the
convolution, ReLU and average pooling are right in both modes.
"""
import numpy as np

import utils  # MXNet through the course's compatibility layer

mx, nd, autograd = utils.mx, utils.mx.nd, utils.mx.autograd
KERNEL, STRIDE = 3, 2


def maxpool_reference(x):
    """d(sum of 3x3/2 max pooling)/dx: how many windows each element is the maximum of."""
    grad = np.zeros_like(x)
    n_out = (x.shape[2] - KERNEL) // STRIDE + 1
    for i in range(n_out):
        for j in range(n_out):
            window = x[:, :, i * STRIDE:i * STRIDE + KERNEL, j * STRIDE:j * STRIDE + KERNEL]
            flat = window.reshape(*window.shape[:2], -1).argmax(axis=2)
            n, c = np.indices(flat.shape)
            grad[n, c, i * STRIDE + flat // KERNEL, j * STRIDE + flat % KERNEL] += 1
    return grad


def conv_reference(x, w):
    """(d/dx, d/dw) of the sum of a 3x3 convolution without padding."""
    out = x.shape[2] - KERNEL + 1
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i in range(KERNEL):
        for j in range(KERNEL):
            dx[:, :, i:i + out, j:j + out] += w[:, :, i, j].sum(axis=0)[None, :, None, None]
            dw[:, :, i, j] = x[:, :, i:i + out, j:j + out].sum(axis=(0, 2, 3))[None, :]
    return dx, dw


def cases(x, w):
    """{operator: (function of (x, w) NDArrays, reference (dx, dw) in numpy)}."""
    zero_w = np.zeros_like(w)
    return {
        'max pooling': (lambda a, b: nd.Pooling(a, kernel=(KERNEL, KERNEL), stride=(STRIDE, STRIDE),
                                                pool_type='max') + 0 * b.sum(),
                        (maxpool_reference(x), zero_w)),
        'convolution': (lambda a, b: nd.Convolution(a, b, no_bias=True, kernel=(KERNEL, KERNEL),
                                                    num_filter=w.shape[0]),
                        conv_reference(x, w)),
        'relu': (lambda a, b: nd.relu(a) + 0 * b.sum(), ((x > 0).astype(x.dtype), zero_w)),
    }


def gradient_errors(train_mode, f, reference, x, w, repeats=3):
    """(largest error against the reference, largest difference between repeated calls)."""
    grads = []
    for _ in range(repeats):
        a, b = nd.array(x), nd.array(w)
        a.attach_grad()
        b.attach_grad()
        with autograd.record(train_mode=train_mode):
            total = f(a, b).sum()
        total.backward()
        grads.append(np.concatenate([a.grad.asnumpy().ravel(), b.grad.asnumpy().ravel()]))
    want = np.concatenate([r.ravel() for r in reference])
    return (max(float(np.abs(g - want).max()) for g in grads),
            max(float(np.abs(g - grads[0]).max()) for g in grads))


def measure(seed=0):
    """[(operator, error in training mode, error in prediction mode, prediction call-to-call)]."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 3, 13, 13)).astype(np.float32)
    w = rng.standard_normal((8, 3, KERNEL, KERNEL)).astype(np.float32)
    rows = []
    for name, (f, reference) in cases(x, w).items():
        train_error, _ = gradient_errors(True, f, reference, x, w)
        predict_error, spread = gradient_errors(False, f, reference, x, w)
        rows.append((name, train_error, predict_error, spread))
    return rows


if __name__ == '__main__':
    print(f'MXNet {mx.__version__}: largest gradient error against a numpy reference')
    print(f"{'operator':14s} {'training mode':>14s} {'prediction mode':>16s} {'predict call-to-call':>21s}")
    for name, train_error, predict_error, spread in measure():
        print(f'{name:14s} {train_error:14.3g} {predict_error:16.3g} {spread:21.3g}')
