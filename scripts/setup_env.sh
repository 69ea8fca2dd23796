#!/usr/bin/env bash
# Create or reuse the course's virtual environment (.venv) and install the pinned dependencies.
# Sourced by build_book.sh and test.sh; safe to run again (skips pip when nothing changed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${COURSE_VENV:-$ROOT/.venv}"

pick_python() {
  for py in "${COURSE_PYTHON:-}" python3.11 python3; do
    [ -n "$py" ] && command -v "$py" >/dev/null 2>&1 && { echo "$py"; return; }
  done
  echo "No python3 found: install Python 3.11 (3.12 and 3.13 also work)." >&2; exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(pick_python)"
  echo "Creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.course-requirements"
WANT="$(cat "$ROOT"/requirements/*.txt | sha256sum | cut -c1-16)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "Installing pinned requirements into $VENV (first time: a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements/base.txt"
  # mxnet and d2l: --no-deps, their declared pins are obsolete (see requirements/nodeps.txt).
  "$VENV/bin/python" -m pip install -q --no-deps -r "$ROOT/requirements/nodeps.txt"
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
