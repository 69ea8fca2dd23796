"""The README's two set-up commands exist, and CI runs exactly the README's test command."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    block = re.search(r'## Set-up: two commands.*?```bash\n(.*?)```', (ROOT / 'README.md').read_text(), re.S)
    assert block, "README must have a '## Set-up: two commands' section with a bash block"
    return [line.split('#')[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_a_build_and_a_test_command():
    build, test = readme_commands()
    assert build == 'bash scripts/build_book.sh' and test == 'bash scripts/test.sh'
    for command in (build, test):
        assert (ROOT / command.split()[1]).is_file(), f"{command}: script missing"


def test_ci_runs_the_readme_test_command_and_nothing_else():
    test_command = readme_commands()[1]
    ci = [line.strip() for line in (ROOT / '.ci' / 'run').read_text().splitlines()
          if line.strip() and not line.lstrip().startswith('#')]
    commands = [line for line in ci if not line.startswith(('set ', 'cd '))]
    assert commands == [test_command], commands
