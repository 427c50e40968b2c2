#!/usr/bin/env bash
# Builds the fuzz targets (clang, libFuzzer, ASan + UBSan) in build-fuzz/,
# makes the seed corpora and runs every target for a bounded time
# (docs/fuzzing.md). Exits non-zero on any crash, leak, timeout, OOM or
# sanitizer report; the input that caused it stays in
# build-fuzz/artifacts/<target>/ and its path is printed.
#
# usage: fuzz/run.sh [SECONDS_PER_TARGET]           (default 60)
# env:   FUZZ_TARGETS="policy_fuzz control_fuzz"     subset (default: all five)
#        FUZZ_JOBS=2                                 targets run at a time (default 1)
#        FUZZ_BUILD_DIR=build-fuzz                   build directory
#        FLOWGATE_CORPUS_DIR=../shared/corpus        captures for the packet seeds
#
# Each target first replays its regression inputs (fuzz/regressions/<target>/)
# and the generated seeds, then mutates for SECONDS. New inputs accumulate in
# build-fuzz/corpus/<target>/ across local runs (CI starts empty).
set -uo pipefail

secs=${1:-60}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
[[ $build = /* ]] || build=$src/$build
read -ra targets <<<"${FUZZ_TARGETS:-pipeline_fuzz metadata_fuzz policy_fuzz control_fuzz config_fuzz}"
jobs=${FUZZ_JOBS:-1}

# --- build -------------------------------------------------------------------
# clang++ -Wall -Wextra warns where g++ does not (gateway/control/server.h:
# -Wunused-private-field), so the fuzz build does not use -Werror.
mkdir -p "$build"
if ! grep -qs '^FLOWGATE_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  CC=clang CXX=clang++ timeout 300 cmake -S "$src" -B "$build" -DFLOWGATE_FUZZ=ON \
    -DFLOWGATE_BUILD_TESTS=OFF -DFLOWGATE_BUILD_BENCH=OFF -DFLOWGATE_WERROR=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; echo "fuzz: configure failed" >&2; exit 2; }
fi
timeout 1800 cmake --build "$build" --target fuzzers -j "$(nproc)" >"$build/build.log" 2>&1 ||
  { tail -50 "$build/build.log"; echo "fuzz: build failed ($build/build.log)" >&2; exit 2; }

# --- seeds -------------------------------------------------------------------
"$src/fuzz/make-seeds.sh" "$build/seeds" >/dev/null || { echo "fuzz: make-seeds failed" >&2; exit 2; }

# --- run -----------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/logs"

run_one() {
  local t=$1 short=${1%_fuzz}
  local corpus=$build/corpus/$t art=$build/artifacts/$t/ log=$build/logs/$t.log
  local dict=$src/fuzz/dicts/$short.dict
  local -a extra=()
  mkdir -p "$corpus" "$art"
  [[ -f $dict ]] && extra+=("-dict=$dict")
  # Regression inputs first: a plain file list runs each once.
  local regressions=("$src/fuzz/regressions/$t"/*)
  local rc_reg=0
  if [[ -e ${regressions[0]:-} ]]; then
    timeout -k 10 300 "$build/fuzz/$t" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
      "-artifact_prefix=$art" "${regressions[@]}" >"$build/logs/$t.regressions.log" 2>&1 || rc_reg=$?
  fi
  # max_total_time bounds the fuzzing; the outer timeout also bounds loading
  # the seeds and a hang that -timeout would not catch.
  timeout -k 10 $((secs * 2 + 120)) "$build/fuzz/$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 "-artifact_prefix=$art" \
    "${extra[@]}" "$corpus" "$build/seeds/$short" >"$log" 2>&1
  local rc=$?
  echo "$rc $rc_reg" >"$build/logs/$t.rc"
}

running=0
for t in "${targets[@]}"; do
  [[ -x $build/fuzz/$t ]] || { echo "fuzz: no target $t" >&2; exit 2; }
  run_one "$t" &
  if ((++running >= jobs)); then wait -n; ((running--)); fi
done
wait

# --- report --------------------------------------------------------------------
status=0
printf '\n%-15s %8s %12s  %s\n' target seconds executions result
for t in "${targets[@]}"; do
  log=$build/logs/$t.log
  read -r rc rc_reg <"$build/logs/$t.rc"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  result=ok
  if ((rc_reg != 0)); then
    result="REGRESSION (see $build/logs/$t.regressions.log)"
  fi
  if ((rc != 0)) || grep -qE '^(==[0-9]+==ERROR|SUMMARY: (Address|Leak|Undefined)|.*runtime error:)' "$log"; then
    why=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z -]+|runtime error: .*|deadly signal|timeout after' "$log")
    [[ -z $why ]] && why="exit $rc"
    [[ $rc == 124 || $rc == 137 ]] && why="hung past the outer time bound"
    art=$(grep -m1 -oE "(Test unit|artifact) written to [^ ]+" "$log" | awk '{print $NF}')
    result="FAIL: $why${art:+ -> $art}"
  fi
  [[ $result == ok ]] || status=1
  printf '%-15s %8s %12s  %s\n' "$t" "${took:-?}" "${execs:-?}" "$result"
done
((status == 0)) || echo "fuzz: failures above; logs in $build/logs/" >&2
exit $status
