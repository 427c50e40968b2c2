#!/usr/bin/env bash
# netns test 1: weak TLS is blocked at the server's hello, strong TLS passes.
#   - an openssl s_server offering only AES128-SHA (static RSA, CBC: weak) at
#     TLS 1.2: the client's handshake is reset, the server gets no
#     application data;
#   - a TLS 1.3 server through the same gateway answers normally.
# Usage: weak_tls_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft
bin=$1 src=$2

fg_lab_up
fg_cert
# Without -www, s_server prints what the client sends after the handshake:
# that file must stay free of the HTTP request.
fg_bg "$FG_S" bash -c "exec openssl s_server -accept '$FG_SERVICE4:8443' -cert '$FG_WORK/cert.pem' \
  -key '$FG_WORK/key.pem' -tls1_2 -cipher AES128-SHA -quiet > '$FG_WORK/weak-server.out' 2>&1"
fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -tls1_3 -www -quiet
fg_wait_listen "$FG_S" tcp 8443
fg_wait_listen "$FG_S" tcp 443
fg_start_gateway "$bin" "$src/policies/10-block-weak-tls.toml"

start=$(date +%s%N)
weak_out=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' --tls-max 1.2 \
  --ciphers AES128-SHA "https://$FG_SERVICE4:8443/" 2>&1 || true)
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
strong_out=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' "https://$FG_SERVICE4:443/" || true)

fg_check "weak-cipher handshake fails (got HTTP '$weak_out')" test "$weak_out" = "000"
fg_check "the client learns at once (${elapsed_ms} ms < 3000 ms)" test "$elapsed_ms" -lt 3000
fg_check "strong TLS 1.3 server answers 200 (got '$strong_out')" test "$strong_out" = "200"
fg_check "flowgate rejected the weak flow by rule reject-weak-ciphers" \
  grep -q 'flow_decided .*dst=10.71.100.1:8443 .*verdict=reject rule=reject-weak-ciphers' "$FG_WORK/flowgate.log"
fg_check "the strong flow was accepted" \
  grep -q 'flow_decided .*dst=10.71.100.1:443 .*verdict=accept' "$FG_WORK/flowgate.log"
# The server retransmits its hello (nobody acknowledged it): the kernel's
# reject rule answers it with a reset. Wait for its retransmission timer.
rej=0
for _ in $(seq 30); do
  read -r rej _ < <(fg_nft_counter 'meta l4proto tcp counter packets [0-9]+ bytes [0-9]+ reject with tcp reset')
  [[ $rej -ge 1 ]] && break
  sleep 0.1
done
fg_check "the kernel reset the server at its next packet ($rej)" test "$rej" -ge 1
fg_check "the weak server received no application data" bash -c "! grep -q 'GET /' '$FG_WORK/weak-server.out'"
# No application data: the weak server's www page was never requested; its
# conntrack entry carries the decided+reject mark.
fg_check "conntrack marks the weak flow decided+reject" \
  bash -c "ip netns exec '$FG_G' conntrack -L -p tcp --dport 8443 2>/dev/null | grep -q 'mark=2684354560'"
fg_stop_gateway
fg_check "the table is gone after SIGTERM" bash -c "! ip netns exec '$FG_G' nft list table inet flowgate >/dev/null 2>&1"
fg_finish
