#!/usr/bin/env bash
# The course's test command: set up (or reuse) .venv, make sure headless Chromium is there, and run
# the whole test suite, which also builds the book under COURSE_PROFILE=smoke and checks it in the
# browser. Offline data: FASHION_MNIST_DIR (default: ../shared/fashion-mnist next to the repo).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup_env.sh

# Debian packages the checks need: chromium (browser tests, PDF printing), fonts-noto-cjk (the
# Chinese edition's glyphs), poppler-utils (pdftoppm/pdftotext/pdffonts read the PDFs back),
# bubblewrap and libseccomp2 (the grader's sandbox: bwrap, and the library pyseccomp loads),
# shellcheck (it reads the Gradescope autograder's setup.sh).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
fc-list 2>/dev/null | grep "Noto Sans CJK" >/dev/null || missing="$missing fonts-noto-cjk"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
ldconfig -p 2>/dev/null | grep libseccomp.so.2 >/dev/null || missing="$missing libseccomp2"  # no -q: SIGPIPE under pipefail
command -v shellcheck >/dev/null 2>&1 || missing="$missing shellcheck"
if [ -n "$missing" ]; then
  echo "Installing Debian packages for the browser, PDF and sandbox checks:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ -z "${FASHION_MNIST_DIR:-}" ] && [ -d "$ROOT/../shared/fashion-mnist" ]; then
  export FASHION_MNIST_DIR="$(cd "$ROOT/../shared/fashion-mnist" && pwd)"
fi
export COURSE_PROFILE="${COURSE_PROFILE:-smoke}"
exec python -m pytest tests -ra "$@"
