"""utils.profile_note: what a page says about its profile is computed from the settings."""
import pytest

import utils

FULL = dict(train_examples=None, batch_size=128, learning_rate=0.01)


def _settings(monkeypatch, profile):
    monkeypatch.setenv('COURSE_PROFILE', profile)
    return utils.settings_for_profile(full=FULL, cpu=dict(FULL, train_examples=3000, batch_size=32),
                                      smoke=dict(FULL, train_examples=64))


def test_note_lists_each_reduced_setting(monkeypatch):
    note = utils.profile_note(_settings(monkeypatch, 'cpu'), FULL,
                              {'train_examples': 'training images'})
    assert '`cpu` profile' in note
    assert 'training images: **3,000** instead of all' in note
    assert 'batch_size: **32** instead of 128' in note
    assert 'learning' not in note
    assert note._repr_markdown_() == str(note)


def test_note_for_an_unreduced_run(monkeypatch):
    assert 'as the text describes' in utils.profile_note(_settings(monkeypatch, 'full'), FULL)
    monkeypatch.setenv('COURSE_PROFILE', 'cpu')
    s = utils.settings_for_profile(full=FULL, cpu=dict(FULL), smoke=dict(FULL))
    assert 'same experiment' in utils.profile_note(s, FULL)


def test_note_needs_the_same_keys(monkeypatch):
    with pytest.raises(ValueError, match='FULL'):
        utils.profile_note(_settings(monkeypatch, 'smoke'), dict(FULL, epochs=3))
