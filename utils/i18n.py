"""Sentences a notebook computes, in the reader's language: `say(template, **values)`.

A chapter writes `utils.say("LeNet has **{params:,} parameters**.", params=n)`: the English
template is looked up in the active language's catalog (English: itself), then formatted with the
values, and shown as Markdown. Keeping the template apart from the values is what lets a
translation catalog hold it. The language is COURSE_LANG (`en`, the default, or `zh`; read by
utils.config); a Chinese notebook's first code line calls `use_language('zh')`, which also works
when `utils` was imported before (the Colab set-up cell does). The catalogs are the gettext files
locale/zh_CN/LC_MESSAGES/**.po that scripts/translations.py keeps (read here with the standard
library only).

Also in the reader's language: figure labels (`translate("epoch")`, a literal string, so that
scripts/translations.py finds it), lists (`join`), large numbers (`large_number`: "46.8 million",
"4,676 万") and the headers and row labels of the tables a notebook shows (`show_tables_in`, done
by `use_language`). Other modules that depend on the language (the figures' font, the class names)
register with `on_language_change`.
"""
import ast
import os
from pathlib import Path

from . import config

LOCALE_DIR = Path(__file__).resolve().parents[1] / 'locale'
LANGUAGES = {'en': None, 'zh': 'zh_CN'}  # COURSE_LANG -> catalog folder
_catalogs = {}
_listeners = []


class Markdown(str):
    """A str that Jupyter (and the built site) shows as Markdown (what `say` and the notes return)."""

    def _repr_markdown_(self):
        return str(self)


def _check(lang):
    if lang not in LANGUAGES:
        raise ValueError(f"COURSE_LANG={lang!r} is not a language of this course; "
                         f"use one of {', '.join(LANGUAGES)} (or leave it unset for English)")
    return lang


def language():
    """The active language: COURSE_LANG (`en` when unset)."""
    return _check(config.current().lang)


def use_language(lang):
    """Make `lang` the active language of this notebook (and of processes it starts)."""
    os.environ['COURSE_LANG'] = _check(lang)
    config.reload()
    # The figures' font and the class names follow the language: utils.plotting registers that
    # on import (utils imports its modules on first use, so import it now).
    from . import plotting  # noqa: F401
    for listener in _listeners:
        listener(lang)


def on_language_change(listener):
    """Call listener(lang) now and whenever use_language changes the language."""
    _listeners.append(listener)
    if config.current().lang in LANGUAGES:  # else the first translation says what is wrong
        listener(config.current().lang)


def read_po(path):
    """{msgid: msgstr} of a .po file: translated entries only (not fuzzy, not obsolete)."""
    entries = {}
    for block in Path(path).read_text(encoding='utf-8').split('\n\n'):
        fields, field, fuzzy = {}, None, False
        for line in block.strip().splitlines():
            line = line.strip()
            if line.startswith('#,'):
                fuzzy = fuzzy or 'fuzzy' in line
            elif line.startswith('#'):
                continue  # comments, previous msgid (#|), obsolete entries (#~)
            elif line.startswith('"') and field:
                fields[field] += ast.literal_eval(line)
            else:
                field, _, value = line.partition(' ')
                fields[field] = ast.literal_eval(value)
        if fields.get('msgid') and fields.get('msgstr') and not fuzzy:
            entries[fields['msgid']] = fields['msgstr']
    return entries


def catalog(lang):
    """{English: translation} from every catalog of `lang` (cached)."""
    if lang not in _catalogs:
        folder = LOCALE_DIR / LANGUAGES[lang] / 'LC_MESSAGES'
        if not folder.is_dir():
            raise FileNotFoundError(f"no catalogs for COURSE_LANG={lang} in {folder}: the "
                                    f"repository's locale/ folder is missing")
        merged = {}
        for path in sorted(folder.rglob('*.po')):
            merged.update(read_po(path))
        _catalogs[lang] = merged
    return _catalogs[lang]


def translate(template):
    """The active language's version of an English template (English: the template itself)."""
    lang = language()
    if LANGUAGES[lang] is None:
        return template
    try:
        return catalog(lang)[template]
    except KeyError:
        raise LookupError(
            f"no {lang} translation of {template!r} in locale/{LANGUAGES[lang]}/: the catalogs "
            f"are behind the English text; run `python -m scripts.translations update` and "
            f"translate what `python -m scripts.translations check` lists") from None


def say(template, **values):
    """Markdown: `template`, translated, formatted with `values`."""
    return Markdown(translate(template).format(**values))


def translate_if_known(text):
    """The translation of a label where the catalogs have one, else the label unchanged (a table's
    row labels can be data: a model's name, a device)."""
    lang = language()
    if LANGUAGES[lang] is None or not isinstance(text, str):
        return text
    return catalog(lang).get(text, text)


def join(items):
    """A list in running text: 'a, b, c' in English, 'a、b、c' in Chinese."""
    return ('、' if language() == 'zh' else ', ').join(str(item) for item in items)


def large_number(n, digits=1):
    """A count the way the language says it: 46.8 million / 4,676 万, 1.3 billion / 12.8 亿."""
    n = float(n)
    if language() == 'zh':
        for size, unit, places in ((1e8, '亿', digits), (1e4, '万', 0)):
            if abs(n) >= size:
                return f'{n / size:,.{places}f} {unit}'
        return f'{n:,.0f}'
    for size, unit in ((1e9, 'billion'), (1e6, 'million')):
        if abs(n) >= size:
            return f'{n / size:,.{digits}f} {unit}'
    return f'{n:,.0f}'


def translated_table(table):
    """A copy of a DataFrame (or its Styler) with the headers and row labels in the active
    language; labels the catalogs do not know stay as they are."""
    import copy
    styler = None
    if hasattr(table, 'data') and hasattr(table, 'to_html'):  # a pandas Styler
        styler, table = table, table.data
    renamed = table.rename(columns=translate_if_known, index=translate_if_known)
    renamed.columns.names = [translate_if_known(n) for n in table.columns.names]
    renamed.index.names = [translate_if_known(n) for n in table.index.names]
    if styler is None:
        return renamed
    # A Styler keeps its formats by position: the same formats apply to the renamed copy.
    shown = copy.copy(styler)
    shown.data, shown.columns, shown.index = renamed, renamed.columns, renamed.index
    return shown


def _table_html(table):
    if LANGUAGES[language()] is not None:
        table = translated_table(table)
    return table._repr_html_() if hasattr(table, '_repr_html_') else table.to_html()


def show_tables_in(lang):
    """In a notebook, show DataFrames and Stylers with headers in `lang` (the data keep their
    English column names, which the code uses)."""
    if LANGUAGES[lang] is None:  # English: nothing to translate, and no pandas import (0.3-0.5 s)
        return
    try:
        from IPython import get_ipython
        from pandas import DataFrame
        from pandas.io.formats.style import Styler
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    html = shell.display_formatter.formatters['text/html']
    for kind in (DataFrame, Styler):
        html.for_type(kind, _table_html)


on_language_change(show_tables_in)
