"""Pairs of submissions whose own code is nearly the same, for the class report.

Stands on `copydetect` (MOSS-style winnowing of k-gram fingerprints, maintained on PyPI): its
tokenizer writes every variable name as V, function names as F and strings as S before
fingerprinting, so renaming variables or editing comments and spacing does not hide a copy.
Every code cell a student could edit is compared, whatever its tags (the record's `code`); the
lines most of the class shares (the handed-out code, the one obvious answer line) are left out
first, so that identical given code does not make everyone alike.
"""
import io
import logging
import tokenize
from collections import Counter

SIMILAR = 0.8     # share of a submission's own code found in the other's that gets listed
MIN_CHARS = 60    # own code shorter than this (after normalising) is not compared
NOISE = 20        # k: fingerprints are 20-character k-grams of the normalised code
GUARANTEE = 24    # any copied run this long is always found (winnowing window = 24 - 20 + 1)


def line_key(line):
    """A line without comments or spacing, for telling which lines the class shares."""
    try:
        toks = [t.string for t in tokenize.generate_tokens(io.StringIO(line + '\n').readline)
                if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                  tokenize.DEDENT, tokenize.ENDMARKER)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        toks = line.split('#')[0].split()
    return ' '.join(toks)


def own_code(records):
    """{key: source} of each submission's code lines that most of the class does not share
    (notebook magics `%`/`!` dropped)."""
    per = {}
    for key, rec in records.items():
        lines = [l for src in rec.get('code') or [] for l in str(src).splitlines()
                 if l.strip() and not l.lstrip().startswith(('%', '!'))]
        if lines:  # a file that is not a notebook has no code and says nothing of what is common
            per[key] = [(line_key(l), l) for l in lines]
    counts = Counter(k for lines in per.values() for k in {k for k, _ in lines if k})
    common = {k for k, n in counts.items() if n > max(1, len(per) // 2)}
    return {key: '\n'.join(l for k, l in lines if k and k not in common) for key, lines in per.items()}


def fingerprints(records):
    """{key: copydetect.CodeFingerprint} for the submissions with enough own code."""
    from copydetect import CodeFingerprint
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its notices
    out = {}
    for key, code in own_code(records).items():
        fp = CodeFingerprint(f'{key}.py', NOISE, GUARANTEE - NOISE + 1, fp=io.StringIO(code + '\n'),
                             language='python')
        if len(fp.filtered_code) >= MIN_CHARS and fp.token_coverage:
            out[key] = fp
    return out


def similar_pairs(records, threshold=SIMILAR):
    """([(similarity, key_a, key_b)] at or above `threshold`, most similar first; how many
    submissions had enough own code to compare). The similarity of a pair is the larger of
    the two shares of own code found in the other (copydetect's per-file similarity)."""
    from copydetect import compare_files
    prints = fingerprints(records)
    keys = sorted(prints)
    pairs = []
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            _, (sa, sb), _ = compare_files(prints[a], prints[b])
            sim = round(float(max(sa, sb)), 3)
            if sim >= threshold:
                pairs.append((sim, a, b))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    return pairs, len(prints)
