#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (an Ubuntu base):
# https://gradescope-autograders.readthedocs.io/en/latest/specs/
# It installs the course's pinned stack exactly as the repository's scripts/setup_env.sh does (that
# script is in this zip and does the work: requirements/base.txt, then mxnet and d2l --no-deps),
# into /autograder/venv, with Python 3.11 where the base offers it, else the base's python3.
set -euo pipefail
COURSE=/autograder/source/course
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if apt-cache show python3.11-venv >/dev/null 2>&1; then
  apt-get install -y -qq python3.11 python3.11-venv python3.11-dev >/dev/null
  PY=python3.11
else
  apt-get install -y -qq python3 python3-venv python3-dev >/dev/null
  PY=python3
fi
# Debian packages the grader needs: @DEBIAN_PACKAGES_WHY@
apt-get install -y -qq @DEBIAN_PACKAGES@ >/dev/null
COURSE_PYTHON="$PY" COURSE_VENV=/autograder/venv bash "$COURSE/scripts/setup_env.sh"
# The notebooks run without network: Fashion-MNIST is fetched (and checked) once, here.
mkdir -p /autograder/fashion-mnist
/autograder/venv/bin/python -c "import sys; sys.path.insert(0, '$COURSE'); \
from utils.data import ensure_downloaded; ensure_downloaded('/autograder/fashion-mnist')"
chmod -R a+rX /autograder/fashion-mnist
