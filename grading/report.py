"""The class report, OUT/report.html: for instructors only (it shows why hidden tests failed).

`python -m grading report ASSIGNMENT OUT` reads OUT/private/records/ and OUT/written.csv and writes
one self-contained HTML page: status counts, the distribution of totals (a PNG drawn with
matplotlib, embedded), per question the mean, full marks, zeros and the tests that fail most with
the reasons each failed, every student's row (the reason with the cell numbers of the feedback,
lateness, superseded files, flags: look-alike names, unusually fast questions, LMS conflicts),
and pairs of submissions whose own code is identical or nearly so (similarity.py).
matplotlib is imported only inside `score_plot` (so `python -m grading --help` never imports it).
"""
import base64
import html
import io
import statistics
from collections import Counter

from . import feedback as fb

from .similarity import MIN_CHARS, SIMILAR, similar_pairs


def esc(x):
    return html.escape(str(x), quote=True)


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

def student_table(rows):
    """One line per row of grades.csv: what the instructor answers questions from."""
    h = ['<h2>Students</h2><table><tr><th>student</th><th>status</th><th>total</th>'
         '<th>why</th><th>late</th><th>superseded files (score)</th><th>flags</th></tr>']
    for r in rows:
        who = ' '.join(x for x in (r.get('student_id'), r.get('name'), r.get('submission')) if x)
        h.append(f"<tr><td>{esc(who)}</td><td>{esc(r.get('status', ''))}</td>"
                 f"<td>{esc(r.get('total', ''))}</td><td>{esc(r.get('reason', ''))}</td>"
                 f"<td>{esc(r.get('late', ''))}</td><td>{esc(r.get('superseded', ''))}</td>"
                 f"<td>{esc(r.get('flags', ''))}</td></tr>")
    h.append('</table>')
    return h


def build(book):
    """Write OUT/report.html; returns its path and a summary dict (what the tests check)."""
    records, older = book.split()
    rows, _ = book.rows()
    status = Counter(r.get('status') or '?' for r in rows)
    graded = [r for r in rows if r.get('status') not in ('missing', 'conflict', '')]
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
    h.append(f'<tr><td>late</td><td>{len(late)}</td></tr>')
    h.append(f'<tr><td>superseded (older files of a student: listed in the row, not counted)</td>'
             f'<td>{sum(len(v) for v in older.values())}</td></tr></table>')
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
    h += student_table(rows)
    h.append('<h2>Similar code</h2>')
    h.append(f'<p class="note">A hint, not a verdict: pairs where at least {SIMILAR:.0%} of one '
             f'submission\'s own code (every code cell, lines most of the class shares left out) '
             f'is found in the other\'s, by copydetect\'s MOSS-style fingerprints with variable '
             f'names, comments and spacing ignored. {compared} submissions had enough own code '
             f'({MIN_CHARS} characters) to compare. Read both before concluding anything: a '
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
                  'failures': failures, 'similar': pairs, 'late': len(late),
                  'superseded': sum(len(v) for v in older.values())}
