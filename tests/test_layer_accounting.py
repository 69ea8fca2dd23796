"""utils.layer_table / flops_per_image: shapes, parameter counts and FLOPs read from the network."""
import numpy as np
import pytest

import utils

mx = utils.mx
nn = mx.gluon.nn


def _initialized_param_count(net, input_shape):
    net.initialize()
    net(mx.nd.zeros((1,) + input_shape))
    return sum(p.data().size for p in net.collect_params().values())


def test_table_matches_a_real_forward_pass():
    net = utils.lenet()
    table = utils.layer_table(net, (1, 28, 28))
    assert list(table.columns) == ['layer', 'output_shape', 'params', 'flops']
    assert len(table) == len(net)
    # the traced net stays uninitialized, so the usual initialize() still works afterwards
    assert table['params'].sum() == _initialized_param_count(net, (1, 28, 28))
    out = net(mx.nd.zeros((3, 1, 28, 28)))
    assert table['output_shape'].iloc[-1] == out.shape[1:]


def test_conv_and_dense_flops_are_two_per_multiply_add():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, kernel_size=3, padding=1), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(5))
    table = utils.layer_table(net, (2, 8, 8))
    conv = 2 * (2 * 3 * 3) * (4 * 8 * 8)
    dense = 2 * (4 * 4 * 4) * 5
    assert table['flops'].tolist() == [conv, 0, 0, dense]
    assert table['params'].tolist() == [4 * 2 * 9 + 4, 0, 0, 64 * 5 + 5]
    assert utils.flops_per_image(net, (2, 8, 8)) == conv + dense
    # a batch axis in input_shape is ignored: the numbers are per image
    assert utils.flops_per_image(net, (16, 2, 8, 8)) == conv + dense


def test_alexnet_at_224_and_smaller_inputs():
    net = utils.alexnet()
    table = utils.layer_table(net, (1, 224, 224))
    assert table['output_shape'].iloc[0] == (96, 54, 54)
    assert table['output_shape'].iloc[-1] == (10,)
    assert 1.8e9 < table['flops'].sum() < 1.95e9
    assert utils.flops_per_image(net, (1, 96, 96)) < table['flops'].sum() / 5
    with pytest.raises(ValueError, match='67x67'):
        utils.layer_table(utils.alexnet(), (1, 28, 28))


def test_nested_sequential_and_plain_blocks():
    inner = nn.Sequential()
    inner.add(nn.Dense(8, activation='relu'), nn.Dense(3))
    net = nn.Sequential()
    net.add(nn.Flatten(), inner)
    table = utils.layer_table(net, (1, 4, 4))
    assert table['layer'].tolist() == ['Flatten', 'Dense 8, relu', 'Dense 3']
    assert table['params'].tolist() == [0, 16 * 8 + 8, 8 * 3 + 3]


def test_bad_input_shape_is_explained():
    with pytest.raises(ValueError, match='one example'):
        utils.layer_table(utils.lenet(), (0, 28))


def test_the_2012_alexnet_has_the_papers_grouped_convolutions_and_61_million_parameters():
    paper = utils.layer_table(utils.alexnet_2012(), (3, 227, 227))
    ungrouped = utils.layer_table(utils.alexnet(num_classes=1000), (3, 227, 227))
    assert paper['output_shape'].tolist() == ungrouped['output_shape'].tolist()
    assert paper['output_shape'].iloc[0] == (96, 55, 55)       # the paper's first layer
    # 60,965,224: the count of the two-GPU network (e.g. Caffe's bvlc_alexnet without LRN)
    assert paper['params'].sum() == 60_965_224
    grouped = paper['layer'].str.contains('2 groups')
    assert grouped.tolist() == [False, False, True, False, False, True, True] + [False] * 7
    # a grouped layer has half the weights (biases stay) and half the multiply-adds
    for i in np.flatnonzero(grouped):
        channels = paper['output_shape'].iloc[i][0]
        assert paper['params'].iloc[i] - channels == (ungrouped['params'].iloc[i] - channels) / 2
        assert paper['flops'].iloc[i] == ungrouped['flops'].iloc[i] / 2
