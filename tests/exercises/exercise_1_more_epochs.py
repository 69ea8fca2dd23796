"""Exercise 1: answer cells (in order) of a fabricated and of an alternative correct submission."""

# The attack of the grading issue: one epoch instead of the profile's, no training at all,
# hand-written histories that pass every public test.
FABRICATED = [
    '''
num_epochs = 1
def made_up(accuracy):
    return pd.DataFrame({'epoch': [0], 'loss': [0.5], 'train_acc': [accuracy],
                         'test_acc': [accuracy - 0.02], 'seconds': [30.0], 'examples_per_sec': [2000.0]})
alexnet_history, lenet_history = made_up(0.91), made_up(0.88)
alexnet, lenet = utils.alexnet(), utils.lenet()
alexnet.initialize(init.Xavier())
lenet.initialize()
alexnet(nd.zeros((1, 1, image_size, image_size)))
lenet(nd.zeros((1, 1, 28, 28)))
''',
    '''
gaps = {'AlexNet': 0.02, 'LeNet': 0.02}
''',
    '''
best_epoch = {'AlexNet': 0, 'LeNet': 0}
''',
    '''
def count_parameters(net):
    return int(sum(p.data().size for p in net.collect_params().values()))

n_params = {'AlexNet': count_parameters(alexnet), 'LeNet': count_parameters(lenet)}
''',
]
# the question it must lose points on (q2-q4 only read the histories, which it keeps consistent;
# q4's parameter count needs no training)
FABRICATED_LOSES = ['q1']

# Correct in other words: its own loaders and Trainer objects, numpy instead of pandas
# look-ups, the last of several best epochs.
ALTERNATIVE = [
    '''
alexnet_train, alexnet_test = utils.load_data_fashion_mnist(
    settings.alexnet_batch, resize=settings.image_size, train_examples=settings.train_examples,
    test_examples=settings.test_examples, ctx=ctx)
lenet_train, lenet_test = utils.load_data_fashion_mnist(
    settings.lenet_batch, train_examples=settings.train_examples,
    test_examples=settings.test_examples, ctx=ctx)
mx.random.seed(0)
alexnet = utils.alexnet()
alexnet.initialize(init.Xavier(), ctx=ctx)
alexnet_trainer = gluon.Trainer(alexnet.collect_params(), 'sgd', {'learning_rate': settings.alexnet_lr})
alexnet_history = utils.train(alexnet_train, alexnet_test, alexnet, loss, alexnet_trainer, ctx, num_epochs)
mx.random.seed(0)
lenet = utils.lenet()
lenet.initialize(init.Uniform(0.07), ctx=ctx)
lenet_trainer = gluon.Trainer(lenet.collect_params(), 'sgd', {'learning_rate': settings.lenet_lr})
lenet_history = utils.train(lenet_train, lenet_test, lenet, loss, lenet_trainer, ctx, num_epochs)
utils.plot_history({'AlexNet': alexnet_history, 'LeNet': lenet_history});
''',
    '''
gaps = {}
for name, h in [('AlexNet', alexnet_history), ('LeNet', lenet_history)]:
    gaps[name] = float(h['train_acc'].to_numpy()[-1]) - float(h['test_acc'].to_numpy()[-1])
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
