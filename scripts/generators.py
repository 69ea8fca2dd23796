"""What the generators of committed files (make_exercises, colab_cell, translations) share."""


def exit_status(stale, *, fix, fine, check):
    """A generator's exit status: 1 when `stale` lists files out of date (said, with the command
    `fix` that updates them), else 0 (under --check, `check`, saying `fine`)."""
    if stale:
        print(f"Out of date (run `{fix}` and commit): " + ', '.join(map(str, stale)))
        return 1
    if check:
        print(fine)
    return 0
