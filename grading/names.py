"""Names that look alike: a roster name or file name that mixes scripts with look-alike letters
(`аda` with a Cyrillic а), or two names that differ only by such letters, are flagged in
grades.csv and the report, with the code points shown, so that `аda` and `ada` no longer print
the same everywhere.

Stands on `confusable-homoglyphs` (the Unicode confusables and script data, maintained on PyPI)
rather than a table of our own.
"""
import functools
import unicodedata


@functools.lru_cache(maxsize=4096)
def _latin_twin(ch):
    """The Latin letter `ch` is confusable with, or `ch` itself."""
    from confusable_homoglyphs import confusables
    found = confusables.is_confusable(ch, preferred_aliases=['latin'], greedy=True) or []
    for item in found:
        for glyph in item.get('homoglyphs') or []:
            if str(glyph.get('n', '')).startswith('LATIN') and len(glyph.get('c', '')) == 1:
                return glyph['c']
    return ch


@functools.lru_cache(maxsize=8192)
def skeleton(text):
    """What `text` looks like: every look-alike letter replaced by its Latin twin, case and
    spacing ignored (names that print the same get the same skeleton)."""
    text = unicodedata.normalize('NFKC', str(text))
    return ''.join(_latin_twin(ch) for ch in text).casefold().replace(' ', '')


def spelled(text):
    """'аda' -> 'аda (U+0430 CYRILLIC SMALL LETTER A)': the letters that are not plain ASCII."""
    odd = [ch for ch in dict.fromkeys(str(text)) if ord(ch) > 127]
    if not odd:
        return str(text)
    points = ', '.join(f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in odd[:4])
    return f'{text} ({points})'


@functools.lru_cache(maxsize=8192)
def dangerous(text):
    """Does `text` mix Latin letters with letters of another script that look like Latin ones
    (`аda`)? A name in two scripts without look-alikes (`张伟 Wei`) is not flagged."""
    from confusable_homoglyphs import categories, confusables
    text = str(text)
    if not confusables.is_mixed_script(text):
        return False
    scripts = {categories.alias(ch) for ch in text if ch.isalpha()}
    return 'LATIN' in scripts and any(
        ch.isalpha() and categories.alias(ch) != 'LATIN' and _latin_twin(ch) != ch for ch in text)


def flags(names):
    """{key: [flag]} for `names` ({key: [names of that row]}): mixed-script look-alikes, and
    rows whose names differ but look the same as another row's."""
    out = {}
    seen = {}
    for key, texts in names.items():
        for text in dict.fromkeys(t for t in texts if t):
            if dangerous(text):
                out.setdefault(key, []).append(f'look-alike letters: {spelled(text)}')
            seen.setdefault(skeleton(text), {}).setdefault(text, set()).add(key)
    for spellings in seen.values():
        if len(spellings) < 2:
            continue
        for text, keys in spellings.items():
            others = [t for t in spellings if t != text]
            for key in keys:
                out.setdefault(key, []).append(
                    f"name looks like another: {spelled(text)} vs {', '.join(spelled(t) for t in others)}")
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}
