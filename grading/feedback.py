"""What a student reads: per-question feedback rendered from a submission's grading record.

Standard library only. `make_record(...)` (called by grade.py for every submission) turns the run
and the tests' results into a JSON-able record, kept for instructors in OUT/private/records/ (it
holds the hidden tests' failure messages); `render(record, assignment, written)` writes the
Markdown students get, which never shows hidden tests, only how many failed.

Everything that came from the submission (error messages, code lines, file names, test output
with the student's values) is escaped: inside a code fence longer than any backtick run in the
text, so it cannot forge headings, scores or links.
"""
import json
import re

ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
CELL_FRAME = re.compile(r'Cell In\s*\[(\d+)\],\s*line (\d+)')
CONTROL = re.compile(r'[\x00-\x08\x0b-\x1f\x7f]')


# ----------------------------------------------------------------------------- escaping

def fence(text, lang=''):
    """A fenced code block that `text` cannot close."""
    text = CONTROL.sub('', str(text)).rstrip('\n')
    longest = max((len(m) for m in re.findall(r'`+', text)), default=0)
    ticks = '`' * max(3, longest + 1)
    return f'{ticks}{lang}\n{text}\n{ticks}'


def inline(text, limit=300):
    """Inline code for one line of untrusted text."""
    text = ' '.join(CONTROL.sub(' ', str(text)).split())
    if len(text) > limit:
        text = text[:limit - 1] + '…'
    if not text:
        return '(empty)'
    longest = max((len(m) for m in re.findall(r'`+', text)), default=0)
    ticks = '`' * (longest + 1)
    pad = ' ' if text.startswith('`') or text.endswith('`') else ''
    return f'{ticks}{pad}{text}{pad}{ticks}'


def plain(text, limit=200):
    """One line of untrusted text outside code (a file name): no line breaks, no HTML."""
    text = ' '.join(CONTROL.sub(' ', str(text)).split())[:limit]
    return text.replace('<', '&lt;').replace('>', '&gt;')


def fmt(x):
    """A score as the gradebook, the log and the feedback write it: 2, 1.5, 0.3333."""
    x = round(float(x), 4)
    return str(int(x)) if x == int(x) else f'{x:g}'


# ----------------------------------------------------------------------------- notebook layout

def cell_sources(nb_text):
    """[{'type', 'source', 'tags'}] of a notebook's cells (JSON text), or [] if unreadable."""
    try:
        nb = json.loads(nb_text)
        cells = []
        for c in nb.get('cells', []):
            src = c.get('source', '')
            src = ''.join(src) if isinstance(src, list) else str(src)
            tags = (c.get('metadata') or {}).get('tags') or []
            cells.append({'type': c.get('cell_type'), 'source': src,
                          'tags': [t for t in tags if isinstance(t, str)]})
        return cells
    except (ValueError, AttributeError, TypeError):
        return []


def question_of_cells(cells, questions):
    """For each cell, the question it belongs to ('q3'), or a place ('before q1', 'after q6').

    Questions are in notebook order. A question starts at its prompt (a markdown cell with
    '**Question' or '<!-- BEGIN QUESTION -->') and ends at its `grader.check("qN")` cell, or at
    '<!-- END QUESTION -->' for a written one."""
    names = [q['name'] for q in questions]
    labels, i, inside = [], 0, False
    for c in cells:
        src = c['source']
        check = re.search(r'^\s*grader\.check\(\s*["\'](\w+)["\']\s*\)', src, re.M) \
            if c['type'] == 'code' and 'exercise-checker' not in c['tags'] else None
        starts = c['type'] == 'markdown' and ('**Question' in src or '<!-- BEGIN QUESTION -->' in src)
        if starts and i < len(names):
            if inside:  # a new prompt before the previous question ended
                i += 1
            inside = i < len(names)
        if check and check.group(1) in names:
            labels.append(check.group(1))
            i, inside = max(i, names.index(check.group(1)) + 1), False
            continue
        if inside and i < len(names):
            labels.append(names[i])
        elif i < len(names):
            labels.append(f'before {names[i]}')
        else:
            labels.append(f'after {names[-1]}' if names else 'the notebook')
        if c['type'] == 'markdown' and '<!-- END QUESTION -->' in src and inside:
            i, inside = i + 1, False
    return labels


def code_cell_numbers(cells):
    """{cell index: 1-based number among code cells} (what a student can count)."""
    out, n = {}, 0
    for i, c in enumerate(cells):
        if c['type'] == 'code':
            n += 1
            out[i] = n
    return out


def failing_line(executed_cells, traceback_text):
    """(line number, code line) in the student's own cell where the error happened, or None."""
    frames = CELL_FRAME.findall(traceback_text)
    if not frames:
        return None
    count, line = int(frames[-1][0]), int(frames[-1][1])
    for c in executed_cells:
        if c.get('execution_count') == count:
            src = c.get('source', '')
            src = ''.join(src) if isinstance(src, list) else str(src)
            lines = src.splitlines()
            if 1 <= line <= len(lines):
                return line, lines[line - 1]
    return None


def read_executed(path):
    try:
        with open(path, encoding='utf-8') as f:
            nb = json.load(f)
        return nb.get('cells', []) if isinstance(nb, dict) else []
    except (OSError, ValueError):
        return []


def cell_times_of(pairs, cells):
    """[(cell index among all cells, seconds)] from the sandbox's `cell_times` (sandbox.run_notebook:
    [(index among the notebook's code cells, counting from 0, seconds)]), the one representation
    the grader passes around. Pairs that are malformed or name no code cell are dropped."""
    code = [i for i, c in enumerate(cells) if c['type'] == 'code']
    out = []
    for item in pairs or []:
        try:
            index, seconds = item
            seconds = float(seconds)
        except (TypeError, ValueError):
            continue
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(code):
            out.append((code[index], seconds))
    return out


# ----------------------------------------------------------------------------- the record

def make_record(name, assignment, status, reason, scores, results, notes, *, summary=None,
                nb_text=None, executed_path=None, skipped=None, cell_times=None, clean=None):
    """Everything feedback, report and written pages need, as JSON-able data.

    `results` ({q: [{'hidden', 'passed', 'points', 'message'}]}) keeps the hidden tests' failure
    messages: the record is for instructors only (OUT/private/). `cell_times` is the sandbox's
    [(index among code cells, seconds)] as run_notebook returns it (see cell_times_of)."""
    clean = clean or (lambda s: s)
    cells = cell_sources(nb_text) if nb_text else []
    labels = question_of_cells(cells, assignment.questions)
    numbers = code_cell_numbers(cells)
    executed = read_executed(executed_path) if executed_path else []
    errors = []
    for e in (summary or {}).get('errors') or []:
        if not isinstance(e, dict):
            continue
        idx = e.get('cell')
        where = {'cell': idx if isinstance(idx, int) else None,
                 'question': labels[idx] if isinstance(idx, int) and 0 <= idx < len(labels) else None,
                 'code_cell': numbers.get(idx) if isinstance(idx, int) else None,
                 'ename': clean(str(e.get('ename', ''))[:200]),
                 'evalue': clean(str(e.get('evalue', ''))[:500]), 'line': None, 'code': None}
        if isinstance(idx, int) and 0 <= idx < len(executed):
            for out in executed[idx].get('outputs') or []:
                if isinstance(out, dict) and out.get('output_type') == 'error':
                    tb = ANSI.sub('', '\n'.join(str(t) for t in out.get('traceback') or []))
                    found = failing_line(executed, tb)
                    if found:
                        where['line'], where['code'] = found[0], clean(found[1])[:300]
                    break
        errors.append(where)
    places = {str(i): f"{labels[i]} (code cell {numbers[i]})" for i in numbers if i < len(labels)}
    times = []
    for idx, seconds in cell_times_of(cell_times, cells):
        times.append({'cell': idx, 'code_cell': numbers.get(idx),
                      'question': labels[idx] if 0 <= idx < len(labels) else None,
                      'seconds': round(seconds, 2)})
    return {'name': name, 'status': status, 'reason': reason,
            'scores': {q: round(float(v), 4) for q, v in scores.items()},
            'results': {q: [dict(c, message=clean(c.get('message', ''))) for c in cases]
                        for q, cases in (results or {}).items()},
            'notes': [str(n) for n in notes or []], 'errors': errors, 'cell_times': times,
            'places': places,
            # every code cell, whatever its tags: a student can edit each of them (the report's
            # similarity check reads these; code the whole class shares is left out there)
            'code': [c['source'][:20000] for c in cells if c['type'] == 'code'],
            'skipped': {k: str(v)[:200] for k, v in sorted((skipped or {}).items())[:200]}}


# ----------------------------------------------------------------------------- rendering

def describe_test_failure(message):
    """(the failing test line(s), how it failed) from a doctest failure report: its first failure
    (a test keeps running after a failed line, so later failures are often consequences)."""
    text = str(message)
    chunks = [c for c in re.split(r'^\*{20,}$', text, flags=re.M) if 'Failed example:' in c]
    lines = (chunks[0] if chunks else text).splitlines()
    code = []
    for i, line in enumerate(lines):
        if line.startswith('Failed example:'):
            for nxt in lines[i + 1:]:
                if nxt.startswith('    '):
                    code.append(nxt[4:])
                else:
                    break
            break
    tail = [l.strip() for l in lines if l.strip() and not l.startswith('*')]
    return '\n'.join(code).strip(), (tail[-1] if tail else '')


def unanswered(record, cases):
    """Names of variables the failing tests missed that are still `...` in the notebook."""
    skipped = record.get('skipped') or {}
    names = []
    for c in cases:
        if c.get('passed'):
            continue
        m = re.match(r"NameError: name '(\w+)' is not defined", describe_test_failure(c.get('message', ''))[1])
        if m and str(skipped.get(m.group(1), '')).startswith('ellipsis') and m.group(1) not in names:
            names.append(m.group(1))
    return names


def where(record, text):
    """'cell 12 raised ...' (counting every cell) -> 'q3 (code cell 8) raised ...'."""
    places = record.get('places') or {}
    return re.sub(r'\bcell (\d+)\b', lambda m: places.get(str(int(m.group(1)) - 1), m.group(0)),
                  str(text))


def _counts(cases):
    return f"{sum(c['passed'] for c in cases)} of {len(cases)} passed" if cases else '-'


# What a failed hidden test checked, by the exception it ended with: the student learns the kind
# of check, never the test's code or message.
HIDDEN_KINDS = {
    'AssertionError': 'a check of your result did not hold',
    'NameError': 'a variable it reads does not exist in your notebook',
    'TypeError': 'your result has another type than expected',
    'AttributeError': 'your result lacks something the test reads from it',
    'KeyError': 'your result lacks a key or column the test reads',
    'IndexError': 'your result is shorter than expected',
    'ValueError': 'your result has another shape or value range than expected',
}


def hidden_kind(message):
    how = describe_test_failure(message)[1]
    name = re.match(r'([A-Za-z_][\w.]*)', how)
    name = name.group(1).split('.')[-1] if name else ''
    return HIDDEN_KINDS.get(name, f'it stopped with {name}' if name.endswith(('Error', 'Exception'))
                            else 'its check did not hold')


def speed_lines(record):
    """'q2: 0.01 s, the reference solution 8.8 s' for each flagged question (record['speed_flags']:
    questions that ran far faster than the master's own run in the same batch)."""
    out = []
    for f in record.get('speed_flags') or []:
        try:
            out.append(f"{plain(f['question'], 40)}: {float(f['seconds']):.2f} s, the reference "
                       f"solution {float(f['reference_seconds']):.2f} s")
        except (KeyError, TypeError, ValueError):
            continue
    return out


def render(record, assignment, written=None, name=None, marks=None):
    """Markdown feedback for one submission. `written`: this student's row of written.csv
    ({'q3': '2', 'q3_comment': '...', 'comment': '...'}) or None; `marks`: the gradebook's
    adjustment, late penalty and total for it (Book.marks), or None."""
    written = written or {}
    lines = _summary(record, assignment, written, marks or {}, name)
    lines += _score_table(record, assignment, written)
    blocks = _question_blocks(record, assignment)
    if blocks:
        lines += ['', '## What to fix, by question', '']
        for b in blocks:
            lines += b
    lines += _comments(assignment, written)
    lines += _run_notes(record)
    return '\n'.join(lines).rstrip() + '\n'


def _summary(record, assignment, written, marks, name):
    scores = record.get('scores') or {}
    status, reason = record.get('status'), where(record, record.get('reason') or '')
    maxima = {q['name']: q.get('points') for q in assignment.questions}
    auto_score = sum(scores.get(q, 0) for q in assignment.auto)
    lines = [f"# Feedback for {plain(name or record.get('name'))}", '',
             f'Assignment: {plain(assignment.name)}',
             f'Status: {status}' + (f' ({plain(reason, 300)})' if reason else ''),
             f'Auto-graded score: {fmt(auto_score)} / {fmt(assignment.max_score)}']
    w_max = sum(float(maxima.get(q) or 0) for q in assignment.manual)
    graded = {q: written.get(q, '').strip() for q in assignment.manual if written.get(q, '').strip()}
    if assignment.manual and len(graded) == len(assignment.manual):
        lines.append(f'Written questions: {fmt(sum(float(v) for v in graded.values()))} / {fmt(w_max)}')
    elif assignment.manual:
        lines.append(f"Written questions ({', '.join(assignment.manual)}): "
                     f"{'not graded yet' if not graded else 'partly graded'}, by a person")
    if marks.get('adjustment') is not None:
        lines.append(f"Adjustment by your instructor: {marks['adjustment']:+g}"
                     + (f" ({plain(marks.get('adjustment_reason'), 300)})" if marks.get('adjustment_reason') else ''))
    if marks.get('late_penalty'):
        lines.append(f"Late penalty: -{fmt(marks['late_penalty'])} (submitted {plain(marks.get('late'))} "
                     f"after the deadline; {marks.get('penalty_rule')})")
    complete = not assignment.manual or len(graded) == len(assignment.manual)
    if marks.get('total') is not None and complete:
        lines.append(f"Total: {fmt(marks['total'])} / {fmt(marks['max_total'])}")
    elif complete and assignment.manual:
        lines.append(f'Total: {fmt(auto_score + sum(float(v) for v in graded.values()))} / '
                     f'{fmt(assignment.max_score + w_max)}')
    return lines


def _score_table(record, assignment, written):
    results, scores = record.get('results') or {}, record.get('scores') or {}
    lines = ['', '| question | score | max | public tests | hidden tests |', '|---|---|---|---|---|']
    for q in assignment.questions:
        n = q['name']
        if q.get('manual'):
            v = (written.get(n) or '').strip() or '-'
            lines.append(f"| {n} | {v} | {fmt(q.get('points') or 0)} | written | written |")
            continue
        cases = results.get(n, [])
        pub = [c for c in cases if not c.get('hidden')]
        hid = [c for c in cases if c.get('hidden')]
        lines.append(f"| {n} | {fmt(scores.get(n, 0))} | {fmt(assignment.possible.get(n, 0))} | "
                     f"{_counts(pub) if cases else 'not run'} | {_counts(hid) if cases else 'not run'} |")
    return lines


def _question_blocks(record, assignment):
    """Per question, in notebook order: the error in its cells, the public tests that failed
    and how, each failed hidden test's hint (or the kind of check). A NameError cuts the
    cascade of failures after it to one line each."""
    results = record.get('results') or {}
    errors = record.get('errors') or []
    by_q = {}
    for e in errors:
        by_q.setdefault(e.get('question') or 'the notebook', []).append(e)
    order = [q['name'] for q in assignment.questions]
    places = order + sorted(set(by_q) - set(order), key=lambda p: (p not in order, p))
    cascade_from, blocks = None, []
    for place in _in_notebook_order(places, order, errors):
        errs = by_q.get(place, [])
        cases = results.get(place, []) if place in assignment.auto else []
        failed_pub = [c for c in cases if not c.get('hidden') and not c.get('passed')]
        failed_hid = [c for c in cases if c.get('hidden') and not c.get('passed')]
        if not (errs or failed_pub or failed_hid):
            continue
        if cascade_from is not None:
            what = errs[0]['ename'] if errs else f"{len(failed_pub) + len(failed_hid)} test(s) failed"
            blocks.append([f"- **{place}**: {what}; probably a consequence of the NameError in "
                           f"{cascade_from}: fix that first.", ''])
            continue
        todo = unanswered(record, cases)
        if todo and failed_pub:
            names = ', '.join(f'`{n}`' for n in todo)
            blocks.append([f"- **{place}**: not answered yet ({names} still `...`); "
                           f"{len(failed_pub)} public and {len(failed_hid)} hidden test(s) failed.", ''])
            continue
        blocks.append([f'### {place}', ''] + _error_lines(errs) + _public_lines(record, cases)
                      + _hidden_lines(place, cases))
        if any(e.get('ename') == 'NameError' for e in errs):
            cascade_from = place
    return blocks


def _error_lines(errs):
    block = []
    for e in errs:
        loc = f"code cell {e['code_cell']}" if e.get('code_cell') else 'a cell'
        block.append(f"Your code ({loc}) raised {inline(e['ename'] + ': ' + e['evalue'])}"
                     + (f" at line {e['line']}:" if e.get('line') else '.'))
        if e.get('code') is not None:
            block += ['', fence(e['code'], 'python')]
        block.append('')
    return block


def _public_lines(record, cases):
    public = [c for c in cases if not c.get('hidden')]
    groups, block = {}, []  # the same failure in several tests: shown once
    for number, c in enumerate(public, start=1):
        if not c.get('passed'):
            code, how = describe_test_failure(c.get('message', ''))
            groups.setdefault(how or number, []).append((number, code, how))
    for items in groups.values():
        nums, code, how = [n for n, _, _ in items], items[0][1], items[0][2]
        label = (f'Public test {nums[0]}' if len(nums) == 1 else
                 'Public tests ' + ', '.join(map(str, nums[:-1])) + f' and {nums[-1]}')
        first = ', the first of them' if len(nums) > 1 and code else ''
        block.append(f"{label} of {len(public)} failed{first}" + (':' if code or how else '.'))
        if code:
            block += ['', fence(code, 'python')]
        if how:
            block += ['', f'It failed with {inline(how)}.'] + _unreadable_hint(record, how)
        block.append('')
    return block


def _unreadable_hint(record, how):
    missing = re.match(r"NameError: name '(\w+)' is not defined", how)
    skipped = (record.get('skipped') or {}).get(missing.group(1)) if missing else None
    if skipped and skipped.startswith('ellipsis'):
        return ['', f"`{missing.group(1)}` is still `...`: this question is not answered yet."]
    if skipped:
        return ['', f"`{missing.group(1)}` exists in your notebook but the tests cannot read it "
                    f"({inline(skipped, 120)}): tests see numbers, strings, lists, dicts, numpy "
                    f"arrays and DataFrames only."]
    return []


def _hidden_lines(place, cases):
    """Each failed hidden test: the hint its author wrote (otter's failure_message, the case's
    `hint`), else the question and the kind of check that failed; never the test's code."""
    hidden = [c for c in cases if c.get('hidden')]
    block = []
    for number, c in enumerate(hidden, start=1):
        if c.get('passed'):
            continue
        hint = ' '.join(str(c.get('hint') or '').split())
        head = f"Hidden test {number} of {len(hidden)} for {place} failed"
        block += [f"{head}. Hint: {plain(hint, 500)}" if hint else
                  f"{head}: {hidden_kind(c.get('message', ''))} (the hidden tests are not shown).", '']
    return block


def _comments(assignment, written):
    maxima = {q['name']: q.get('points') for q in assignment.questions}
    comments = [(q, written.get(f'{q}_comment', '').strip()) for q in assignment.manual]
    comments = [(q, c) for q, c in comments if c]
    general = written.get('comment', '').strip()
    if not (comments or general):
        return []
    lines = ['', '## Comments from your instructor', '']
    for q, c in comments:
        points = (written.get(q) or '').strip()
        lines += [f'**{q}**' + (f" ({points} / {fmt(maxima.get(q) or 0)})" if points else '') + ':',
                  '', *[f'> {l}' for l in c.splitlines()], '']
    if general:
        lines += ['**Overall:**', '', *[f'> {l}' for l in general.splitlines()], '']
    return lines


def _run_notes(record):
    lines = []
    notes = [where(record, n) for n in record.get('notes') or []
             if not re.match(r'(cell \d+|a cell) raised ', str(n))]  # errors: shown per question
    if notes:
        lines += ['', '## Notes from the run', ''] + [f'- {inline(n)}' for n in notes]
    fast = speed_lines(record)
    if fast:
        lines += ['', '## Questions that ran unusually fast', '',
                  'These ran far faster than the reference solution did in the same batch; a '
                  'training cell this fast may not have trained:', ''] + [f'- {f}' for f in fast]
    times = record.get('cell_times') or []
    if times:
        lines += ['', '## Run time of each code cell', '', '| code cell | question | seconds |',
                  '|---|---|---|']
        for t in times:
            lines.append(f"| {t.get('code_cell') or '-'} | {t.get('question') or '-'} | "
                         f"{t['seconds']:.2f} |")
    return lines


def _in_notebook_order(places, order, errors):
    """Questions in notebook order, with 'before qN' places just before qN."""
    def rank(p):
        if p in order:
            return (order.index(p), 1)
        m = re.match(r'before (\w+)$', p)
        if m and m.group(1) in order:
            return (order.index(m.group(1)), 0)
        return (len(order), 2)
    return sorted(dict.fromkeys(places), key=rank)
