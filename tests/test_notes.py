"""utils.settings, utils.profile_note and utils.recipe_table: every notebook's settings sit in one
table beside their labels, and what a page says about them is computed from that table."""
import ast
import re
from pathlib import Path

import pytest

import utils
from utils import settings as course
from utils.settings import AS_FULL, Setting

ROOT = Path(__file__).resolve().parents[1]


def use_profile(monkeypatch, profile):
    """As if the notebook had started with COURSE_PROFILE=profile (utils.config reads it once)."""
    monkeypatch.setattr(utils.config, '_current',
                        utils.config.from_environment({'COURSE_PROFILE': profile}))


@pytest.fixture
def toy(monkeypatch):
    """A notebook entry of the test's own, with a group, in utils.settings' table."""
    monkeypatch.setitem(course.NOTEBOOKS, 'toy', dict(
        train_examples=Setting('training images', None, 3000, 64),
        learning_rate=Setting('learning rate', 0.01, AS_FULL, AS_FULL),
        alexnet=dict(batch_size=Setting('images per step', 128, 32, AS_FULL))))
    return 'toy'


def test_a_notebook_reads_the_values_of_the_profile_in_force_with_groups_as_namespaces(
        toy, monkeypatch):
    use_profile(monkeypatch, 'cpu')
    s = utils.settings_for(toy)
    assert (s.notebook, s.profile, s.train_examples, s.learning_rate) == ('toy', 'cpu', 3000, 0.01)
    assert s.alexnet.batch_size == 32 and s.full.alexnet.batch_size == 128
    assert s.full.train_examples is None and s.is_reduced
    smoke = course.settings_for(toy, 'smoke')
    assert (smoke.train_examples, smoke.alexnet.batch_size) == (64, 128)  # AS_FULL: the full value
    assert not course.settings_for(toy, 'full').is_reduced


def test_note_is_one_line_and_a_table_of_each_reduced_setting_named_by_its_label(toy, monkeypatch):
    use_profile(monkeypatch, 'cpu')
    note = utils.profile_note(utils.settings_for(toy))
    head, blank, *table = note.splitlines()
    assert '`cpu` profile' in head and blank == ''
    assert '| training images | **3,000** | all |' in table
    assert '| images per step | **32** | 128 |' in table
    assert 'learning' not in note
    assert len(table) == 2 + 2  # header, rule, two changed settings
    shown = displayed_as(note)
    assert shown == {'text/markdown'} | ({'text/plain'} & shown), "Jupyter must render it as Markdown"


def test_note_lists_what_chapter_6_reduces_from_its_own_settings():
    settings = course.settings_for('06_training_alexnet', 'cpu')
    note = utils.profile_note(settings)
    changed = utils.notes.reductions(settings)
    assert changed, "the cpu profile reduces chapter 6"
    for label, now, full in changed:
        assert f"| {label} | **{utils.notes._fmt(now)}** | {utils.notes._fmt(full)} |" in note
    assert ('batch size', 32, course.ALEXNET['batch_size']) in changed


def test_note_for_an_unreduced_run(toy):
    assert 'as the text describes' in utils.profile_note(course.settings_for(toy, 'full'))
    note = utils.profile_note(course.settings_for('01_lenet', 'cpu'))
    assert 'full experiment' in note and '|' not in note


def test_note_needs_the_settings_of_settings_for():
    with pytest.raises(ValueError, match='settings_for'):
        utils.profile_note(dict(train_examples=3000, profile='cpu'))


def test_a_row_without_a_label_or_a_typo_in_a_name_is_refused(monkeypatch):
    monkeypatch.setitem(course.NOTEBOOKS, 'bad', dict(epochs=3))  # a bare value: no label
    with pytest.raises(TypeError, match=r"bad: epochs must be a Setting\('label'"):
        course.settings_for('bad', 'full')
    monkeypatch.setitem(course.NOTEBOOKS, 'bad', dict(epochs=Setting('', 3, 2, 1)))
    with pytest.raises(TypeError, match='bad: epochs'):
        course.settings_for('bad', 'full')
    monkeypatch.setitem(course.NOTEBOOKS, 'bad', dict(profile=Setting('profile', 3, 2, 1)))
    with pytest.raises(ValueError, match='may not be called profile'):
        course.settings_for('bad', 'full')
    with pytest.raises(KeyError, match='known: 01_lenet'):
        course.settings_for('01_lenett', 'full')
    with pytest.raises(ValueError, match='smoke, cpu, full'):
        course.settings_for('01_lenet', 'laptop')


def _keys(namespace, prefix=''):
    """The setting keys of a settings namespace ('alexnet.resize' for a group's)."""
    keys = set()
    for key, value in vars(namespace).items():
        if key in ('notebook', 'profile', 'is_reduced', 'full'):
            continue
        keys |= _keys(value, f'{prefix}{key}.') if hasattr(value, '__dict__') else {prefix + key}
    return keys


def test_every_notebook_has_the_same_keys_in_every_profile_and_a_label_for_each():
    for name in course.NOTEBOOKS:
        labelled = {key for key, row in course.rows(name) if row.label.strip()}
        for profile in course.PROFILES:
            settings = course.settings_for(name, profile)
            assert _keys(settings) == labelled, (name, profile)
            assert _keys(settings.full) == labelled, name


def test_one_key_per_concept_across_the_course():
    keys = {key.rsplit('.', 1)[-1] for name in course.NOTEBOOKS for key, _ in course.rows(name)}
    assert {'batch_size', 'learning_rate', 'resize'} <= keys
    for old in ('lr', 'image_size', 'alexnet_lr', 'lenet_lr', 'lenet_learning_rate', 'alexnet_batch',
                'lenet_batch', 'train_batch', 'linear_learning_rate'):
        assert old not in keys, old


def test_the_profile_names_are_defined_once():
    """PROFILES is assigned in utils/settings.py only; the rest of the course imports it."""
    assigned = []
    for path in sorted([*ROOT.glob('utils/*.py'), *ROOT.glob('grading/*.py'),
                        *ROOT.glob('scripts/*.py'), *ROOT.glob('benchmarks/*.py')]):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = getattr(node, 'targets', None) or [getattr(node, 'target', None)]
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
                    isinstance(t, ast.Name) and t.id == 'PROFILES' for t in targets):
                assigned.append(path.relative_to(ROOT).as_posix())
    assert assigned == ['utils/settings.py']
    assert utils.config.PROFILES is course.PROFILES


def test_no_notebook_passes_its_own_labels():
    """Labels sit beside their values in utils/settings.py, not in a notebook's call."""
    for path in [*ROOT.glob('notebooks/0*.ipynb'), *ROOT.glob('instructors/masters/*.ipynb')]:
        assert not re.search(r'profile_note\([^)]*labels', path.read_text()), path.name


def displayed_as(obj):
    """The MIME types IPython's display machinery produces for `obj` (what a notebook shows)."""
    from IPython.core.interactiveshell import InteractiveShell
    data, _ = InteractiveShell.instance().display_formatter.format(obj)
    return set(data)


def test_recipe_table_states_both_recipes():
    table = utils.recipe_table()
    assert 'text/markdown' in displayed_as(table)
    for name in course.RECIPES:
        assert name in table
    lr_row = next(line for line in table.splitlines() if line.startswith('| learning rate'))
    assert str(course.LENET['learning_rate']) in lr_row
    assert str(course.ALEXNET['learning_rate']) in lr_row


def test_chapters_take_their_recipe():
    for profile in course.PROFILES:
        lenet = course.settings_for('01_lenet', profile)
        alexnet = course.settings_for('06_training_alexnet', profile)
        assert lenet.full.learning_rate == course.LENET['learning_rate']
        assert lenet.full.batch_size == course.LENET['batch_size']
        assert alexnet.full.learning_rate == course.ALEXNET['learning_rate']
        assert alexnet.full.batch_size == course.ALEXNET['batch_size']
        assert alexnet.full.resize == course.ALEXNET['resize']


def test_a_profile_that_runs_the_full_experiment_is_not_reduced():
    for name in course.NOTEBOOKS:
        assert not course.settings_for(name, 'full').is_reduced, name
        assert course.settings_for(name, 'smoke').is_reduced, f"{name}: smoke must be smaller"
    assert not course.settings_for('01_lenet', 'cpu').is_reduced   # LeNet runs in full on a CPU
    assert course.settings_for('06_training_alexnet', 'cpu').is_reduced
