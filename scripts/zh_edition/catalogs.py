"""The gettext catalogs: read, write, update like msgmerge, and check (missing, stale, broken)."""
import io
import re
import sys

from . import pages as paths
from .messages import page_messages
from .pages import LANG, TranslationError, catalog_path

# ----------------------------------------------------------------------------- catalogs

def read_catalog(path):
    from babel.messages.pofile import read_po
    with open(path, 'rb') as f:
        catalog = read_po(f, locale=LANG, abort_invalid=True)
    # These catalogs hold no translator comments. Babel reads a multi-line previous msgid ("#|")
    # back as comment lines, which then pile up: drop them (no "#|" is written any more).
    for message in list(catalog) + list(catalog.obsolete.values()):
        message.user_comments = []
        message.previous_id = ()
    return catalog


def write_catalog(catalog, path):
    from babel.messages.pofile import write_po
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, include_previous=False, sort_output=False, omit_header=False)
    path.write_bytes(buf.getvalue())


def template_catalog(page, messages):
    from babel.messages.catalog import Catalog
    template = Catalog(project='From LeNet to AlexNet', fuzzy=False, charset='utf-8')
    for msgid, location, is_template in messages:
        flags = ('python-brace-format',) if is_template else ()
        existing = template.get(msgid)
        if existing is not None:
            existing.locations.append((location, None))
        else:
            template.add(msgid, locations=[(location, None)], flags=flags)
    return template


def update(pages):
    for page in pages:
        messages, problems = page_messages(page)
        for p in problems:
            print(f'warning: {p}', file=sys.stderr)
        template = template_catalog(page, messages)
        path = catalog_path(page)
        if path.exists():
            catalog = read_catalog(path)
        else:
            from babel.messages.catalog import Catalog
            catalog = Catalog(locale=LANG, project='From LeNet to AlexNet', fuzzy=False,
                              language_team='Chinese (zh_CN)', charset='utf-8')
        before = {m.id: m.string for m in catalog if m.id}
        created = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
        catalog.creation_date = created  # the header changes only when a person edits it
        for msgid in [k for k, m in catalog.obsolete.items() if not m.string]:
            del catalog.obsolete[msgid]  # never translated: nothing to keep
        # keep message order = page order (babel sorts new ones in by id otherwise)
        order = {m.id: n for n, m in enumerate(template) if m.id}
        ordered = sorted((m for m in catalog if m.id), key=lambda m: order.get(m.id, 1e9))
        for m in list(catalog):
            if m.id:
                del catalog[m.id]
        for m in ordered:
            catalog[m.id] = m
        write_catalog(catalog, path)
        new = sum(1 for m in catalog if m.id and m.id not in before)
        print(f'{path.relative_to(paths.ROOT)}: {len(order)} messages, {new} new, '
              f'{sum(1 for m in catalog if m.id and m.fuzzy)} fuzzy, '
              f'{len(catalog.obsolete)} obsolete')


_PLACEHOLDER = re.compile(r'(?<!\{)\{([^{}]*)\}(?!\})')


def _fixed_parts(text, template):
    """What a translation must keep: math, code, links' targets, numbers, format fields."""
    # roles ({ref}`title <target>`, {doc}`page`): the role and its target stay, a title is text
    roles = [(name, (re.search(r'<([^<>]+)>\s*$', body) or re.match(r'(.*)', body)).group(1))
             for name, body in re.findall(r'\{([a-z:]+)\}`([^`]*)`', text)]
    text = re.sub(r'\{[a-z:]+\}`[^`]*`', ' ', text)
    parts = {
        'math': re.findall(r'\$\$.*?\$\$|\$[^$\n]+\$', text),
        'code': re.findall(r'`[^`]+`', text),
        'link targets': re.findall(r'\]\(([^)\s]+)\)', text),
        'roles': [f'{{{name}}}{target}' for name, target in roles],
        'html': re.findall(r'<[^>]+>', text),
    }
    if template:
        parts['format fields'] = sorted(_PLACEHOLDER.findall(text))
    outside = re.sub(r'\$[^$]*\$|`[^`]*`|\]\([^)]*\)|\{[^{}]*\}', ' ', text)
    parts['numbers'] = sorted(re.findall(r'(?<![\w.])\d+(?:[.,]\d+)*', outside))
    if text.startswith('|'):
        parts['table cells'] = [text.count('|')]
    return parts


def _chinese_counts(msgid):
    """{number: its Chinese form}: 'N million' is written N x 100 万 and 'N billion' N x 10 亿 in
    Chinese (ImageNet's 1.2 million images are 120 万张), so either form keeps the number."""
    forms = {}
    for number, unit in re.findall(r'(?<![\w.])(\d+(?:\.\d+)?)\s+(million|billion)\b', msgid):
        value = float(number) * (100 if unit == 'million' else 10)
        forms[number] = f'{value:,.0f}' if value == int(value) else f'{value:g}'
    return forms


def message_problems(msgid, msgstr, template):
    if not msgstr.strip():
        return ['not translated']
    problems = []
    want, got = _fixed_parts(msgid, template), _fixed_parts(msgstr, template)
    counts = _chinese_counts(msgid)
    for key in want:
        if key == 'numbers':
            missing = [n for n in want[key] if n not in got[key] and counts.get(n) not in got[key]]
            if missing:
                problems.append(f'numbers missing from the translation: {missing}')
        elif key in ('code', 'math', 'link targets', 'roles', 'html'):
            if sorted(want[key]) != sorted(got[key]):
                lost = [x for x in want[key] if x not in got[key]]
                extra = [x for x in got[key] if x not in want[key]]
                if lost or extra:
                    problems.append(f'{key} differ: English has {lost or "-"} that the '
                                    f'translation lacks; translation adds {extra or "-"}')
        elif want[key] != got[key]:
            problems.append(f'{key} differ: {want[key]} in English, {got[key]} in the translation')
    if '\n' in msgstr.strip():
        problems.append('line break inside the translation (write each message on one line)')
    return problems


def glossary():
    """[(chinese, english, note)] from locale/zh_CN/glossary.tsv."""
    rows = []
    for n, line in enumerate(paths.GLOSSARY.read_text(encoding='utf-8').splitlines(), 1):
        if not line.strip() or line.startswith('#'):
            continue
        cells = line.split('\t')
        if len(cells) < 2:
            raise TranslationError(f'{paths.GLOSSARY}:{n}: expected "中文<TAB>English[<TAB>note]"')
        rows.append((cells[0].strip(), cells[1].strip(), cells[2].strip() if len(cells) > 2 else ''))
    return rows


def check(pages):
    """{page: [problem, ...]} for the pages whose catalogs are not complete and current."""
    terms = [(zh, en) for zh, en, _ in glossary() if en.islower() and ' ' in en]
    report = {}
    for page in pages:
        problems = []
        messages, code_problems = page_messages(page)
        problems += code_problems
        path = catalog_path(page)
        if not path.exists():
            report[page] = problems + [f'no catalog {path.relative_to(paths.ROOT)}: run '
                                       f'`python -m scripts.translations update {page}`']
            continue
        catalog = read_catalog(path)
        wanted = {m for m, _, _ in messages}
        templates = {m for m, _, t in messages if t}
        for msgid in wanted:
            entry = catalog.get(msgid)
            if entry is None:
                problems.append(f'English message not in the catalog (run update): {msgid[:80]!r}')
        for entry in catalog:
            if not entry.id:
                continue
            if entry.id not in wanted:
                problems.append(f'stale: the catalog has a message the English no longer has '
                                f'(run update): {entry.id[:80]!r}')
                continue
            if entry.fuzzy:
                problems.append(f'stale (fuzzy: the English changed, check the translation and '
                                f'remove the fuzzy flag): {entry.id[:80]!r}')
                continue
            for p in message_problems(entry.id, entry.string, entry.id in templates):
                problems.append(f'{p}: {entry.id[:80]!r}')
            for zh, en in terms:
                # lower case (a capital mid-sentence is a name, e.g. Gluon's `Dense` layer)
                pattern = rf'\b{re.escape(en)}s?\b|^{re.escape(en[0].upper() + en[1:])}s?\b'
                if re.search(pattern, entry.id) and entry.string.strip() \
                        and zh not in entry.string:
                    problems.append(f'glossary: "{en}" is "{zh}" (locale/zh_CN/glossary.tsv): '
                                    f'{entry.id[:60]!r}')
        for entry in catalog.obsolete.values():
            problems.append(f'obsolete entry (#~): reuse its translation if it helps, then delete '
                            f'it: {entry.id[:80]!r}')
        if problems:
            report[page] = problems
    return report


def lookup_for(page, draft=False):
    catalog = read_catalog(catalog_path(page))

    def lookup(msgid):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            if draft:
                return f'〔待译〕{msgid}'
            raise TranslationError(f'{page}: no current translation for {msgid[:80]!r}: run '
                                   f'`python -m scripts.translations check {page}`')
        return entry.string
    return lookup
