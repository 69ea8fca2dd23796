"""utils.profile_note and utils.recipe_table: what a page says about its settings is computed."""
import pytest

import utils
from utils import recipes

FULL = dict(train_examples=None, batch_size=128, learning_rate=0.01)


def use_profile(monkeypatch, profile):
    """As if the notebook had started with COURSE_PROFILE=profile (utils.config reads it once)."""
    monkeypatch.setattr(utils.config, '_current',
                        utils.config.from_environment({'COURSE_PROFILE': profile}))


def _settings(monkeypatch, profile):
    use_profile(monkeypatch, profile)
    return utils.settings_for_profile(full=FULL, cpu=dict(FULL, train_examples=3000, batch_size=32),
                                      smoke=dict(FULL, train_examples=64))


def test_note_is_one_line_and_a_table_of_each_reduced_setting(monkeypatch):
    note = utils.profile_note(_settings(monkeypatch, 'cpu'), FULL, {'batch_size': 'images per step'})
    head, blank, *table = note.splitlines()
    assert '`cpu` profile' in head and blank == ''
    assert '| training images | **3,000** | all |' in table
    assert '| images per step | **32** | 128 |' in table
    assert 'learning' not in note
    assert len(table) == 2 + 2  # header, rule, two changed settings
    shown = displayed_as(note)
    assert shown == {'text/markdown'} | ({'text/plain'} & shown), "Jupyter must render it as Markdown"


def test_note_reads_the_full_run_from_settings_for(monkeypatch):
    use_profile(monkeypatch, 'cpu')
    settings = utils.settings_for('06_training_alexnet')
    note = utils.profile_note(settings)
    assert note == utils.profile_note(settings, settings.full)
    changed = utils.notes.reductions(settings, settings.full)
    assert changed, "the cpu profile reduces chapter 6"
    for now, full in changed.values():
        assert f"**{utils.notes._fmt(now)}** | {utils.notes._fmt(full)} |" in note


def test_note_for_an_unreduced_run(monkeypatch):
    assert 'as the text describes' in utils.profile_note(_settings(monkeypatch, 'full'), FULL)
    use_profile(monkeypatch, 'cpu')
    s = utils.settings_for_profile(full=FULL, cpu=dict(FULL), smoke=dict(FULL))
    note = utils.profile_note(s, FULL)
    assert 'full experiment' in note and '|' not in note


def test_note_needs_the_same_keys(monkeypatch):
    with pytest.raises(ValueError, match='settings_for'):
        utils.profile_note(_settings(monkeypatch, 'smoke'), dict(FULL, epochs=3))
    with pytest.raises(ValueError, match='settings_for'):
        utils.profile_note(_settings(monkeypatch, 'smoke'))  # old-style settings carry no `full`


def displayed_as(obj):
    """The MIME types IPython's display machinery produces for `obj` (what a notebook shows)."""
    from IPython.core.interactiveshell import InteractiveShell
    data, _ = InteractiveShell.instance().display_formatter.format(obj)
    return set(data)


def test_recipe_table_states_both_recipes():
    table = recipes.recipe_table()
    assert 'text/markdown' in displayed_as(table)
    for name, recipe in recipes.RECIPES.items():
        assert name in table
    lr_row = next(line for line in table.splitlines() if line.startswith('| learning rate'))
    assert str(recipes.LENET['learning_rate']) in lr_row
    assert str(recipes.ALEXNET['learning_rate']) in lr_row


def test_chapters_take_their_recipe():
    for profile in recipes.PROFILES:
        lenet = recipes.settings_for('01_lenet', profile)
        alexnet = recipes.settings_for('06_training_alexnet', profile)
        assert lenet.full['learning_rate'] == recipes.LENET['learning_rate']
        assert lenet.full['batch_size'] == recipes.LENET['batch_size']
        assert alexnet.full['learning_rate'] == recipes.ALEXNET['learning_rate']
        assert alexnet.full['batch_size'] == recipes.ALEXNET['batch_size']


def test_a_profile_that_runs_the_full_experiment_is_not_reduced():
    for name in recipes.NOTEBOOKS:
        assert not recipes.settings_for(name, 'full').is_reduced, name
        assert recipes.settings_for(name, 'smoke').is_reduced, f"{name}: smoke must be smaller"
    assert not recipes.settings_for('01_lenet', 'cpu').is_reduced   # LeNet runs in full on a CPU
    assert recipes.settings_for('06_training_alexnet', 'cpu').is_reduced
