#!/usr/bin/env bash
# Build flowgate and run every test: unit tests, the kernel tests and the
# network-namespace tests (root), the corpus tests (../shared/corpus); then
# the unit, kernel and corpus tests again in a second build with
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/). Idempotent;
# installs missing Debian packages first (as root).
#
# Every stage ends with a summary: passed, failed and skipped counts, and
# for each skipped test the reason it gave. A skip is a test that did not
# test: with CI=true any skipped test fails the run.
#
# Usage: scripts/test.sh [extra ctest arguments]
#   FLOWGATE_SANITIZE_STAGE=0 skips the sanitizer build (quicker local runs).
#   FLOWGATE_RELEASE_STAGE=0 skips the Release build with clang.
#   FLOWGATE_DEBUG_STAGE=0 skips the Debug build of the two binaries.
#
# The stages: the development build (RelWithDebInfo, g++, warnings are
# errors) and every test, the Debian package among them (label `package`:
# built with dpkg-buildpackage, installed, started the way its unit starts
# it); the sanitizer build; a Release build with clang (warnings are errors)
# so the optimiser's and the other compiler's warnings are seen too; a Debug
# build (g++, warnings are errors) of the two binaries only, flowgate and
# flowgatectl, so the configuration a developer debugs with keeps building
# (no tests: the other stages run them; cold, without ccache, it took 320
# CPU-seconds here: under 3 minutes on two idle cores).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

# summary STAGE JUNIT_FILE: prints the counts and skip reasons; returns 1 when
# a test failed, or when one was skipped under CI=true.
# Every summary is also kept in $RECAP, printed again at the very end with the
# last lines each failed test printed: whoever reads only the tail of a
# run's output (a CI log) still sees what failed and why.
RECAP=$(mktemp)
trap 'rm -f "$RECAP"' EXIT
summary() {
  python3 - "$1" "$2" "${CI:-}" "$RECAP" <<'PY'
import sys
import xml.etree.ElementTree as ET

stage, path, ci = sys.argv[1], sys.argv[2], sys.argv[3].lower() in ("true", "1", "yes")
recap = open(sys.argv[4], "a")
def say(line):
    print(line)
    recap.write(line + "\n")
try:
    cases = ET.parse(path).getroot().findall("testcase")
except (OSError, ET.ParseError) as e:
    say(f"==> {stage}: no test report ({e})")
    sys.exit(1)

def reason(case):
    """The line where the test said why it skipped."""
    el = case.find("skipped")
    out = (case.findtext("system-out") or "").splitlines()
    lines = [l.strip() for l in out if l.strip()]
    for i, l in enumerate(lines):  # GoogleTest: "file:line: Skipped" then the message
        if l.endswith(": Skipped") and i + 1 < len(lines):
            return lines[i + 1]
    for l in reversed(lines):      # our scripts: "...: skipped" / "SKIP: ..."
        if "skip" in l.lower():
            return l
    if el is not None and el.get("message"):
        return el.get("message")
    return lines[-1] if lines else "(no output)"

passed, failed, skipped = [], [], []
for c in cases:
    name, status = c.get("name"), c.get("status")
    sk = c.find("skipped")
    # ctest marks a test that said "skip" (exit 77, GTEST_SKIP) with a SKIP_*
    # message; "Not Run" for any other reason (no executable) is a failure.
    if status == "disabled" or (sk is not None and (sk.get("message") or "").startswith("SKIP_")):
        skipped.append((name, reason(c)))
    elif sk is not None or status == "notrun":
        failed.append(f"{name} (not run: {sk.get('message') if sk is not None else 'notrun'})")
    elif c.find("failure") is not None or status == "fail":
        failed.append(name)
        tail = [l for l in (c.findtext("system-out") or "").splitlines() if l.strip()][-25:]
        recap.write(f"---- last lines of {name} ({stage})\n" + "\n".join(tail) + "\n")
    else:
        passed.append(name)
say(f"==> {stage}: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped (of {len(cases)})")
for n in failed:
    say(f"    FAILED  {n}")
for n, why in skipped:
    say(f"    SKIPPED {n}: {why}")
bad = bool(failed)
if skipped and ci:
    say(f"==> {stage}: CI=true and {len(skipped)} test(s) did not run: a CI run must run every test"
          " (run as root with scripts/deps.sh installed and ../shared/corpus beside the checkout)")
    bad = True
sys.exit(1 if bad else 0)
PY
}

scripts/deps.sh all
scripts/build.sh
if command -v ccache >/dev/null 2>&1; then
  export FLOWGATE_CCACHE=1 CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
fi
rc=0
ctest --test-dir build --output-on-failure -j"$(nproc)" --output-junit "$PWD/build/ctest-junit.xml" "$@" || rc=1
summary "tests (build)" build/ctest-junit.xml || rc=1

if [[ ${FLOWGATE_SANITIZE_STAGE:-1} != 0 ]]; then
  echo "==> unit, kernel and corpus tests under ASan + UBSan (build-asan)"
  if [[ ! -f build-asan/CMakeCache.txt ]]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOWGATE_SANITIZE=ON -DFLOWGATE_BUILD_BENCH=OFF \
      -DFLOWGATE_WERROR=ON ${FLOWGATE_CCACHE:+-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache}
  fi
  cmake --build build-asan -j"$(nproc)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan -L 'unit|kernel|corpus' --output-on-failure -j"$(nproc)" \
      --output-junit "$PWD/build-asan/ctest-junit.xml" "$@" || rc=1
  summary "tests under ASan + UBSan (build-asan)" build-asan/ctest-junit.xml || rc=1
else
  echo "==> FLOWGATE_SANITIZE_STAGE=0: the sanitizer stage was not run"
  [[ ${CI:-} != true ]] || { echo "==> CI=true needs the sanitizer stage"; rc=1; }
fi
if [[ ${FLOWGATE_RELEASE_STAGE:-1} != 0 ]]; then
  echo "==> Release build with clang, warnings as errors (build-release-clang)"
  scripts/deps.sh fuzz >/dev/null   # clang
  if [[ ! -f build-release-clang/CMakeCache.txt ]]; then
    CC=clang CXX=clang++ cmake -S . -B build-release-clang -DCMAKE_BUILD_TYPE=Release -DFLOWGATE_WERROR=ON \
      -DFLOWGATE_BUILD_BENCH=OFF ${FLOWGATE_CCACHE:+-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache}
  fi
  if cmake --build build-release-clang -j"$(nproc)"; then
    echo "==> Release build with clang: built without a warning" | tee -a "$RECAP"
  else
    echo "==> Release build with clang: FAILED" | tee -a "$RECAP"; rc=1
  fi
else
  echo "==> FLOWGATE_RELEASE_STAGE=0: the Release build with clang was not run"
  [[ ${CI:-} != true ]] || { echo "==> CI=true needs the Release stage"; rc=1; }
fi
if [[ ${FLOWGATE_DEBUG_STAGE:-1} != 0 ]]; then
  echo "==> Debug build of flowgate and flowgatectl with g++, warnings as errors (build-debug)"
  if [[ ! -f build-debug/CMakeCache.txt ]]; then
    CC=gcc CXX=g++ cmake -S . -B build-debug -DCMAKE_BUILD_TYPE=Debug -DFLOWGATE_WERROR=ON \
      -DFLOWGATE_BUILD_TESTS=OFF -DFLOWGATE_BUILD_BENCH=OFF \
      ${FLOWGATE_CCACHE:+-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache}
  fi
  if cmake --build build-debug -j"$(nproc)" --target flowgate flowgatectl; then
    echo "==> Debug build with g++: flowgate and flowgatectl built without a warning" | tee -a "$RECAP"
  else
    echo "==> Debug build with g++: FAILED" | tee -a "$RECAP"; rc=1
  fi
else
  echo "==> FLOWGATE_DEBUG_STAGE=0: the Debug build was not run"
  [[ ${CI:-} != true ]] || { echo "==> CI=true needs the Debug stage"; rc=1; }
fi
echo "==> recap (rc=$rc)"
cat "$RECAP"
exit "$rc"
