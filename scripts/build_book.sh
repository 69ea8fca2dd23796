#!/usr/bin/env bash
# Build both editions of the course and their PDFs, executing every notebook in _toc.yml under the
# active COURSE_PROFILE (smoke | cpu | full; default: full with a GPU, cpu without):
#   _build/html/        the English site          _build/pdf/lenet-to-alexnet-en.pdf
#   _build/html/zh/     the Chinese site          _build/pdf/lenet-to-alexnet-zh.pdf
# The Chinese sources (notebooks/zh/, book/zh/) are generated first from the English ones and the
# catalogs in locale/ (scripts/translations.py): a missing or stale translation fails the build.
#   bash scripts/build_book.sh            # cached: unchanged notebooks are not re-run
#   BOOK_FRESH=1 bash scripts/build_book.sh   # execute everything again
#   BOOK_EDITIONS="en" bash scripts/build_book.sh   # only some of: en zh pdf (default: all three)
# Any Sphinx warning (an execution error or timeout is one) fails the build; the execution reports
# of failed notebooks are kept in _build/reports/ (and printed at the end).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup_env.sh
source scripts/common.sh  # FASHION_MNIST_DIR's default, install_debian_packages
bash scripts/vendor_mathjax.sh

PROFILE="$(python -c 'import utils; print(utils.active_profile())' | tail -1)"
export COURSE_PROFILE="$PROFILE"
# No tqdm widgets in the built pages: they would load JavaScript from the internet.
export COURSE_PROGRESS=0
export MPLBACKEND="${MPLBACKEND:-module://matplotlib_inline.backend_inline}"

# Figures as SVG with their text kept as text (searchable, checked by the tests in both languages).
export COURSE_FIGURE_FORMAT=svg
# Execute once, render twice: the English edition's training runs and speed measurements are kept
# here and the Chinese edition reads them back (utils/shared_results.py), so both editions show the
# same numbers and the expensive work is done once.
export COURSE_SHARED_RESULTS="$ROOT/_build/.shared_results"
# Every kernel of the build starts with utils loaded (IPython runs the startup folder's files): the
# shared results seed the random generators, so both editions draw the same numbers from the first
# cell on, and the figures are SVG from the first plot.
export IPYTHONDIR="$ROOT/_build/ipython"
mkdir -p "$IPYTHONDIR/profile_default/startup"
cat > "$IPYTHONDIR/profile_default/startup/00-book-build.py" <<PY
# Written by scripts/build_book.sh for the book build's kernels only.
import sys
sys.path.insert(0, '$ROOT')
import utils.shared_results, utils.plotting  # noqa: E401,F401
PY

# The execution cache is keyed by notebook content only, so outputs made under another profile,
# another data folder or older utils/ code would be reused: empty it (and the shared results) when
# any of those changed.
CACHE="$ROOT/_build/.jupyter_cache"
STAMP="$ROOT/_build/.jupyter_cache.stamp"
WANT="profile=$PROFILE data=${FASHION_MNIST_DIR:-download} utils=$(cat utils/*.py | sha256sum | cut -c1-16)"
if [ -n "${BOOK_FRESH:-}" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  rm -rf "$CACHE" "$COURSE_SHARED_RESULTS"
fi
mkdir -p "$ROOT/_build"
echo "$WANT" > "$STAMP"

EDITIONS="${BOOK_EDITIONS:-en zh pdf}"
for edition in $EDITIONS; do
  case "$edition" in en|zh|pdf) ;; *) echo "BOOK_EDITIONS: unknown edition '$edition' (use en, zh, pdf)" >&2; exit 2;; esac
done
wants() { case " $EDITIONS " in *" $1 "*) return 0;; *) return 1;; esac; }

rm -rf "$ROOT/_build/reports"
start=$SECONDS
build_started="$(date -u '+%Y-%m-%d %H:%M:%S')"  # the execution cache's timestamps are UTC
status=0
failed=""

# jupyter-book build with the warnings-are-errors flags; execution reports kept in _build/reports/NAME
jb() {  # NAME OUTPUT_DIR [jupyter-book build options...]
  local name="$1" out="$2"; shift 2
  local rc=0
  jupyter-book build . --all -W --keep-going --path-output "$out" "$@" || rc=$?
  for reports in "$out/_build/html/reports" "$out/_build/singlehtml/reports"; do
    if [ -d "$reports" ] && [ -n "$(ls -A "$reports")" ]; then
      mkdir -p "$ROOT/_build/reports/$name" && cp -r "$reports"/. "$ROOT/_build/reports/$name/"
    fi
  done
  if [ "$rc" -ne 0 ]; then status=$rc; failed="$failed $name"; fi
  echo "[$name: done at $((SECONDS - start)) s]"
  return 0
}

if wants pdf; then
  install_debian_packages "the PDFs" chromium fonts-noto-cjk
elif wants zh; then
  install_debian_packages "the Chinese edition" fonts-noto-cjk
fi

echo "Building the book under COURSE_PROFILE=$PROFILE (data: ${FASHION_MNIST_DIR:-downloaded copy}): $EDITIONS"
if wants zh || wants pdf; then
  # Chinese sources from the English ones + catalogs (fails on a missing or stale translation)
  python -m scripts.translations generate
  python -m scripts.translations config "$ROOT/_build/zh-config"
fi
ZH=(--config "$ROOT/_build/zh-config/_config.yml" --toc "$ROOT/_build/zh-config/_toc.yml")
if wants en; then
  jb en .
fi
if wants zh; then
  rm -rf "$ROOT/_build/zh/_build/html"
  jb zh "$ROOT/_build/zh" "${ZH[@]}"
  if [ -d "$ROOT/_build/zh/_build/html" ]; then
    rm -rf "$ROOT/_build/html/zh" && mkdir -p "$ROOT/_build/html"
    cp -r "$ROOT/_build/zh/_build/html" "$ROOT/_build/html/zh"
  fi
fi
if wants pdf && [ "$status" -eq 0 ]; then
  # One page per language (Sphinx singlehtml, outputs from the execution cache), printed by Chromium
  jb pdf-en "$ROOT/_build/pdf-src/en" --builder custom --custom-builder singlehtml
  jb pdf-zh "$ROOT/_build/pdf-src/zh" --builder custom --custom-builder singlehtml "${ZH[@]}"
  if [ "$status" -eq 0 ]; then
    python -m scripts.print_pdf "$ROOT/_build/pdf-src/en/_build/singlehtml/index.html" \
        "$ROOT/_build/pdf/lenet-to-alexnet-en.pdf" || { status=$?; failed="$failed pdf-print"; }
    python -m scripts.print_pdf "$ROOT/_build/pdf-src/zh/_build/singlehtml/index.html" \
        "$ROOT/_build/pdf/lenet-to-alexnet-zh.pdf" || { status=$?; failed="$failed pdf-print"; }
    echo "[PDFs printed at $((SECONDS - start)) s]"
  fi
fi

# Seconds each notebook's execution took (from the execution cache; "reused": executed earlier)
python - "$CACHE" "$build_started" <<'PY' || true
import json, sqlite3, sys
from pathlib import Path
db = Path(sys.argv[1]) / 'global.db'
if db.exists():
    rows = sqlite3.connect(db).execute('SELECT uri, data, created FROM nbcache ORDER BY uri').fetchall()
    print('Notebook execution times (s):')
    for uri, data, created in rows:
        seconds = (json.loads(data or '{}') or {}).get('execution_seconds')
        when = 'this build' if created >= sys.argv[2] else 'reused'
        print(f"  {seconds if seconds is not None else float('nan'):8.1f}  {when:10}  {Path(uri).relative_to(Path.cwd()) if uri.startswith(str(Path.cwd())) else uri}")
PY

if [ "$status" -ne 0 ]; then
  echo "BUILD FAILED after $((SECONDS - start)) s (profile $PROFILE; failed:$failed): see the warnings above." >&2
  if [ -d "$ROOT/_build/reports" ]; then
    echo "Execution reports of the failed notebooks (kept in _build/reports/):" >&2
    find "$ROOT/_build/reports" -type f | sed "s|^$ROOT/|  |" >&2
  fi
  exit "$status"
fi
echo "Built ($EDITIONS) in $((SECONDS - start)) s under COURSE_PROFILE=$PROFILE: open _build/html/index.html" \
     "(English), _build/html/zh/index.html (Chinese), PDFs in _build/pdf/"
