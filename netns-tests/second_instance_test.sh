#!/usr/bin/env bash
# netns test 8: one flowgate per namespace, and bad configurations never
# touch the kernel.
#   - a second `flowgate run` with the same configuration in the same gateway
#     namespace exits non-zero at once with "another flowgate instance is
#     running" (the lock file next to the control socket is held); the first
#     keeps its table and keeps enforcing;
#   - a second instance with another table name but the same queue exits
#     non-zero and leaves no table behind; the first keeps enforcing;
#   - `flowgate run` with a broken configuration (unknown key) exits 2 naming
#     file:line, with a broken policy exits 1; neither creates a table.
# Usage: second_instance_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft
bin=$1 src=$2

fg_lab_up
fg_cert
policy=$FG_WORK/sni-reject.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"

[[rule]]
name = "sni-reject"
match = { hostname = "blocked.example" }
action = "reject"
TOML
fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -www -quiet
fg_wait_listen "$FG_S" tcp 443
fg_start_gateway "$bin" "$policy"

get() { fg_get "$1"; }  # "http_code curl_exit elapsed_ms"
enforcing() {  # the first instance still rejects blocked.example and passes the rest
  local code rc ms code2
  read -r code rc ms < <(get blocked.example)
  read -r code2 _ < <(get allowed.example)
  fg_reset "$code" "$rc" && [[ $code2 = 200 ]] ||
    { fg_log "blocked: $code (curl exit $rc, $ms ms), allowed: $code2"; return 1; }
}
tables() { fg_nft_tables "$FG_G" | paste -sd,; }
fg_check "the first instance enforces" enforcing
ino=$(stat -L -c %i "/run/netns/$FG_G")
fg_check "its instance lock is next to its control socket ($(ls "$FG_WORK"/*.lock 2>/dev/null | paste -sd,))" \
  test -f "$FG_WORK/flowgate-$ino.lock"

# 1. Same configuration, same namespace.
t0=$(date +%s%N)
rc=0
fg_in "$FG_G" timeout 10 "$bin" run --config "$FG_WORK/flowgate.toml" >"$FG_WORK/second.log" 2>&1 || rc=$?
ms=$(fg_ms_since "$t0")
fg_log "second instance (rc $rc, $ms ms): $(tr '\n' ' ' <"$FG_WORK/second.log")"
fg_check "a second instance exits non-zero (rc $rc; 124 = still running after 10 s)" \
  test "$rc" -ne 0 -a "$rc" -ne 124
fg_check "... saying another instance is running" grep -q 'another flowgate instance is running' "$FG_WORK/second.log"
fg_check "the first instance is still running" kill -0 "$FG_GATEWAY_PID"
fg_check "its table is still there ($(tables))" grep -qx 'inet flowgate' <<<"$(fg_nft_tables "$FG_G")"
fg_check "the first instance still enforces" enforcing

# 2. Another table name (no lock conflict), same queue 0.
sed 's/^\[policy\]$/[nft]\ntable = "flowgate2"\n\n[policy]/' "$FG_WORK/flowgate.toml" >"$FG_WORK/flowgate2.toml"
rc=0
fg_in "$FG_G" timeout 10 "$bin" run --config "$FG_WORK/flowgate2.toml" >"$FG_WORK/second2.log" 2>&1 || rc=$?
fg_log "instance with table flowgate2 (rc $rc): $(grep -v '^DEBUG' "$FG_WORK/second2.log" | tr '\n' ' ')"
fg_check "an instance with another table on the same queue exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
# The kernel answers EPERM to a bind of a queue that another socket holds;
# we are root, so blaming CAP_NET_ADMIN would send the admin the wrong way.
fg_check "... saying that queue 0 is in use by another program" \
  grep -Eqi 'NFQUEUE 0: .*(bound|in use|busy|another)' "$FG_WORK/second2.log"
fg_check "... and leaves no table flowgate2 behind ($(tables))" \
  test "$(fg_nft_tables "$FG_G" | grep -c flowgate2)" = 0
fg_check "the first instance still enforces" enforcing

fg_stop_gateway
fg_check "no table after the first instance stopped" test -z "$(tables)"

# 3. A broken configuration: exit 2, file:line, nothing installed.
cat >"$FG_WORK/broken.toml" <<TOML
[gateway]
log_level = "debug"
interfaces = ["g0"]
wrokers = 2

[policy]
path = ["$policy"]
TOML
rc=0
fg_in "$FG_G" timeout 10 "$bin" run --config "$FG_WORK/broken.toml" >"$FG_WORK/broken.log" 2>&1 || rc=$?
fg_log "broken config (rc $rc): $(tr '\n' ' ' <"$FG_WORK/broken.log")"
fg_check "a broken configuration exits 2 (rc $rc)" test "$rc" -eq 2
fg_check "... naming file:line and the key" grep -Eq 'broken\.toml:4:[0-9]+: .*wrokers' "$FG_WORK/broken.log"
fg_check "... and creates no table ($(tables))" test -z "$(tables)"

# 4. A valid configuration naming a broken policy: exit 1, nothing installed.
printf '[[rule]]\nname = "x"\naction = "rejekt"\n' >"$FG_WORK/broken-policy.toml"
sed "s#$policy#$FG_WORK/broken-policy.toml#" "$FG_WORK/flowgate.toml" >"$FG_WORK/badpolicy.toml"
rc=0
fg_in "$FG_G" timeout 10 "$bin" run --config "$FG_WORK/badpolicy.toml" >"$FG_WORK/badpolicy.log" 2>&1 || rc=$?
fg_log "broken policy (rc $rc): $(tr '\n' ' ' <"$FG_WORK/badpolicy.log")"
fg_check "a broken policy exits 1 (rc $rc)" test "$rc" -eq 1
fg_check "... naming file:line" grep -Eq 'broken-policy\.toml:3:[0-9]+' "$FG_WORK/badpolicy.log"
fg_check "... and creates no table ($(tables))" test -z "$(tables)"
fg_check "no fwmark rule was left behind" jq -e 'all(.[]; has("fwmark") | not)' <<<"$(fg_in "$FG_G" ip -j rule show)"
fg_finish
