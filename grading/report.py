"""The class report, OUT/report.html: for instructors only (it shows why hidden tests failed).

`python -m grading report ASSIGNMENT OUT` reads OUT/private/records/ and OUT/written.csv and writes
one self-contained HTML page: status counts, the distribution of totals (a PNG drawn with
matplotlib, embedded), per question the mean, full marks, zeros and the tests that fail most with
the reasons each failed, and pairs of submissions whose own code is identical or nearly so.
matplotlib is imported only inside `score_plot` (so `python -m grading --help` never imports it).
"""
import base64
import html
import io
import itertools
import re
import statistics
import tokenize
from collections import Counter

from . import feedback as fb

SIMILAR = 0.8        # Jaccard similarity of code shingles that gets listed
MIN_TOKENS = 30      # less own code than this is not compared (untouched notebooks are alike)
SHINGLE = 5


def esc(x):
    return html.escape(str(x), quote=True)


# ----------------------------------------------------------------------------- similarity

def code_tokens(source):
    """Tokens of Python code without comments, whitespace or notebook magics."""
    lines = [l for l in source.splitlines() if not l.lstrip().startswith(('%', '!'))]
    text = '\n'.join(lines) + '\n'
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        out = re.findall(r'\w+|[^\w\s]', re.sub(r'#.*', '', text))
    return out


def own_code(records):
    """{key: [tokens]} of each submission's code lines that most of the class does not share
    (the notebook's given code is in everyone's, so it is left out)."""
    norm = lambda l: ' '.join(code_tokens(l)) if l.strip() else ''  # noqa: E731
    per = {}
    for key, rec in records.items():
        lines = [norm(l) for src in rec.get('code') or [] for l in src.splitlines()]
        per[key] = [l for l in lines if l]
    counts = Counter(l for lines in per.values() for l in set(lines))
    common = {l for l, n in counts.items() if n > max(1, len(per) // 2)}
    return {k: ' '.join(l for l in lines if l not in common).split() for k, lines in per.items()}


def similar_pairs(records, threshold=SIMILAR):
    """[(similarity, key_a, key_b)] for pairs at or above `threshold`, most similar first."""
    tokens = own_code(records)
    shingles = {}
    for k, toks in tokens.items():
        if len(toks) >= MIN_TOKENS:
            shingles[k] = {tuple(toks[i:i + SHINGLE]) for i in range(len(toks) - SHINGLE + 1)}
    pairs = []
    for a, b in itertools.combinations(sorted(shingles), 2):
        sa, sb = shingles[a], shingles[b]
        sim = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
        if sim >= threshold:
            pairs.append((round(sim, 3), a, b))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    return pairs, len(shingles)


# ----------------------------------------------------------------------------- statistics

def question_stats(book, records, rows):
    """Per question: {'name', 'max', 'n', 'mean', 'full', 'zero', 'kind'}."""
    out = []
    for q in book.assignment.questions:
        name, top = q['name'], book.maxima.get(q['name']) or 0
        if q.get('manual'):
            vals = [fb_number(r.get(name)) for r in rows if (r.get(name) or '').strip()]
        else:
            vals = [float((rec.get('scores') or {}).get(name, 0) or 0) for rec in records.values()]
        vals = [v for v in vals if v is not None]
        out.append({'name': name, 'max': top, 'n': len(vals), 'kind': 'written' if q.get('manual') else 'auto',
                    'mean': statistics.fmean(vals) if vals else None,
                    'full': sum(1 for v in vals if abs(v - top) < 1e-9 and top > 0),
                    'zero': sum(1 for v in vals if v == 0)})
    return out


def fb_number(x):
    try:
        return float(str(x).strip())
    except ValueError:
        return None


def test_failures(book, records):
    """Per auto question: [(label, hidden, failures, runs, Counter of reasons -> [keys])]."""
    out = {}
    for q in book.assignment.auto:
        spec = book.assignment.tests.get(q, {})
        cases = spec.get('suites', [{}])[0].get('cases', [])
        table = []
        for i, case in enumerate(cases):
            hidden = bool(case.get('hidden', True))
            n_pub = sum(1 for c in cases[:i + 1] if not c.get('hidden', True))
            n_hid = sum(1 for c in cases[:i + 1] if c.get('hidden', True))
            label = f"hidden test {n_hid}" if hidden else f"public test {n_pub}"
            reasons, runs, fails = {}, 0, 0
            for key, rec in sorted(records.items()):
                res = (rec.get('results') or {}).get(q) or []
                if i >= len(res):
                    continue
                runs += 1
                if not res[i].get('passed'):
                    fails += 1
                    _, how = fb.describe_test_failure(res[i].get('message', ''))
                    reasons.setdefault(how or '(no message)', []).append(key)
            code = '\n'.join(l for l in str(case.get('code', '')).splitlines()
                             if l.startswith('>>> ') or l.startswith('... ')).replace('>>> ', '').replace('... ', '')
            table.append({'label': label, 'hidden': hidden, 'fails': fails, 'runs': runs,
                          'reasons': sorted(reasons.items(), key=lambda kv: -len(kv[1])),
                          'code': code.strip()})
        table.sort(key=lambda t: -t['fails'])
        out[q] = table
    return out


def score_plot(totals, maximum):
    """A PNG (bytes) histogram of the totals; matplotlib is imported here only."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    bins = max(5, min(20, int(maximum) + 1 if maximum else 10))
    ax.hist(totals, bins=bins, range=(0, maximum or max(totals + [1])), color='#4472c4',
            edgecolor='white')
    ax.set_xlabel(f'total (of {fb.fmt(maximum)})')
    ax.set_ylabel('students')
    ax.set_title('Score distribution')
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png')
    plt.close(fig)
    return buf.getvalue()


# ----------------------------------------------------------------------------- the page

def build(book):
    """Write OUT/report.html; returns its path and a summary dict (what the tests check)."""
    records = book.records()
    rows, _ = book.rows()
    status = Counter(r.get('status') or '?' for r in rows)
    graded = [r for r in rows if r.get('status') not in ('missing', '')]
    totals = [fb_number(r.get('total')) for r in graded]
    totals = [t for t in totals if t is not None]
    stats = question_stats(book, records, graded)
    failures = test_failures(book, records)
    pairs, compared = similar_pairs(records)
    late = [r for r in graded if r.get('late')]
    a = book.assignment
    h = [f'<!doctype html><html><head><meta charset="utf-8"><title>Class report: {esc(a.name)}</title>',
         '<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}'
         'table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;'
         'text-align:left;vertical-align:top}pre{background:#f4f4f4;padding:.4em;white-space:pre-wrap}'
         '.note{color:#555}</style></head><body>',
         f'<h1>Class report: {esc(a.name)}</h1>',
         '<p class="note">For instructors only: this page shows why hidden tests failed. '
         'Do not hand it to students.</p>',
         '<h2>Status counts</h2><table><tr><th>status</th><th>submissions</th></tr>']
    for s, n in sorted(status.items(), key=lambda kv: -kv[1]):
        h.append(f'<tr><td>{esc(s)}</td><td>{n}</td></tr>')
    h.append(f'<tr><td>late</td><td>{len(late)}</td></tr></table>')
    h.append('<h2>Score distribution</h2>')
    if totals:
        h.append(f'<p>{len(totals)} graded; total (auto + written) of {fb.fmt(book.total_max)}: '
                 f'mean {statistics.fmean(totals):.2f}, median {statistics.median(totals):g}, '
                 f'min {min(totals):g}, max {max(totals):g}. Written questions without points '
                 f'count 0 until typed into written.csv.</p>')
        png = base64.b64encode(score_plot(totals, book.total_max)).decode()
        h.append(f'<img alt="histogram of totals" src="data:image/png;base64,{png}">')
    else:
        h.append('<p>No graded submissions.</p>')
    h.append('<h2>Per question</h2><table><tr><th>question</th><th>kind</th><th>max</th>'
             '<th>scored</th><th>mean</th><th>full marks</th><th>zero</th></tr>')
    for s in stats:
        mean = f"{s['mean']:.2f}" if s['mean'] is not None else '-'
        h.append(f"<tr><td>{esc(s['name'])}</td><td>{s['kind']}</td><td>{fb.fmt(s['max'])}</td>"
                 f"<td>{s['n']}</td><td>{mean}</td><td>{s['full']}</td><td>{s['zero']}</td></tr>")
    h.append('</table>')
    h.append('<h2>Tests that fail most, and why</h2>')
    for q, table in failures.items():
        h.append(f'<h3>{esc(q)}</h3><table><tr><th>test</th><th>failed</th><th>the test</th>'
                 '<th>why it failed (students)</th></tr>')
        for t in table:
            why = ''.join(
                f"<li><code>{esc(reason[:300])}</code>: {len(keys)} "
                f"({esc(', '.join(keys[:8]))}{', ...' if len(keys) > 8 else ''})</li>"
                for reason, keys in t['reasons'][:6])
            h.append(f"<tr><td>{esc(t['label'])}</td><td>{t['fails']} of {t['runs']}</td>"
                     f"<td><pre>{esc(t['code'])}</pre></td><td><ul>{why}</ul></td></tr>")
        h.append('</table>')
    h.append('<h2>Similar code</h2>')
    h.append(f'<p class="note">A hint, not a verdict: pairs whose own code (lines that most of '
             f'the class does not share, comments and spacing ignored) has a Jaccard similarity of '
             f'{SHINGLE}-token shingles of at least {SIMILAR}. {compared} submissions had enough '
             f'own code ({MIN_TOKENS} tokens) to compare. Read both before concluding anything: a '
             f'short question has few ways to be answered.</p>')
    if pairs:
        h.append('<table><tr><th>similarity</th><th>submission</th><th>submission</th></tr>')
        for sim, x, y in pairs:
            label = 'identical' if sim >= 0.999 else f'{sim:.2f}'
            h.append(f'<tr><td>{label}</td><td>{esc(x)}</td><td>{esc(y)}</td></tr>')
        h.append('</table>')
    else:
        h.append('<p>No pair above the threshold.</p>')
    h.append('</body></html>')
    path = book.out / 'report.html'
    path.write_text('\n'.join(h), encoding='utf-8')
    return path, {'status': dict(status), 'totals': totals, 'questions': stats,
                  'failures': failures, 'similar': pairs, 'late': len(late)}
