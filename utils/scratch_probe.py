"""Exercise 4 (AlexNet from scratch): the grader's probe and the hidden tests' references.

A notebook's variables alone cannot show that its network is its own: Gluon's outputs can be
handed in as "mine". So the grader runs a probe after the notebook's last cell (the master's cell
tagged `grader-probe`), in the notebook's kernel, with a seed the notebook cannot know:
`run_probe(namespace, seed)` calls the notebook's own functions (`alexnet_shapes`, `dropout`,
`alexnet_scratch`, `sgd`, and its training recipe) on inputs drawn from that seed and returns
plain data, which the sandbox exports. The hidden tests, in the grader's own process, draw the
same inputs again from the seed (`*_inputs` below, numpy only, so both sides get the same
numbers) and compute what the answers must be with Gluon (`gluon_output`, `expected_shapes`).

Everything here is standard numpy plus MXNet imported on first use; nothing trusts the probe's
output (`part` checks it is a dict and says what went wrong when it is not).
"""
import numpy as np

from . import answer_checks

DROP_PROBS = (0.3, 0.7)        # the dropout probabilities the probe asks for
# Sides at which the last convolution stage is 2x2, not 1x1 (as at 67 to 91): a flatten that
# assumes 256 features shows.
FORWARD_SIDES = (99, 107, 115)
SHAPE_SIDE_RANGES = ((67, 99), (99, 201), (201, 321))  # one side from each
PLACEMENT_SIDE = 67
PLACEMENT_BATCH = 64
PLACEMENT_RUNS = 2
HIDDEN = 4096
# Largest relative difference between the notebook's losses and the grader's replay of its training
# (the same functions, seed and steps: on the CPU the same numbers; GPU kernels may round differently).
REPLAY_TOLERANCE = 1e-3
TRAINING_NAMES = ('init_params', 'param_shapes', 'alexnet_scratch', 'sgd', 'X_train', 'y_train')


def _mx():
    from .compat import import_mxnet
    return import_mxnet()


def _rng(seed, stream):
    return np.random.default_rng([int(seed) % 2**32, stream])


# ----------------------------------------------------------------------------- inputs (both sides)

def grader_sides(seed):
    """Three input sides, one from each of SHAPE_SIDE_RANGES (67 to 320 pixels), at which
    alexnet_shapes is asked for the shapes."""
    rng = _rng(seed, 1)
    return [int(rng.integers(low, high)) for low, high in SHAPE_SIDE_RANGES]


def expected_shapes(side, num_classes=10):
    """Gluon's parameter shapes of utils.alexnet() for side x side inputs, without allocating
    them (the symbol's shape inference)."""
    mx = _mx()
    from .models import alexnet
    net = alexnet(num_classes)
    symbol = net(mx.sym.var('data'))
    shapes, _, _ = symbol.infer_shape(data=(1, 1, side, side))
    names = symbol.list_arguments()
    return [tuple(int(n) for n in s) for name, s in zip(names, shapes) if name != 'data']


def dropout_input(seed):
    return _rng(seed, 2).standard_normal((100, 400)).astype(np.float32)


def _he(rng, shape):
    """He-scaled weights (variance 2 / fan_in), uniform: drawing 16 million uniform numbers takes
    a sixth of the time of as many Gaussian ones."""
    bound = np.float32(np.sqrt(6 / int(np.prod(shape[1:]))))
    return (rng.random(shape, dtype=np.float32) * 2 - 1) * bound


def _small(rng, shape):
    return (rng.random(shape, dtype=np.float32) - np.float32(0.5)) * np.float32(0.2)


def forward_inputs(seed):
    """(X, params) for the forward check: a grader-chosen side, He-scaled weights and non-zero
    biases (a forgotten bias shows), 4 uniform images; numpy float32."""
    rng = _rng(seed, 3)
    side = int(rng.choice(FORWARD_SIDES))
    params = [_he(rng, s) if len(s) > 1 else _small(rng, s) for s in expected_shapes(side)]
    X = rng.uniform(size=(4, 1, side, side)).astype(np.float32)
    return X, params


def placement_inputs(seed):
    """(X, params) that make the dropout layers countable: the first dense layer outputs 1
    everywhere (zero weights, bias 1), the second copies its input (identity), the output layer
    picks 10 of its 4096 units. Without dropout every output is 1; with dropout (p = 0.5) after the
    first two dense layers only, an output is 4 with probability 1/4 and 0 otherwise."""
    rng = _rng(seed, 4)
    shapes = expected_shapes(PLACEMENT_SIDE)
    params = [_he(rng, s) if len(s) > 1 else np.zeros(s, np.float32) for s in shapes[:10]]
    flat = shapes[10][1]
    picked = np.zeros((10, HIDDEN), np.float32)
    picked[np.arange(10), rng.choice(HIDDEN, 10, replace=False)] = 1
    params += [np.zeros((HIDDEN, flat), np.float32), np.ones(HIDDEN, np.float32),
               np.eye(HIDDEN, dtype=np.float32), np.zeros(HIDDEN, np.float32),
               picked, np.zeros(10, np.float32)]
    X = rng.uniform(size=(PLACEMENT_BATCH, 1, PLACEMENT_SIDE, PLACEMENT_SIDE)).astype(np.float32)
    return X, params


def sgd_inputs(seed):
    """(parameter arrays, their gradients, learning rate) for the update check."""
    rng = _rng(seed, 5)
    shapes = [(3, 4), (5,), (2, 3, 2, 2)]
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return values, grads, float(rng.choice([0.01, 0.05, 0.1, 0.3]))


# ----------------------------------------------------------------------------- probe side

def _numpy(value):
    return value.asnumpy() if hasattr(value, 'asnumpy') else np.asarray(value)


def _probe_shapes(ns, seed):
    return {'sides': grader_sides(seed),
            'shapes': [[[int(n) for n in shape] for shape in ns['alexnet_shapes'](side)]
                       for side in grader_sides(seed)]}


def _probe_dropout(ns, seed, ctx):
    mx = _mx()
    X = mx.nd.array(dropout_input(seed), ctx=ctx)
    out = {f'p{p}': _numpy(ns['dropout'](X, p)) for p in DROP_PROBS}
    out['again'] = _numpy(ns['dropout'](X, DROP_PROBS[0]))
    X.attach_grad()
    with mx.autograd.record():
        Y = ns['dropout'](X, DROP_PROBS[0])
    Y.backward()
    out['recorded'], out['gradient'] = _numpy(Y), _numpy(X.grad)
    return out


def _probe_forward(ns, seed, ctx):
    mx = _mx()
    X, params = forward_inputs(seed)
    params = [mx.nd.array(p, ctx=ctx) for p in params]
    return {'output': _numpy(ns['alexnet_scratch'](mx.nd.array(X, ctx=ctx), params))}


def _probe_placement(ns, seed, ctx):
    mx = _mx()
    X, params = placement_inputs(seed)
    X, params = mx.nd.array(X, ctx=ctx), [mx.nd.array(p, ctx=ctx) for p in params]
    return {'predict': _numpy(ns['alexnet_scratch'](X, params)),
            'train': [_numpy(ns['alexnet_scratch'](X, params, train=True))
                      for _ in range(PLACEMENT_RUNS)]}


def _probe_sgd(ns, seed, ctx):
    mx = _mx()
    values, grads, lr = sgd_inputs(seed)
    params = [mx.nd.array(v, ctx=ctx) for v in values]
    for p in params:
        p.attach_grad()
    with mx.autograd.record():
        total = mx.nd.add_n(*[(p * mx.nd.array(g, ctx=ctx)).sum() for p, g in zip(params, grads)])
    total.backward()
    ns['sgd'](list(params), lr)
    return {'after': [_numpy(p) for p in params]}  # the same objects: updated in place


def _probe_training(ns, ctx):
    """The notebook's training again, as question 4 prescribes, with its own functions."""
    mx = _mx()
    from .settings import settings_for
    settings = settings_for('exercise_4_alexnet_from_scratch')
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    X, y = ns['X_train'], ns['y_train']
    mx.random.seed(0)
    params = ns['init_params'](ns['param_shapes'])
    losses = []
    for _ in range(settings.train_steps):
        with mx.autograd.record():
            batch_loss = loss_fn(ns['alexnet_scratch'](X, params, train=True), y).mean()
        batch_loss.backward()
        ns['sgd'](params, settings.learning_rate)
        losses.append(float(batch_loss.asscalar()))
    return {'losses': losses}


def run_probe(ns, seed):
    """{part: plain data, or {'error': what went wrong}} for each check; never raises."""
    mx = _mx()
    ctx = ns.get('ctx')
    ctx = ctx if isinstance(ctx, mx.Context) else mx.cpu()
    parts = {'shapes': (('alexnet_shapes',), lambda: _probe_shapes(ns, seed)),
             'dropout': (('dropout',), lambda: _probe_dropout(ns, seed, ctx)),
             'forward': (('alexnet_scratch',), lambda: _probe_forward(ns, seed, ctx)),
             'placement': (('alexnet_scratch',), lambda: _probe_placement(ns, seed, ctx)),
             'sgd': (('sgd',), lambda: _probe_sgd(ns, seed, ctx)),
             'training': (TRAINING_NAMES, lambda: _probe_training(ns, ctx))}
    results = {}
    for name, (needs, run) in parts.items():
        missing = [n for n in needs if n not in ns]
        if missing:
            results[name] = {'error': f"the notebook does not define {', '.join(missing)}"}
            continue
        try:
            results[name] = run()
        except Exception as err:  # the notebook's code failed: the tests say so
            results[name] = {'error': f'{type(err).__name__}: {err}'[:500]}
    return results


# ----------------------------------------------------------------------------- test side

# What each function must not use (utils/answer_checks.py reads the submitted code): Gluon's
# network (its layers, the notebook's gluon_net and its outputs), and the fused operators that do
# what the question asks to write by hand. nd.Convolution and nd.Pooling are allowed: question 3
# asks for them.
GLUON_NAMES = ('gluon', 'nn', 'gluon_net', 'gluon_out', 'gluon_shapes', 'n_params_gluon')
GLUON_ATTRIBUTES = ('gluon', 'nn', 'collect_params', 'alexnet', 'models', 'model_zoo', 'Conv2D',
                    'Dense', 'MaxPool2D', 'Sequential', 'HybridSequential', 'Block', 'HybridBlock',
                    'SymbolBlock', 'infer_shape')
BY_HAND = {'alexnet_shapes': (),
           'dropout': ('Dropout', 'dropout'),
           'alexnet_scratch': ('FullyConnected', 'Dropout', 'dropout', 'Activation'),
           'sgd': ('Trainer', 'optimizer', 'Optimizer', 'sgd_update', 'sgd_mom_update',
                   'mp_sgd_update', 'mp_sgd_mom_update')}


def own_code_problems(sources, function):
    """Why `function` (a key of BY_HAND) is not the notebook's own code: it is not defined, it (or
    what it uses) calls Gluon or a fused operator the question rules out, or some cell changes
    library functions or reaches names indirectly. [] when none of these shows."""
    missing = answer_checks.missing_definitions(sources, [function])
    if missing:
        return [f'{function} is not defined by a top-level statement of the notebook']
    return answer_checks.forbidden_uses(sources, [function], names=GLUON_NAMES,
                                        attributes=GLUON_ATTRIBUTES + BY_HAND[function]) + \
        answer_checks.tampering(sources)


def part(results, name):
    """The probe's result `name`, or AssertionError saying why there is none."""
    if not isinstance(results, dict):
        raise AssertionError("the grader's probe did not run (no grader_probe variable)")
    value = results.get(name)
    if not isinstance(value, dict):
        raise AssertionError(f"the grader's probe has no {name!r} result")
    if 'error' in value:
        raise AssertionError(f"the grader's probe ({name}) failed: {value['error']}")
    return value


def gluon_output(params, X):
    """utils.alexnet() with `params` (numpy, collect_params order) on X, in prediction mode."""
    mx = _mx()
    from .models import alexnet
    net = alexnet()
    net.initialize(mx.init.Zero())
    net(mx.nd.array(X[:1]))
    for p, value in zip(net.collect_params().values(), params):
        p.set_data(mx.nd.array(value))
    return net(mx.nd.array(X)).asnumpy()
