#!/usr/bin/env bash
# Build flowgate and run every test: unit tests, the corpus test (when
# ../shared/corpus exists) and, as root, the network-namespace tests.
# Idempotent; installs missing Debian packages first (as root).
#
# Usage: scripts/test.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

scripts/deps.sh all
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
