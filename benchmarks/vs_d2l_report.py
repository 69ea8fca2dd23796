"""The table and last line that benchmarks/vs_d2l.py prints, and its CSV (kept apart so that
vs_d2l.py, which runs the trials, stays short). Pure functions of the result rows."""
import csv
import os
import platform
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_commit():
    """The commit whose code was measured, with '-dirty' when tracked files differed from it."""
    def git(*args):
        return subprocess.run(['git', '-C', str(ROOT), *args], capture_output=True, text=True)
    head = git('rev-parse', 'HEAD')
    if head.returncode != 0:
        return 'unknown (not a git checkout)'
    dirty = git('diff', '--quiet', 'HEAD').returncode != 0
    return head.stdout.strip() + ('-dirty' if dirty else '')


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None, None
    return statistics.median(values), min(values), max(values)


def fmt(triple, digits=1):
    med, lo, hi = triple
    if med is None:
        return 'n/a'
    return f"{med:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def write_csv(rows, path):
    """All rows so far (the run rewrites it after every trial), through a temporary file renamed
    into place: an interrupted run leaves the last complete table, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    partial = path.with_name(path.name + '.part')
    with open(partial, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)


TEXT_COLUMNS = {'case', 'impl', 'mode', 'commit', 'started', 'omp_num_threads'}


def read_csv(path):
    """The rows write_csv wrote, numbers as numbers and empty cells as None (for --report)."""
    def value(column, text):
        if text == '' or column in TEXT_COLUMNS:
            return text or None
        number = float(text)
        return int(number) if column == 'pair' else number
    with open(path, newline='') as f:
        return [{k: value(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


EXTRA_LABELS = {'course_amp': 'course, mixed_precision.train (bfloat16)',
                'course_threads': 'course, OMP_NUM_THREADS = cores'}


def report(rows, cases, mode, started):
    def get(case, impl, key):
        return [r.get(key) for r in sorted(rows, key=lambda r: r['pair'])
                if r['case'] == case and r['impl'] == impl]

    def paired(case, impl, key, op):
        return [op(a, b) for a, b in zip(get(case, impl, key), get(case, 'd2l', key))
                if a is not None and b is not None]

    commits = sorted({r.get('commit', 'unknown') for r in rows})
    lines = [f"Medians over pairs, (min-max) in brackets; {mode} mode, started "
             f"{started:%Y-%m-%d %H:%M %Z}, commit {', '.join(commits)}.", '',
             '| case | measure | course (utils) | d2l 1.0.3 | course / d2l |',
             '|---|---|---|---|---|']
    speedups, peak_fraction = {}, (None, None, None)
    for case in cases:
        if not get(case, 'course', 'images_per_sec'):
            continue  # an interrupted run: nothing to compare yet
        speed = summarize(paired(case, 'course', 'images_per_sec', lambda a, b: a / b))
        speedups[case] = speed[0]
        lines.append(f"| {case} | images/s, end to end | "
                     f"{fmt(summarize(get(case, 'course', 'images_per_sec')))} | "
                     f"{fmt(summarize(get(case, 'd2l', 'images_per_sec')))} | {fmt(speed, 2)} |")
        if case != 'loader224':
            for key in ('train_acc', 'test_acc'):
                diff = summarize(paired(case, 'course', key, lambda a, b: a - b))
                lines.append(f"| {case} | final {key.replace('_', ' ')} | "
                             f"{fmt(summarize(get(case, 'course', key)), 3)} | "
                             f"{fmt(summarize(get(case, 'd2l', key)), 3)} | "
                             f"difference {fmt(diff, 3)} |")
            lines.append(f"| {case} | d2l's own examples/s (compute only, as train_ch6 prints) | | "
                         f"{fmt(summarize(get(case, 'd2l', 'd2l_reported_examples_per_sec')))} | |")
        if case == 'alexnet224':
            gflop = get(case, 'course', 'gflop_per_image_forward')[0]
            train_gflop = 3 * gflop  # forward + backward (the backward is about twice the forward)
            # The machine's limit is the best matmul speed seen in any of the measurements (each
            # is best-of-5): other programs on the machine can only make a measurement lower.
            peaks = get(case, 'peak', 'peak_gflops')
            peak = max(peaks)
            course_gf = [v * train_gflop for v in get(case, 'course', 'images_per_sec')]
            d2l_gf = [v * train_gflop for v in get(case, 'd2l', 'images_per_sec')]
            peak_fraction = summarize([g / peak for g in course_gf])
            lines.append(f"| {case} | training GFLOP/s (3 x {gflop:.2f} GFLOP forward per image) | "
                         f"{fmt(summarize(course_gf))} | {fmt(summarize(d2l_gf))} | |")
            lines.append(f"| {case} | fraction of the machine's matmul GFLOP/s | "
                         f"{fmt(peak_fraction, 2)} | "
                         f"{fmt(summarize([g / peak for g in d2l_gf]), 2)} | |")
            lines.append(f"| machine | large float32 matmul GFLOP/s (MXNet or numpy, best of 5, "
                         f"before each AlexNet pair); the best, {peak:.1f}, is the limit used above | "
                         f"{fmt(summarize(peaks))} | | |")
            mx_peak = max(get(case, 'peak', 'mxnet_gflops'))
            lines.append(f"| {case} | fraction of MXNet's own best matmul GFLOP/s ({mx_peak:.1f}, "
                         f"with the threads MXNet uses) | "
                         f"{fmt(summarize([g / mx_peak for g in course_gf]), 2)} | "
                         f"{fmt(summarize([g / mx_peak for g in d2l_gf]), 2)} | |")
        for impl, label in EXTRA_LABELS.items():
            if get(case, impl, 'images_per_sec'):
                ratio = summarize(paired(case, impl, 'images_per_sec', lambda a, b: a / b))
                lines.append(f"| {case} | extra: {label}, images/s | "
                             f"{fmt(summarize(get(case, impl, 'images_per_sec')))} | | "
                             f"{fmt(ratio, 2)} |")
                if case != 'loader224':
                    lines.append(f"| {case} | extra: {label}, final test acc | "
                                 f"{fmt(summarize(get(case, impl, 'test_acc')), 3)} | | |")
    load = summarize([r['other_load_cores'] for r in rows])
    lines += ['', f"Other processes used {fmt(load, 2)} of the {os.cpu_count()} cores during the "
                  f"runs (0 = the machine was ours). Machine: {machine()}."]

    def two(x):
        return 'nan' if x is None else f"{x:.2f}"
    lines += ['', f"speedup loader224={two(speedups.get('loader224'))} "
                  f"lenet28={two(speedups.get('lenet28'))} "
                  f"alexnet224={two(speedups.get('alexnet224'))} "
                  f"alexnet_peak_fraction={two(peak_fraction[0])}"]
    return '\n'.join(lines)


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            model = next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} logical cores, Python {platform.python_version()}"

