import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from offline_data import fashion_mnist_dir

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('COURSE_PROFILE', 'smoke')
SHARED_DATA = fashion_mnist_dir()


@pytest.fixture
def real_data_dir():
    if not (SHARED_DATA / 'train-images-idx3-ubyte.gz').exists():
        pytest.fail(f"offline Fashion-MNIST not found at {SHARED_DATA}; set FASHION_MNIST_DIR")
    return SHARED_DATA


def idx_bytes(array, magic):
    """An IDX file (uncompressed bytes) holding `array` (uint8)."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack('>I', magic) + b''.join(struct.pack('>I', d) for d in array.shape)
    return header + array.tobytes()


def write_fake_fashion_mnist(folder, n_train=40, n_test=24, seed=0):
    """Four small but well-formed Fashion-MNIST files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (('train', n_train), ('t10k', n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        (folder / f'{prefix}-images-idx3-ubyte.gz').write_bytes(gzip.compress(idx_bytes(images, 2051)))
        (folder / f'{prefix}-labels-idx1-ubyte.gz').write_bytes(gzip.compress(idx_bytes(labels, 2049)))
        arrays[prefix] = (images, labels)
    return arrays


@pytest.fixture
def fake_data_dir(tmp_path):
    folder = tmp_path / 'fmnist'
    arrays = write_fake_fashion_mnist(folder)
    return folder, arrays


# Lanes. `bash scripts/test.sh` runs everything; `bash scripts/test.sh -m "not slow and not book"`
# is the developer's fast lane. Markers are given here, from what a test uses, so that a new test
# lands in the right lane without remembering to mark it.
BOOK_FIXTURES = {'built_site', 'built_html', 'pdfs'}       # build the whole book (minutes)
SLOW_MODULES = (  # run notebooks in the grader's sandbox, train networks or create environments
    'test_exercises', 'test_grade', 'test_grading_hostile', 'test_class_workflow',
    'test_modern_python', 'test_zh_exercise', 'test_grading_engines', 'test_sandbox',
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BOOK_FIXTURES & set(getattr(item, 'fixturenames', ())):
            item.add_marker(pytest.mark.book)
        module = item.module.__name__.rsplit('.', 1)[-1]
        if module.startswith(SLOW_MODULES):  # test_sandbox_*.py included
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope='session')
def tiny_assignment(tmp_path_factory):
    """(student notebook, autograder zip path) of tests/submissions/tiny_master.ipynb: an
    assignment whose notebooks run in seconds, for the grader's tests."""
    import nbformat
    from scripts import make_exercises
    student, zip_bytes = make_exercises.build(ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb')
    zip_path = tmp_path_factory.mktemp('tiny-assignment') / 'tiny.zip'
    zip_path.write_bytes(zip_bytes)
    return nbformat.reads(student, as_version=4), zip_path
