"""The two editions of the site (English at _build/html/, Chinese at _build/html/zh/): every page
links to its counterpart in the other language.

The Chinese source of page `folder/name` is `folder/zh/name` (scripts/translations.py generates
it), and the Chinese site is built with `course_edition: zh` into the `zh/` folder of the English
one, so each link is a relative URL computed from the two page names. Single-page builds (the
PDFs) get no link.
"""
import functools
import html
import posixpath
from pathlib import Path


@functools.lru_cache(maxsize=None)
def english_pages(srcdir):
    """The pages of the English table of contents (_toc.yml in the source folder)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # Sphinx's process: the repository root
    from scripts.zh_edition.pages import toc_pages  # the one reader of _toc.yml's page list
    return set(toc_pages(Path(srcdir)))


def counterpart(pagename, edition, english):
    """(URL path from the English site's root, label, hreflang) of the other edition's page, or
    None when it has none (search, the Chinese glossary). english: the English TOC's pages."""
    folder, _, name = pagename.rpartition('/')
    if edition == 'en':
        if pagename not in english:
            return None
        return f'zh/{folder}/zh/{name}.html' if folder else f'zh/zh/{name}.html', '中文版', 'zh-CN'
    if posixpath.basename(folder) != 'zh':
        return None
    page = f'{posixpath.dirname(folder)}/{name}'.lstrip('/')
    return (f'{page}.html', 'English edition', 'en') if page in english else None


def _add_link(app, pagename, templatename, context, doctree):
    edition = app.config.course_edition
    if app.builder.name != 'html' or doctree is None:
        return
    found = counterpart(pagename, edition, english_pages(str(app.srcdir)))
    if found is None:
        return
    target, label, hreflang = found
    # the page's own URL in the same coordinates as `target` (the Chinese site sits in zh/)
    here = (f'zh/{pagename}' if edition == 'zh' else pagename) + '.html'
    href = posixpath.relpath(target, posixpath.dirname(here) or '.')
    link = (f'<p class="course-edition-switch"><a href="{html.escape(href)}" '
            f'hreflang="{hreflang}" lang="{hreflang}">{html.escape(label)}</a></p>\n')
    context['body'] = link + context.get('body', '')
    context['metatags'] = context.get('metatags', '') + (
        f'\n<link rel="alternate" hreflang="{hreflang}" href="{html.escape(href)}" />')


def setup(app):
    app.add_config_value('course_edition', 'en', 'html')
    app.connect('html-page-context', _add_link)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
