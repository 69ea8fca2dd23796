"""Exercise 2: answer cells (in order) of a fabricated and of an alternative correct submission."""

# The attack of the grading issues: the step-0 measurements of questions 1 and 2 done (they are
# cheap), but no network trained: question 4's three curves and question 5's blank-image run
# typed to fit the grader's settings (batch numbers, batch counts, accuracies as counts over the
# batch size, ln 10 where a real run starts there), with fresh networks under the right names.
FABRICATED = [
    '''
INITS = {'xavier': init.Xavier(), 'default': init.Uniform(0.07)}
INITS['he'] = init.MSRAPrelu(factor_type='in', slope=0.0)
tables = []
for name, initializer in INITS.items():
    mx.random.seed(0)
    net = utils.alexnet()
    net.initialize(initializer, ctx=ctx)
    tables.append(utils.layer_scales(net, X0, y0).assign(init=name))
scales = pd.concat(tables, ignore_index=True)
''',
    '''
first = scales[scales['layer'] == 1].set_index('init')['activation_std']
last = scales[scales['layer'] == 8].set_index('init')['activation_std']
ratio = last / first
shrinking_init, growing_init = ratio.idxmin(), ratio.idxmax()
''',
    '''
curve_nets = {}
for name, initializer in INITS.items():
    mx.random.seed(0)
    curve_nets[name] = utils.alexnet()
    curve_nets[name].initialize(initializer, ctx=ctx)
    curve_nets[name](X0)
starts = {'xavier': math.log(10), 'default': 8.0, 'he': 2.6}
curves = pd.DataFrame([dict(init=name, batch=b, loss=start - 0.001 * b,
                            train_acc=round(0.1 * settings.batch_size) / settings.batch_size)
                       for name, start in starts.items() for b in range(settings.curve_batches)])
''',
    '''
mx.random.seed(0)
blank_net = utils.alexnet()
blank_net.initialize(init.Xavier(), ctx=ctx)
blank_net(X0 * 0)
zero_image_losses = [math.log(10)] * settings.zero_batches
zero_image_weight_change = 0.0
zero_image_test_acc = 0.1
''',
]
# The training runs (q4: 3 points, q5: 3) it must lose; q1 and q2 (3 of 9 points) remain.
FABRICATED_LOSES = ['q4', 'q5']

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
parts, curve_nets = [], {}
for name, initializer in INITS.items():
    mx.random.seed(0)
    net = utils.alexnet()
    net.initialize(initializer, ctx=ctx)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': settings.learning_rate})
    part = utils.batch_losses(net, train_data, loss, trainer, ctx, settings.curve_batches)
    part['init'] = name
    parts.append(part)
    curve_nets[name] = net
curves = pd.concat(parts, ignore_index=True)
''',
    '''
class Blank:
    def __init__(self, data):
        self.data = data
    def __iter__(self):
        return ((nd.zeros_like(X), y) for X, y in self.data)

mx.random.seed(0)
blank_net = utils.alexnet()
blank_net.initialize(init.Xavier(), ctx=ctx)
blank_net(X0 * 0)
before = [p.data().asnumpy() for name, p in blank_net.collect_params().items() if name.endswith('weight')]
trainer = gluon.Trainer(blank_net.collect_params(), 'sgd', {'learning_rate': settings.learning_rate})
zero_curve = utils.batch_losses(blank_net, Blank(train_data), loss, trainer, ctx, settings.zero_batches)
zero_image_losses = zero_curve['loss'].astype(float).tolist()
after = [p.data().asnumpy() for name, p in blank_net.collect_params().items() if name.endswith('weight')]
zero_image_weight_change = float(max(np.abs(a - b).max() for a, b in zip(after, before)))
zero_image_test_acc = float(utils.evaluate_accuracy(Blank(test_data), blank_net, ctx))
''',
]
