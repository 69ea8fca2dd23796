"""What a page says about the run that produced it: the profile, and what it reduced.

A chapter reads its settings with `settings = utils.settings_for('01_lenet')`;
`profile_note(settings)` then states, from those same values, in one line and a small table, what
this run changed against the full experiment (`settings.full`), so the text can never drift from
the code.
"""
from .i18n import translate

# How the settings are called on the page (a key not listed here is shown as it is).
LABELS = {
    'train_examples': 'training images', 'test_examples': 'test images',
    'batch_size': 'batch size', 'learning_rate': 'learning rate', 'epochs': 'epochs',
    'resize': 'input size (pixels per side)', 'image_size': 'input size (pixels per side)',
    'linear_learning_rate': 'learning rate of the linear models',
    'lenet_learning_rate': 'learning rate of LeNet',
    'matmul_size': 'matrix size n for the FLOP/s measurement',
    'repeats': 'repetitions of each measurement',
    'bandwidth_megabytes': 'megabytes copied for the bandwidth measurement',
    'lenet_batch': 'LeNet batch for the speed measurement',
    'alexnet_batch': 'AlexNet batch for the speed measurement',
    'timing_steps': 'timed training steps', 'timed_batches': 'batches timed',
    'first_look_examples': 'training images of the first look',
    'd2l_batches': 'batches timed with d2l',
    'curve_batches': 'batches in each loss curve',
}


class ProfileNote(str):
    """A str that Jupyter (and the built site) shows as Markdown."""

    def _repr_markdown_(self):
        return str(self)


def _fmt(value):
    if value is None:
        return translate('all')
    if isinstance(value, bool):
        return translate('yes' if value else 'no')
    if isinstance(value, int):
        return f'{value:,}'
    return str(value)


def _current(settings):
    return settings if isinstance(settings, dict) else vars(settings)


def reductions(settings, full):
    """{key: (this run's value, full value)} for every setting that differs from `full`."""
    current = _current(settings)
    unknown = sorted(set(full) - set(current))
    if unknown:
        raise ValueError(f"settings lack {unknown}: pass the settings object of the same notebook "
                         f"(utils.settings_for(name)), whose `full` holds its full-profile values")
    return {k: (current[k], v) for k, v in full.items() if current[k] != v}


def profile_note(settings, full=None, labels=None):
    """Markdown: one line on the profile that built this page, plus a table of each setting that
    differs from the full experiment (none on a full run).

    settings: the notebook's `utils.settings_for(...)` namespace (its `full` is the full run).
    full, labels: only for older callers that pass the full-profile dict and labels themselves.
    """
    if full is None:
        full = getattr(settings, 'full', None)
        if full is None:
            raise ValueError("profile_note(settings) needs settings from utils.settings_for(...), "
                             "which carry the full-profile values in `settings.full`")
    names = dict(LABELS, **(labels or {}))
    changed = reductions(settings, full)
    profile = settings.profile
    if not changed:
        if profile == 'full':
            return ProfileNote(translate("Built with the `{profile}` profile: the experiment as "
                                         "the text describes it.").format(profile=profile))
        return ProfileNote(translate("Built with the `{profile}` profile, which runs this page's "
                                     "full experiment.").format(profile=profile))
    head = translate("**Reduced run** (`{profile}` profile): the numbers on this page come from "
                     "these settings, not the full experiment's.").format(profile=profile)
    rows = '\n'.join(f"| {translate(names.get(k, k))} | **{_fmt(now)}** | {_fmt(was)} |"
                     for k, (now, was) in changed.items())
    table = (f"| {translate('setting')} | {translate('this run')} | {translate('full run')} |\n"
             f"|---|---|---|\n{rows}")
    return ProfileNote(f"{head}\n\n{table}")


def load_note(load=None):
    """Markdown: how busy the machine was when the latest speed was measured (or `load`), to show
    next to a measured speed: a load above the cores means programs were waiting for a core."""
    from .shared_results import last_load
    load = load or last_load()
    if load is None:
        raise ValueError("load_note() follows a measurement (a utils.speed function, utils.train "
                         "or utils.shared_results.remember): none has been made yet")
    return ProfileNote(translate(
        "*Measured while the machine's load average was {load:.2f} on {cores} logical cores "
        "({busy:.0%} of them busy).*").format(load=load.average, cores=load.cores,
                                              busy=load.average / load.cores))
