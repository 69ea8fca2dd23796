#!/usr/bin/env bash
# The course's test command: set up (or reuse) .venv, make sure headless Chromium is there, and run
# the whole test suite, which also builds the book under COURSE_PROFILE=smoke and checks it in the
# browser. Offline data: FASHION_MNIST_DIR (default: scripts/common.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup_env.sh
source scripts/common.sh  # FASHION_MNIST_DIR's default, install_debian_packages
install_debian_packages "the browser, PDF and sandbox checks" \
  chromium fonts-noto-cjk poppler-utils bubblewrap libseccomp2 squashfs-tools \
  cgroup-tools keyutils util-linux shellcheck
export COURSE_PROFILE="${COURSE_PROFILE:-smoke}"
exec python -m pytest tests -ra "$@"
