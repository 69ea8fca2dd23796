"""environment.yml (conda) must pin exactly what requirements/*.txt pin for Python 3.11."""
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

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


# ---------------------------------------------------------------- Binder (repo2docker)

# As repo2docker 2026.4.0 reads environment.yml (repo2docker/buildpacks/conda/__init__.py:
# `environment_yaml`, `python_version`, `_should_preassemble_env`; utils.is_local_pip_requirement).
PYTHON_REGEX = re.compile(r"python\s*=+\s*([\d\.]*)")


def repo2docker_view(text):
    env = yaml.safe_load(text)
    if env is None:
        env = {}
    if not isinstance(env, Mapping):
        raise TypeError(f"environment.yml should contain a dictionary. Got {type(env)!r}")
    python = None
    for dep in env.get('dependencies', []):
        if isinstance(dep, str) and PYTHON_REGEX.match(dep):
            python = '.'.join(PYTHON_REGEX.match(dep).group(1).split('.')[:2])
            break
    pip = [dep['pip'] for dep in env.get('dependencies', []) if isinstance(dep, dict) and dep.get('pip')]
    return env, python, pip


def test_environment_yml_is_what_repo2docker_can_build():
    env, python, pip = repo2docker_view((ROOT / 'environment.yml').read_text())
    assert python == '3.11', 'repo2docker would pick its default Python'
    assert env.get('name') and env.get('channels') == ['conda-forge']
    deps = env['dependencies']
    assert all(isinstance(d, (str, dict)) for d in deps)
    assert 'pip' in deps, "a pip: section needs pip itself among the conda dependencies"
    assert len(pip) == 1 and isinstance(pip[0], list) and pip[0]
    # every pip line is a pinned package (no -r/-e/local path: repo2docker could not pre-assemble)
    assert all(PIN.match(f'- {line}') for line in pip[0]), pip[0]
    assert _pins(f'- {line}' for line in pip[0]) == {k: v for k, v in environment_pins().items()
                                                     if k != 'd2l'}


def test_the_repo2docker_view_rejects_what_repo2docker_rejects():
    with pytest.raises(TypeError, match='dictionary'):
        repo2docker_view('- numpy\n- matplotlib\n')
    assert repo2docker_view('dependencies:\n  - python=3.12.1\n')[1] == '3.12'


def test_binder_post_build_installs_d2l_as_the_readme_does():
    post_build = ROOT / 'postBuild'
    assert post_build.stat().st_mode & 0o111, 'repo2docker runs postBuild only if it is executable'
    commands = [line for line in post_build.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith('#')]
    assert commands[0].startswith('#!') or commands[0].startswith('set ')
    installs = [line for line in commands if line.startswith('pip install')]
    assert installs == [f"pip install --no-deps d2l=={requirement_pins()['d2l']}"]
    assert not (ROOT / 'binder').exists(), 'a binder/ folder would make repo2docker ignore these files'
