#!/usr/bin/env bash
# netns test 7: test 1 over IPv6 ($FG_SERVICE6 = fd71:100::1).
#   - an openssl s_server offering only AES128-SHA at TLS 1.2: the client's
#     handshake is reset at once, the server gets no application data, the
#     conntrack entry (conntrack -L -f ipv6) carries decided+reject;
#   - a TLS 1.3 server through the same gateway answers normally and its
#     flow carries the decided mark only.
# Usage: ipv6_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft conntrack
bin=$1 src=$2

fg_lab_up
fg_wait_ipv6
fg_cert
fg_bg "$FG_S" bash -c "exec openssl s_server -accept '[$FG_SERVICE6]:8443' -cert '$FG_WORK/cert.pem' \
  -key '$FG_WORK/key.pem' -tls1_2 -cipher AES128-SHA -quiet > '$FG_WORK/weak-server.out' 2>&1"
fg_bg "$FG_S" openssl s_server -accept "[$FG_SERVICE6]:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -tls1_3 -www -quiet
fg_wait_listen "$FG_S" tcp 8443
fg_wait_listen "$FG_S" tcp 443
fg_start_gateway "$bin" "$src/policies/10-block-weak-tls.toml"

start=$(date +%s%N)
weak_rc=0
weak_out=$(fg_in "$FG_C" timeout 10 curl -6 -sk -o /dev/null -w '%{http_code}' --tls-max 1.2 \
  --ciphers AES128-SHA "https://[$FG_SERVICE6]:8443/" 2>/dev/null) || weak_rc=$?
elapsed_ms=$(fg_ms_since "$start")
strong_out=$(fg_in "$FG_C" timeout 10 curl -6 -sk -o /dev/null -w '%{http_code}' "https://[$FG_SERVICE6]:443/" || true)

fg_check "IPv6: weak-cipher handshake fails (got HTTP '$weak_out')" test "$weak_out" = "000"
fg_log "weak handshake: curl exit $weak_rc after $elapsed_ms ms"
# Reset, not left hanging: curl reports a TLS/receive error (35, 56), not
# the 10 s timeout (124). How fast is a benchmark question, not asserted.
fg_check "IPv6: the client learns by a reset, not a timeout (curl exit $weak_rc: 35 or 56)" \
  test "$weak_rc" = 35 -o "$weak_rc" = 56
fg_check "IPv6: strong TLS 1.3 server answers 200 (got '$strong_out')" test "$strong_out" = "200"
# The daemon prints IPv6 endpoints as ADDR:PORT (accept [ADDR]:PORT too).
fg_check "flowgate rejected the IPv6 weak flow by rule reject-weak-ciphers" \
  grep -Eq 'flow_decided .*src=\[?fd71:1::2\]?:[0-9]+ dst=\[?fd71:100::1\]?:8443 .*verdict=reject rule=reject-weak-ciphers ' \
  "$FG_WORK/flowgate.log"
fg_check "the IPv6 strong flow was accepted" \
  grep -Eq 'flow_decided .*dst=\[?fd71:100::1\]?:443 .*verdict=accept ' "$FG_WORK/flowgate.log"
rej=0
for _ in $(seq 30); do
  rej=$(fg_nft_counter fwd reject-tcp); rej=${rej%% *}
  [[ $rej -ge 1 ]] && break
  sleep 0.1
done
fg_check "the kernel reset the IPv6 server at its next packet ($rej)" test "$rej" -ge 1
fg_check "the weak server received no application data" fg_absent 'GET /' "$FG_WORK/weak-server.out"
ct=$(fg_conntrack "$FG_G" -f ipv6 -p tcp)
fg_log "conntrack -f ipv6 (proto src sport dst dport mark ...):"$'\n'"$ct"
fg_check "conntrack -f ipv6 marks the weak flow decided+reject (mark=$((0xa0000000)))" \
  grep -Eq "^tcp fd71:1::2 [0-9]+ fd71:100::1 8443 $((0xa0000000)) " <<<"$ct"
fg_check "conntrack -f ipv6 marks the strong flow decided (mark=$((0x80000000)))" \
  grep -Eq "^tcp fd71:1::2 [0-9]+ fd71:100::1 443 $((0x80000000)) " <<<"$ct"
fg_stop_gateway
fg_check "the table is gone after SIGTERM" fg_no_table "$FG_G" flowgate
fg_finish
