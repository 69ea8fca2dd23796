"""What a page says about the run that produced it: the profile, and what it reduced.

A chapter keeps its full-experiment settings in a dict `FULL` and passes it to
`settings_for_profile(full=FULL, ...)`; `profile_note(settings, FULL, labels)` then states, from
those same values, what this run changed, so the text can never drift from the code.
"""


class ProfileNote(str):
    """A str that Jupyter (and the built site) shows as Markdown."""

    def _repr_markdown_(self):
        return str(self)


def _fmt(value):
    if value is None:
        return 'all'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, int):
        return f'{value:,}'
    return str(value)


def reductions(settings, full):
    """{key: (this run's value, full value)} for every setting that differs from `full`."""
    unknown = sorted(set(full) - set(vars(settings)))
    if unknown:
        raise ValueError(f"settings lack {unknown}: pass the same FULL dict that went to "
                         f"settings_for_profile(full=...)")
    return {k: (getattr(settings, k), v) for k, v in full.items() if getattr(settings, k) != v}


def profile_note(settings, full, labels=None):
    """Markdown: which profile built this page and each setting that differs from the full run.

    labels: {key: 'what it is'} for the reader, e.g. {'train_examples': 'training images'}.
    """
    labels = labels or {}
    changed = reductions(settings, full)
    head = f"**This page was built with the `{settings.profile}` profile.**"
    if not changed:
        if settings.profile == 'full':
            return ProfileNote(f"{head} It runs the experiment as the text describes it.")
        return ProfileNote(f"{head} For this page it runs the same experiment as the full profile.")
    items = '\n'.join(f"- {labels.get(k, k)}: **{_fmt(now)}** instead of {_fmt(was)}"
                      for k, (now, was) in changed.items())
    return ProfileNote(f"{head} To fit this machine it changes, compared with the full experiment "
                       f"(`COURSE_PROFILE=full`):\n\n{items}\n\nEverything else is as in the full "
                       f"experiment. Numbers on this page come from this reduced run.")
