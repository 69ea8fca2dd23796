"""utils.diagrams: block diagrams, feature-map pictures and the worked convolution/pooling figures."""
import matplotlib
import numpy as np
import pytest

matplotlib.use('Agg')

import utils  # noqa: E402

mx = utils.mx


def test_diagram_has_one_row_per_layer_plus_input():
    net = utils.lenet()
    ax = utils.draw_architecture(net, (1, 28, 28), title='LeNet')
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == len(net) + 1
    assert labels[0].startswith('input') and '1×28×28' in labels[0]
    assert labels[-1].startswith('Dense 10')
    fig = utils.compare_architectures({'LeNet': (utils.lenet(), (1, 28, 28)),
                                       'AlexNet': (utils.alexnet(), (1, 224, 224))})
    assert len(fig.axes) == 2
    matplotlib.pyplot.close('all')


def test_block_diagram_has_one_box_per_layer_and_the_shape_on_each_arrow():
    net = utils.lenet()
    ax = utils.draw_blocks(net, (1, 28, 28))
    texts = [t.get_text() for t in ax.texts if t.get_text()]   # (the arrows are empty texts)
    boxes, shapes = texts[0::2], texts[1::2]
    assert len(boxes) == len(net) + 1                      # the input image, then every layer
    assert boxes[1] == 'convolution 5×5, 20 channels, ReLU'
    assert boxes[2] == 'max-pooling 2×2, stride 2'
    assert shapes[:3] == ['1×28×28', '20×24×24', '20×12×12'] and shapes[-1] == '10'
    grouped = utils.draw_blocks(utils.alexnet_2012(), (3, 227, 227))
    assert sum('2 groups' in t.get_text() for t in grouped.texts) == 3
    matplotlib.pyplot.close('all')


def test_feature_map_picture_labels_each_stage_channels_at_height_by_width():
    ax = utils.draw_feature_maps(utils.lenet(), (1, 28, 28))
    labels = [t.get_text() for t in ax.texts]
    for stage in ('1@28×28', '20@24×24', '20@12×12', '50@10×10', '50@5×5', '128', '10'):
        assert stage in labels
    matplotlib.pyplot.close('all')


@pytest.mark.parametrize('padding, stride', [(0, 1), (1, 2), (2, 1)])
def test_the_convolution_figure_shows_what_a_gluon_layer_computes(padding, stride):
    from utils import diagrams
    rng = np.random.default_rng(padding + 10 * stride)
    x, kernel = rng.integers(-3, 4, (5, 5)), rng.integers(-2, 3, (3, 3))
    conv = mx.gluon.nn.Conv2D(1, kernel_size=3, padding=padding, strides=stride)
    conv.initialize()
    conv(mx.nd.zeros((1, 1, 5, 5)))
    conv.weight.set_data(mx.nd.array(kernel).reshape((1, 1, 3, 3)))
    conv.bias.set_data(mx.nd.zeros(1))
    by_gluon = conv(mx.nd.array(x).reshape((1, 1, 5, 5)))[0, 0].asnumpy()
    assert np.allclose(diagrams.correlate(x, kernel, padding, stride), by_gluon)
    fig = diagrams.draw_convolution(x, kernel, positions=[(0, 0), (1, 1)], padding=padding,
                                    stride=stride)
    sums = [t.get_text() for ax in fig.axes for t in ax.texts if ' = ' in t.get_text()]
    assert [float(s.rsplit('= ', 1)[1]) for s in sums] == [by_gluon[0, 0], by_gluon[1, 1]]
    matplotlib.pyplot.close('all')


def test_the_pooling_figure_keeps_the_largest_value_of_each_window():
    from utils import diagrams
    x = np.arange(16).reshape(4, 4)[::-1]
    fig = diagrams.draw_pooling(x, size=2, stride=2)
    values = [t.get_text() for t in fig.axes[0].texts]
    pooled = mx.gluon.nn.MaxPool2D(2, 2)(mx.nd.array(x).reshape((1, 1, 4, 4)))[0, 0].asnumpy()
    assert values[18:22] == [f'{v:g}' for v in pooled.ravel()]   # after 16 inputs, title, arrow
    matplotlib.pyplot.close('all')


def test_a_bar_diagram_on_its_own_says_what_a_bars_length_means():
    ax = utils.draw_architecture(utils.lenet(), (1, 28, 28))
    assert any('bar length: log of how many numbers' in t.get_text() for t in ax.figure.texts)
    matplotlib.pyplot.close('all')


def test_batch_curves_plot_every_batch_and_blank_images_keep_the_labels():
    import pandas as pd
    from utils import diagnostics
    batches = [(mx.nd.ones((2, 1, 4, 4)) * k, mx.nd.array([k, k + 1])) for k in range(3)]
    blank = diagnostics.BlankImages(batches)
    assert len(blank) == 3
    for (X, y), (X0, y0) in zip(batches, blank):
        assert X0.shape == X.shape and X0.abs().sum().asscalar() == 0
        assert (y0 == y).min().asscalar() == 1
    curve = pd.DataFrame({'batch': [0, 1, 2], 'loss': [2.3, 2.1, 1.9], 'train_acc': [.1, .2, .4]})
    fig = diagnostics.plot_batch_curves({'real': curve, 'blank': curve}, reference=np.log(10))
    loss_axes = fig.axes[0]
    assert [list(line.get_xdata()) for line in loss_axes.lines[:2]] == [[1, 2, 3]] * 2
    assert [t.get_text() for t in loss_axes.get_legend().get_texts()] == ['real', 'blank', '2.303']
    matplotlib.pyplot.close('all')


def test_a_block_diagram_says_how_to_read_the_shapes_on_its_arrows():
    for fig in (utils.draw_blocks(utils.lenet(), (1, 28, 28)).figure,
                utils.compare_blocks({'LeNet': (utils.lenet(), (1, 28, 28))})):
        assert any('channels×height×width' in t.get_text() for t in fig.texts)
    matplotlib.pyplot.close('all')
