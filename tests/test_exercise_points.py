"""Each question's points, as the student reads them, come from the master's `# BEGIN QUESTION`
config (scripts/make_exercises.py), never from a number typed into the question's text."""
import re

import nbformat
import pytest

from conftest import ROOT
from scripts import make_exercises


def notebook(*texts):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(t) for t in texts])


def test_each_heading_gets_the_points_of_its_question_config():
    nb = notebook('**Question 1 (auto-checked).** Train it.', '**Question 2 (written).** Why?')
    make_exercises.label_points(nb, [{'name': 'q1', 'points': 2}, {'name': 'q2', 'points': 1.5}], 'x')
    assert [c.source for c in nb.cells] == ['**Question 1 (auto-checked, 2 points).** Train it.',
                                            '**Question 2 (written, 1.5 points).** Why?']


@pytest.mark.parametrize('text, why', [
    ('**Question 1 (written, 3 points).** Why?', 'no points typed'),
    ('**Question 1 (written).** (a) Why (1 point)? (b) How (1 point)?', 'parts of q1 are worth 2'),
    ('**Question 2 (written).** Why?', 'needs a question q2'),
    ('No heading here.', "no `**Question N (...).**` heading for ['q1']"),
])
def test_typed_points_sub_parts_that_do_not_add_up_and_missing_headings_are_refused(text, why):
    with pytest.raises(SystemExit, match=re.escape(why)):
        make_exercises.label_points(notebook(text), [{'name': 'q1', 'points': 3}], 'x')


def test_every_handed_out_question_shows_the_points_the_grader_uses():
    for master in sorted((ROOT / 'instructors' / 'masters').glob('*.ipynb')):
        questions = make_exercises.questions_of(nbformat.read(master, as_version=4))
        text = (ROOT / 'notebooks' / master.name).read_text(encoding='utf-8')
        for q in questions:
            label = make_exercises.points_label(q['points'])
            heading = rf"\*\*Question {q['name'][1:]} \((auto-checked|written), {re.escape(label)}\)\.\*\*"
            assert re.search(heading, text), (master.name, q)
