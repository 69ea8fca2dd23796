"""environment.yml (conda) must pin exactly what requirements/*.txt pin for Python 3.11."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r'^\s*(?:-\s*)?([A-Za-z0-9_.\-]+)==([^\s;#]+)\s*(?:;\s*(.*))?$')


def _pins(lines, python='3.11'):
    pins = {}
    for line in lines:
        line = line.split('#', 1)[0] if not line.lstrip().startswith('#') else ''
        m = PIN.match(line)
        if not m:
            continue
        name, version, marker = m.groups()
        if marker and not eval(marker, {'python_version': python}):  # markers are simple comparisons
            continue
        pins[name.lower()] = version
    return pins


def requirement_pins():
    text = []
    for f in sorted((ROOT / 'requirements').glob('*.txt')):
        text += f.read_text().splitlines()
    return _pins(text)


def environment_pins():
    text = (ROOT / 'environment.yml').read_text()
    pip_section = text.split('- pip:', 1)[1].splitlines()
    pins = _pins(pip_section)
    # packages installed after creation with --no-deps are named in the header comment
    for name, version in re.findall(r'pip install --no-deps ([A-Za-z0-9_.\-]+)==(\S+)', text):
        pins[name.lower()] = version
    return pins


def test_python_version_matches():
    assert re.search(r'^\s*-\s*python=3\.11\s*$', (ROOT / 'environment.yml').read_text(), re.M)


def test_environment_yml_pins_the_same_versions_as_requirements():
    req, env = requirement_pins(), environment_pins()
    assert 'mxnet' in req and 'numpy' in req and 'd2l' in req
    only_req = {k: v for k, v in req.items() if env.get(k) != v}
    only_env = {k: v for k, v in env.items() if req.get(k) != v}
    assert not only_req and not only_env, (
        f"requirements/*.txt and environment.yml disagree: requirements {only_req}, "
        f"environment.yml {only_env}")


def test_pin_parser_sees_disagreement():
    assert _pins(['numpy==1.23.5 ; python_version < "3.12"', 'numpy==2.2.6 ; python_version >= "3.12"']) \
        == {'numpy': '1.23.5'}
    assert _pins(['numpy==2.2.6 ; python_version >= "3.12"'], python='3.13') == {'numpy': '2.2.6'}
