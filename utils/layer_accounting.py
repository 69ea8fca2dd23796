"""Layer-by-layer accounting of a Gluon network: output shape, parameters, FLOPs per image.

Everything is read from the network itself by passing a dummy input of the given shape through its
layers in order, so a table always matches the code that defines the network. Hybrid layers are
traced symbolically (shape inference only: no arithmetic, and an uninitialized network stays
uninitialized, so `net.initialize(...)` afterwards behaves as usual). A plain `Block` is run on a
zero NDArray, which needs its parameters initialized.

FLOPs count one multiply-add as 2 floating-point operations in convolution and dense layers (the
convention of most papers), for the forward pass of one image. Pooling, activations, dropout and
reshapes are counted as 0: together they are well under 1% of the work in LeNet and AlexNet.
"""
import contextlib
import io

import numpy as np
import pandas as pd

from .compat import import_mxnet

mx = import_mxnet()
nn = mx.gluon.nn

COLUMNS = ['layer', 'output_shape', 'params', 'flops']


def layer_table(net, input_shape):
    """DataFrame with one row per layer: layer, output_shape, params, flops (per image).

    net: a Gluon network; `Sequential`/`HybridSequential` containers (nested too) are opened up into
      their layers, any other block is one row.
    input_shape: the shape of ONE example without the batch axis, e.g. (1, 28, 28) for
      Fashion-MNIST; a 4-tuple (batch, channels, height, width) is accepted and its batch ignored.
    output_shape is per example too (no batch axis).
    """
    shape = _one_example(input_shape)
    rows = []
    for block in _layers(net):
        out_shape, param_shapes = _trace(block, shape)
        rows.append({
            'layer': describe_layer(block),
            'output_shape': tuple(out_shape[1:]),
            'params': int(sum(int(np.prod(s)) for s in param_shapes.values())),
            'flops': int(_flops(block, shape, out_shape, param_shapes)),
        })
        shape = out_shape
    return pd.DataFrame(rows, columns=COLUMNS)


def flops_per_image(net, input_shape):
    """Forward-pass FLOPs for one example of `input_shape` (see `layer_table` for the convention)."""
    return int(layer_table(net, input_shape)['flops'].sum())


def describe_layer(block):
    """A short readable name for a layer, e.g. 'Conv2D 96, 11x11/4, relu' or 'Dense 4096, relu'
    (a grouped convolution says so: 'Conv2D 256, 5x5, pad 2, 2 groups, relu')."""
    name = type(block).__name__
    kw = getattr(block, '_kwargs', {})
    act = getattr(block, 'act', None)
    act = f", {act._act_type}" if act is not None and hasattr(act, '_act_type') else ''
    if 'num_filter' in kw:
        kernel = 'x'.join(map(str, kw['kernel']))
        stride = f"/{kw['stride'][0]}" if any(s != 1 for s in kw['stride']) else ''
        pad = f", pad {kw['pad'][0]}" if any(kw['pad']) else ''
        groups = f", {kw['num_group']} groups" if kw.get('num_group', 1) > 1 else ''
        return f"{name} {kw['num_filter']}, {kernel}{stride}{pad}{groups}{act}"
    if 'pool_type' in kw:
        if kw.get('global_pool'):
            return name
        kernel = 'x'.join(map(str, kw['kernel']))
        stride = f"/{kw['stride'][0]}" if any(s != 1 for s in kw['stride']) else ''
        return f"{name} {kernel}{stride}"
    if isinstance(block, nn.Dense):
        return f"{name} {block._units}{act}"
    if isinstance(block, nn.Dropout):
        return f"{name} {block._rate}"
    return name


# ------------------------------------------------------------------------------ internals

def _one_example(input_shape):
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 4:
        shape = shape[1:]
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be the shape of one example, like (1, 28, 28); "
                         f"got {input_shape!r}")
    return (1,) + shape


def _layers(block):
    """The layers of `block` in order, opening up (nested) Sequential containers."""
    if isinstance(block, (nn.Sequential, nn.HybridSequential)):
        for child in block._children.values():
            yield from _layers(child)
    else:
        yield block


def _trace(block, in_shape):
    """(output shape, {parameter name: shape}) of `block` for an input of `in_shape`."""
    params = block.collect_params()
    if isinstance(block, mx.gluon.HybridBlock):
        data = mx.sym.var('data')
        out = block(data)
        if isinstance(out, (list, tuple)):
            raise ValueError(f"{describe_layer(block)} returns {len(out)} outputs; layer_table "
                             f"follows a chain of single-output layers.")
        try:
            # MXNet prints its own "infer_shape error" banner before raising; keep ours only.
            with contextlib.redirect_stdout(io.StringIO()):
                arg_shapes, out_shapes, aux_shapes = out.infer_shape(data=in_shape)
        except mx.base.MXNetError as err:
            raise ValueError(f"{describe_layer(block)} cannot take an input of shape "
                             f"{tuple(in_shape[1:])} (per example): {str(err).splitlines()[0]} "
                             f"Check input_shape (e.g. AlexNet needs at least 67x67).") from None
        known = dict(zip(out.list_arguments(), arg_shapes))
        known.update(zip(out.list_auxiliary_states(), aux_shapes))
        shapes = {p.name: known[p.name] for p in params.values() if p.name in known}
        return tuple(out_shapes[0]), shapes
    # A plain Block cannot be traced symbolically: run it on zeros (needs initialized parameters).
    try:
        out = block(mx.nd.zeros(in_shape))
    except mx.gluon.parameter.DeferredInitializationError:
        raise ValueError(f"{type(block).__name__} is not a HybridBlock, so layer_table has to run "
                         f"it, and its parameters are not initialized yet: call net.initialize() "
                         f"first.") from None
    return tuple(out.shape), {p.name: p.shape for p in params.values()}


def _flops(block, in_shape, out_shape, param_shapes):
    """Forward FLOPs per example (one multiply-add = 2)."""
    kw = getattr(block, '_kwargs', {})
    weight = next((s for n, s in param_shapes.items() if n.endswith('weight')), None)
    if 'num_filter' in kw and weight is not None and not type(block).__name__.endswith('Transpose'):
        # weight: (out_channels, in_channels / groups, *kernel); every output value needs one
        # multiply-add per weight of its filter.
        per_output = int(np.prod(weight[1:]))
        return 2 * per_output * int(np.prod(out_shape[1:]))
    if isinstance(block, nn.Dense):
        in_units, units = weight[1], weight[0]
        positions = int(np.prod(out_shape[1:])) // units  # >1 only when flatten=False
        return 2 * in_units * units * positions
    if isinstance(block, nn.BatchNorm):
        return 2 * int(np.prod(out_shape[1:]))  # scale and shift at inference
    if param_shapes:
        raise ValueError(f"layer_table does not know how to count the FLOPs of "
                         f"{type(block).__name__} (a layer with parameters); it knows Conv*D, "
                         f"Dense and BatchNorm. Count it by hand or leave it out of the network.")
    return 0
