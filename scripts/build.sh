#!/usr/bin/env bash
# Configure (once) and build flowgate into ./build, whatever the current directory.
# Extra arguments are passed to the configure step the first time only.
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

# ccache when installed (scripts/deps.sh build installs it): paths relative
# to the checkout, so another clone of the same sources hits the cache too.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

# Configured = a cache and a generated build system (a failed configure leaves
# only the cache behind; configure again then).
if [[ ! -f build/CMakeCache.txt || ! ( -f build/Makefile || -f build/build.ninja ) ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOWGATE_WERROR=ON "${launcher[@]}" "$@"
fi
cmake --build build -j"$(nproc)"
