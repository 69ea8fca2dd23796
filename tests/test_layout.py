"""Reading order: the README's layout table matches the tree, and every utils module opens with one
line saying what it holds."""
import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layout_table():
    """{path named in the table's first column} and the text of the utils row."""
    text = (ROOT / 'README.md').read_text()
    section = text.split('## Layout', 1)[1].split('\n## ', 1)[0]
    rows = [line for line in section.splitlines() if line.startswith('| `')]
    named = set()
    for row in rows:
        first = row.split('|')[1]
        named |= {name.rstrip('/') for name in re.findall(r'`([^`]+)`', first)}
    utils_row = next(row for row in rows if row.startswith('| `utils/`'))
    return named, utils_row


def top_level_entries():
    """What the repository holds at its top level (tracked files; hidden ones and README aside)."""
    out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True)
    entries = {line.split('/', 1)[0] for line in out.stdout.splitlines() if line}
    entries |= {p.name for p in ROOT.iterdir() if p.is_dir() and p.name in ('notebooks', 'utils')}
    return {e for e in entries if not e.startswith('.') and e != 'README.md'}


def test_the_layout_table_names_everything_at_the_top_level_and_nothing_else():
    named, _ = layout_table()
    entries = top_level_entries()
    assert entries - named == set(), f"in the tree but not in the README's layout table: {entries - named}"
    assert named - entries == set(), f"in the README's layout table but not in the tree: {named - entries}"


def test_the_layout_table_names_every_utils_module():
    _, row = layout_table()
    listed = set(re.findall(r'`(\w+)`', row.split('|')[2]))
    modules = {p.stem for p in (ROOT / 'utils').glob('*.py') if p.stem != '__init__'}
    assert modules - listed == set(), f"utils modules missing from the README: {modules - listed}"
    assert listed - modules == set(), f"the README names utils modules that do not exist: {listed - modules}"


def test_every_utils_module_opens_with_one_line_saying_what_it_holds():
    for path in sorted((ROOT / 'utils').glob('*.py')):
        doc = ast.get_docstring(ast.parse(path.read_text()), clean=False)
        assert doc, f"{path.name} has no module docstring"
        first = doc.splitlines()[0].strip()
        assert first.endswith(('.', '.)', '`.')) and len(first) <= 100 and len(first.split()) >= 4, \
            f"{path.name}: the first line should be one short sentence, got {first!r}"
