"""The course's batch grader: `python -m grading ASSIGNMENT SUBMISSIONS_DIR --out OUT_DIR`, and the
class tools `python -m grading written|report|export` (grading/cli.py lists the commands).

Kept apart from `utils/` (what student notebooks import): nothing here is imported by a student
notebook, and starting the grader imports neither MXNet, pandas nor matplotlib.
"""
