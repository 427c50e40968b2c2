#!/usr/bin/env bash
# Build flowgate's Debian package the Debian way (debian/, debhelper,
# dpkg-buildpackage -b) from a clean copy of the checkout, so the work tree
# stays untouched. Installs the build dependencies first (as root).
#
# Usage: scripts/package.sh [OUT_DIR]    (default: build/package)
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
src=$PWD
out=$(readlink -m "${1:-build/package}")

if ! scripts/deps.sh build package; then
  # Not root and something missing: this machine cannot build the package.
  [[ $(id -u) -eq 0 ]] || { echo "package.sh: build dependencies missing and not root: skipped"; exit 77; }
  exit 1
fi

work=$(mktemp -d /tmp/flowgate-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The files git knows (committed or not), plus untracked ones that are not
# ignored: what a release tarball would hold, without build trees.
mkdir -p "$work/flowgate"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$src" ls-files -z --cached --others --exclude-standard |
    (cd "$src" && xargs -0 cp --parents -t "$work/flowgate" 2>/dev/null) || true
else
  tar -C "$src" --exclude='./build*' --exclude='./obj-*' -cf - . | tar -C "$work/flowgate" -xf -
fi

# ccache when there is one: a rebuild of an unchanged tree takes seconds.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="$work/flowgate" CCACHE_NOHASHDIR=1
fi
(cd "$work/flowgate" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$work/build.log" 2>&1 || {
  tail -50 "$work/build.log" >&2
  echo "package.sh: dpkg-buildpackage failed (log above)" >&2
  exit 1
}
mkdir -p "$out"
rm -f "$out"/flowgate_*.deb
cp "$work"/flowgate_*.deb "$out/"
deb=$(ls "$out"/flowgate_*.deb)
echo "package.sh: built $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
echo "$deb"
