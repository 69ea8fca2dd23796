"""Exercise 1: answer cells (in order) of a fabricated and of an alternative correct submission."""

# The attack of the grading issues: no training at all, histories typed to fit the grader's own
# settings (its epoch count; accuracies whole counts over the subsets' sizes; seconds x speed =
# the training images), fresh untrained networks under the right names, and everything read off
# the typed histories. It passes every public test.
FABRICATED = [
    '''
def made_up(accuracies):
    n_train, n_test = settings.train_examples or 60000, settings.test_examples or 10000
    rows = [dict(epoch=e + 1, loss=2.0 - 0.3 * e, train_acc=round(a * n_train) / n_train,
                 test_acc=round((a - 0.02) * n_test) / n_test, seconds=10.0,
                 examples_per_sec=n_train / 10.0) for e, a in enumerate(accuracies)]
    return pd.DataFrame(rows)
alexnet_history = made_up(np.linspace(0.5, 0.8, num_epochs))
lenet_history = made_up(np.linspace(0.6, 0.85, num_epochs))
mx.random.seed(0)
alexnet = utils.alexnet()
alexnet.initialize(init.Xavier())
alexnet(nd.zeros((1, 1, image_size, image_size)))
mx.random.seed(0)
lenet = utils.lenet()
lenet.initialize()
lenet(nd.zeros((1, 1, 28, 28)))
''',
    '''
gaps = {name: float(h['train_acc'].iloc[-1] - h['test_acc'].iloc[-1])
        for name, h in {'AlexNet': alexnet_history, 'LeNet': lenet_history}.items()}
''',
    '''
best_epoch = {name: int(h.loc[h['test_acc'].idxmax(), 'epoch'])
              for name, h in {'AlexNet': alexnet_history, 'LeNet': lenet_history}.items()}
''',
    '''
def count_parameters(net):
    return int(sum(p.data().size for p in net.collect_params().values()))

n_params = {'AlexNet': count_parameters(alexnet), 'LeNet': count_parameters(lenet)}
''',
]
# The questions whose point is a training run, which it must lose (q3 reads the history and q4
# counts parameters, which needs no training: 2 of 6 points remain, at most half).
FABRICATED_LOSES = ['q1', 'q2']

# Correct in other words: its own loaders (under the names the question asks for) and Trainer
# objects, init.Uniform(0.07) named for LeNet's default, numpy instead of pandas look-ups, the
# gaps re-scored in a loop, the last of several best epochs.
ALTERNATIVE = [
    '''
alexnet_train, alexnet_test = utils.load_data_fashion_mnist(
    settings.alexnet.batch_size, resize=settings.alexnet.resize, train_examples=settings.train_examples,
    test_examples=settings.test_examples, ctx=ctx)
lenet_train, lenet_test = utils.load_data_fashion_mnist(
    settings.lenet.batch_size, train_examples=settings.train_examples,
    test_examples=settings.test_examples, ctx=ctx)
mx.random.seed(0)
alexnet = utils.alexnet()
alexnet.initialize(init.Xavier(), ctx=ctx)
alexnet_trainer = gluon.Trainer(alexnet.collect_params(), 'sgd', {'learning_rate': settings.alexnet.learning_rate})
alexnet_history = utils.train(alexnet_train, alexnet_test, alexnet, loss, alexnet_trainer, ctx, num_epochs)
mx.random.seed(0)
lenet = utils.lenet()
lenet.initialize(init.Uniform(0.07), ctx=ctx)
lenet_trainer = gluon.Trainer(lenet.collect_params(), 'sgd', {'learning_rate': settings.lenet.learning_rate})
lenet_history = utils.train(lenet_train, lenet_test, lenet, loss, lenet_trainer, ctx, num_epochs)
utils.plot_history({'AlexNet': alexnet_history, 'LeNet': lenet_history});
''',
    '''
gaps = {}
for name, net, data, h in [('AlexNet', alexnet, alexnet_train, alexnet_history),
                           ('LeNet', lenet, lenet_train, lenet_history)]:
    gaps[name] = float(utils.evaluate_accuracy(data, net, ctx)) - float(h['test_acc'].to_numpy()[-1])
''',
    '''
best_epoch = {}
for name, h in [('AlexNet', alexnet_history), ('LeNet', lenet_history)]:
    acc = h['test_acc'].to_numpy()
    best_epoch[name] = int(h['epoch'].to_numpy()[np.flatnonzero(acc == acc.max())[-1]])
''',
    '''
def count_parameters(net):
    return int(np.sum([np.prod(p.shape) for p in net.collect_params().values()]))

n_params = {'AlexNet': count_parameters(alexnet), 'LeNet': count_parameters(lenet)}
''',
]
