#!/usr/bin/env bash
# netns test 5: SIGHUP reloads the policy, all or nothing.
#   - generation 1 accepts TLS with SNI blocked.example: the request works;
#   - the file is edited to action = "reject" and flowgate gets SIGHUP: it
#     logs policy_reloaded, and a new connection to blocked.example is reset
#     at once while other SNIs still pass;
#   - a broken file (an unknown key, then a TOML syntax error) + SIGHUP:
#     reload_failed and policy_error naming file:line are logged, the daemon
#     keeps running, the previous policy still rejects blocked.example and
#     other traffic still passes.
# Usage: reload_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft
bin=$1 src=$2

fg_lab_up
fg_cert
policy=$FG_WORK/sni.toml
write_policy() {  # write_policy ACTION [EXTRA_LINE]
  cat >"$policy" <<TOML
[policy]
default_action = "accept"

[[rule]]
name = "sni-blocked-example"
match = { hostname = "blocked.example" }
action = "$1"
${2:-}
TOML
}
write_policy accept
fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -www -quiet
fg_wait_listen "$FG_S" tcp 443
fg_start_gateway "$bin" "$policy"

# get NAME: prints "http_code curl_exit elapsed_ms" (lib.sh fg_get).
get() { fg_get "$1"; }
# hup N: SIGHUP and wait for the N-th policy_reloaded or reload_failed line.
hup() {
  kill -HUP "$FG_GATEWAY_PID"
  local i
  for ((i = 0; i < 50; i++)); do
    [[ $(grep -Ec '^(INFO policy_reloaded|ERROR reload_failed)' "$FG_WORK/flowgate.log") -ge $1 ]] && return 0
    sleep 0.1
  done
  return 1
}

read -r code rc ms < <(get blocked.example)
fg_check "generation 1: blocked.example is accepted (HTTP $code)" test "$code" = "200"
# With only accept rules in force, the outcome cannot change whatever the
# SNI turns out to be, so flowgate decides at the first packet (by the
# default, before the hostname is known): the policy engine's "final" means
# "the enforcement cannot change".
fg_check "generation 1 accepted the flow at its first packet" \
  fg_wait_log 'flow_decided .*dst=10\.71\.100\.1:443 .*verdict=accept rule=\(default\) .*dpi_packets=1 '

write_policy reject
fg_check "SIGHUP: policy_reloaded logged" hup 1
fg_check "policy_reloaded names generation 2" grep -Eq '^INFO policy_reloaded generation=2( |$)' "$FG_WORK/flowgate.log"
read -r code rc ms < <(get blocked.example)
fg_check "generation 2: blocked.example fails (HTTP $code)" test "$code" = "000"
fg_check "... at once: reset, not a timeout (curl exit $rc, ${ms} ms)" fg_reset "$code" "$rc"
fg_check "generation 2 rejected it by the same rule" \
  fg_wait_log 'flow_decided .*hostname=blocked\.example verdict=reject rule=sni-blocked-example '
read -r code rc ms < <(get allowed.example)
fg_check "generation 2: allowed.example still passes (HTTP $code)" test "$code" = "200"

# A broken policy: an unknown key (a typo of 'action').
write_policy reject 'acton = "accept"'
fg_check "SIGHUP with an unknown key: an answer is logged" hup 2
fg_check "reload_failed logged, generation 2 kept" \
  grep -Eq '^ERROR reload_failed kept_generation=2' "$FG_WORK/flowgate.log"
fg_check "policy_error names file:line:col and the key" \
  grep -Eq "^ERROR policy_error error=.*${policy//./\\.}:[0-9]+:[0-9]+: rule\\[sni-blocked-example\\]\\.acton: unknown key" \
  "$FG_WORK/flowgate.log"
# A TOML syntax error.
write_policy reject '[[rule'
fg_check "SIGHUP with a syntax error: an answer is logged" hup 3
fg_check "reload_failed logged twice" test "$(grep -c '^ERROR reload_failed' "$FG_WORK/flowgate.log")" -eq 2
fg_check "the syntax error is located (file:line)" \
  bash -c "grep '^ERROR policy_error' '$FG_WORK/flowgate.log' | grep -v acton | grep -Eq '${policy//./\\.}:[0-9]+'"
grep -E '^ERROR' "$FG_WORK/flowgate.log" >&2 || true
fg_check "no further policy_reloaded" test "$(grep -c '^INFO policy_reloaded' "$FG_WORK/flowgate.log")" -eq 1
fg_check "flowgate is still running" kill -0 "$FG_GATEWAY_PID"

read -r code rc ms < <(get blocked.example)
fg_check "the kept policy still rejects blocked.example (HTTP $code, curl exit $rc, ${ms} ms)" \
  fg_reset "$code" "$rc"
read -r code rc ms < <(get allowed.example)
fg_check "other traffic still passes (HTTP $code)" test "$code" = "200"
fg_check "both blocked.example flows after the first reload were rejected" \
  test "$(grep -Ec 'flow_decided .*hostname=blocked\.example verdict=reject rule=sni-blocked-example ' "$FG_WORK/flowgate.log")" -eq 2

fg_stop_gateway
fg_check "the table is gone after SIGTERM" fg_no_table "$FG_G" flowgate
fg_finish
