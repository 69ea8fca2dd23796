"""Sentences a notebook computes, in the reader's language: `say(template, **values)`.

A chapter writes `utils.say("LeNet has **{params:,} parameters**.", params=n)`: the English
template is looked up in the active language's catalog (English: itself), then formatted with the
values, and shown as Markdown. Keeping the template apart from the values is what lets a
translation catalog hold it. The language is COURSE_LANG (`en`, the default, or `zh`; read by
utils.config); a Chinese notebook's first code line calls `use_language('zh')`, which also works
when `utils` was imported before (the Colab set-up cell does). The catalogs are the gettext files
locale/zh_CN/LC_MESSAGES/**.po that scripts/translations.py keeps (read here with the standard
library only).
"""
import ast
import os
from pathlib import Path

from . import config

LOCALE_DIR = Path(__file__).resolve().parents[1] / 'locale'
LANGUAGES = {'en': None, 'zh': 'zh_CN'}  # COURSE_LANG -> catalog folder
_catalogs = {}


class Say(str):
    """A str that Jupyter (and the built site) shows as Markdown."""

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
            f"are behind the English text; run `python scripts/translations.py update` and "
            f"translate what `python scripts/translations.py check` lists") from None


def say(template, **values):
    """Markdown: `template`, translated, formatted with `values`."""
    return Say(translate(template).format(**values))
