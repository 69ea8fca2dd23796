#!/usr/bin/env bash
# What build_book.sh and test.sh share (both source it): the developers' offline data folder and
# the Debian packages the course uses.
COURSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Offline Fashion-MNIST: $FASHION_MNIST_DIR when set, else ../shared/fashion-mnist beside the
# checkout when it exists (the development machine's layout; tests/offline_data.py is the same rule
# for Python). Without either, the notebooks download the data (README, "Data").
if [ -z "${FASHION_MNIST_DIR:-}" ] && [ -d "$COURSE_ROOT/../shared/fashion-mnist" ]; then
  FASHION_MNIST_DIR="$(cd "$COURSE_ROOT/../shared/fashion-mnist" && pwd)"
  export FASHION_MNIST_DIR
fi

# The Debian packages the course uses, each with the check that says it is there:
#   - chromium: prints the PDFs; the tests check the built site in it
#   - fonts-noto-cjk: the Chinese edition's glyphs
#   - poppler-utils: pdftoppm/pdftotext/pdffonts, with which the tests read the PDFs back
#   - bubblewrap, libseccomp2, squashfs-tools, cgroup-tools, keyutils, util-linux: the grader's sandbox
#     (bwrap, the library pyseccomp loads, mksquashfs for the images of its read-only runtime,
#     cgcreate/cgset/cgexec for its memory and pids cgroups, keyctl for a new session keyring,
#     prlimit for its resource limits)
#   - shellcheck: the tests lint the Gradescope autograder's setup.sh with it
debian_package_present() {  # PACKAGE
  case "$1" in
    chromium) command -v chromium ;;
    fonts-noto-cjk) fc-list 2>/dev/null | grep "Noto Sans CJK" ;;  # no grep -q: SIGPIPE under pipefail
    poppler-utils) command -v pdftoppm ;;
    bubblewrap) command -v bwrap ;;
    libseccomp2) ldconfig -p 2>/dev/null | grep libseccomp.so.2 ;;
    squashfs-tools) command -v mksquashfs ;;
    cgroup-tools) command -v cgexec ;;
    keyutils) command -v keyctl ;;
    util-linux) command -v prlimit ;;
    shellcheck) command -v shellcheck ;;
    *) echo "scripts/common.sh: no check for the Debian package '$1': add one" >&2; exit 2 ;;
  esac >/dev/null
}

install_debian_packages() {  # WHAT_FOR PACKAGE...: apt-get install those not there (as root or via sudo)
  local what_for="$1" missing="" package
  shift
  for package in "$@"; do
    debian_package_present "$package" || missing="$missing $package"
  done
  if [ -n "$missing" ]; then
    echo "Installing Debian packages for $what_for:$missing"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    # shellcheck disable=SC2086  # one word per package
    $sudo apt-get update -qq && $sudo apt-get install -y -qq $missing >/dev/null
  fi
}
