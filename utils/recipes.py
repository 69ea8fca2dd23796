"""Every notebook's settings, per profile, in one place (the LeNet and AlexNet recipes first).

Standard library only, so the grader's test process can read the same settings a notebook ran
with (by profile name) without importing MXNet. A notebook reads its own entry:

    settings = utils.settings_for('01_lenet')      # namespace: profile, is_reduced, full, ...

`settings.full` is the full-profile dict, which `utils.profile_note(settings)` compares against.
"""
from types import SimpleNamespace

PROFILES = ('smoke', 'cpu', 'full')

# The two training recipes the course teaches. Every page that trains LeNet or AlexNet starts
# from these (the chapters state them in one table: `recipe_table()`); a page that departs from
# them says so.
# LeNet's learning rate is 0.2, not the original tutorial's 0.5: at 0.5 LeNet kills 4-13 of its 20
# first-layer filters (5 seeds x 3 epochs, default init; with Xavier init 2 of 24 one-epoch runs
# died outright), at 0.2 none (benchmarks/lenet_settings.py, benchmarks/README.md).
LENET = dict(init='default', learning_rate=0.2, batch_size=256, epochs=10, resize=28)
ALEXNET = dict(init='xavier', learning_rate=0.01, batch_size=128, epochs=10, resize=224)
RECIPES = {'LeNet': LENET, 'AlexNet': ALEXNET}

# The original 2017 Gluon tutorials' settings, for pages that re-run them on purpose (LeNet:
# chapter_convolutional-neural-networks/cnn-gluon.md, AlexNet: .../alexnet-gluon.md in d2l-zh).
ORIGINAL_TUTORIAL = {
    'LeNet': dict(init='default', learning_rate=0.5, batch_size=256, epochs=5, resize=28),
    'AlexNet': dict(init='xavier', learning_rate=0.01, batch_size=64, epochs=1, resize=224),
}


def _reduce(full, **changes):
    unknown = set(changes) - set(full)
    if unknown:
        raise KeyError(f"reduction names settings the full run does not have: {sorted(unknown)}")
    return dict(full, **changes)


# notebook name -> {profile: settings}. Every profile names the same keys.
# Chapter 1 opens with a first look: one epoch on `first_look_examples` images, seconds on a CPU,
# before the full recipe.
_full = dict(train_examples=None, test_examples=None, batch_size=LENET['batch_size'],
             learning_rate=LENET['learning_rate'], epochs=LENET['epochs'],
             first_look_examples=30_000)
NOTEBOOKS = {
    '01_lenet': {'full': _full, 'cpu': dict(_full),
                 'smoke': _reduce(_full, train_examples=256, test_examples=128, epochs=2,
                                  first_look_examples=256)},
}
_full = dict(train_examples=None, test_examples=None, batch_size=LENET['batch_size'],
             epochs=LENET['epochs'], linear_learning_rate=0.1,
             lenet_learning_rate=LENET['learning_rate'])
NOTEBOOKS['02_learning_representations'] = {
    'full': _full, 'cpu': dict(_full),
    'smoke': _reduce(_full, train_examples=256, test_examples=128, epochs=2)}
_full = dict(matmul_size=2048, repeats=5, bandwidth_megabytes=256,
             lenet_batch=LENET['batch_size'], alexnet_batch=ALEXNET['batch_size'], timing_steps=3)
NOTEBOOKS['03_missing_ingredients'] = {
    'full': _full,
    'cpu': _reduce(_full, matmul_size=1024, bandwidth_megabytes=128, alexnet_batch=16),
    'smoke': _reduce(_full, matmul_size=512, repeats=2, bandwidth_megabytes=32, lenet_batch=64,
                     alexnet_batch=4, timing_steps=1)}
_full = dict(batch_size=ALEXNET['batch_size'], timed_batches=20)
NOTEBOOKS['05_data_at_224'] = {
    'full': _full, 'cpu': dict(_full),  # reading is cheap: the cpu profile times the full case
    'smoke': _reduce(_full, batch_size=16, timed_batches=2)}
_full = dict(resize=ALEXNET['resize'], train_examples=None, test_examples=None,
             batch_size=ALEXNET['batch_size'], learning_rate=ALEXNET['learning_rate'],
             epochs=ALEXNET['epochs'], curve_batches=300)
NOTEBOOKS['06_training_alexnet'] = {
    'full': _full,
    'cpu': _reduce(_full, train_examples=1500, test_examples=500, batch_size=32,
                   learning_rate=0.03, epochs=3, curve_batches=10),
    'smoke': _reduce(_full, resize=96, train_examples=128, test_examples=64, batch_size=32,
                     learning_rate=0.03, epochs=2, curve_batches=3)}

# Exercises (the grader's hidden tests read these too, for the profile they graded under). Each
# starts from the recipes; where one departs from them, its notebook says so and why.
# Exercise 1 trains both recipes as they are; on a few thousand images the reduced profiles give
# AlexNet smaller batches and a larger step (it would sit on the ln 10 plateau for hundreds of
# steps); LeNet keeps its recipe.
_full = dict(image_size=ALEXNET['resize'], train_examples=None, test_examples=None,
             epochs=ALEXNET['epochs'], alexnet_batch=ALEXNET['batch_size'],
             alexnet_lr=ALEXNET['learning_rate'], lenet_batch=LENET['batch_size'],
             lenet_lr=LENET['learning_rate'])
_small_data = dict(image_size=67, alexnet_batch=32, alexnet_lr=0.03)
NOTEBOOKS['exercise_1_more_epochs'] = {
    'full': _full,
    'cpu': _reduce(_full, train_examples=6000, test_examples=2000, epochs=8, **_small_data),
    'smoke': _reduce(_full, train_examples=512, test_examples=256, epochs=3, **_small_data)}
# Exercise 2 re-runs the original tutorial's configuration: AlexNet's learning rate, but the
# tutorial's batches of 64 (938 batches make its one epoch).
_full = dict(image_size=ALEXNET['resize'], batch_size=64, lr=ALEXNET['learning_rate'],
             train_examples=None, test_examples=None, curve_batches=300, zero_batches=300)
NOTEBOOKS['exercise_2_initialization'] = {
    'full': _full,
    'cpu': _reduce(_full, image_size=67, train_examples=6400, test_examples=1000,
                   curve_batches=60, zero_batches=60),
    'smoke': _reduce(_full, image_size=67, train_examples=512, test_examples=256,
                     curve_batches=8, zero_batches=6)}
# Exercise 3 trains AlexNet with LeNet's recipe (and compares with AlexNet's own).
_full = dict(image_size=ALEXNET['resize'], train_examples=None, test_examples=None, epochs=5,
             curve_batches=50, lenet_lr=LENET['learning_rate'], lenet_batch=LENET['batch_size'],
             alexnet_lr=ALEXNET['learning_rate'])
NOTEBOOKS['exercise_3_lenet_hyperparameters'] = {
    'full': _full,
    'cpu': _reduce(_full, image_size=67, train_examples=5120, test_examples=1000, epochs=2,
                   curve_batches=20),
    'smoke': _reduce(_full, image_size=67, train_examples=1536, test_examples=256, epochs=2,
                     curve_batches=12)}
# Exercise 4 checks a hand-written AlexNet: a few steps on one fixed batch (not the recipe's
# training), at AlexNet's learning rate.
_full = dict(image_size=ALEXNET['resize'], check_batch=4, train_batch=64, train_steps=20,
             lr=ALEXNET['learning_rate'])
NOTEBOOKS['exercise_4_alexnet_from_scratch'] = {
    'full': _full, 'cpu': _reduce(_full, train_batch=32, train_steps=10),
    'smoke': _reduce(_full, image_size=67, train_batch=32, train_steps=5)}
del _full, _small_data


class _Markdown(str):
    """A str that Jupyter (and the built site) shows as Markdown."""

    def _repr_markdown_(self):
        return str(self)


def _translate(text):
    try:  # inside the `utils` package: the reader's language; loaded by file path: English
        from .i18n import translate
    except ImportError:
        return text
    return translate(text)


def recipe_table():
    """Markdown: the LeNet and AlexNet recipes side by side (the one table every page refers to)."""
    t = _translate
    init_names = {'default': t("MXNet's default: uniform in [-0.07, 0.07]"),
                  'xavier': t('Xavier (`init.Xavier()`)')}
    rows = [
        (t('initialization'), *(init_names[r['init']] for r in RECIPES.values())),
        (t('learning rate'), *(str(r['learning_rate']) for r in RECIPES.values())),
        (t('batch size'), *(str(r['batch_size']) for r in RECIPES.values())),
        (t('epochs'), *(str(r['epochs']) for r in RECIPES.values())),
        (t('input size'), *(f"{r['resize']}x{r['resize']}" for r in RECIPES.values())),
        (t('optimizer and loss'), *([t('plain SGD, softmax cross-entropy')] * len(RECIPES))),
    ]
    header = f"| {t('setting')} | " + ' | '.join(RECIPES) + ' |'
    lines = [header, '|' + '---|' * (len(RECIPES) + 1)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return _Markdown('\n'.join(lines))


def settings_for(notebook, profile=None):
    """This notebook's settings under `profile` (default: the active one), as a namespace.

    Attributes: every setting, plus `profile`, `is_reduced` (True when this profile changes any
    setting of the full experiment: a `cpu` profile that runs the full experiment is not reduced)
    and `full` (the full-profile dict, for `profile_note`).
    """
    if notebook not in NOTEBOOKS:
        raise KeyError(f"no settings for {notebook!r}; known: {', '.join(sorted(NOTEBOOKS))}")
    if profile is None:
        from .profiles import active_profile  # may probe the GPU: only when not told
        profile = active_profile()
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    per_profile = NOTEBOOKS[notebook]
    return SimpleNamespace(profile=profile, is_reduced=per_profile[profile] != per_profile['full'],
                           full=dict(per_profile['full']), **per_profile[profile])
