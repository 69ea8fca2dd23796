"""The messages of a page: its Markdown blocks, the templates its code translates and the comments
of its `require_written(...)` lines."""
import ast
import io
import json
import tokenize

import yaml

from . import pages as paths
from .markdown import _needs_translation, markdown_messages
from .pages import source_of

# ----------------------------------------------------------------------------- code: say() templates

TRANSLATING_CALLS = {'say', 'translate'}
# utils/ also translates through local aliases, and the label that opens each Setting(...) row of
# utils/settings.py (utils.profile_note shows it)
UTILS_TRANSLATING_CALLS = TRANSLATING_CALLS | {'t', 'Setting'}


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
            elif not in_utils:  # utils/ may translate a label looked up at run time
                problems.append(f"{where}, line {node.lineno}: {name}() needs a literal string "
                                f"template (values go in keyword arguments), got "
                                f"{ast.unparse(first)[:60]!r}")
        elif name == 'Markdown' and node.args and not (
                isinstance(node.args[0], ast.Constant) and not _needs_translation(
                    str(node.args[0].value))):
            problems.append(f"{where}, line {node.lineno}: Markdown({ast.unparse(node.args[0])[:50]}"
                            f"...) computes an English sentence that no catalog can translate: "
                            f"write it as utils.say(template, **values)")
    # the words of tables and figures (a tuple or list named WORDS)
    for node in ast.walk(tree):
        names = [t.id for t in getattr(node, 'targets', []) if isinstance(t, ast.Name)]
        if not isinstance(node, ast.Assign) or 'WORDS' not in names:
            continue
        if isinstance(node.value, (ast.Tuple, ast.List)):
            templates += [v.value for v in node.value.elts
                          if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return templates, problems


# ----------------------------------------------------------------------------- code: comments

# The one kind of code comment that is translated: the comment ending a statement that calls one of
# these (an exercise's `utils.require_written(...)  # stops here, ...` tells a student what the line
# is for, in the student's language). Other comments stay English, as the code does.
COMMENTED_CALLS = {'require_written'}


def translated_comments(code):
    """[((row, column) where the comment's `#` is, its text after `# `)] of the comments that end a
    statement calling one of COMMENTED_CALLS, read with the standard tokenizer."""
    found, names = [], set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NAME:
                names.add(token.string)
            elif token.type == tokenize.COMMENT and names & COMMENTED_CALLS:
                found.append((token.start, token.string[1:].strip()))
            elif token.type == tokenize.NEWLINE:  # the end of a statement, however many lines
                names = set()
    except (tokenize.TokenError, SyntaxError):  # IPython magics, unfinished code: none translated
        return []
    return found


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
            messages += [(comment, where, False) for _, comment in translated_comments(text)]
            problems += bad
    return messages, problems
