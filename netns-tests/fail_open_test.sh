#!/usr/bin/env bash
# netns test 6: fail open. flowgate crashing (kill -9) never cuts traffic.
#   - a paced 100 MB upload (~4 s) runs through the gateway; flowgate is
#     killed with SIGKILL in the middle: the upload still completes with the
#     exact byte count;
#   - the owner flag makes the kernel drop the `inet flowgate` table with the
#     dead process's socket: `nft list tables` shows no flowgate table;
#   - new connections work (nothing is enforced, nothing is queued);
#   - flowgate restarts in the same namespace and enforces again: SNI
#     blocked.example is reset at once, other SNIs pass.
# Usage: fail_open_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft python3
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
fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink "$FG_SERVICE4" 40123
fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -www -quiet
fg_wait_listen "$FG_S" tcp 40123
fg_wait_listen "$FG_S" tcp 443
fg_start_gateway "$bin" "$policy"

get() { fg_get "$1"; }  # "http_code curl_exit elapsed_ms"
read -r code rc ms < <(get blocked.example)
fg_check "before the crash blocked.example is reset (HTTP $code, curl exit $rc, $ms ms)" fg_reset "$code" "$rc"

total=$((100 * 1000 * 1000))
fg_bg "$FG_C" bash -c "exec timeout 60 python3 '$FG_TRAFFIC' upload '$FG_SERVICE4' 40123 $total --rate 25000000 \
  >'$FG_WORK/upload.out' 2>'$FG_WORK/upload.err'"
upload_pid=$FG_LAST_PID
t0=$(date +%s%N)
sleep 1.5
fg_check "the upload is still running when flowgate is killed" kill -0 "$upload_pid"
fg_check "flowgate decided the upload flow before the crash" \
  grep -Eq 'flow_decided .*dst=10\.71\.100\.1:40123 .*verdict=accept ' "$FG_WORK/flowgate.log"
kill -KILL "$FG_GATEWAY_PID"
rc=0; { wait "$FG_GATEWAY_PID"; } 2>/dev/null || rc=$?
FG_GATEWAY_PID=""
fg_check "flowgate died of SIGKILL (status $rc)" test "$rc" -eq 137
cp "$FG_WORK/flowgate.log" "$FG_WORK/flowgate-1.log"

gone=no
for _ in $(seq 50); do
  if ! fg_nft_tables "$FG_G" | grep -qx 'inet flowgate'; then gone=yes; break; fi
  sleep 0.1
done
fg_check "no flowgate table after the crash (tables: $(fg_nft_tables "$FG_G" | paste -sd,))" \
  test "$gone" = yes

up_rc=0; wait "$upload_pid" || up_rc=$?
elapsed=$(fg_ms_since "$t0")
got=$(cat "$FG_WORK/upload.out" 2>/dev/null || true)
fg_log "upload: rc $up_rc, $got bytes, ${elapsed} ms; stderr: $(head -c 300 "$FG_WORK/upload.err" 2>/dev/null)"
fg_check "the upload completed exactly ($got of $total bytes)" test "$up_rc" -eq 0 -a "$got" = "$total"

small=$(fg_in "$FG_C" timeout 10 python3 "$FG_TRAFFIC" upload "$FG_SERVICE4" 40123 1000000 || true)
fg_check "a new TCP connection works without flowgate ($small bytes)" test "$small" = "1000000"
read -r code rc ms < <(get blocked.example)
fg_check "without flowgate nothing is enforced: blocked.example answers (HTTP $code)" test "$code" = "200"

fg_start_gateway "$bin" "$policy"
has_table() { fg_nft_tables "$FG_G" | grep -qx 'inet flowgate'; }
fg_check "the restarted flowgate installed its table" has_table
read -r code rc ms < <(get blocked.example)
fg_check "after the restart blocked.example is reset again (HTTP $code, curl exit $rc, $ms ms)" fg_reset "$code" "$rc"
fg_check "the restarted flowgate rejected it by rule sni-reject" \
  fg_wait_log 'flow_decided .*hostname=blocked\.example verdict=reject rule=sni-reject '
read -r code rc ms < <(get allowed.example)
fg_check "other TLS still passes (HTTP $code)" test "$code" = "200"
small=$(fg_in "$FG_C" timeout 10 python3 "$FG_TRAFFIC" upload "$FG_SERVICE4" 40123 1000000 || true)
fg_check "plain TCP still passes ($small bytes)" test "$small" = "1000000"

fg_stop_gateway
fg_check "the table is gone after SIGTERM" fg_no_table "$FG_G" flowgate
fg_finish
