"""A Chinese exercise notebook, as handed out (no solutions), runs where it lies (notebooks/zh/):
its one changed line finds the repository and selects Chinese, and `grader.check` runs the same
public tests as the English notebook, on the student's (here: missing) answers."""
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT, SHARED_DATA

EXERCISE = 'exercise_1_more_epochs'


def test_chinese_exercise_runs_grader_check():
    english = json.loads((ROOT / 'notebooks' / f'{EXERCISE}.ipynb').read_text())
    path = ROOT / 'notebooks' / 'zh' / f'{EXERCISE}.ipynb'
    nb = nbformat.read(path, as_version=4)
    checker = [c for c in nb.cells if 'exercise-checker' in c.metadata.get('tags', [])]
    assert len(checker) == 1
    assert checker[0].source == ''.join(''.join(
        c['source']) for c in english['cells'] if 'exercise-checker' in c['metadata'].get('tags', []))
    # a probe at the end: what the kernel ended up with
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os, utils\nprint('LANG', utils.i18n.language(), os.path.realpath(utils.__file__))"))
    env = dict(os.environ, COURSE_PROFILE='smoke', COURSE_PROGRESS='0', MPLBACKEND='Agg',
               FASHION_MNIST_DIR=str(SHARED_DATA))
    env.pop('COURSE_LANG', None)
    client = NotebookClient(nb, timeout=600, kernel_name='python3', allow_errors=True,
                            resources={'metadata': {'path': str(path.parent)}})
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)

    def text(cell):
        return ''.join(o.get('text', '') + ''.join(o.get('data', {}).get('text/plain', ''))
                       + o.get('ename', '') + ' ' + o.get('evalue', '') for o in cell.get('outputs', []))

    setup = [c for c in nb.cells if c.cell_type == 'code'][:3]  # Colab cell, imports, checker
    for cell in setup:
        assert not any(o.output_type == 'error' for o in cell.outputs), text(cell)
    probe = text(nb.cells[-1])
    assert 'LANG zh' in probe and str(ROOT / 'utils') in probe, probe
    checks = [c for c in nb.cells if c.cell_type == 'code' and c.source.startswith('grader.check(')]
    assert checks, "the exercise has no grader.check cells"
    for cell in checks:
        out = text(cell)
        question = cell.source.split('"')[1]
        assert not any(o.output_type == 'error' for o in cell.outputs), f"{cell.source}: {out}"
        # otter's result for this question; the answers are `...`, so its tests do not pass
        assert question in out and ('failed' in out.lower() or '❌' in out), f"{cell.source}: {out}"


def test_chinese_submission_is_graded_by_the_same_autograder(tmp_path):
    """A Chinese exercise notebook with the master's solutions typed in gets full marks from the
    English autograder: the grader runs it one folder deeper (as notebooks/zh/ lies in the
    repository) with the catalogs beside utils/."""
    import csv
    import subprocess
    import sys
    from submissions.suite import solution_answers, with_answers
    name = 'exercise_4_alexnet_from_scratch'
    student = nbformat.read(ROOT / 'notebooks' / 'zh' / f'{name}.ipynb', as_version=4)
    submissions = tmp_path / 'submissions'
    submissions.mkdir()
    nbformat.write(with_answers(student, solution_answers(name)), str(submissions / 'zh.ipynb'))
    out = tmp_path / 'out'
    done = subprocess.run([sys.executable, '-m', 'grading', name, str(submissions), '--out', str(out),
                           '--profile', 'smoke'], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, FASHION_MNIST_DIR=str(SHARED_DATA)), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out / 'grades.csv', newline='') as f:
        row = next(r for r in csv.DictReader(f) if r['submission'] == 'zh.ipynb')
    feedback = (out / 'feedback' / 'zh.md').read_text()
    assert row['status'] == 'ok', (row, feedback)
    assert float(row['score']) == float(row['max_score']), (row, feedback)
