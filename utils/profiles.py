"""Scale profiles: which one is in force, and how a notebook picks its sizes by profile.

`COURSE_PROFILE` = smoke | cpu | full (read in utils.config). The profile only changes the sizes a
notebook passes to the loader and the training loop, never the code path, and neither of those
consults it:
- smoke: every notebook runs in seconds to a minute on 2 CPU cores (tests, CI);
- cpu:   each notebook finishes in about 15 minutes on a 2-core laptop and still shows learning;
- full:  the experiment as the text describes it (whole dataset, stated epochs).
Default: full when MXNet sees a GPU, else cpu.
"""
from types import SimpleNamespace

from . import config
from .config import PROFILES


def active_profile(cfg=None):
    """The profile in force: $COURSE_PROFILE as utils.config read it, else full with a usable GPU
    and cpu without."""
    cfg = cfg or config.current()
    if cfg.profile is None:
        from .devices import gpu_available
        return 'full' if gpu_available() else 'cpu'
    return cfg.profile


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
