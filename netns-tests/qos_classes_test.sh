#!/usr/bin/env bash
# netns test 3: QoS classes become conntrack marks.
#   - policy: mark_mask 0xf0, mark_shift 4, [class] realtime = 1 (0x10),
#     bulk = 3 (0x30); `flowgate policy check` accepts it;
#   - a BitTorrent peer handshake over TCP (68 bytes each way) is decided by
#     the bulk rule: ct mark decided|0x30 = 0x80000030;
#   - TLS with SNI us04web.zoom.us (nDPI 4.2: Zoom; its host pattern is
#     ".zoom.us", so the bare name zoom.us is only TLS) is decided by the
#     realtime rule:
#     ct mark decided|0x10 = 0x80000010;
#   - an unrelated TLS flow gets no class (decided only, 0x80000000).
# Usage: qos_classes_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft conntrack python3
bin=$1 src=$2

fg_lab_up
fg_cert
policy=$FG_WORK/qos.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"
mark_mask = 0x000000f0
mark_shift = 4

[class]
realtime = 1      # mark 0x10
bulk = 3          # mark 0x30

# The client names the server with curl --resolve (no DNS in this lab), so
# only the operator's range verifies the Zoom SNI for the class rule
# (name_verification_test.sh covers names nothing verifies).
[verified_ranges]
Zoom = ["10.71.100.1"]

[[rule]]
name = "video-calls-realtime"
match = { application = ["Zoom", "Skype_Teams", "Webex"] }
class = "realtime"

[[rule]]
name = "bittorrent-bulk"
match = { application = "BitTorrent" }
class = "bulk"
TOML
check_out=$("$bin" policy check "$policy" 2>&1) && check_rc=0 || check_rc=$?
fg_log "policy check: $(tr '\n' ' ' <<<"$check_out")"
fg_check "flowgate policy check accepts the policy (rc $check_rc)" test "$check_rc" -eq 0
fg_check "policy check lists both classes" grep -Eq '2 classes' <<<"$check_out"

fg_bg "$FG_S" python3 "$FG_TRAFFIC" bt-server "$FG_SERVICE4" 6881
fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -www -quiet
fg_wait_listen "$FG_S" tcp 6881
fg_wait_listen "$FG_S" tcp 443
fg_start_gateway "$bin" "$policy"

bt=$(fg_in "$FG_C" timeout 10 python3 "$FG_TRAFFIC" bt-client "$FG_SERVICE4" 6881 2>&1 || true)
fg_check "BitTorrent handshake completes through the gateway ($bt)" test "$bt" = "handshake ok"
# Fixed source ports tell the two 443 flows apart in conntrack.
zoom=$(fg_in "$FG_C" timeout 10 curl -sk --local-port 41001 --resolve "us04web.zoom.us:443:$FG_SERVICE4" -o /dev/null \
  -w '%{http_code}' https://us04web.zoom.us/ || true)
fg_check "TLS to us04web.zoom.us answers 200 (got '$zoom')" test "$zoom" = "200"
plain=$(fg_in "$FG_C" timeout 10 curl -sk --local-port 41002 --resolve "www.example.org:443:$FG_SERVICE4" -o /dev/null \
  -w '%{http_code}' https://www.example.org/ || true)
fg_check "TLS to www.example.org answers 200 (got '$plain')" test "$plain" = "200"

fg_check "flowgate decided the BitTorrent flow by bittorrent-bulk, mark 0x80000030" \
  fg_wait_log 'flow_decided .*dst=10\.71\.100\.1:6881 .*app=BitTorrent .*verdict=accept rule=bittorrent-bulk mark=2147483696 '
fg_check "flowgate decided the Zoom flow by video-calls-realtime, mark 0x80000010" \
  fg_wait_log 'flow_decided .*dst=10\.71\.100\.1:443 .*app=Zoom hostname=us04web\.zoom\.us verdict=accept rule=video-calls-realtime mark=2147483664 '
fg_check "the other TLS flow got no class" \
  fg_wait_log 'flow_decided .*dst=10\.71\.100\.1:443 .*hostname=www\.example\.org verdict=accept rule=\(default\) mark=2147483648 '
grep -E 'flow_decided .*dst=10\.71\.100\.1:(6881|443) ' "$FG_WORK/flowgate.log" >&2 || true

ct=$(fg_conntrack "$FG_G" -p tcp -d "$FG_SERVICE4")
fg_log "conntrack (proto src sport dst dport mark ...):"$'\n'"$ct"
ct_mark() { awk -v sp="$1" -v dp="$2" '(sp == "" || $3 == sp) && $5 == dp {print $6}' <<<"$ct" | sort -u | paste -sd,; }
bt_mark=$(ct_mark "" 6881) zoom_mark=$(ct_mark 41001 443) plain_mark=$(ct_mark 41002 443)
fg_check "conntrack: BitTorrent flow mark=$((0x80000030)) (got $bt_mark)" test "$bt_mark" = "$((0x80000030))"
fg_check "conntrack: Zoom flow mark=$((0x80000010)) (got $zoom_mark)" test "$zoom_mark" = "$((0x80000010))"
fg_check "conntrack: other TLS flow mark=$((0x80000000)) (got $plain_mark)" test "$plain_mark" = "$((0x80000000))"
fg_check "the class bits stay inside mark_mask 0xf0" \
  bash -c "for m in \$(awk '{print \$6}' <<<'$ct'); do (( (m & 0xffff) & ~0xf0 )) && exit 1; done; exit 0"

fg_stop_gateway
fg_check "the table is gone after SIGTERM" fg_no_table "$FG_G" flowgate
fg_finish
