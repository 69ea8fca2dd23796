"""Per exercise: a fabricated submission (right types, no training: must not reach full marks)
and alternative correct answers (must get full marks). Used by tests/test_exercises.py."""
