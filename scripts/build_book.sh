#!/usr/bin/env bash
# Build the course site into _build/html, executing every notebook in _toc.yml under the active
# COURSE_PROFILE (smoke | cpu | full; default: full with a GPU, cpu without).
#   bash scripts/build_book.sh            # cached: unchanged notebooks are not re-run
#   BOOK_FRESH=1 bash scripts/build_book.sh   # execute everything again
# Any Sphinx warning (an execution error or timeout is one) fails the build; the execution reports
# of failed notebooks are kept in _build/reports/ (and printed at the end).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup_env.sh
bash scripts/vendor_mathjax.sh

if [ -z "${FASHION_MNIST_DIR:-}" ] && [ -d "$ROOT/../shared/fashion-mnist" ]; then
  export FASHION_MNIST_DIR="$(cd "$ROOT/../shared/fashion-mnist" && pwd)"
fi
PROFILE="$(python -c 'import utils; print(utils.active_profile())' | tail -1)"
export COURSE_PROFILE="$PROFILE"
# No tqdm widgets in the built pages: they would load JavaScript from the internet.
export COURSE_PROGRESS=0
export MPLBACKEND="${MPLBACKEND:-module://matplotlib_inline.backend_inline}"

# The execution cache is keyed by notebook content only, so outputs made under another profile,
# another data folder or older utils/ code would be reused: empty it when any of those changed.
CACHE="$ROOT/_build/.jupyter_cache"
STAMP="$ROOT/_build/.jupyter_cache.stamp"
WANT="profile=$PROFILE data=${FASHION_MNIST_DIR:-download} utils=$(cat utils/*.py | sha256sum | cut -c1-16)"
if [ -n "${BOOK_FRESH:-}" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  rm -rf "$CACHE"
fi
mkdir -p "$ROOT/_build"
echo "$WANT" > "$STAMP"

echo "Building the book under COURSE_PROFILE=$PROFILE (data: ${FASHION_MNIST_DIR:-downloaded copy})"
rm -rf "$ROOT/_build/reports"
start=$SECONDS
status=0
jupyter-book build . --all -W --keep-going --path-output . || status=$?
if [ -d "$ROOT/_build/html/reports" ] && [ -n "$(ls -A "$ROOT/_build/html/reports")" ]; then
  cp -r "$ROOT/_build/html/reports" "$ROOT/_build/reports"
fi
if [ "$status" -ne 0 ]; then
  echo "BUILD FAILED after $((SECONDS - start)) s (profile $PROFILE): see the warnings above." >&2
  if [ -d "$ROOT/_build/reports" ]; then
    echo "Execution reports of the failed notebooks (kept in _build/reports/):" >&2
    find "$ROOT/_build/reports" -type f | sed "s|^$ROOT/|  |" >&2
  fi
  exit "$status"
fi
echo "Built _build/html in $((SECONDS - start)) s under COURSE_PROFILE=$PROFILE: open _build/html/index.html"
