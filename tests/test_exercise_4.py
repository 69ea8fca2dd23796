"""Exercise 4 (AlexNet from scratch): the static check of submitted code (utils/answer_checks.py)
and the MXNet gradient bug that utils/diagnostics.py works around."""
import importlib.util

import numpy as np
import pytest

from conftest import ROOT


def test_the_code_check_follows_helpers_aliases_and_imports_not_local_names_or_data():
    from utils.answer_checks import forbidden_uses, tampering
    cells = ['from mxnet import nd, gluon\nimport numpy as np\np = 3\nlayer = {}',
             'from mxnet.ndarray import FullyConnected as fc\n'
             'def dense(h, W, b):\n    return fc(h, W, b, num_hidden=W.shape[0])\n'
             'def net(X, params):\n    for p in params:\n        X = dense(X, p, p)\n'
             "    return X if layer['dropout'] else [q for q in X]",
             'def clean(X):\n    return nd.relu(X)\n']
    found = forbidden_uses(cells, ['net'], names=['gluon'], attributes=['FullyConnected', 'dropout'])
    assert found == ['code cell 2, line 1: uses FullyConnected (in what net depends on)']
    assert forbidden_uses(cells, ['clean'], names=['gluon'], attributes=['FullyConnected']) == []
    assert tampering(cells) == []
    sneaky = ["nd.relu = lambda x: x", "exec('x = 1')", "import importlib", "f = getattr(nd, name)",
              "g = nd.__dict__['relu']", 'del np.dot', '%time x = 1\nsetattr(nd, "relu", 1)']
    assert [len(tampering([c])) for c in sneaky] == [1] * len(sneaky)
    assert tampering(['this is not python (']) == []


# ----------------------------------------------------------------------------- MXNet itself

def test_maxpool_not_convolution_gives_wrong_gradients_in_prediction_mode():
    """The reason utils/diagnostics.py records in training mode (benchmarks/maxpool_gradient.py)."""
    spec = importlib.util.spec_from_file_location('maxpool_gradient', ROOT / 'benchmarks' / 'maxpool_gradient.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = {name: errors for name, *errors in module.measure()}
    assert set(rows) == {'max pooling', 'convolution', 'relu'}
    for name, (train_error, predict_error, spread) in rows.items():
        assert train_error < 1e-4, name
        if name != 'max pooling':
            assert predict_error < 1e-4 and spread == 0, name
    assert rows['max pooling'][1] >= 1, 'MXNet fixed max pooling: utils/diagnostics.py can drop its workaround'
    source = (ROOT / 'utils' / 'diagnostics.py').read_text()
    assert 'max pooling' in source and 'benchmarks/maxpool_gradient.py' in source
    assert np.isfinite([v for errors in rows.values() for v in errors]).all()
