"""What a page says about its settings: the recipes, the profile, and what a run reduced.

A chapter reads its settings with `settings = utils.settings_for('01_lenet')`;
`profile_note(settings)` then states, from those same values, in one line and a small table, what
this run changed against the full experiment (`settings.full`), each setting named by the label
written beside its values in utils/settings.py, so the text can never drift from the code.
"""
from .i18n import Markdown, translate
from .settings import RECIPES, rows, value as value_of


def _fmt(value):
    if value is None:
        return translate('all')
    if isinstance(value, bool):
        return translate('yes' if value else 'no')
    if isinstance(value, int):
        return f'{value:,}'
    return str(value)


def reductions(settings):
    """[(label, this run's value, full run's value)] for every setting this run changes."""
    if not hasattr(settings, 'notebook') or not hasattr(settings, 'full'):
        raise ValueError("profile_note(settings) needs the namespace utils.settings_for(name) "
                         "returns: it names its notebook and carries the full run's values")
    changed = []
    for key, row in rows(settings.notebook):
        now, full = value_of(settings, key), value_of(settings.full, key)
        if now != full:
            changed.append((row.label, now, full))
    return changed


def profile_note(settings):
    """Markdown: one line on the profile that built this page, plus a table of each setting that
    differs from the full experiment (none on a full run), named by its label in utils.settings.

    settings: the notebook's `utils.settings_for(...)` namespace (its `full` is the full run).
    """
    changed = reductions(settings)
    profile = settings.profile
    if not changed:
        if profile == 'full':
            return Markdown(translate("Built with the `{profile}` profile: the experiment as "
                                         "the text describes it.").format(profile=profile))
        return Markdown(translate("Built with the `{profile}` profile, which runs this page's "
                                     "full experiment.").format(profile=profile))
    head = translate("**Reduced run** (`{profile}` profile): the numbers on this page come from "
                     "these settings, not the full experiment's.").format(profile=profile)
    table_rows = '\n'.join(f"| {translate(label)} | **{_fmt(now)}** | {_fmt(full)} |"
                           for label, now, full in changed)
    table = (f"| {translate('setting')} | {translate('this run')} | {translate('full run')} |\n"
             f"|---|---|---|\n{table_rows}")
    return Markdown(f"{head}\n\n{table}")


def recipe_table():
    """Markdown: the LeNet and AlexNet recipes side by side (the one table every page refers to)."""
    t = translate
    init_names = {'default': t("MXNet's default: uniform in [-0.07, 0.07]"),
                  'xavier': t('Xavier (`init.Xavier()`)')}
    table_rows = [
        (t('initialization'), *(init_names[r['init']] for r in RECIPES.values())),
        (t('learning rate'), *(str(r['learning_rate']) for r in RECIPES.values())),
        (t('batch size'), *(str(r['batch_size']) for r in RECIPES.values())),
        (t('epochs'), *(str(r['epochs']) for r in RECIPES.values())),
        (t('input size'), *(f"{r['resize']}x{r['resize']}" for r in RECIPES.values())),
        (t('optimizer and loss'), *([t('plain SGD, softmax cross-entropy')] * len(RECIPES))),
    ]
    header = f"| {t('setting')} | " + ' | '.join(RECIPES) + ' |'
    lines = [header, '|' + '---|' * (len(RECIPES) + 1)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in table_rows]
    return Markdown('\n'.join(lines))


def load_note(load=None):
    """Markdown: how busy the machine was when the latest speed was measured (or `load`), to show
    next to a measured speed: a load above the cores means programs were waiting for a core."""
    from .shared_results import last_load
    load = load or last_load()
    if load is None:
        raise ValueError("load_note() follows a measurement (a utils.speed function, utils.train "
                         "or utils.shared_results.remember): none has been made yet")
    return Markdown(translate(
        "*Measured while the machine's load average was {load:.2f} on {cores} logical cores "
        "({busy:.0%} of them busy).*").format(load=load.average, cores=load.cores,
                                              busy=load.average / load.cores))
