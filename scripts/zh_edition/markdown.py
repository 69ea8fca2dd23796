"""Markdown pages as messages: the blocks a translator translates, and putting them back."""
import re

from .pages import ADMONITIONS

# ----------------------------------------------------------------------------- Markdown blocks

_FENCE = re.compile(r'^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{(\w[\w-]*)\})?\s*(.*)$')
_ITEM = re.compile(r'^(\s*)([-*+]|\d+[.)])(\s+)(.*)$')
_HEADING = re.compile(r'^(#{1,6}\s+)(.*?)(\s*)$')
_TABLE_SEP = re.compile(r'^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$')
_WORDS = re.compile(r'[A-Za-z]{2,}|[\u4e00-\u9fff]')


def _needs_translation(text):
    """False for text with no words outside math and code (e.g. a lone formula)."""
    stripped = re.sub(r'\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|<[^>]*>|\{[a-z]+\}', ' ', text, flags=re.S)
    return bool(_WORDS.search(stripped))


def normalize(text):
    """One message id: the block's lines joined by single spaces (reflowing is no change)."""
    return ' '.join(line.strip() for line in text.strip().split('\n'))


def _interrupts_paragraph(line):
    """A list item that can interrupt a paragraph (CommonMark: a bullet, or an ordered item
    numbered 1); `... question\n3. Why` continues the paragraph."""
    item = _ITEM.match(line)
    return bool(item) and (not item.group(2)[0].isdigit() or item.group(2)[:-1] == '1')


def _admonition(lines, i, j, title, newline):
    """The pieces of an admonition from its fence (line i) to its closing fence (line j): the
    title and the body are translated, the options copied."""
    line, out = lines[i], []
    out.append(line[:len(line) - len(title)] if title else line)
    if title:
        out.append(('msg', title, ''))
    out.append(newline(i))
    k = i + 1
    while k < j and re.match(r'^\s*:[\w-]+:', lines[k]):
        out.append(lines[k] + newline(k))
        k += 1
    out.extend(segments('\n'.join(lines[k:j])))
    if k < j:
        out.append('\n')
    for m in range(j, min(j, len(lines) - 1) + 1):
        out.append(lines[m] + newline(m))
    return out


def segments(markdown):
    """The Markdown as a list of pieces: str (copied) or ('msg', text, indent) (translated).

    ''.join of the pieces, with each message replaced by itself, gives back the Markdown up to
    reflowed lines inside messages.
    """
    lines = markdown.split('\n')
    out = []
    i = 0

    def raw(text):
        out.append(text)

    def newline(k):
        return '\n' if k < len(lines) - 1 else ''

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE.match(line)
        if not stripped or stripped.startswith('<') or re.match(r'^\(.+\)=$', stripped) \
                or _TABLE_SEP.match(line) and '|' in line:
            raw(line + newline(i))
            i += 1
        elif stripped.startswith('$$'):
            # display math: copied up to the closing $$
            j = i
            if not (stripped.endswith('$$') and len(stripped) > 2):
                j = i + 1
                while j < len(lines) and '$$' not in lines[j]:
                    j += 1
            for k in range(i, min(j, len(lines) - 1) + 1):
                raw(lines[k] + newline(k))
            i = j + 1
        elif fence:
            indent, marks, _, name, title = fence.groups()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(marks):
                j += 1
            if name in ADMONITIONS:
                out.extend(_admonition(lines, i, j, title, newline))
            else:
                for k in range(i, min(j, len(lines) - 1) + 1):
                    raw(lines[k] + newline(k))
            i = j + 1
        elif _HEADING.match(line):
            prefix, text, _ = _HEADING.match(line).groups()
            raw(prefix)
            out.append(('msg', text, ''))
            raw(newline(i))
            i += 1
        elif stripped.startswith('|'):
            out.append(('msg', line.strip(), ''))
            raw(newline(i))
            i += 1
        elif _ITEM.match(line):
            indent, marker, space, text = _ITEM.match(line).groups()
            body = [text]
            j = i + 1
            while j < len(lines) and lines[j].strip() and not _ITEM.match(lines[j]) \
                    and not _FENCE.match(lines[j]) and not lines[j].strip().startswith('$$'):
                body.append(lines[j])
                j += 1
            raw(indent + marker + space)
            out.append(('msg', '\n'.join(body), ' ' * (len(indent) + len(marker) + len(space))))
            raw(newline(j - 1))
            i = j
        else:
            body = [line]
            j = i + 1
            while j < len(lines) and lines[j].strip() and not _FENCE.match(lines[j]) \
                    and not _HEADING.match(lines[j]) and not _interrupts_paragraph(lines[j]) \
                    and not lines[j].strip().startswith(('$$', '|', '<')):
                body.append(lines[j])
                j += 1
            out.append(('msg', '\n'.join(body), ''))
            raw(newline(j - 1))
            i = j
    # messages without words (a lone formula, a bare link) are copied
    return [p if isinstance(p, str) or _needs_translation(p[1]) else p[1] for p in out]


def translate_markdown(markdown, lookup):
    pieces = []
    for piece in segments(markdown):
        if isinstance(piece, str):
            pieces.append(piece)
        else:
            _, text, indent = piece
            translated = lookup(normalize(text))
            pieces.append(translated.replace('\n', '\n' + indent))
    return ''.join(pieces)


def markdown_messages(markdown):
    return [normalize(p[1]) for p in segments(markdown) if not isinstance(p, str)]
