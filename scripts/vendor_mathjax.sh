#!/usr/bin/env bash
# Vendor MathJax 3 so the built site typesets math with no network: install npm's mathjax@3 into
# the ignored folder .cache/mathjax-npm (reused when present) and copy the one bundle Sphinx loads
# (es5/tex-mml-chtml.js) plus the fonts/output it fetches at run time into the ignored folder
# book/_mathjax/mathjax/ (published as _static/mathjax/ by _config.yml).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${MATHJAX_VERSION:-3.2.2}"   # mathjax@3, pinned
NPM_DIR="$ROOT/.cache/mathjax-npm"
PKG="$NPM_DIR/node_modules/mathjax"
DEST="$ROOT/book/_mathjax/mathjax"

installed="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$PKG/package.json" 2>/dev/null | head -1 || true)"
if [ "$installed" != "$VERSION" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; }; then
      echo "Installing npm (Debian package) to fetch MathJax once"
      $SUDO apt-get update -qq && $SUDO apt-get install -y -qq npm >/dev/null
    else
      echo "npm is needed once to fetch MathJax: install Node.js/npm (Debian: apt-get install npm)." >&2
      exit 1
    fi
  fi
  echo "Fetching mathjax@$VERSION from npm into $NPM_DIR"
  mkdir -p "$NPM_DIR"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund \
      --prefix "$NPM_DIR" "mathjax@$VERSION" >/dev/null
fi
if [ ! -f "$DEST/tex-mml-chtml.js" ] || ! cmp -s "$PKG/es5/tex-mml-chtml.js" "$DEST/tex-mml-chtml.js"; then
  rm -rf "$DEST"
  mkdir -p "$DEST"
  cp "$PKG/es5/tex-mml-chtml.js" "$DEST/"
  cp -r "$PKG/es5/output" "$DEST/"
  # extensions MathJax may load on demand (e.g. \require, or menu actions)
  cp -r "$PKG/es5/input" "$PKG/es5/ui" "$PKG/es5/a11y" "$DEST/" 2>/dev/null || true
  echo "MathJax $VERSION vendored into ${DEST#$ROOT/}"
fi
