#!/usr/bin/env bash
# Build flowgate and run every test: unit tests, the corpus test (when
# ../shared/corpus exists) and, as root, the network-namespace tests; then
# the unit and corpus tests again in a second build with AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan/). Idempotent; installs missing
# Debian packages first (as root).
#
# Usage: scripts/test.sh [extra ctest arguments]
#   FLOWGATE_SANITIZE_STAGE=0 skips the sanitizer build (quicker local runs).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

scripts/deps.sh all
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"

if [[ ${FLOWGATE_SANITIZE_STAGE:-1} != 0 ]]; then
  echo "==> unit and corpus tests under ASan + UBSan (build-asan)"
  if [[ ! -f build-asan/CMakeCache.txt ]]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOWGATE_SANITIZE=ON -DFLOWGATE_BUILD_BENCH=OFF
  fi
  cmake --build build-asan -j"$(nproc)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan -L 'unit|corpus' --output-on-failure -j"$(nproc)" "$@"
fi
