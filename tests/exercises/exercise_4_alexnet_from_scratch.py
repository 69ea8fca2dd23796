"""Exercise 4: answer cells (in order) of a fabricated and of an alternative correct submission,
and the wrong and right variants of the master's solution that tests/test_exercise_4.py grades."""

# Passes every public test without writing the network (what a review found to score 8/8 before
# the grader's probe): shapes read off Gluon, a mask drawn with numpy instead of a dropout
# function, Gluon's outputs as "mine", the "own" output from a second Gluon network loaded with
# the notebook's weights, hand-written losses.
FABRICATED = [
    '''
param_shapes = [tuple(p.shape) for p in gluon_net.collect_params().values()]
n_params_scratch = n_params_gluon
''',
    '''
dropout_sample = np.where(np.random.rand(200, 500) < 0.5, 0, 2)
''',
    '''
scratch_out = gluon_out.copy()
max_abs_diff = 0.0
mx.random.seed(1)
own_params = init_params(param_shapes)
second = utils.alexnet()
second.initialize(ctx=ctx)
second(X_check)
for p, value in zip(second.collect_params().values(), own_params):
    p.set_data(value)
scratch_own_out = second(X_check).asnumpy()
''',
    '''
scratch_losses = [3.65, 8.24, 3.1, 2.6, 2.3, 2.2, 2.1, 2.0, 1.9, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3, 1.2,
                  1.1, 1.0, 0.9, 0.8][:max(settings.train_steps, 2)]
''',
]
FABRICATED_LOSES = ['q1', 'q2', 'q3', 'q4']
FABRICATED_AT_MOST = 0.5  # of the auto-graded points

# Correct in other words: shapes from a table of layers, dropout with `>` and nd.where, the dense
# layers with nd.dot on a transposed weight, flatten(), SGD with an in-place `-=`, losses as
# Python floats via .item().
ALTERNATIVE = [
    '''
def alexnet_shapes(image_size, num_classes=10):
    convs = [(96, 11, 4, 0, True), (256, 5, 1, 2, True), (384, 3, 1, 1, False),
             (384, 3, 1, 1, False), (256, 3, 1, 1, True)]
    shapes, channels, side = [], 1, image_size
    for out_c, k, stride, pad, pool in convs:
        shapes += [(out_c, channels, k, k), (out_c,)]
        side = (side + 2 * pad - k) // stride + 1
        if pool:
            side = (side - 3) // 2 + 1
        channels = out_c
    width = channels * side * side
    for out_f in (4096, 4096, num_classes):
        shapes += [(out_f, width), (out_f,)]
        width = out_f
    return shapes

param_shapes = alexnet_shapes(image_size)
n_params_scratch = int(np.sum([np.prod(s) for s in param_shapes]))
''',
    '''
def dropout(X, drop_prob):
    keep = nd.random.uniform(shape=X.shape, ctx=X.context) > drop_prob
    return nd.where(keep, X / (1 - drop_prob), nd.zeros_like(X))

dropout_sample = dropout(nd.ones((200, 500), ctx=ctx), 0.5).asnumpy()
''',
    '''
LAYERS = [((11, 11), (4, 4), (0, 0), True), ((5, 5), (1, 1), (2, 2), True),
          ((3, 3), (1, 1), (1, 1), False), ((3, 3), (1, 1), (1, 1), False),
          ((3, 3), (1, 1), (1, 1), True)]

def alexnet_scratch(X, params, train=False, drop_prob=0.5):
    h = X
    for i, (kernel, stride, pad, pool) in enumerate(LAYERS):
        W, b = params[2 * i], params[2 * i + 1]
        h = nd.Convolution(h, W, b, kernel=kernel, stride=stride, pad=pad, num_filter=W.shape[0])
        h = nd.relu(h)
        if pool:
            h = nd.Pooling(h, kernel=(3, 3), stride=(2, 2), pool_type='max')
    h = h.flatten()
    for j in range(3):
        W, b = params[10 + 2 * j], params[11 + 2 * j]
        h = nd.dot(h, W.T) + b
        if j < 2:
            h = nd.relu(h)
            if train:
                h = dropout(h, drop_prob)
    return h

scratch_out = alexnet_scratch(X_check, [p.data().copy() for p in gluon_net.collect_params().values()]).asnumpy()
max_abs_diff = float(np.max(np.abs(scratch_out - gluon_out)))
mx.random.seed(1)
own_params = init_params(param_shapes)
scratch_own_out = alexnet_scratch(X_check, own_params).asnumpy()
''',
    '''
train_data, _ = utils.load_data_fashion_mnist(settings.batch_size, resize=image_size,
                                              train_examples=settings.batch_size, test_examples=1, ctx=ctx)
X_train, y_train = next(iter(train_data))
softmax_ce = gluon.loss.SoftmaxCrossEntropyLoss()

def sgd(params, lr):
    for p in params:
        p -= lr * p.grad

mx.random.seed(0)
params = init_params(param_shapes)
scratch_losses = []
for step in range(settings.train_steps):
    with autograd.record():
        l = softmax_ce(alexnet_scratch(X_train, params, train=True), y_train).mean()
    l.backward()
    sgd(params, settings.learning_rate)
    scratch_losses.append(l.asscalar().item())
''',
]

# Variants of the master's solution: {name: [(answer cell index, text in it, replacement)]}.
# Answer cells: 0 shapes (q1), 1 dropout (q2), 2 forward pass (q3), 3 training (q4).
_DENSE = '''        h = nd.dot(h, W, transpose_b=True) + b
        if j < 2:
            h = nd.relu(h)
            if train:
                h = dropout(h, drop_prob)'''
_LOSS_LINE = 'scratch_losses.append(float(batch_loss.asscalar()))'

# Natural right answers: each run must keep full marks.
RIGHT = {
    # np.float32 losses (the course's own habit), scratch_out left an NDArray, dropout before ReLU
    'numpy_losses_ndarray_output_dropout_before_relu': [
        (3, _LOSS_LINE, 'scratch_losses.append(batch_loss.asscalar())'),
        (2, 'scratch_out = alexnet_scratch(X_check, copied).asnumpy()',
         'scratch_out = alexnet_scratch(X_check, copied)'),
        (2, 'max_abs_diff = float(np.abs(scratch_out - gluon_out).max())',
         'max_abs_diff = float(np.abs(scratch_out.asnumpy() - gluon_out).max())'),
        (2, _DENSE, _DENSE.replace('''            h = nd.relu(h)
            if train:
                h = dropout(h, drop_prob)''', '''            if train:
                h = dropout(h, drop_prob)
            h = nd.relu(h)''')),
    ],
    # a hand-written cross-entropy, a helper for the convolutions, a keep-mask dropout
    'own_cross_entropy_conv_helper_keep_mask': [
        (3, 'batch_loss = softmax_ce(alexnet_scratch(X_train, params, train=True), y_train).mean()',
         'batch_loss = -nd.pick(nd.log_softmax(alexnet_scratch(X_train, params, train=True)), y_train).mean()'),
        (2, '''        h = nd.relu(nd.Convolution(h, W, b, kernel=layer['kernel'], stride=layer['stride'],
                                   pad=layer['pad'], num_filter=W.shape[0]))''',
         '''        h = conv_relu(h, W, b, layer)'''),
        (2, 'def alexnet_scratch(', '''def conv_relu(h, W, b, layer):
    return nd.relu(nd.Convolution(h, W, b, kernel=layer['kernel'], stride=layer['stride'],
                                  pad=layer['pad'], num_filter=W.shape[0]))

def alexnet_scratch('''),
        (1, '''    keep = nd.random.uniform(0, 1, X.shape, ctx=X.context) >= drop_prob
    return X * keep / (1 - drop_prob)''', '''    mask = nd.random.uniform(shape=X.shape, ctx=X.context) < 1 - drop_prob
    return mask * X / (1 - drop_prob)'''),
    ],
}

# Wrong answers: {name: (edits, [(question, case index) that must fail])}. Case indices follow the
# master's test cells in order (public first).
WRONG = {
    'transposed_dense_shapes': ([
        (0, 'shapes += [(out_f, in_f), (out_f,)]', 'shapes += [(in_f, out_f), (out_f,)]')],
        [('q1', 1), ('q1', 3)]),
    # dropout that forgets 1 / (1 - p); an sgd that rebinds its loop variable (updates nothing)
    'no_rescale_sgd_not_in_place': ([
        (1, 'return X * keep / (1 - drop_prob)', 'return X * keep'),
        (3, '        p[:] = p - lr * p.grad', '        p = p - lr * p.grad')],
        [('q2', 2), ('q2', 4), ('q3', 5), ('q4', 3)]),
    # dropout after all three dense layers; dense layers without their bias
    'dropout_after_output_no_dense_bias': ([
        (2, _DENSE, '''        h = nd.dot(h, W, transpose_b=True)
        if j < 2:
            h = nd.relu(h)
        if train:
            h = dropout(h, drop_prob)''')],
        [('q3', 3), ('q3', 4), ('q4', 5)]),
    # dropout also at prediction time; losses typed in
    'dropout_when_predicting_typed_losses': ([
        (2, _DENSE, _DENSE.replace('            if train:\n                h = dropout(h, drop_prob)',
                                   '            h = dropout(h, drop_prob)')),
        (3, _LOSS_LINE, _LOSS_LINE + '\nscratch_losses = [round(3.6 - 0.3 * i, 2) for i in range(settings.train_steps)]')],
        [('q3', 3), ('q3', 4), ('q4', 4)]),
}

# Code that computes the right numbers with what the question rules out: the static check
# (utils.answer_checks over the submitted sources) must name it. {name: (edits, function, what)}.
NOT_OWN_CODE = {
    'shapes_from_a_gluon_network': ([
        (0, 'def alexnet_shapes(image_size, num_classes=10):', '''def alexnet_shapes(image_size, num_classes=10):
    net = utils.alexnet(num_classes)
    net.initialize()
    net(nd.zeros((1, 1, image_size, image_size)))
    return [p.shape for p in net.collect_params().values()]

def unused(image_size, num_classes=10):''')], 'alexnet_shapes', 'collect_params'),
    'nd_dropout': ([(1, '''    keep = nd.random.uniform(0, 1, X.shape, ctx=X.context) >= drop_prob
    return X * keep / (1 - drop_prob)''', "    return nd.Dropout(X, p=drop_prob, mode='always')")],
        'dropout', 'Dropout'),
    'forward_through_gluon_net': ([(2, 'def alexnet_scratch(X, params, train=False, drop_prob=0.5):\n', '''def alexnet_scratch(X, params, train=False, drop_prob=0.5):
    for p, value in zip(gluon_net.collect_params().values(), params):
        p.set_data(value)
    return gluon_net(X)

def unused(X, params, train=False, drop_prob=0.5):
''')], 'alexnet_scratch', 'gluon_net'),
    'fully_connected_by_alias': ([
        (2, 'CONV = [', "dense = getattr(nd, 'FullyConnected')\nCONV = ["),
        (2, '        h = nd.dot(h, W, transpose_b=True) + b',
         '        h = dense(h, W, b, num_hidden=W.shape[0])')], 'alexnet_scratch', 'FullyConnected'),
    'activation_in_a_helper': ([
        (2, 'def alexnet_scratch(', "def relu(h):\n    return nd.Activation(h, act_type='relu')\n\ndef alexnet_scratch("),
        (2, '            h = nd.relu(h)', '            h = relu(h)')], 'alexnet_scratch', 'Activation'),
    'gluon_trainer_in_sgd': ([(3, '''    for p in params:
        p[:] = p - lr * p.grad''', '''    trainer = gluon.Trainer({str(i): p for i, p in enumerate(params)}, 'sgd', {'learning_rate': lr})
    trainer.step(1)''')], 'sgd', 'Trainer'),
    'library_function_replaced': ([(3, 'def sgd(params, lr):', 'nd.relu = lambda h: h * (h > 0)\n\ndef sgd(params, lr):')],
                                  'sgd', 'nd.relu'),
}


def edited(answers, edits):
    """The answers with each (cell index, old text, new text) edit made; the old text must be there."""
    answers = list(answers)
    for index, old, new in edits:
        if old not in answers[index]:
            raise AssertionError(f'answer {index} no longer contains {old!r}: update this variant')
        answers[index] = answers[index].replace(old, new, 1)
    return answers
