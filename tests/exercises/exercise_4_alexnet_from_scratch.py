"""Exercise 4: answer cells (in order) of a fabricated and of an alternative correct submission."""

# Passes every public test without writing the network: a fixed pattern instead of random
# dropout, Gluon's own outputs copied as "mine", hand-written losses. (The shapes are computed:
# they need no network.)
FABRICATED = [
    '''
param_shapes = [tuple(p.shape) for p in gluon_net.collect_params().values()]
n_params_scratch = n_params_gluon
''',
    '''
dropout_sample = np.where(np.arange(100000).reshape(200, 500) % 2, 2.0, 0.0)
''',
    '''
scratch_out = gluon_out.copy()
max_abs_diff = 0.0
scratch_own_out = gluon_out.copy()
''',
    '''
scratch_losses = [2.9, 2.6, 2.4, 2.2, 2.1, 2.0, 1.9, 1.8, 1.7, 1.6][:max(settings.train_steps, 2)]
''',
]
FABRICATED_LOSES = ['q2', 'q3']

# Correct in other words: shapes from a table of layers, dropout with `>` and nd.where, the dense
# layers with nd.FullyConnected, SGD with an in-place `-=`.
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
        h = nd.FullyConnected(h, W, b, num_hidden=W.shape[0])
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
train_data, _ = utils.load_data_fashion_mnist(settings.train_batch, resize=image_size,
                                              train_examples=settings.train_batch, test_examples=1, ctx=ctx)
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
    sgd(params, settings.lr)
    scratch_losses.append(l.asscalar().item())
''',
]
