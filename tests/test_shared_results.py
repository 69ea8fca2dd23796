"""utils.shared_results: the book build trains and measures once; the second edition reads it back.

Each run below is a fresh Python process, as each edition's notebook is a fresh kernel.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A notebook in miniature: train LeNet, measure a speed, draw random numbers afterwards.
RUN = r'''
import json, sys
import utils  # run in the repository root
from utils.i18n import use_language
use_language(sys.argv[1])
from mxnet import gluon, init
train_data, test_data = utils.load_data_fashion_mnist(8, train_examples=40, test_examples=24)
net = utils.lenet()
net.initialize(init.Xavier())
trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
history = utils.train(train_data, test_data, net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer,
                      utils.mx.cpu(), 2, progress=False)
curve_net = utils.lenet()
curve_net.initialize(init.Xavier())
curve_trainer = gluon.Trainer(curve_net.collect_params(), 'sgd', {'learning_rate': 0.1})
curve = utils.batch_losses(curve_net, utils.diagnostics.BlankImages(train_data),
                           gluon.loss.SoftmaxCrossEntropyLoss(), curve_trainer, utils.mx.cpu(), 3)
print(json.dumps({
    'curve': curve.to_dict('records'),
    'curve_weights': float(curve_net[0].weight.data().sum().asscalar()),
    'history': history.to_dict('records'),
    'weights': float(net[0].weight.data().sum().asscalar()),
    'matmul': utils.matmul_flops(n=64, repeats=1),
    'after': utils.mx.nd.random.uniform(shape=(3,)).asnumpy().tolist(),
    'load': list(utils.shared_results.last_load()),
}))
'''


def run(lang, data_dir, shared=None):
    env = dict(os.environ, FASHION_MNIST_DIR=str(data_dir), COURSE_PROGRESS='0')
    env.pop('COURSE_SHARED_RESULTS', None)
    if shared is not None:
        env['COURSE_SHARED_RESULTS'] = str(shared)
    done = subprocess.run([sys.executable, '-c', RUN, lang], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    *printed, result = done.stdout.strip().splitlines()
    return printed, json.loads(result)


def test_the_second_edition_shows_the_first_editions_numbers_in_its_own_language(fake_data_dir,
                                                                                tmp_path):
    data_dir, _ = fake_data_dir
    shared = tmp_path / 'shared'
    english_lines, english = run('en', data_dir, shared)
    chinese_lines, chinese = run('zh', data_dir, shared)
    # the same epochs to the last digit, wall-clock seconds included: trained once, not twice
    assert chinese['history'] == english['history']
    assert chinese['weights'] == english['weights']          # the trained network came back
    assert chinese['matmul'] == english['matmul']            # a speed measured once
    assert chinese['load'] == english['load']                # with the load it was measured at
    assert chinese['after'] == english['after']              # later random draws agree too
    assert chinese['curve'] == english['curve'] and len(chinese['curve']) == 3
    assert chinese['curve_weights'] == english['curve_weights']
    assert english_lines[-1].startswith('Epoch 2. Loss:')
    assert chinese_lines[-1].startswith('迭代周期 2。损失：') and '，' in chinese_lines[-1]
    assert sorted(p.suffix for p in shared.iterdir()) == ['.params', '.params', '.pkl', '.pkl',
                                                          '.pkl', '.states', '.states']


def test_without_the_build_every_run_computes_and_nothing_is_kept(fake_data_dir, tmp_path):
    data_dir, _ = fake_data_dir
    _, first = run('en', data_dir)
    _, second = run('en', data_dir)
    assert first['history'][0]['seconds'] != second['history'][0]['seconds']
    assert len(first['load']) == 2 and first['load'][1] >= 1


def test_the_two_editions_path_lines_compare_equal_whatever_comment_they_carry():
    """The key of a shared result includes the code run so far; the English and Chinese notebooks
    differ only in their path line (the Chinese one carries a comment in Chinese), which must not
    make the Chinese pass miss the English pass's results."""
    import json
    from utils import shared_results
    def import_cell(path):
        cells = json.loads((ROOT / path).read_text(encoding='utf-8'))['cells']
        return ''.join([c for c in cells if c['cell_type'] == 'code'][1]['source'])
    english, chinese = import_cell('notebooks/01_lenet.ipynb'), import_cell('notebooks/zh/01_lenet.ipynb')
    assert english != chinese
    assert shared_results.same_in_both_editions(chinese) == shared_results.same_in_both_editions(english)
