"""Links from the course's pages to files of its own repository take the repository's URL and
branch from _config.yml (repository.url / repository.branch), the one place that names them.

Some pages cite files the book does not contain (benchmarks/README.md): those links go to the
repository on GitHub. A link to the course is a GitHub `blob/` or `tree/` link whose path is a file
or folder of this repository; links to other projects (d2l-zh's pages) name paths it lacks and are
left alone. The pages are the English notebooks and exercise masters, book/*.md, and the Chinese
catalogs and notebooks (message ids and translations alike, so no translation goes stale).

    python -m scripts.colab_cell --check     # also fails if such a link differs from _config.yml
    python -m scripts.colab_cell --write     # also rewrites them

Written here, not found in a library: no tool rewrites links inside .ipynb and gettext catalogs.
"""
import re
from pathlib import Path

from scripts.colab_cell import repository

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r'https://github\.com/[\w.-]+/[\w.-]+/(blob|tree)/[\w.-]+/([^\s)#"\'\\]+)')


def pages(root=ROOT):
    found = [*root.glob('notebooks/**/*.ipynb'), *root.glob('instructors/masters/*.ipynb'),
             *root.glob('book/**/*.md'), *root.glob('locale/**/*.po')]
    return sorted(p for p in found if '_build' not in p.parts and '.ipynb_checkpoints' not in p.parts)


def relinked(text, url, branch, root=ROOT):
    """`text` with every link to a path of this repository under `url` and `branch`."""
    def course(match):
        kind, path = match.groups()
        return f'{url}/{kind}/{branch}/{path}' if (root / path).exists() else match.group(0)
    return LINK.sub(course, text)


def _relink_catalog(path, url, branch, root):
    """A .po file's messages relinked, through babel (a long link is wrapped over lines there);
    True if anything changed."""
    from scripts.zh_edition.catalogs import read_catalog, write_catalog
    catalog, changed = read_catalog(path), False
    for message in list(catalog):
        if not isinstance(message.id, str) or not message.id:
            continue
        new_id, new_string = relinked(message.id, url, branch, root), relinked(message.string, url, branch, root)
        if (new_id, new_string) != (message.id, message.string):
            message.string = new_string
            if new_id != message.id:  # babel keys messages by id: re-add under the new one
                del catalog[message.id]
                catalog.add(new_id, new_string, locations=message.locations, flags=message.flags)
            changed = True
    if changed:
        write_catalog(catalog, path)
    return changed


def relink(write, root=ROOT, config=None):
    """The pages whose course links differ from _config.yml (rewritten when `write`)."""
    url, branch = repository(config or root / '_config.yml')
    stale = []
    for path in pages(root):
        text = path.read_text(encoding='utf-8')
        if path.suffix == '.po':
            needs = any(relinked(m.group(0), url, branch, root) != m.group(0)
                        for m in LINK.finditer(text.replace('"\n"', '')))
            if needs and (not write or _relink_catalog(path, url, branch, root)):
                stale.append(path)
        elif relinked(text, url, branch, root) != text:
            stale.append(path)
            if write:
                path.write_text(relinked(text, url, branch, root), encoding='utf-8')
    return stale

