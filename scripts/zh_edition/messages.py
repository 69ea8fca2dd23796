"""The messages of a page: its Markdown blocks and the templates its code translates."""
import ast
import json

import yaml

from . import pages as paths
from .markdown import _needs_translation, markdown_messages
from .pages import source_of

# ----------------------------------------------------------------------------- code: say() templates

TRANSLATING_CALLS = {'say', 'translate'}
# utils/ also translates through local aliases (and, as notebooks, the labels in a dict LABELS)
UTILS_TRANSLATING_CALLS = TRANSLATING_CALLS | {'_translate', 't'}


def _literals(node):
    """The string constants an argument can evaluate to ('a' if x else 'b': both)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body), _literals(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


def say_templates(code, where, in_utils=False):
    """(templates, problems): literal first arguments of say(...) / translate(...) calls, and
    computed sentences that cannot be translated (Markdown(f"..."), say(f"...")).
    """
    calls = UTILS_TRANSLATING_CALLS if in_utils else TRANSLATING_CALLS
    try:
        tree = ast.parse(code)
    except SyntaxError:
        # IPython magics: drop lines starting with % or !
        tree = ast.parse('\n'.join('' if l.lstrip().startswith(('%', '!')) else l
                                   for l in code.split('\n')))
    templates, problems = [], []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else \
            node.func.id if isinstance(node.func, ast.Name) else None
        if name in calls and node.args:
            first = node.args[0]
            if _literals(first) is not None:
                templates += _literals(first)
            elif not in_utils:  # utils/ may translate a LABELS value looked up at run time
                problems.append(f"{where}, line {node.lineno}: {name}() needs a literal string "
                                f"template (values go in keyword arguments), got "
                                f"{ast.unparse(first)[:60]!r}")
        elif name == 'profile_note':
            # the labels a page gives its settings: {'epochs': 'epochs per model'}
            for kw in node.keywords:
                if kw.arg == 'labels' and isinstance(kw.value, ast.Dict):
                    templates += [v.value for v in kw.value.values
                                  if isinstance(v, ast.Constant) and isinstance(v.value, str)]
                elif kw.arg == 'labels':
                    problems.append(f"{where}, line {node.lineno}: profile_note(labels=...) needs "
                                    f"a literal dict here, so that its labels can be translated")
        elif name == 'Markdown' and node.args and not (
                isinstance(node.args[0], ast.Constant) and not _needs_translation(
                    str(node.args[0].value))):
            problems.append(f"{where}, line {node.lineno}: Markdown({ast.unparse(node.args[0])[:50]}"
                            f"...) computes an English sentence that no catalog can translate: "
                            f"write it as utils.say(template, **values)")
    # labels of settings, shown by profile_note (a dict named LABELS: its values), and the words
    # of tables and figures (a tuple or list named WORDS)
    for node in ast.walk(tree):
        names = [t.id for t in getattr(node, 'targets', []) if isinstance(t, ast.Name)]
        if not isinstance(node, ast.Assign):
            continue
        if 'LABELS' in names and isinstance(node.value, ast.Dict):
            values = node.value.values
        elif 'WORDS' in names and isinstance(node.value, (ast.Tuple, ast.List)):
            values = node.value.elts
        else:
            continue
        templates += [v.value for v in values
                      if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return templates, problems


# ----------------------------------------------------------------------------- messages per page

def page_messages(page):
    """(messages, problems) of one catalog: messages are (msgid, location, is_template)."""
    messages, problems = [], []
    if page == 'utils':
        for path in sorted((paths.ROOT / 'utils').glob('*.py')):
            if path.name == 'i18n.py':
                continue
            found, bad = say_templates(path.read_text(), f'utils/{path.name}', in_utils=True)
            messages += [(t, f'utils/{path.name}', True) for t in found]
            problems += [p for p in bad if 'Markdown(' not in p]
        return messages, problems
    if page == '_toc':
        config = yaml.safe_load((paths.ROOT / '_config.yml').read_text())
        messages.append((config['title'], '_config.yml#title', False))
        toc = paths.read_toc()
        for part in toc.get('parts', []):
            if part.get('caption'):
                messages.append((part['caption'], '_toc.yml#caption', False))
        return messages, problems
    source = source_of(page)
    rel = source.relative_to(paths.ROOT).as_posix()
    if source.suffix == '.md':
        messages += [(m, rel, False) for m in markdown_messages(source.read_text())]
        return messages, problems
    nb = json.loads(source.read_text())
    for n, cell in enumerate(nb['cells']):
        text = ''.join(cell['source'])
        where = f'{rel}#cell-{n}'
        if cell['cell_type'] == 'markdown':
            messages += [(m, where, False) for m in markdown_messages(text)]
        elif cell['cell_type'] == 'code' and 'colab-setup' not in cell.get('metadata', {}).get('tags', []):
            found, bad = say_templates(text, where)
            messages += [(t, where, True) for t in found]
            problems += bad
    return messages, problems
