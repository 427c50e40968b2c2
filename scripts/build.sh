#!/usr/bin/env bash
# Configure (once) and build flowgate into ./build, whatever the current directory.
# Extra arguments are passed to the configure step the first time only.
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

# Configured = a cache and a generated build system (a failed configure leaves
# only the cache behind; configure again then).
if [[ ! -f build/CMakeCache.txt || ! ( -f build/Makefile || -f build/build.ninja ) ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOWGATE_WERROR=ON "$@"
fi
cmake --build build -j"$(nproc)"
