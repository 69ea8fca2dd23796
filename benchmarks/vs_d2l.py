"""The course's `utils` against d2l 1.0.3, side by side on one machine, and against its limit.

    .venv/bin/python -m benchmarks.vs_d2l            # full run (about 25 minutes on 2 cores)
    .venv/bin/python -m benchmarks.vs_d2l --quick    # same code paths, small sizes (~3 minutes)
    ... --extras amp,threads                         # also course runs with AMP / all cores

Three cases, each run as pairs (course, then d2l) in fresh processes, interleaved
(A B A B ...) so that a change in the machine's load hits both sides alike:

  loader224   images/s delivered by the training loader at resize=224, batch 128;
  lenet28     the chapter's LeNet at 28x28 for one epoch: end-to-end examples/s (first batch
              request to last update, data loading included) and final train/test accuracy;
  alexnet224  AlexNet at 224x224 for a fixed number of batches: end-to-end examples/s and the
              GFLOP/s it reaches, against this machine's large matrix-multiply GFLOP/s
              (measured in a separate process right before each AlexNet pair).

Both sides train the same network definitions (`utils.lenet()`, `utils.alexnet()`) with
Xavier initialization from the same seeds, plain SGD with the same learning rate and batch size,
on the same Fashion-MNIST files. What differs is what a student gets from each library:
  course: utils.load_data_fashion_mnist + utils.train, the network hybridized (as the notebooks do);
  d2l:    d2l.load_data_fashion_mnist + d2l.train_ch6 in NumPy mode (npx.set_np(), as d2l's
          chapters run), not hybridized (d2l's chapters do not hybridize LeNet or AlexNet).
Gluon's FashionMNIST class checks the official SHA-1 of the files, which the offline copy does not
match, so the d2l side rebuilds d2l's loader line for line (same transforms Resize+ToTensor,
same DataLoader, d2l.get_dataloader_workers() workers) around a subclass that reads the local files
the way Gluon's MNIST._get_data does, minus the download/hash check. Nothing else of d2l changes;
its Animator draws to matplotlib's non-interactive Agg backend.

Writes benchmarks/results/vs_d2l.csv (one row per run), prints a markdown table of medians with the
min and max over pairs; the last line is
    speedup loader224=<a> lenet28=<b> alexnet224=<c> alexnet_peak_fraction=<d>
"""
import argparse
import contextlib
import datetime
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.vs_d2l_report import read_csv, report, source_commit, write_csv
from tests.offline_data import fashion_mnist_dir
from utils.settings import ALEXNET as ALEXNET_RECIPE, ORIGINAL_TUTORIAL

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results' / 'vs_d2l.csv'
QUICK_RESULTS = Path(tempfile.gettempdir()) / 'vs_d2l_quick.csv'  # a check, not a result
# Pair p seeds both sides with SEED + p (Python, numpy and MXNet generators) and uses the same data
# subset. The initial weights are Xavier draws from the same seed but not bit-identical: d2l runs in
# NumPy mode (its train_ch6 needs float() of arrays), whose samplers differ from the NDArray ones.
SEED = 0

# Sizes per mode. Hyperparameters: LeNet the original tutorial's (batch 256, learning rate 0.5: d2l's
# own), AlexNet the course's recipe's learning rate (0.01) with batches of 128 (quick: 32). `None`
# examples = the whole split.
MODES = {
    # LeNet's one-epoch accuracy varies by several points with the seed: more pairs there.
    'full': dict(pairs={'loader224': 3, 'lenet28': 5, 'alexnet224': 3}, loader_batches=150, lenet_train=None, lenet_test=None,
                 alexnet_batches=8, alexnet_batch_size=128, peak_n=2048),
    'quick': dict(pairs={'loader224': 1, 'lenet28': 1, 'alexnet224': 1}, loader_batches=8, lenet_train=2560, lenet_test=512,
                  alexnet_batches=5, alexnet_batch_size=32, peak_n=2048),
}
LOADER = dict(batch_size=128, resize=224)
LENET = {key: ORIGINAL_TUTORIAL['LeNet'][key] for key in ('batch_size', 'learning_rate')}
ALEXNET = dict(learning_rate=ALEXNET_RECIPE['learning_rate'], test_examples=128)  # batch size per mode (d2l needs >= 5 batches)
CASES = ('loader224', 'lenet28', 'alexnet224')


# ------------------------------------------------------------------------------ shared helpers

def data_folder():
    folder = fashion_mnist_dir()
    if not (Path(folder) / 'train-images-idx3-ubyte.gz').exists():
        sys.exit(f"Fashion-MNIST files not found in {folder}: set FASHION_MNIST_DIR to the folder "
                 f"holding the four official .gz files.")
    return str(folder)


def subset_indices(total, n, seed):
    """The same fixed subset `utils.load_data_fashion_mnist(train_examples=n, seed=seed)` uses
    (checked against the course's loader in every course run)."""
    import numpy as np
    if n is None or n >= total:
        return np.arange(total)
    return np.random.default_rng(seed).permutation(total)[:n]


def case_network(case, cfg, models):
    """(network, hyperparameters, resize, train examples, test examples) of a training case, the
    same for both sides; models: what builds the network (the course's lenet()/alexnet() on both)."""
    if case == 'lenet28':
        return models.lenet(), LENET, None, cfg['lenet_train'], cfg['lenet_test']
    hp = dict(ALEXNET, batch_size=cfg['alexnet_batch_size'])
    return models.alexnet(), hp, 224, cfg['alexnet_batches'] * hp['batch_size'], ALEXNET['test_examples']


def seed_everything(mx, seed):
    import random
    import numpy as np
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


class Timed:
    """Pass-through wrapper of a batch iterable that notes when it is first iterated.

    On the training data: the first batch request (start of the clock). On the test data:
    evaluation starts right after the last update; `waitall` first, so the clock stops when the
    last update has really finished (both libraries queue work asynchronously)."""

    def __init__(self, data, on_first_iter):
        self.data, self._on_first_iter, self.at = data, on_first_iter, None

    def __iter__(self):
        if self.at is None:
            self._on_first_iter()
            self.at = time.perf_counter()
        return iter(self.data)

    def __len__(self):
        return len(self.data)

    def __getattr__(self, name):
        return getattr(self.data, name)


# ------------------------------------------------------------------------------ course side

def course_trial(case, cfg, seed, amp=False):
    import numpy as np
    import utils
    mx = utils.mx
    folder = data_folder()
    seed_everything(mx, seed)
    ctx = mx.cpu()
    out = {'omp_num_threads': os.environ.get('OMP_NUM_THREADS', '')}
    if case == 'loader224':
        start = time.perf_counter()
        train, _ = utils.load_data_fashion_mnist(LOADER['batch_size'], resize=LOADER['resize'],
                                                 root=folder, train_examples=None,
                                                 test_examples=128, seed=seed)
        out['setup_seconds'] = time.perf_counter() - start
        return {**out, **time_loader(train, cfg['loader_batches'])}
    net, hp, resize, n_train, n_test = case_network(case, cfg, utils)
    train, test = utils.load_data_fashion_mnist(hp['batch_size'], resize=resize, root=folder,
                                                train_examples=n_train, test_examples=n_test,
                                                seed=seed)
    images, _ = utils.data.read_split(folder, 'train')
    expected = images[subset_indices(len(images), n_train, seed)]
    assert np.array_equal(train.images.asnumpy(), expected), "course and d2l subsets differ"
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = mx.gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': hp['learning_rate']})
    timed_train = Timed(train, lambda: None)
    timed_test = Timed(test, mx.nd.waitall)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        if amp:
            # Imported here, not at the top: it imports MXNet through utils, which would set
            # utils' OpenMP settings in every process of this script, the d2l side's included.
            from benchmarks import mixed_precision
            history = mixed_precision.train(timed_train, timed_test, net, loss, trainer, ctx, 1)
        else:
            history = utils.train(timed_train, timed_test, net, loss, trainer, ctx, 1, progress=False)
    if len(history) != 1:
        raise RuntimeError(f"course training did not finish its epoch:\n{printed.getvalue()}")
    seconds = timed_test.at - timed_train.at
    row = history.iloc[0]
    out.update(examples=train.num_examples, seconds=seconds,
               images_per_sec=train.num_examples / seconds,
               train_acc=float(row['train_acc']), test_acc=float(row['test_acc']),
               final_loss=float(row['loss']))
    if case == 'alexnet224':
        out['gflop_per_image_forward'] = utils.flops_per_image(utils.alexnet(), (1, 224, 224)) / 1e9
    return out


def time_loader(batches, n_batches):
    """Images/s delivered: from the first batch request until the n-th batch is ready."""
    count, start = 0, time.perf_counter()
    for i, (X, y) in enumerate(batches):
        X.wait_to_read()
        y.wait_to_read()
        count += X.shape[0]
        if i + 1 == n_batches:
            break
    seconds = time.perf_counter() - start
    import numpy as np
    if tuple(X.shape[1:]) != (1, LOADER['resize'], LOADER['resize']) or np.dtype(X.dtype) != np.float32:
        raise RuntimeError(f"unexpected batch {X.shape} {X.dtype}")
    return dict(examples=count, seconds=seconds, images_per_sec=count / seconds)


# ------------------------------------------------------------------------------ d2l side

def import_d2l():
    """d2l as a student imports it: plain `import mxnet` after only the numpy shim of
    utils/compat.py. `import utils` registers a hook that would give MXNet utils' thread count
    at its import; it is removed first, so nothing of `utils` configures MXNet here. Returns
    (mxnet, d2l, the course's models module: the d2l side trains the same network definitions)."""
    import utils.compat
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != 'utils']
    utils.compat.patch_numpy()
    import mxnet as mx
    from d2l import mxnet as d2l
    import utils.models
    return mx, d2l, utils.models


def d2l_load_data_fashion_mnist(d2l, gluon, folder, seed, batch_size, resize=None,
                                train_examples=None, test_examples=None):
    """d2l.load_data_fashion_mnist (d2l 1.0.3) line for line; only the dataset class differs."""
    dataset = gluon.data.vision
    trans = [dataset.transforms.ToTensor()]
    if resize:
        trans.insert(0, dataset.transforms.Resize(resize))
    trans = dataset.transforms.Compose(trans)
    mnist_train = offline_fashion_mnist(gluon, folder, True, train_examples, seed).transform_first(trans)
    mnist_test = offline_fashion_mnist(gluon, folder, False, test_examples, seed + 1).transform_first(trans)
    return (gluon.data.DataLoader(mnist_train, batch_size, shuffle=True,
                                  num_workers=d2l.get_dataloader_workers()),
            gluon.data.DataLoader(mnist_test, batch_size, shuffle=False,
                                  num_workers=d2l.get_dataloader_workers()))


def offline_fashion_mnist(gluon, folder, train, examples, seed):
    """Gluon's FashionMNIST reading `folder` (its _get_data, minus download and SHA-1 check),
    restricted to the same subset the course's loader uses."""
    import gzip
    import struct
    import numpy as np
    from mxnet import nd
    from mxnet import numpy as _mx_np
    from mxnet.util import is_np_array

    class OfflineFashionMNIST(gluon.data.vision.FashionMNIST):
        def _get_data(self):
            data, label = (self._train_data, self._train_label) if self._train else \
                (self._test_data, self._test_label)
            with gzip.open(os.path.join(self._root, label[0]), 'rb') as fin:
                struct.unpack(">II", fin.read(8))
                label = np.frombuffer(fin.read(), dtype=np.uint8).astype(np.int32)
            with gzip.open(os.path.join(self._root, data[0]), 'rb') as fin:
                struct.unpack(">IIII", fin.read(16))
                data = np.frombuffer(fin.read(), dtype=np.uint8)
                data = data.reshape(len(label), 28, 28, 1)
            keep = subset_indices(len(label), examples, seed)
            data, label = data[keep], label[keep]
            if is_np_array():
                label = _mx_np.array(label, dtype=label.dtype)
            array_fn = _mx_np.array if is_np_array() else nd.array
            self._data = array_fn(data, dtype=data.dtype)
            self._label = label

    return OfflineFashionMNIST(root=folder, train=train)


def d2l_trial(case, cfg, seed):
    mx, d2l, models = import_d2l()
    from mxnet import gluon, npx
    npx.set_np()  # as every d2l MXNet chapter does first
    folder = data_folder()
    seed_everything(mx, seed)
    out = {'omp_num_threads': os.environ.get('OMP_NUM_THREADS', '')}
    if case == 'loader224':
        start = time.perf_counter()
        train_iter, _ = d2l_load_data_fashion_mnist(d2l, gluon, folder, seed, LOADER['batch_size'],
                                                    resize=LOADER['resize'], test_examples=128)
        out['setup_seconds'] = time.perf_counter() - start
        return {**out, **time_loader(train_iter, cfg['loader_batches'])}
    net, hp, resize, n_train, n_test = case_network(case, cfg, models)
    train_iter, test_iter = d2l_load_data_fashion_mnist(d2l, gluon, folder, seed, hp['batch_size'],
                                                        resize, n_train, n_test)
    timed_train = Timed(train_iter, lambda: None)
    timed_test = Timed(test_iter, mx.nd.waitall)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        d2l.train_ch6(net, timed_train, timed_test, 1, hp['learning_rate'], mx.cpu())
    text = printed.getvalue()
    final = re.search(r'loss ([\d.naif]+), train acc ([\d.]+), test acc ([\d.]+)', text)
    speed = re.search(r'([\d.]+) examples/sec', text)
    if not final:
        raise RuntimeError(f"could not read d2l's result from:\n{text[-2000:]}")
    examples = len(train_iter._dataset)
    seconds = timed_test.at - timed_train.at
    out.update(examples=examples, seconds=seconds, images_per_sec=examples / seconds,
               train_acc=float(final.group(2)), test_acc=float(final.group(3)),
               final_loss=float(final.group(1)),
               d2l_reported_examples_per_sec=float(speed.group(1)) if speed else None)
    return out


# ------------------------------------------------------------------------------ machine peak

def peak_trial(case, cfg, seed):
    """Large float32 matrix multiply, best of 5: MXNet's nd.dot (as MXNet is set up by utils)
    and numpy's matmul (its BLAS uses every core); the higher is this CPU's practical peak."""
    import numpy as np
    import utils
    n = cfg['peak_n']
    mxnet_flops = utils.matmul_flops(n=n, repeats=5)
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(5))
    numpy_flops = 2 * n ** 3 / best
    return dict(examples=n, mxnet_gflops=mxnet_flops / 1e9, numpy_gflops=numpy_flops / 1e9,
                peak_gflops=max(mxnet_flops, numpy_flops) / 1e9)


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


TRIALS = {'course': course_trial, 'd2l': d2l_trial, 'peak': peak_trial,
          'course_amp': lambda case, cfg, seed: course_trial(case, cfg, seed, amp=True)}


# ------------------------------------------------------------------------------ orchestration

def busy_jiffies():
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    with open('/proc/stat') as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run_trial(impl, case, mode, seed):
    """One run in a fresh process; returns its result plus how busy the rest of the machine was."""
    env = dict(os.environ, MPLBACKEND='Agg', PYTHONHASHSEED=str(SEED))
    if impl == 'course_threads':  # what utils would get by letting MXNet use every core
        env['OMP_NUM_THREADS'] = str(len(os.sched_getaffinity(0)))
    trial = 'course' if impl == 'course_threads' else impl
    cmd = [sys.executable, '-m', 'benchmarks.vs_d2l', '--trial', trial, case, '--mode', mode, '--seed', str(seed)]
    busy0, _ = busy_jiffies()
    children0 = os.times()
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    busy1, _ = busy_jiffies()
    children1 = os.times()
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"{impl} {case} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = (children1.children_user + children1.children_system
            - children0.children_user - children0.children_system)
    tick = os.sysconf('SC_CLK_TCK')
    # cores' worth of CPU time used by everything else on the machine while this run went on
    result['other_load_cores'] = max(0.0, ((busy1 - busy0) / tick - ours) / wall)
    result['process_seconds'] = wall
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='small sizes, one pair: a check')
    parser.add_argument('--pairs', type=int,
                        help='pairs per case (default full: loader 3, LeNet 5, AlexNet 3; quick: 1)')
    parser.add_argument('--cases', default=','.join(CASES), help=f'comma list of {CASES}')
    parser.add_argument('--out', help=f'CSV to write (default: {RESULTS.relative_to(ROOT)}; '
                                      f'--quick: {QUICK_RESULTS})')
    parser.add_argument('--extras', default='',
                        help="comma list of extra course runs, for information only (not in the "
                             "speedups): 'amp' (mixed_precision.train: bfloat16 on this CPU; LeNet "
                             "and AlexNet), 'threads' (OMP_NUM_THREADS set to the core count)")
    parser.add_argument('--report', metavar='CSV',
                        help="print the table of an earlier (or interrupted) run's CSV and stop")
    parser.add_argument('--trial', nargs=2, metavar=('IMPL', 'CASE'), help=argparse.SUPPRESS)
    parser.add_argument('--mode', default='full', help=argparse.SUPPRESS)
    parser.add_argument('--seed', type=int, default=SEED, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.trial:
        impl, case = args.trial
        result = TRIALS[impl](case, MODES[args.mode], args.seed)
        print(json.dumps(result))
        return
    if args.report:
        rows = read_csv(Path(args.report))
        started = (datetime.datetime.fromisoformat(rows[0]['started']) if rows[0].get('started')
                   else datetime.datetime.fromtimestamp(os.path.getmtime(args.report)).astimezone())
        print(report(rows, list(dict.fromkeys(r['case'] for r in rows)), rows[0]['mode'], started))
        return

    mode = 'quick' if args.quick else 'full'
    cfg = MODES[mode]
    pairs = {case: args.pairs or n for case, n in cfg['pairs'].items()}
    cases = [c for c in args.cases.split(',') if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {CASES}")
    extras = [e for e in args.extras.split(',') if e]
    if set(extras) - {'amp', 'threads'}:
        parser.error(f"unknown extras {sorted(set(extras) - {'amp', 'threads'})}")
    rows, out = [], Path(args.out) if args.out else QUICK_RESULTS if args.quick else RESULTS
    started = datetime.datetime.now().astimezone()
    commit = source_commit()  # every CSV row names the code it measured
    print(f"# vs_d2l ({mode}) of commit {commit}: pairs "
          f"{', '.join(f'{c} {pairs[c]}' for c in cases)}; "
          f"load average before start {os.getloadavg()[0]:.2f}", flush=True)
    for case in cases:
        for pair in range(pairs[case]):
            plan = (['peak'] if case == 'alexnet224' else []) + ['course', 'd2l']
            if 'amp' in extras and case != 'loader224':
                plan.append('course_amp')
            if 'threads' in extras:
                plan.append('course_threads')
            for impl in plan:
                result = run_trial(impl, case, mode, SEED + pair)
                rows.append(dict(case=case, pair=pair, impl=impl, mode=mode, commit=commit,
                                 started=started.isoformat(timespec='seconds'), **result))
                write_csv(rows, out)
                shown = (f"{result['peak_gflops']:.1f} GFLOP/s peak" if impl == 'peak'
                         else f"{result['images_per_sec']:,.1f} img/s")
                print(f"  {case} pair {pair} {impl:14s} {shown}  "
                      f"(others used {result['other_load_cores']:.2f} cores)", flush=True)
    print(report(rows, cases, mode, started))


if __name__ == '__main__':
    main()
