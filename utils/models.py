"""The networks the course traces: LeNet, the course's AlexNet, and AlexNet as the 2012 paper built it.

They are HybridSequential, so `net.hybridize()` can compile them; the original tutorial's
`nn.Sequential` works with `utils` too."""
from .compat import import_mxnet

mx = import_mxnet()
nn = mx.gluon.nn


def lenet():
    """The ReLU LeNet of the original Gluon tutorials: two conv+pool stages, one hidden dense layer."""
    net = nn.HybridSequential()
    net.add(nn.Conv2D(channels=20, kernel_size=5, activation='relu'),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Conv2D(channels=50, kernel_size=3, activation='relu'),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Flatten(),
            nn.Dense(128, activation='relu'),
            nn.Dense(10))
    return net


def alexnet(num_classes=10, groups=1):
    """The simplified 8-layer AlexNet of the original tutorial (one GPU, no local response norm)."""
    # groups=2 splits convolutions 2, 4 and 5 as the 2012 paper's two GPUs did (alexnet_2012)
    net = nn.HybridSequential()
    net.add(
        # stage 1: large 11x11 kernels with stride 4 shrink 224x224 inputs quickly
        nn.Conv2D(channels=96, kernel_size=11, strides=4, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        # stage 2
        nn.Conv2D(channels=256, kernel_size=5, padding=2, groups=groups, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        # stage 3: three 3x3 convolutions
        nn.Conv2D(channels=384, kernel_size=3, padding=1, activation='relu'),
        nn.Conv2D(channels=384, kernel_size=3, padding=1, groups=groups, activation='relu'),
        nn.Conv2D(channels=256, kernel_size=3, padding=1, groups=groups, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        # stages 4-6: two wide dense layers with dropout, then the classifier
        nn.Flatten(),
        nn.Dense(4096, activation='relu'), nn.Dropout(0.5),
        nn.Dense(4096, activation='relu'), nn.Dropout(0.5),
        nn.Dense(num_classes))
    return net


def alexnet_2012(num_classes=1000):
    """AlexNet's layers as the 2012 paper trained them on two GPUs, for counting (input 3x227x227).

    Each GPU held half of every layer's filters. The second, fourth and fifth convolutions saw only
    the half of their input that sat on their own GPU: that is a grouped convolution with
    `groups=2` (each half of the filters is connected to one half of the input channels, so those
    layers have half the weights of an ungrouped one). The first and third convolutions and the
    dense layers were connected to all of their input. Local response normalisation (no
    parameters, no effect on the counts) is left out, as in the course's network.
    """
    return alexnet(num_classes, groups=2)
