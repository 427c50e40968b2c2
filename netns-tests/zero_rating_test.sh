#!/usr/bin/env bash
# netns test 2: zero rating. Netflix flows (SNI www.netflix.com) are routed
# over uplink B (g2) through a route class, other TLS keeps uplink A (g1).
#   - the policy's route installs `ip rule fwmark 0x100/0xff00 lookup 100` and
#     `default via 10.71.3.2 dev g2 table 100` while flowgate runs, both gone
#     after SIGTERM;
#   - the Netflix flow is decided by the route's rule, its conntrack mark is
#     decided|0x100, and the server address lands in the nft set zero_rated
#     with a timeout;
#   - a 4 MB upload with the Netflix SNI leaves the gateway through g2 (its
#     TX bytes grow by the upload, g1's do not); the same upload with another
#     SNI leaves through g1;
#   - a multi-MB download with the Netflix SNI completes (the server answers
#     over uplink A: the return path is not flowgate's to steer).
# Routed uplinks (no NAT): flows switch uplink when DPI decides them
# (routing.keep_first_route = false), first-packet hints are off; the lab
# server is in the policy's [verified_ranges] for NetFlix (no DNS here to
# verify the SNI; see name_verification_test.sh).
# Usage: zero_rating_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft conntrack python3
bin=$1 src=$2

fg_lab_up
fg_cert
policy=$FG_WORK/zero-rating.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"
mark_mask = 0x0000ff00
mark_shift = 8

[route.zero-rated]
table = 100
via = "10.71.3.2"      # uplink B (s2)
fwmark = 1             # 1 << 8 = 0x100

[set.zero_rated]
family = "ipv4"
address = "dst"
timeout = 3600

# Hints are off in this test (it is about the DPI decision path), so no
# client DNS answer can verify the SNI: the lab server is declared the
# operator's Netflix range instead. name_verification_test.sh covers
# names nothing verifies.
[verified_ranges]
NetFlix = ["10.71.100.1"]

[[rule]]
name = "zero-rate-netflix"
match = { application = "NetFlix" }
route = "zero-rated"
add_to_set = ["zero_rated"]

[[rule]]
name = "zero-rate-netflix-hosts"
match = { hostname = ["netflix.com", "*.netflix.com"] }
route = "zero-rated"
add_to_set = ["zero_rated"]
TOML
fg_check "flowgate policy check accepts the policy" "$bin" policy check "$policy"

# Servers: s_server -WWW serves files from its cwd ($FG_WORK), the sink
# counts uploaded bytes.
big=$FG_WORK/big.bin
head -c $((8 * 1024 * 1024)) /dev/urandom >"$big"
fg_bg "$FG_S" bash -c "cd '$FG_WORK' && exec openssl s_server -accept '$FG_SERVICE4:443' -cert cert.pem \
  -key key.pem -WWW -quiet >/dev/null 2>&1"
fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink "$FG_SERVICE4" 4433 --tls "$FG_WORK/cert.pem" "$FG_WORK/key.pem"
fg_wait_listen "$FG_S" tcp 443
fg_wait_listen "$FG_S" tcp 4433
# This lab routes without NAT, so a flow may switch uplinks once DPI has
# decided it (keep_first_route = false), and hints are off: this test is
# about the DPI decision path (first_packet_test.sh covers first-packet
# decisions with NAT).
FG_EXTRA_TABLES=$'[routing]\nkeep_first_route = false\n[hints]\nenabled = false' fg_start_gateway "$bin" "$policy"

# Kernel state while flowgate runs.
# (iproute2's JSON output, `ip -j`: data, not the human listing.)
rules=$(fg_in "$FG_G" ip -j rule show)
table100=$(fg_in "$FG_G" ip -j route show table 100)
fg_log "ip rules: $rules; table 100: $table100"
# Priority of the first rule matching a jq condition (null when none).
rule_prio() { jq -e "[.[] | select($1)][0].priority" <<<"$rules"; }
fg_check "ip rule has 'fwmark 0x100/0xff00 lookup 100'" \
  rule_prio '.fwmark == "0x100" and .fwmask == "0xff00" and .table == "100"'
fg_check "table 100 routes via uplink B" \
  jq -e 'any(.[]; .dst == "default" and .gateway == "10.71.3.2" and .dev == "g2")' <<<"$table100"

# The replies of a zero-rated flow (server -> client, arriving on g1) carry
# the restored fwmark too; they must still reach the LAN. flowgate puts
# `lookup main suppress_prefixlength 0` before its fwmark rules, so the main
# table's LAN route wins and the route class only overrides the default.
suppress=$(rule_prio '.table == "main" and .suppress_prefixlen == 0' || echo none)
fwmark=$(rule_prio '.fwmark == "0x100" and .table == "100"' || echo none)
fg_check "ip rule has 'lookup main suppress_prefixlength 0' (priority $suppress) before the fwmark rule ($fwmark)" \
  test "$suppress" != none -a "$fwmark" != none -a "$suppress" -lt "$fwmark"
back=$(fg_in "$FG_G" ip route get "$FG_CLIENT4" from "$FG_SERVICE4" iif g1 mark 0x80000100 2>&1 || true)
fg_check "a marked reply is routed to the LAN ($back)" grep -q 'dev g0' <<<"$back"
curl_nf() { fg_in "$FG_C" timeout "${CURL_TIMEOUT:-20}" curl -sk --resolve "www.netflix.com:443:$FG_SERVICE4" "$@"; }
page=$(CURL_TIMEOUT=5 curl_nf -o /dev/null -w '%{http_code}' https://www.netflix.com/ || true)
fg_check "Netflix page answers 200 with flowgate's routes alone (got '$page')" test "$page" = "200"
fg_check "flowgate decided the Netflix flow by a zero-rating rule with the route mark" \
  fg_wait_log 'flow_decided .*dst=10\.71\.100\.1:443 .*hostname=www\.netflix\.com .*verdict=accept rule=zero-rate-netflix(-hosts)? mark=2147483904 '

# A larger download after the decision: the request goes out via g2, the
# 8 MB answer comes back over uplink A.
size=$(curl_nf -o "$FG_WORK/got.bin" -w '%{size_download}' https://www.netflix.com/big.bin || true)
fg_check "8 MB download with the Netflix SNI is complete ($size bytes)" cmp -s "$big" "$FG_WORK/got.bin"

# Uploads: what leaves the gateway towards the server.
upload_mb=4
upload=$((upload_mb * 1024 * 1024))
a0=$(fg_tx_bytes "$FG_G" g1) b0=$(fg_tx_bytes "$FG_G" g2)
nf=$(fg_in "$FG_C" timeout 30 python3 "$FG_TRAFFIC" upload "$FG_SERVICE4" 4433 "$upload" --sni www.netflix.com || true)
a1=$(fg_tx_bytes "$FG_G" g1) b1=$(fg_tx_bytes "$FG_G" g2)
other=$(fg_in "$FG_C" timeout 30 python3 "$FG_TRAFFIC" upload "$FG_SERVICE4" 4433 "$upload" --sni www.example.org || true)
a2=$(fg_tx_bytes "$FG_G" g1) b2=$(fg_tx_bytes "$FG_G" g2)
fg_log "Netflix upload: g1 +$((a1 - a0)) B, g2 +$((b1 - b0)) B; other upload: g1 +$((a2 - a1)) B, g2 +$((b2 - b1)) B"
fg_check "Netflix upload arrived whole ($nf of $upload)" test "$nf" = "$upload"
fg_check "other upload arrived whole ($other of $upload)" test "$other" = "$upload"
fg_check "Netflix upload left via g2 (+$((b1 - b0)) >= $upload)" test $((b1 - b0)) -ge "$upload"
fg_check "Netflix upload did not use g1 (+$((a1 - a0)) < 64 KiB)" test $((a1 - a0)) -lt 65536
fg_check "other upload left via g1 (+$((a2 - a1)) >= $upload)" test $((a2 - a1)) -ge "$upload"
fg_check "other upload did not use g2 (+$((b2 - b1)) < 64 KiB)" test $((b2 - b1)) -lt 65536
fg_check "the other flow was accepted without the route" \
  grep -Eq 'flow_decided .*dst=10\.71\.100\.1:4433 .*hostname=www\.example\.org .*verdict=accept rule=\(default\) mark=2147483648 ' \
  "$FG_WORK/flowgate.log"

ct=$(fg_conntrack "$FG_G" -p tcp -d "$FG_SERVICE4")
marks_to() { awk -v dp="$1" '$5 == dp {print $6}' <<<"$ct" | sort -u | paste -sd,; }
fg_check "conntrack: Netflix flows carry decided|0x100 (mark=2147483904; got $(marks_to 443))" \
  test "$(marks_to 443)" = 2147483904
# Port 4433 carries both uploads: the Netflix one (decided|0x100) and the other.
fg_check "conntrack: the other flow is decided without route bits (mark=2147483648 among $(marks_to 4433))" \
  grep -qx 2147483648 <<<"$(marks_to 4433 | tr , '\n')"
set_json=$(fg_in "$FG_G" nft -j list set inet flowgate zero_rated)
fg_log "set: $(jq -c '.nftables[1].set | {timeout, elem}' <<<"$set_json")"
fg_check "set zero_rated holds 10.71.100.1 (and only it)" \
  test "$(fg_set_elements "$FG_G" flowgate zero_rated | paste -sd' ')" = "10.71.100.1"
fg_check "set zero_rated has a 1 h timeout and its element an expiry" \
  jq -e '.nftables[] | .set? // empty | .timeout == 3600 and (.elem[0].elem.expires > 0)' <<<"$set_json"
fg_check "no set update was refused" fg_absent 'set_update_failed' "$FG_WORK/flowgate.log"

fg_stop_gateway
fg_check "stopped line reports decided flows" grep -Eq '^INFO stopped packets=[0-9]+ flows_decided=[1-9]' "$FG_WORK/flowgate.log"
fg_check "fwmark rule removed after SIGTERM" \
  jq -e 'all(.[]; .table != "100")' <<<"$(fg_in "$FG_G" ip -j rule show)"
fg_check "flowgate's default route in table 100 removed after SIGTERM" \
  jq -e 'all(.[]; .dst != "default")' <<<"$(fg_in "$FG_G" ip -j route show table 100)"
fg_check "the nft table is gone after SIGTERM" fg_no_table "$FG_G" flowgate
fg_finish
