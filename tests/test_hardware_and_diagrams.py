"""utils.hardware measurements and utils.diagrams figures (small sizes: these run in seconds)."""
import matplotlib
import pytest

matplotlib.use('Agg')

import utils  # noqa: E402

mx = utils.mx


def test_measurements_are_positive_rates():
    assert utils.matmul_flops(n=128, repeats=2) > 1e6
    assert utils.memory_bandwidth(megabytes=4, repeats=2) > 1e6
    info = utils.cpu_info()
    assert info['logical_cores'] >= 1 and info['memory_gb'] > 0
    assert utils.gpu_info(mx.cpu()) is None
    with pytest.raises(ValueError, match='positive'):
        utils.matmul_flops(n=0)


def test_training_speed_leaves_the_weights_alone():
    net = utils.lenet()
    net.initialize()
    net(mx.nd.zeros((1, 1, 28, 28)))
    before = {k: p.data().copy() for k, p in net.collect_params().items()}
    assert utils.training_speed(net, (1, 28, 28), batch_size=8, steps=1) > 0
    for k, p in net.collect_params().items():
        assert (p.data() == before[k]).min().asscalar() == 1, k


def test_diagram_has_one_row_per_layer_plus_input():
    net = utils.lenet()
    ax = utils.draw_architecture(net, (1, 28, 28), title='LeNet')
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == len(net) + 1
    assert labels[0].startswith('Input') and '1×28×28' in labels[0]
    assert labels[-1].startswith('Dense 10')
    fig = utils.compare_architectures({'LeNet': (utils.lenet(), (1, 28, 28)),
                                       'AlexNet': (utils.alexnet(), (1, 224, 224))})
    assert len(fig.axes) == 2
    matplotlib.pyplot.close('all')
