"""Scale profiles: how much data and how many epochs a notebook uses on this machine.

`COURSE_PROFILE` = smoke | cpu | full. The profile only changes sizes, never the code path:
- smoke: every notebook runs in seconds to a minute on 2 CPU cores (tests, CI);
- cpu:   each notebook finishes in about 15 minutes on a 2-core laptop and still shows learning;
- full:  the experiment as the text describes it (whole dataset, stated epochs).
Default: full when MXNet sees a GPU, else cpu.
"""
import os
from types import SimpleNamespace

PROFILES = ('smoke', 'cpu', 'full')

# Used by `load_data_fashion_mnist` when the caller does not choose a subset itself, so that code
# written for the full dataset (like the original tutorial's) stays affordable under smoke.
DEFAULT_SUBSET = {
    'smoke': {'train_examples': 256, 'test_examples': 128},
    'cpu': {'train_examples': None, 'test_examples': None},
    'full': {'train_examples': None, 'test_examples': None},
}


def active_profile():
    """The profile in force: $COURSE_PROFILE, or full with a GPU and cpu without."""
    name = os.environ.get('COURSE_PROFILE', '').strip().lower()
    if not name:
        from .devices import gpu_available
        return 'full' if gpu_available() else 'cpu'
    if name not in PROFILES:
        raise ValueError(
            f"COURSE_PROFILE={os.environ['COURSE_PROFILE']!r} is not a profile. "
            f"Use one of {', '.join(PROFILES)} (or unset it for the default)."
        )
    return name


def settings_for_profile(**per_profile):
    """Pick this profile's settings: `settings_for_profile(full={...}, cpu={...}, smoke={...})`.

    Every profile must name the same keys, so a notebook reads the same way under each. Returns a
    namespace with those keys plus `profile`, and `is_reduced` (True unless profile is full).
    """
    missing = [p for p in PROFILES if p not in per_profile]
    unknown = [p for p in per_profile if p not in PROFILES]
    if missing or unknown:
        raise ValueError(f"settings_for_profile needs exactly {PROFILES}; "
                         f"missing {missing}, unknown {unknown}")
    keys = {p: set(v) for p, v in per_profile.items()}
    if len({frozenset(k) for k in keys.values()}) != 1:
        raise ValueError(f"every profile must set the same keys, got {keys}")
    profile = active_profile()
    return SimpleNamespace(profile=profile, is_reduced=profile != 'full', **per_profile[profile])
