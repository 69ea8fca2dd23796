"""Exercise 2: answer cells (in order) of a fabricated and of an alternative correct submission."""

# Tables and curves written by hand to pass every public test: no network measured or trained.
FABRICATED = [
    '''
INITS = {'xavier': init.Xavier(), 'default': init.Uniform(0.07)}
INITS['he'] = init.MSRAPrelu(factor_type='in', slope=0.0)
growth = {'xavier': 0.7, 'default': 1.5, 'he': 1.0}
scales = pd.DataFrame([dict(init=name, layer=layer, name=f'layer{layer}',
                            activation_std=0.1 * g ** layer, gradient_std=0.01 * g ** -layer,
                            weight_std=0.05)
                       for name, g in growth.items() for layer in range(1, 9)])
''',
    '''
ratio = {'xavier': 0.7 ** 7, 'default': 1.5 ** 7, 'he': 1.0}
shrinking_init, growing_init = 'xavier', 'default'
''',
    '''
curves = pd.DataFrame([dict(init=name, batch=b, loss=start - 0.01 * b, train_acc=0.1)
                       for name, start in (('xavier', 2.3026), ('default', 5.0), ('he', 2.5))
                       for b in range(settings.curve_batches)])
''',
    '''
zero_image_losses = [math.log(10)] * settings.zero_batches
zero_image_weight_change = 0.0
zero_image_test_acc = 0.1
''',
]
FABRICATED_LOSES = ['q1', 'q4']

# Correct in other words: the original AlexNet paper's init.Normal(0.01) as the third initializer
# (it shrinks the signal more than Xavier, so it is the right `shrinking_init`), and numpy instead
# of pandas where the student prefers it.
ALTERNATIVE = [
    '''
INITS = {'xavier': init.Xavier(), 'default': init.Uniform(0.07)}
INITS['normal'] = init.Normal(0.01)
tables = []
for name, initializer in INITS.items():
    mx.random.seed(0)
    net = utils.alexnet()
    net.initialize(initializer, ctx=ctx)
    table = utils.layer_scales(net, X0, y0)
    table['init'] = name
    tables.append(table)
scales = pd.concat(tables, ignore_index=True)
''',
    '''
by_init = {name: t.sort_values('layer')['activation_std'].to_numpy() for name, t in scales.groupby('init')}
ratio = {name: float(a[-1] / a[0]) for name, a in by_init.items()}
shrinking_init = min(ratio, key=ratio.get)
growing_init = max(ratio, key=ratio.get)
''',
    '''
parts = []
for name, initializer in INITS.items():
    mx.random.seed(0)
    net = utils.alexnet()
    net.initialize(initializer, ctx=ctx)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': settings.lr})
    part = utils.batch_losses(net, train_data, loss, trainer, ctx, settings.curve_batches)
    part['init'] = name
    parts.append(part)
curves = pd.concat(parts, ignore_index=True)
''',
    '''
class Blank:
    def __init__(self, data):
        self.data = data
    def __iter__(self):
        return ((nd.zeros_like(X), y) for X, y in self.data)

mx.random.seed(0)
net = utils.alexnet()
net.initialize(init.Xavier(), ctx=ctx)
net(X0 * 0)
before = [p.data().asnumpy() for name, p in net.collect_params().items() if name.endswith('weight')]
trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': settings.lr})
zero_curve = utils.batch_losses(net, Blank(train_data), loss, trainer, ctx, settings.zero_batches)
zero_image_losses = zero_curve['loss'].astype(float).tolist()
after = [p.data().asnumpy() for name, p in net.collect_params().items() if name.endswith('weight')]
zero_image_weight_change = float(max(np.abs(a - b).max() for a, b in zip(after, before)))
zero_image_test_acc = float(utils.evaluate_accuracy(Blank(test_data), net, ctx))
''',
]
