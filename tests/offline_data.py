"""Where the developers' offline copy of Fashion-MNIST is: the tests' and the benchmarks' rule.

$FASHION_MNIST_DIR when set, else ../shared/fashion-mnist beside the checkout (the development
machine's layout; scripts/common.sh is the same rule for the shell scripts). Nothing shipped guesses
this folder: the notebooks and the grader read FASHION_MNIST_DIR or download (README, "Data")."""
import os
from pathlib import Path

BESIDE_THE_CHECKOUT = Path(__file__).resolve().parents[2] / 'shared' / 'fashion-mnist'


def fashion_mnist_dir():
    """The folder (a Path, which may not exist)."""
    return Path(os.environ.get('FASHION_MNIST_DIR') or BESIDE_THE_CHECKOUT)
