"""Pages for grading written questions: every student's answer next to their points and comment.

`python -m grading written ASSIGNMENT OUT` writes OUT/written/<question>.md (one page per written
question, answers read from the executed notebooks, figures saved beside them) and
OUT/written/README.md (an index with how many answers have points). The points and comments
themselves live in OUT/written.csv, the one file you type into; the pages show what is there now.
Standard library only.
"""
import base64
import json

from . import feedback as fb

PLACEHOLDER = '_Type your answer here, replacing this text._'


def _source(cell):
    src = cell.get('source', '')
    return ''.join(src) if isinstance(src, list) else str(src)


def answer_cells(cells, question):
    """The cells of `question`'s answer in an executed notebook (raw JSON cells), prompt excluded."""
    simple = [{'type': c.get('cell_type'), 'source': _source(c),
               'tags': [t for t in ((c.get('metadata') or {}).get('tags') or []) if isinstance(t, str)]}
              for c in cells]
    labels = fb.question_of_cells(simple, question['_all'])
    out, prompt_seen = [], False
    for cell, s, label in zip(cells, simple, labels):
        if label != question['name']:
            continue
        if not prompt_seen and s['type'] == 'markdown' and (
                '**Question' in s['source'] or '<!-- BEGIN QUESTION -->' in s['source']):
            prompt_seen = True
            continue
        if s['type'] == 'markdown' and s['source'].strip().startswith('<!-- END QUESTION -->'):
            continue
        out.append(cell)
    return out


def prompt_of(cells, question):
    simple = [{'type': c.get('cell_type'), 'source': _source(c), 'tags': []} for c in cells]
    labels = fb.question_of_cells(simple, question['_all'])
    for s, label in zip(simple, labels):
        if label == question['name'] and s['type'] == 'markdown':
            return s['source'].replace('<!-- BEGIN QUESTION -->', '').strip()
    return ''


def notebook_cells(book, record):
    path = book.out / 'executed' / f"{record['safe']}.ipynb"
    try:
        nb = json.loads(path.read_text(encoding='utf-8'))
        return nb.get('cells', []), 'executed'
    except (OSError, ValueError):
        return [], None


def write_pages(book):
    """Write the pages; returns their paths."""
    a = book.assignment
    folder = book.out / 'written'
    (folder / 'img').mkdir(parents=True, exist_ok=True)
    records, _ = book.split()  # a student's superseded files are not graded by hand
    pages = []
    index = ['# Written questions', '',
             f'Assignment: {fb.plain(a.name)}. Type points and comments in `{book.written_path}` '
             f'(one row per student, columns `<question>` and `<question>_comment`, plus `comment`); '
             f'then run `python -m grading written {a.name} {book.out}` again: grades.csv and the '
             f'students\' feedback pick them up, and these pages show them.', '',
             '| question | points | answers | with points |', '|---|---|---|---|']
    for q in a.questions:
        if not q.get('manual'):
            continue
        q = dict(q, _all=a.questions)
        name = q['name']
        top = book.maxima.get(name)
        lines, prompt, n_answers, n_points = [], '', 0, 0
        for key in sorted(records):
            rec = records[key]
            cells, source = notebook_cells(book, rec)
            if not prompt and cells:
                prompt = prompt_of(cells, q)
            row = book.written.row(key)
            points, comment = (row.get(name) or '').strip(), (row.get(f'{name}_comment') or '').strip()
            n_points += bool(points)
            who = f"{key}" + (f" ({rec.get('submission')})" if rec.get('submission') != key else '')
            lines += [f'## {fb.plain(who)}', '']
            answer = answer_cells(cells, q) if cells else []
            text_parts = []
            for i, cell in enumerate(answer):
                src = _source(cell).strip()
                if cell.get('cell_type') == 'code':
                    if src:
                        text_parts.append(fb.fence(src, 'python'))
                    for j, out in enumerate(cell.get('outputs') or []):
                        data = out.get('data') or {}
                        if 'image/png' in data:
                            img = folder / 'img' / f"{rec['safe']}-{name}-{i}-{j}.png"
                            try:
                                img.write_bytes(base64.b64decode(''.join(data['image/png'])))
                                text_parts.append(f'![figure](img/{img.name})')
                            except (ValueError, TypeError):
                                pass
                        elif out.get('output_type') == 'stream':
                            text_parts.append(fb.fence(''.join(out.get('text', ''))[-2000:]))
                        elif 'text/plain' in data:
                            text_parts.append(fb.fence(''.join(data['text/plain'])[-2000:]))
                elif src and src != PLACEHOLDER:
                    text_parts.append(fb.fence(src, 'markdown'))
            if text_parts:
                n_answers += 1
                lines += text_parts
            else:
                lines.append('*(no answer' + ('' if source else ': no executed notebook') + ')*')
            lines += ['', f"**Points** (of {fb.fmt(top or 0)}): {points or '___'}  ",
                      f"**Comment**: {fb.inline(comment) if comment else '___'}  ",
                      f"Type them in written.csv, row `{fb.plain(key)}`, columns `{name}` and "
                      f"`{name}_comment`.", '', '---', '']
        head = [f'# {name}: written question ({fb.fmt(top or 0)} points)', '',
                '> ' + '\n> '.join(prompt.splitlines()) if prompt else '', '',
                f'{n_answers} answers; {n_points} with points in written.csv.', '', '---', '']
        page = folder / f'{name}.md'
        page.write_text('\n'.join(head + lines), encoding='utf-8')
        pages.append(page)
        index.append(f'| [{name}]({name}.md) | {fb.fmt(top or 0)} | {n_answers} | {n_points} |')
    (folder / 'README.md').write_text('\n'.join(index) + '\n', encoding='utf-8')
    return pages
