"""The exercise notebooks: generated from the masters, free of solutions, and solvable.

The slow tests grade, with `python -m grading` under the smoke profile, each master's solutions
filled into the generated student notebook (full marks, status ok, every `grader.check` cell
passed), the alternative correct answers of tests/exercises/<name>.py (full marks) and its
fabricated submission (every public test passes, yet it loses points on the hidden tests; for
exercises 1-3, whose hidden tests re-score the networks the grader's probe exports, it keeps at
most half the points).
"""
import csv
import importlib
import json
import html as html_module
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import ROOT, SHARED_DATA
from submissions.suite import solution_answers, with_answers

from scripts import make_exercises

from grading import grade

MASTERS = sorted((ROOT / 'instructors' / 'masters').glob('*.ipynb'))
NAMES = [m.stem for m in MASTERS]
EXPECTED = ['exercise_1_more_epochs', 'exercise_2_initialization',
            'exercise_3_lenet_hyperparameters', 'exercise_4_alexnet_from_scratch']


def student(name):
    return nbformat.read(ROOT / 'notebooks' / f'{name}.ipynb', as_version=4)


def test_the_four_exercises_have_masters_students_and_autograders():
    assert NAMES == EXPECTED
    for name in NAMES:
        assert (ROOT / 'notebooks' / f'{name}.ipynb').is_file()
        assert (ROOT / 'instructors' / 'autograder' / f'{name}.zip').is_file()
    readme = (ROOT / 'instructors' / 'README.md').read_text()
    assert 'instructors' in readme.lower() and 'python -m scripts.make_exercises' in readme


def test_committed_student_notebooks_and_autograders_are_up_to_date():
    done = subprocess.run([sys.executable, '-m', 'scripts.make_exercises', '--check'], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize('name', EXPECTED)
def test_autograder_zips_are_for_this_grader_only(name):
    """No Gradescope look-alike: without otter's run_autograder/setup.sh/environment, and saying so."""
    import zipfile
    with zipfile.ZipFile(ROOT / 'instructors' / 'autograder' / f'{name}.zip') as zf:
        names = zf.namelist()
        readme = zf.read('README.txt').decode()
    extra = [n for n in names if not (n.startswith('tests/') and n.endswith('.py'))
             and n not in ('README.txt', 'course_questions.json', 'otter_config.json', 'probe.py')]
    assert not extra, extra
    assert 'not a Gradescope' in readme and 'python -m grading' in readme
    assert any(n.startswith('tests/q') for n in names)


@pytest.mark.parametrize('name', EXPECTED)
def test_hidden_tests_read_the_graders_settings_not_the_notebooks(name):
    """A submission's own settings variables (num_epochs = 1 ...) must not decide a hidden test:
    hidden tests use `course_settings`, which the grader builds from utils/settings.py."""
    assignment = grade.find_assignment(name)
    uses = 0
    for q, spec in assignment.tests.items():
        for case in spec['suites'][0]['cases']:
            if not case.get('hidden'):
                continue
            code = re.sub(r'#[^\n]*', '', case['code'])
            uses += code.count('course_settings.')
            code = re.sub(r'course_settings\.\w+', '', code)
            assert not re.search(r'\b(num_epochs|image_size|settings)\b', code), (q, case['code'])
    assert uses >= 2
    import utils
    for profile in ('smoke', 'cpu', 'full'):  # what the grader reads is what the notebook ran with
        assert vars(grade.course_settings(name, profile)) == vars(utils.settings_for(name, profile))
    assert grade.course_settings('not_an_exercise', 'smoke') is None


def _tiny_master_with(tmp_path, probe_source, position=None):
    master = nbformat.read(ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb', as_version=4)
    probe = nbformat.v4.new_code_cell(probe_source)
    probe.metadata['tags'] = [make_exercises.PROBE_TAG]
    master.cells.insert(len(master.cells) if position is None else position, probe)
    path = tmp_path / 'tiny_master.ipynb'  # the same name: the same cell ids
    nbformat.write(master, path)
    return path


def test_a_grader_probe_cell_goes_into_the_autograder_and_never_to_the_student(tmp_path):
    import zipfile
    import io
    source = "EVIDENCE_TOTAL_SEEN_BY_THE_PROBE = globals().get('total')\n"
    student_text, zip_bytes = make_exercises.build(_tiny_master_with(tmp_path, source))
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        assert zf.read('probe.py').decode() == source
    assert 'EVIDENCE_TOTAL_SEEN_BY_THE_PROBE' not in student_text
    assert make_exercises.PROBE_TAG not in student_text
    # without a probe cell, no probe.py
    plain_text, plain_zip = make_exercises.build(ROOT / 'tests' / 'submissions' / 'tiny_master.ipynb')
    with zipfile.ZipFile(io.BytesIO(plain_zip)) as zf:
        assert 'probe.py' not in zf.namelist()
    assert nbformat.reads(plain_text, 4).cells == nbformat.reads(student_text, 4).cells


def test_a_grader_probe_inside_a_question_or_not_python_is_refused(tmp_path):
    with pytest.raises(SystemExit, match='inside a question'):
        make_exercises.build(_tiny_master_with(tmp_path, 'x = 1\n', position=6))
    with pytest.raises(SystemExit, match='not valid Python'):
        make_exercises.build(_tiny_master_with(tmp_path, 'x = (\n'))


def test_generation_is_deterministic():
    first = make_exercises.build(MASTERS[0])
    second = make_exercises.build(MASTERS[0])
    assert first == second


@pytest.mark.parametrize('name', EXPECTED)
def test_student_notebook_has_no_solutions_and_is_ready_to_hand_out(name):
    master = nbformat.read(ROOT / 'instructors' / 'masters' / f'{name}.ipynb', as_version=4)
    text = (ROOT / 'notebooks' / f'{name}.ipynb').read_text()
    fragments = make_exercises.solution_fragments(master)
    assert len(fragments) >= 5, 'the master should have solutions to hide'
    assert not [f for f in fragments if f in text]
    assert 'BEGIN SOLUTION' not in text and '# SOLUTION' not in text
    nb = student(name)
    code = [c for c in nb.cells if c.cell_type == 'code']
    assert 'colab-setup' in code[0].metadata.get('tags', [])
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata['mystnb']['execution_mode'] == 'off'  # the site shows it unexecuted
    questions = make_exercises.questions_of(master)
    for q in questions:
        if not q['manual']:
            assert any(c.source.strip() == f'grader.check("{q["name"]}")' for c in code), q
    assert any(q['manual'] for q in questions) and any(not q['manual'] for q in questions)


def test_book_never_builds_the_masters():
    config = yaml.safe_load((ROOT / '_config.yml').read_text())
    assert 'instructors' in config.get('exclude_patterns', [])
    toc = (ROOT / '_toc.yml').read_text()
    assert 'instructors' not in toc


def test_public_tests_run_from_the_notebook_with_otter(tmp_path, monkeypatch):
    """grader.check works from the generated cell alone (no notebook file, as on Colab)."""
    monkeypatch.chdir(tmp_path)
    nb = student('exercise_4_alexnet_from_scratch')
    cell = next(c for c in nb.cells if 'exercise-checker' in c.metadata.get('tags', []))
    import utils
    scope = {'utils': utils}
    exec(cell.source, scope)
    grader = scope['grader']
    import numpy as np
    env = {'np': np, 'dropout_sample': np.where(np.random.default_rng(0).random((200, 500)) < 0.5, 0.0, 2.0)}
    assert grader.check('q2', env).grade == 1
    env['dropout_sample'] = np.ones((200, 500))  # one of q2's four public tests passes: the shape
    assert grader.check('q2', env).grade == pytest.approx(0.25)
    assert list(tmp_path.iterdir()) == [], 'checking must not write files next to the notebook'


KINDS = ('solved', 'alternative', 'fabricated')


def submission_answers(name, kind):
    """Answer cells of one kind of submission: the master's solutions, or tests/exercises/<name>.py's
    ALTERNATIVE (correct in other words) or FABRICATED (right types, no training)."""
    if kind == 'solved':
        return solution_answers(name)
    return [a.strip('\n') for a in getattr(importlib.import_module(f'exercises.{name}'), kind.upper())]


def graded_rows(folder):
    """{submission file name: grades.csv row} (other rows, such as points possible, left out)."""
    with open(folder / 'grades.csv', newline='') as f:
        return {r['submission']: r for r in csv.DictReader(f) if r['submission'].endswith('.ipynb')}


@pytest.fixture(scope='module')
def graded_solutions(tmp_path_factory):
    """Grade, for each exercise, the solved, alternative and fabricated submissions under the smoke
    profile (one exercise at a time, two notebooks at once: most of the time is training)."""
    base = tmp_path_factory.mktemp('solutions')
    results = {}
    for name in EXPECTED:
        folder = base / name
        folder.mkdir()
        for kind in KINDS:
            nb = with_answers(student(name), submission_answers(name, kind))
            nbformat.write(nb, folder / f'{kind}.ipynb')
        env = dict(os.environ, FASHION_MNIST_DIR=str(SHARED_DATA))
        cmd = [sys.executable, '-m', 'grading', name, str(folder), '--out', str(base / f'{name}-out'),
               '--profile', 'smoke', '--cell-timeout', '300', '--timeout', '600', '--jobs', '2']
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=1800)
        results[name] = (done.returncode, done.stdout, base / f'{name}-out')
    return results


@pytest.mark.parametrize('name', EXPECTED)
def test_master_solutions_get_full_marks_under_smoke(graded_solutions, name):
    code, out, folder = graded_solutions[name]
    assert code == 0, out[-3000:]
    row = graded_rows(folder)['solved.ipynb']
    feedback = (folder / 'feedback' / 'solved.md').read_text()
    assert row['status'] == 'ok', (row, feedback)
    assert float(row['score']) == float(row['max_score']) > 0, feedback
    assignment = grade.find_assignment(name)
    assert [q for q in assignment.auto] and assignment.manual
    executed = nbformat.read(folder / 'executed' / 'solved.ipynb', as_version=4)
    checks = [c for c in executed.cells if c.cell_type == 'code' and c.source.startswith('grader.check(')]
    assert len(checks) == len(assignment.auto)
    for cell in checks:
        shown = json.dumps(cell.outputs)
        assert 'passed' in shown and 'failed' not in shown, (cell.source, shown[:1000])


@pytest.mark.parametrize('name', EXPECTED)
def test_alternative_correct_answers_get_full_marks(graded_solutions, name):
    """Hidden tests must not reject a correct answer for being written differently (e.g.
    exercise 2: init.Normal(0.01), which shrinks more than Xavier, as the shrinking initializer)."""
    code, out, folder = graded_solutions[name]
    row = graded_rows(folder)['alternative.ipynb']
    feedback = (folder / 'feedback' / 'alternative.md').read_text()
    assert row['status'] == 'ok', (row, feedback)
    assert float(row['score']) == float(row['max_score']) > 0, feedback


@pytest.mark.parametrize('name', EXPECTED)
def test_fabricated_answers_do_not_reach_full_marks(graded_solutions, name):
    """Right types, no training, numbers written by hand: every public test passes, and the hidden
    tests (which read the grader's own settings, never the notebook's) take points away."""
    code, out, folder = graded_solutions[name]
    row = graded_rows(folder)['fabricated.ipynb']
    feedback = (folder / 'feedback' / 'fabricated.md').read_text()
    assert row['status'] == 'ok', (row, feedback)
    assert float(row['score']) < float(row['max_score']), feedback
    assignment = grade.find_assignment(name)
    for q in importlib.import_module(f'exercises.{name}').FABRICATED_LOSES:
        assert float(row[q]) < assignment.possible[q], (q, row, feedback)
    executed = nbformat.read(folder / 'executed' / 'fabricated.ipynb', as_version=4)
    checks = [c for c in executed.cells if c.cell_type == 'code' and c.source.startswith('grader.check(')]
    assert all('failed' not in json.dumps(c.outputs) for c in checks), 'the public tests all pass'


@pytest.mark.parametrize('name', EXPECTED)  # exercise 4: its probe and code check
def test_fabricated_training_runs_score_at_most_half_of_the_auto_graded_points(graded_solutions, name):
    """Typed histories and curves that fit the grader's settings, no training: the hidden tests
    recompute from the notebook's exported networks, so at most half the points remain."""
    code, out, folder = graded_solutions[name]
    row = graded_rows(folder)['fabricated.ipynb']
    feedback = (folder / 'feedback' / 'fabricated.md').read_text()
    assert float(row['score']) <= float(row['max_score']) / 2, feedback


def test_student_notebooks_render_in_a_book_with_warnings_as_errors(tmp_path):
    """Built as the site builds them (unexecuted, -W): no warning, and no solution in the HTML."""
    (tmp_path / 'notebooks').mkdir()
    for name in EXPECTED:
        (tmp_path / 'notebooks' / f'{name}.ipynb').write_bytes((ROOT / 'notebooks' / f'{name}.ipynb').read_bytes())
    (tmp_path / 'intro.md').write_text('# Exercises\n')
    (tmp_path / '_config.yml').write_text(
        'title: exercises\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n'
        '  allow_errors: false\n')
    chapters = ''.join(f'      - file: notebooks/{name}\n' for name in EXPECTED)
    (tmp_path / '_toc.yml').write_text(f'format: jb-book\nroot: intro\nparts:\n  - caption: Exercises\n'
                                       f'    chapters:\n{chapters}')
    jb = Path(sys.executable).with_name('jupyter-book')
    done = subprocess.run([str(jb), 'build', str(tmp_path), '-W', '-n', '--keep-going'],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in EXPECTED:
        html = (tmp_path / '_build' / 'html' / 'notebooks' / f'{name}.html').read_text()
        assert 'grader.check' in html and 'Type your answer here' in html
        master = nbformat.read(ROOT / 'instructors' / 'masters' / f'{name}.ipynb', as_version=4)
        text = html_module.unescape(re.sub(r'<[^>]+>', '', html))
        leaks = [f for f in make_exercises.solution_fragments(master) if f.splitlines()[0].strip() in text]
        assert not leaks, leaks[:3]


# ----------------------------------------------------------------------------- utils.diagnostics

def test_layer_scales_measures_every_weighted_layer_before_any_update():
    import utils
    mx = utils.mx
    mx.random.seed(0)
    net = utils.lenet()
    net.initialize(mx.init.Xavier())
    X = mx.nd.random.uniform(shape=(8, 1, 28, 28))
    y = mx.nd.array([0, 1, 2, 3, 4, 5, 6, 7])
    net(X)  # parameters are created on the first forward pass
    before = [p.data().copy() for p in net.collect_params().values()]
    table = utils.layer_scales(net, X, y)
    assert table['name'].tolist() == ['conv1', 'conv2', 'dense1', 'dense2']
    assert table['layer'].tolist() == [1, 2, 3, 4]
    assert (table[['activation_std', 'gradient_std', 'weight_std']] > 0).all().all()
    after = [p.data() for p in net.collect_params().values()]
    assert all((a == b).min().asscalar() for a, b in zip(before, after)), 'no update at step 0'
    # a scaled-up last layer shows up in its own activation scale only
    dense2 = net[-1]
    dense2.weight.set_data(dense2.weight.data() * 10)
    bigger = utils.layer_scales(net, X, y)
    assert bigger['activation_std'].iloc[-1] == pytest.approx(10 * table['activation_std'].iloc[-1], rel=1e-4)
    assert bigger['activation_std'].iloc[0] == pytest.approx(table['activation_std'].iloc[0], rel=1e-6)


def _plain_gradient_stds(net, X, y):
    """Weight-gradient stds of the mean loss by plain autograd on the same layers without Dropout."""
    import utils
    mx = utils.mx
    plain = mx.gluon.nn.Sequential()
    for block in net:
        if not isinstance(block, mx.gluon.nn.Dropout):
            plain.add(block)  # the same blocks: the same parameters
    with mx.autograd.record():
        batch_loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()(plain(X), y).mean()
    batch_loss.backward()
    return [float(b.weight.grad().asnumpy().std()) for b in plain
            if isinstance(b, (mx.gluon.nn.Conv2D, mx.gluon.nn.Dense))]


@pytest.mark.parametrize('model, side', [('lenet', 28), ('alexnet', 67)])
def test_layer_scales_gradients_match_plain_autograd_on_every_call(model, side):
    """Conv gradients must be right on CPU too (MKLDNN max pooling after a prediction-mode forward
    passes wrong ones back: benchmarks/maxpool_gradient.py),
    the same on repeated calls, and those of the mean loss (the step trainer.step(batch) takes)."""
    import utils
    mx = utils.mx
    mx.random.seed(1)
    net = getattr(utils, model)()
    net.initialize(mx.init.Uniform(0.07))
    X = mx.nd.random.uniform(shape=(16, 1, side, side))
    y = mx.nd.array([i % 10 for i in range(16)])
    net(X)
    calls = [utils.layer_scales(net, X, y)['gradient_std'].tolist() for _ in range(3)]
    expected = _plain_gradient_stds(net, X, y)
    assert all(v > 0 for v in expected)
    for got in calls:
        assert got == pytest.approx(expected, rel=1e-4)
    # in chunks (less memory): the same numbers, activations included
    whole = utils.layer_scales(net, X, y)
    chunked = utils.layer_scales(net, X, y, chunk=5)
    for column in ('activation_std', 'gradient_std', 'weight_std'):
        assert chunked[column].tolist() == pytest.approx(whole[column].tolist(), rel=1e-4)
    # the mean loss, not the sum: the batch taken twice gives the same gradient (a sum doubles it)
    X2 = mx.nd.concat(X, X, dim=0)
    y2 = mx.nd.concat(y, y, dim=0)
    assert utils.layer_scales(net, X2, y2)['gradient_std'].tolist() == pytest.approx(expected, rel=1e-4)


def test_batch_losses_records_each_batch_and_stops_at_a_divergence():
    import utils
    mx = utils.mx
    gluon = mx.gluon
    mx.random.seed(0)
    X = mx.nd.random.uniform(shape=(64, 1, 28, 28))
    y = mx.nd.array(list(range(10)) * 6 + [0, 1, 2, 3])
    data = [(X[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]  # 4 batches per pass
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    calls = []

    def poisoned(output, label):  # the third batch's loss is NaN, as after a divergence
        calls.append(1)
        value = loss(output, label)
        return value * float('nan') if len(calls) == 3 else value

    for loss_fn, expected in ((loss, 6), (poisoned, 3)):
        net = utils.lenet()
        net.initialize(mx.init.Xavier())
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
        curve = utils.batch_losses(net, data, loss_fn, trainer, mx.cpu(), 6)
        assert list(curve.columns) == ['batch', 'loss', 'train_acc']
        assert curve['batch'].tolist() == list(range(expected))  # 6: runs on past one pass
        finite = curve['loss'].map(lambda v: v == v and abs(v) != float('inf'))
        assert finite.iloc[:-1].all() and finite.iloc[-1] == (expected == 6)
    with pytest.raises(ValueError, match='no batches'):
        utils.batch_losses(net, [], loss, trainer, mx.cpu(), 3)


# ----------------------------------------------------------------------------- utils.evidence

def test_packed_parameters_load_into_the_course_network_and_malformed_ones_are_refused():
    """The probe's export (chunked, big arrays in float16) gives the same network back in the test
    process; a parameter sample is read at the positions the grader's seed gives."""
    import numpy as np
    import utils
    from utils import evidence
    mx = utils.mx
    mx.random.seed(3)
    net = utils.lenet()
    net.initialize(mx.init.Xavier())
    X = mx.nd.random.uniform(shape=(5, 1, 28, 28))
    expected = net(X).asnumpy()
    old_chunk, evidence.CHUNK = evidence.CHUNK, 1000  # force several chunks per array
    try:
        packed = evidence.pack_parameters(net)
    finally:
        evidence.CHUNK = old_chunk
    assert max(len(chunks) for chunks in packed['data']) > 1
    assert {c.dtype for chunks in packed['data'] for c in chunks} == {np.dtype('float16'), np.dtype('float32')}
    arrays = evidence.unpack(packed)
    again = evidence.load_parameters(utils.lenet, arrays, 28)
    assert np.allclose(again(X).asnumpy(), expected, rtol=1e-2, atol=1e-3)
    with pytest.raises(evidence.EvidenceError, match='do not fit'):
        evidence.load_parameters(utils.alexnet, arrays, 67)
    for bad in (None, {'shapes': [[2]], 'data': [[np.zeros(3, np.float32)]]},
                {'shapes': [['x']], 'data': [[]]}, {'shapes': [[2]], 'data': [[np.array(['a', 'b'])]]}):
        with pytest.raises(evidence.EvidenceError):
            evidence.unpack(bad)
    assert evidence.pack_parameters(utils.lenet()) is None  # parameters not created yet
    sample = evidence.sample_parameters(net, seed=11, count=7)
    read = evidence.unpack_sample(sample, seed=11)
    for (shape, index, values), p in zip(read, net.collect_params().values()):
        assert np.array_equal(values, p.data().asnumpy().ravel()[index])
    assert not np.array_equal(evidence.sample_indices((1000,), 11, 7), evidence.sample_indices((1000,), 12, 7))


def test_re_scoring_the_same_network_on_the_same_examples_is_computed_once(monkeypatch):
    """Exercise 1's q1 and q2 both re-score each network on the whole smoke subsets: the second
    time, the test process gets the same network, examples and numbers without recomputing them;
    a sample drawn with another seed, or a score in training mode (dropout), is computed again."""
    from types import SimpleNamespace
    import utils
    from utils import evidence
    mx = utils.mx
    mx.random.seed(0)
    net = utils.lenet()
    net.initialize()
    net(mx.nd.zeros((1, 1, 28, 28)))
    packed = evidence.pack_parameters(net)
    settings = SimpleNamespace(train_examples=96, test_examples=64)
    arrays = evidence.unpack(packed)
    assert evidence.unpack(packed) is arrays
    loaded = evidence.load_parameters(utils.lenet, arrays, 28)
    assert evidence.load_parameters(utils.lenet, arrays, 28) is loaded
    everything = evidence.grader_examples(settings, 'test', 2000, seed=1)
    assert evidence.grader_examples(settings, 'test', 64, seed=2) is everything
    assert everything.num_examples == 64
    sample = evidence.grader_examples(settings, 'train', 50, seed=1)
    assert evidence.grader_examples(settings, 'train', 50, seed=1) is sample
    assert evidence.grader_examples(settings, 'train', 50, seed=2) is not sample
    scored = []
    real = evidence._score
    monkeypatch.setattr(evidence, '_score', lambda *a: scored.append(a[2]) or real(*a))
    first = evidence.loss_and_accuracy(loaded, everything)
    assert evidence.loss_and_accuracy(loaded, everything) == first and scored == [False]
    evidence.loss_and_accuracy(loaded, everything, training=True)
    evidence.loss_and_accuracy(loaded, everything, training=True)
    assert scored == [False, True, True]
    fresh = evidence.load_parameters(utils.lenet, evidence.unpack(evidence.pack_parameters(net)), 28)
    assert fresh is not loaded and evidence.loss_and_accuracy(fresh, everything) == first


def test_test_processes_share_seeded_networks_and_data_subsets_through_the_graders_folder(tmp_path, monkeypatch):
    """With $COURSE_EVIDENCE_CACHE set (the grader sets it for its test processes), the seeded
    network and the data subset are computed once and read back by the next process; a damaged
    entry is computed again. Without it, nothing is written."""
    import numpy as np
    import utils
    from types import SimpleNamespace
    from grading.testproc import evidence_cache
    from utils import evidence
    assert evidence_cache() == evidence_cache() and os.stat(evidence_cache()).st_mode & 0o777 == 0o700
    monkeypatch.setattr(utils.config, '_current',  # as if the process had started with it set
                        utils.config.from_environment(dict(os.environ, **{evidence.CACHE_ENV: str(tmp_path)})))
    monkeypatch.setattr(evidence, '_seeded', {})
    first = evidence.seeded_parameters(utils.lenet, ('Uniform', 0.07), 28)
    settings = SimpleNamespace(train_examples=40, test_examples=30)
    images, labels = evidence._subset(settings, 'test')
    assert len(list(tmp_path.glob('*.npz'))) == 2 and images.shape == (30, 28, 28)
    drawn = []
    monkeypatch.setattr(evidence, '_seeded', {})
    monkeypatch.setattr(utils.mx.random, 'seed', lambda s: drawn.append(s))  # a redraw would show
    again = evidence.seeded_parameters(utils.lenet, ('Uniform', 0.07), 28)
    assert drawn == [] and all(np.array_equal(a, b) for a, b in zip(first, again))
    assert all(np.array_equal(a, b) for a, b in zip(evidence._subset(settings, 'test'), (images, labels)))
    for entry in tmp_path.glob('*.npz'):
        entry.write_bytes(b'damaged')
    assert evidence._disk_cached(('subset', 'x'), lambda: [np.ones(2)])[0].tolist() == [1, 1]
    monkeypatch.setattr(utils.config, '_current', utils.config.from_environment(
        {k: v for k, v in os.environ.items() if k != evidence.CACHE_ENV}))
    evidence._disk_cached(('other',), lambda: [np.zeros(1)])
    assert len(list(tmp_path.glob('*.npz'))) == 3


def test_evidence_of_a_diverged_or_fresh_network_and_of_several_networks():
    """A network with a non-finite parameter travels as a small sample that shows it; a fresh
    one is not `trained` (its biases are still zero); `pack_several` always includes the network
    the seed picks and stops at the byte budget."""
    import numpy as np
    import utils
    from utils import evidence
    mx = utils.mx
    nets = {}
    for name in ('a', 'b', 'c'):
        mx.random.seed(0)
        nets[name] = utils.lenet()
        nets[name].initialize(mx.init.Xavier())
        nets[name](mx.nd.zeros((1, 1, 28, 28)))
    fresh = evidence.unpack(evidence.pack_parameters(nets['a']))
    assert not evidence.trained(fresh) and not evidence.biases_moved(fresh)
    bias = list(nets['b'].collect_params().values())[1]
    bias.set_data(bias.data() + 0.01)
    moved = evidence.unpack(evidence.pack_parameters(nets['b']))
    assert evidence.trained(moved) and evidence.trained(moved, fresh)
    assert not evidence.trained(moved, moved)  # nothing changed against itself
    weight = list(nets['c'].collect_params().values())[0]
    weight.set_data(weight.data() * float('nan'))
    packed = evidence.pack_or_sample(nets['c'], seed=5)
    assert 'data' not in packed
    assert evidence.open_evidence(packed, 5) == (None, False)
    arrays, finite = evidence.open_evidence(evidence.pack_or_sample(nets['a'], seed=5), 5)
    assert finite and len(arrays) == len(fresh)
    for seed in range(3):
        several = evidence.pack_several(nets, seed)
        assert several['names'] == ['a', 'b', 'c'] and set(several['nets']) == {'a', 'b', 'c'}
        tight = evidence.pack_several(nets, seed, budget=1)
        assert list(tight['nets']) == [['a', 'b', 'c'][seed % 3]]
    assert evidence.pack_several({1: nets['a']}, 0) is None
    assert evidence.agrees(2.0, 2.4) and not evidence.agrees(1.0, 2.0)
    assert evidence.agrees(1e6, 1e30) and not evidence.agrees(150.0, 2.0)
    assert evidence.sampling_tolerance(100, 100) == 0 and 0 < evidence.sampling_tolerance(100, 1000) < 0.2


@pytest.mark.parametrize('name', EXPECTED)
def test_every_hidden_hint_speaks_english_and_chinese(name):
    """A hint written in the master is shown to the student, whose notebook may be the Chinese one."""
    from grading.assignment import find_assignment
    assignment = find_assignment(name)
    hints = [case['failure_message'] for q in assignment.auto
             for case in assignment.tests[q]['suites'][0]['cases']
             if case.get('hidden') and case.get('failure_message')]
    assert hints, f"{name}: no hidden test carries a hint"
    for hint in hints:
        english, _, chinese = hint.partition(' / ')
        assert english.isascii() and any('\u4e00' <= ch <= '\u9fff' for ch in chinese), hint
