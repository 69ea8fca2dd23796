"""The late policy: `--late-penalty 10%/day` (optionally `,max=50%`), kept in OUT/private/book.json.

A late submission loses the rate times each started day (or hour) after the deadline, as a
percentage of the assignment's points (max_total), at most the cap (default 100%), and never
below a total of 0. Lateness is the submission's own (recorded when it was first graded; see
roster.late_hours). Standard library only.
"""
import math
import re

POLICY = re.compile(r'\s*(?P<rate>\d+(\.\d+)?)\s*%\s*/\s*(?P<unit>day|hour)\s*'
                    r'(,\s*max\s*=\s*(?P<cap>\d+(\.\d+)?)\s*%)?\s*$', re.IGNORECASE)


class PolicyError(ValueError):
    """A --late-penalty that cannot be read."""


def parse(text):
    """{'rate': 10.0, 'unit': 'day', 'cap': 50.0} from '10%/day,max=50%'; None for 'none'/''."""
    if text is None or str(text).strip().lower() in ('', 'none', 'off', '0'):
        return None
    m = POLICY.fullmatch(str(text))
    if not m:
        raise PolicyError(f"--late-penalty {text!r}: write it as RATE%/day or RATE%/hour, "
                          f"optionally with a cap, e.g. 10%/day or '10%/day,max=50%' ('none' "
                          f"turns it off)")
    policy = {'rate': float(m['rate']), 'unit': m['unit'].lower(),
              'cap': float(m['cap']) if m['cap'] else 100.0}
    if not 0 < policy['rate'] <= 100 or not 0 < policy['cap'] <= 100:
        raise PolicyError(f"--late-penalty {text!r}: rate and cap must be percentages above 0 "
                          f"and at most 100")
    return policy


def describe(policy):
    if not policy:
        return 'no late penalty'
    return (f"{policy['rate']:g}% of the points per started {policy['unit']} late, at most "
            f"{policy['cap']:g}%")


def penalty(policy, hours_late, max_total):
    """Points taken off for `hours_late` hours after the deadline."""
    if not policy or not hours_late or hours_late <= 0:
        return 0.0
    units = math.ceil(hours_late / (24 if policy['unit'] == 'day' else 1))
    percent = min(policy['cap'], policy['rate'] * units)
    return round(max_total * percent / 100, 4)
