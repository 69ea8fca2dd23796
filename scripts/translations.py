"""The Chinese edition, made from the English sources and gettext catalogs (one .po file per page).

    python -m scripts.translations update [PAGE ...]    # English changed: refresh the catalogs
    python -m scripts.translations check [PAGE ...]     # missing, stale (fuzzy/obsolete), broken
    python -m scripts.translations generate [--check]   # write (or compare) the Chinese sources
    python -m scripts.translations stats                # how much of each catalog is translated
    python -m scripts.translations todo PAGE > t.json   # what needs translating, as JSON
    python -m scripts.translations fill PAGE t.json     # put the translations in, then check

A PAGE is a source in _toc.yml without suffix (`notebooks/01_lenet`, `book/intro`) or `utils`
(the sentences utils/ computes) or `_toc` (book title, part captions). Its catalog is
locale/zh_CN/LC_MESSAGES/PAGE.po, the sphinx-intl layout. Messages are the Markdown blocks of the
page (paragraphs, headings, list items, table rows, admonition titles; code and math blocks are
copied, not translated), the templates of `utils.say(...)` calls in its code cells (found in the
code's syntax tree) and the comment that ends each `utils.require_written(...)` line of an exercise. `update` merges like msgmerge: a changed English message keeps its old
translation marked fuzzy (`todo` shows it), a removed one becomes obsolete (`#~`); `check` fails on
both, and on missing translations, so a translation never silently goes stale.

`generate` writes notebooks/zh/*.ipynb (code cells identical to the English ones apart from the
line that puts the repository on sys.path, which also selects Chinese, and those comments), book/zh/*.md, and the
glossary page from locale/zh_CN/glossary.tsv; `config OUT_DIR` writes the Chinese site's
_config.yml and _toc.yml (used by scripts/build_book.sh). Only the standard library and babel
(a Sphinx dependency) are used. The work is done by the package scripts/zh_edition/ (pages,
markdown, messages, catalogs, generate); this file is its command line, one function per command.
"""
import argparse
import json
import sys
from pathlib import Path

from scripts.generators import exit_status
from scripts.zh_edition import pages  # noqa: F401  (tests point pages.ROOT at a small book)
from scripts.zh_edition.catalogs import (check, glossary, lookup_for, message_problems,  # noqa: F401
                                         read_catalog, update, write_catalog)
from scripts.zh_edition.generate import (chinese_markdown, chinese_notebook, generate,  # noqa: F401
                                         generated_files, site_config)
from scripts.zh_edition.markdown import (markdown_messages, normalize, segments,  # noqa: F401
                                         translate_markdown)
from scripts.zh_edition.messages import page_messages, say_templates, translated_comments  # noqa: F401
from scripts.zh_edition.pages import (CHINESE_PATH_LINE, ENGLISH_PATH_LINE, GLOSSARY,  # noqa: F401
                                      ROOT, TranslationError, all_catalog_names, catalog_path,
                                      chinese_path, source_of, toc_pages)


def _pages(args):
    names = all_catalog_names()
    chosen = [p.removesuffix('.po').removesuffix('.ipynb').removesuffix('.md')
              for p in getattr(args, 'pages', None) or [getattr(args, 'page', None) or '']
              if p] or names
    unknown = [p for p in chosen if p not in names]
    if unknown:
        raise TranslationError(f'unknown page(s) {unknown}; known: {names}')
    return chosen


def cmd_update(args):
    update(_pages(args))
    return 0


def cmd_check(args):
    chosen = _pages(args)
    report = check(chosen)
    for page, problems in report.items():
        print(f'{catalog_path(page).relative_to(pages.ROOT)}: {len(problems)} problem(s)')
        for problem in problems:
            print(f'  - {problem}')
    if report:
        print(f'{len(report)} of {len(chosen)} catalogs need work; see '
              f'/tmp/prompts/translate.md or the docstring of scripts/translations.py.')
        return 1
    print(f'{len(chosen)} catalogs complete and current')
    return 0


def cmd_generate(args):
    if not args.check and not args.draft:
        report = check(all_catalog_names())
        if report:
            raise TranslationError('catalogs incomplete or stale: ' + ', '.join(report) +
                                   '\nrun `python -m scripts.translations check` for the details')
    differ = generate(check_only=args.check, draft=args.draft)
    if not args.check:
        print(f'wrote {len(differ)} file(s)' + (': ' + ', '.join(differ) if differ else ''))
        return 0
    return exit_status(differ, fix='python -m scripts.translations generate', check=True,
                       fine='Chinese sources up to date')


def cmd_config(args):
    site_config(args.out_dir)
    return 0


def cmd_todo(args):
    catalog = read_catalog(catalog_path(_pages(args)[0]))
    todo = {m.id: m.string for m in catalog if m.id and (not m.string or m.fuzzy)}
    if catalog.obsolete:  # old translations of English that is gone, to reuse
        todo['__obsolete__ (for reference; fill removes them)'] = {
            m.id: m.string for m in catalog.obsolete.values()}
    print(json.dumps(todo, ensure_ascii=False, indent=1))
    return 0


def cmd_fill(args):
    page = _pages(args)[0]
    catalog = read_catalog(catalog_path(page))
    answers = json.loads(Path(args.json_file).read_text(encoding='utf-8'))
    answers = {k: v for k, v in answers.items() if not k.startswith('__obsolete__')}
    catalog.obsolete.clear()  # shown by `todo`; their English is gone
    unknown = [k for k in answers if catalog.get(k) is None]
    for msgid, msgstr in answers.items():
        entry = catalog.get(msgid)
        if entry is not None:
            entry.string = msgstr
            entry.flags.discard('fuzzy')
            entry.previous_id = []
    write_catalog(catalog, catalog_path(page))
    print(f'{len(answers) - len(unknown)} translations set in '
          f'{catalog_path(page).relative_to(pages.ROOT)}')
    if unknown:
        print(f'not in the catalog (English changed? run update): {unknown}', file=sys.stderr)
    return main(['check', page]) or (1 if unknown else 0)


def cmd_stats(args):
    for page in all_catalog_names():
        path = catalog_path(page)
        if not path.exists():
            print(f'{page}: no catalog')
            continue
        cat = [m for m in read_catalog(path) if m.id]
        done = sum(1 for m in cat if m.string and not m.fuzzy)
        print(f'{page}: {done}/{len(cat)} translated')
    return 0


# name -> (function, help, arguments as (names, add_argument options))
COMMANDS = {
    'update': (cmd_update, 'refresh catalogs from the English sources', [(('pages',), {'nargs': '*'})]),
    'check': (cmd_check, 'fail on missing, stale or broken translations', [(('pages',), {'nargs': '*'})]),
    'generate': (cmd_generate, 'write the Chinese sources', [
        (('--check',), {'action': 'store_true', 'help': 'only compare; exit 1 when out of date'}),
        (('--draft',), {'action': 'store_true', 'help': 'mark missing translations 〔待译〕 instead '
                                                        'of failing (never for a build)'})]),
    'config': (cmd_config, "write the Chinese site's _config.yml and _toc.yml", [(('out_dir',), {})]),
    'stats': (cmd_stats, 'translated messages per catalog', []),
    'todo': (cmd_todo, 'print the untranslated and fuzzy messages of a page as JSON '
                       '{English: current translation or ""}', [(('page',), {})]),
    'fill': (cmd_fill, 'set translations from a JSON file {English: Chinese} (clears their fuzzy '
                       'flags), then check the page', [(('page',), {}), (('json_file',), {})]),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    for name, (_run, help_text, arguments) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        for names, options in arguments:
            command.add_argument(*names, **options)
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][0](args)
    except TranslationError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
