#!/bin/sh
# flowgate's command line (one CLI11 parser, gateway/main.cc): --help and
# --version at every level, --opt=value, `--`, one error line naming the
# command and the cause, and the documented exit statuses (0 success, 1 a
# runtime failure, 2 a usage error). No root, no kernel.
# Usage: cli_test.sh FLOWGATE VERSION
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); version=$2
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# run EXPECTED_STATUS ARGS...: runs flowgate; stdout in $dir/out, stderr in $dir/err.
run() {
  want=$1; shift
  "$bin" "$@" >"$dir/out" 2>"$dir/err"
  rc=$?
  [ "$rc" -eq "$want" ] || { fail "flowgate $*: exit $rc, expected $want; stderr: $(cat "$dir/err")"; return 1; }
}
# one_error_line PATTERN: stderr is one line matching PATTERN.
one_error_line() {
  [ "$(wc -l <"$dir/err")" -eq 1 ] || fail "expected one error line, got: $(cat "$dir/err")"
  grep -Eq -- "$1" "$dir/err" || fail "error line does not match '$1': $(cat "$dir/err")"
}

printf '[policy]\ndefault_action = "accept"\n' >"$dir/ok.toml"
cp "$dir/ok.toml" "$dir/-dash.toml"

# --version and --help at every level.
for cmd in "" run classify policy "policy check" "policy eval" apps "apps list" "apps check" "apps lookup" version; do
  # shellcheck disable=SC2086
  run 0 $cmd --version && { grep -qx "flowgate $version" "$dir/out" || fail "flowgate $cmd --version: $(cat "$dir/out")"; }
  # shellcheck disable=SC2086
  run 0 $cmd --help && { grep -q "Usage:" "$dir/out" || fail "flowgate $cmd --help prints no usage"; }
done
run 0 version && { grep -qx "flowgate $version" "$dir/out" || fail "flowgate version: $(cat "$dir/out")"; }
run 0 classify --help && for o in --budget --max-flows --hints --apps --apps-local --no-catalog --no-stats --format \
    --netify-version --local-net --interface --quiet; do
  grep -q -- "$o" "$dir/out" || fail "classify --help does not list $o"
done
run 0 policy eval --help && for o in --flow --time --no-catalog; do
  grep -q -- "$o" "$dir/out" || fail "policy eval --help does not list $o"
done
run 0 --help && grep -q "Exit status" "$dir/out" || fail "flowgate --help documents no exit status"

# No command, unknown commands and options: exit 2, one line with the cause.
run 2
run 2 bogus && one_error_line "^flowgate: unknown command 'bogus'"
run 2 policy chek "$dir/ok.toml" && one_error_line "^flowgate policy: unknown command 'chek'"
run 2 classify --bogus x.pcap && one_error_line '^flowgate classify: .*--bogus'
run 2 classify && one_error_line '^flowgate classify: .*FILE'
run 2 classify --budget=0 x.pcap && one_error_line '^flowgate classify: .*--budget'
run 2 classify --budget abc x.pcap && one_error_line '^flowgate classify: .*--budget'
run 2 classify --format=xml x.pcap && one_error_line '^flowgate classify: .*--format'
run 2 classify --netify-version 3 x.pcap && one_error_line '^flowgate classify: .*--netify-version'
run 2 classify --local-net 10.0.0.0/99 x.pcap && one_error_line '^flowgate classify: .*10\.0\.0\.0/99'
run 2 policy eval --time=yesterday "$dir/ok.toml" && one_error_line "^flowgate policy eval: .*--time.*yesterday"
run 2 policy check && one_error_line '^flowgate policy check: .*PATH'
run 2 apps lookup && one_error_line '^flowgate apps lookup: .*NAME-OR-ADDRESS'
run 2 apps lookup 10.0.0.1 --port=70000 && one_error_line '^flowgate apps lookup: .*--port'
run 2 run --config && one_error_line '^flowgate run: .*--config'

# --opt=value, options after positionals, and `--` before a path that starts with a dash.
run 0 policy check --no-catalog "$dir/ok.toml" && grep -q '^ok: ' "$dir/out" || fail "policy check: $(cat "$dir/out")"
run 0 policy check "$dir/ok.toml" --no-catalog
(cd "$dir" && "$bin" policy check --no-catalog -- -dash.toml >"$dir/out" 2>"$dir/err") ||
  fail "policy check -- -dash.toml: $(cat "$dir/err")"
run 0 policy eval --no-catalog --time=2026-01-01T00:00:00Z --flow='{"src_ip":"10.0.0.1","dst_ip":"10.0.0.2"}' \
  "$dir/ok.toml" && grep -q '"verdict":"accept"' "$dir/out" || fail "policy eval --flow=: $(cat "$dir/out")"
run 2 run --config="$dir/missing.toml" --check && grep -q "$dir/missing.toml: cannot read" "$dir/err" ||
  fail "run --config=: $(cat "$dir/err")"

# A runtime failure: exit 1, the path said once.
run 1 classify -q --no-catalog "$dir/none.pcap"
[ "$(grep -o "$dir/none.pcap" "$dir/err" | wc -l)" -eq 1 ] || fail "classify of a missing file names it once: $(cat "$dir/err")"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "ok"
