"""The two networks the course traces, LeNet and AlexNet, as the chapters define them.

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


def alexnet(num_classes=10):
    """The simplified 8-layer AlexNet of the original tutorial (one GPU, no local response norm)."""
    net = nn.HybridSequential()
    net.add(
        # stage 1: large 11x11 kernels with stride 4 shrink 224x224 inputs quickly
        nn.Conv2D(channels=96, kernel_size=11, strides=4, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        # stage 2
        nn.Conv2D(channels=256, kernel_size=5, padding=2, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        # stage 3: three 3x3 convolutions
        nn.Conv2D(channels=384, kernel_size=3, padding=1, activation='relu'),
        nn.Conv2D(channels=384, kernel_size=3, padding=1, activation='relu'),
        nn.Conv2D(channels=256, kernel_size=3, padding=1, activation='relu'),
        nn.MaxPool2D(pool_size=3, strides=2),
        # stages 4-6: two wide dense layers with dropout, then the classifier
        nn.Flatten(),
        nn.Dense(4096, activation='relu'), nn.Dropout(0.5),
        nn.Dense(4096, activation='relu'), nn.Dropout(0.5),
        nn.Dense(num_classes))
    return net
