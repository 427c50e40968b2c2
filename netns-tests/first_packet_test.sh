#!/usr/bin/env bash
# netns test: first-packet decisions behind NAT on two uplinks.
#
# The gateway masquerades on both uplinks (g1: default, g2: zero-rated) and
# the server has no route back to the client subnet, so a connection lives on
# the uplink its first packet took: it cannot move once its source address
# was translated. The client resolves names through a DNS server in the
# server namespace; its answers cross the gateway.
#   - warm: `dig www.netflix.com`, then HTTPS to the answer: flowgate knows the
#     name at the SYN (DNS hint), the SYN already leaves via g2 (the NAT
#     binding in conntrack is g2's address), the 4 MB download arrives over
#     g2 and not g1, and the flow is decided by the zero-rating rule with
#     first_packet=1 early=dns; `flowgatectl hint` shows the name;
#   - blocked: `dig ads.blocked.example`, then HTTPS: refused at the SYN
#     (first_packet=1), the server never sees a packet of it;
#   - cold cache: HTTPS to a Netflix address the client did not resolve
#     through the gateway (the policy's [verified_ranges] verifies the name
#     there): the first flow stays on g1 and completes (DPI
#     decides it; the route is kept: routing.keep_first_route), its server
#     lands in the kernel-bound set; the next flow to that address takes g2
#     from its SYN (kernel_bound in status).
# Usage: first_packet_test.sh FLOWGATE_BINARY SOURCE_DIR [FLOWGATECTL]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft conntrack python3 dig dnsmasq jq
bin=$1
bindir=$(dirname "$bin")
FG_CTL=$(fg_find_tool "${3:-}" "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl" \
  "$(command -v flowgatectl || true)") || fg_die "flowgatectl not found"

NETFLIX=10.71.100.1 BLOCKED=10.71.100.2 COLD=10.71.100.3 DNS=10.71.100.53

fg_lab_up
fg_cert
for a in $BLOCKED $COLD $DNS; do ip -n "$FG_S" addr add "$a/32" dev lo; done
# Only NAT brings replies back: the server has no route to the LAN.
ip -n "$FG_S" route del 10.71.1.0/24
fg_in "$FG_G" nft -f - <<'NFT'
table ip fgt_nat {
  chain post {
    type nat hook postrouting priority srcnat;
    oifname { "g1", "g2" } masquerade
  }
}
NFT
# A counter of what reaches the blocked server at all.
fg_in "$FG_S" nft -f - <<NFT
table inet fgt_watch {
  chain in {
    type filter hook input priority 0;
    ip daddr $BLOCKED tcp dport 443 counter
  }
}
NFT

big=$FG_WORK/big.bin
head -c $((4 * 1024 * 1024)) /dev/urandom >"$big"
for a in $NETFLIX $BLOCKED $COLD; do
  fg_bg "$FG_S" bash -c "cd '$FG_WORK' && exec openssl s_server -accept '$a:443' -cert cert.pem -key key.pem -WWW -quiet >/dev/null 2>&1"
done
fg_bg "$FG_S" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$DNS" --port=53 \
  --address=/www.netflix.com/"$NETFLIX" --address=/ads.blocked.example/"$BLOCKED" --pid-file="$FG_WORK/dnsmasq.pid"
fg_wait_listen "$FG_S" tcp 443
fg_wait_listen "$FG_S" udp 53

policy=$FG_WORK/first-packet.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"
mark_mask = 0x0000ff00
mark_shift = 8

[route.zero]
table = 100
via = "10.71.3.2"      # uplink B (g2)
fwmark = 1             # 0x100

# Bound in the kernel: later flows to these servers take uplink B from
# their first packet, before flowgate sees them.
[set.netflix4]
family = "ipv4"
address = "dst"
timeout = 600
route = "zero"

# not DNS: a hostname rule also matches the DNS lookup of the name (nDPI
# gives a DNS flow the name it asks for); here the lookup may pass and the
# connection is refused at its first packet.
# The cold server is the operator's Netflix range: its client never
# resolved the name through the gateway (a resolver it had cached, or DoH),
# so only the range verifies the SNI for the zero-rating rule.
[verified_ranges]
NetFlix = ["10.71.100.3"]

[[rule]]
name = "blocked"
match = { hostname = "*.blocked.example", not_l7_protocol = "DNS" }
action = "reject"

[[rule]]
name = "zero-rate"
match = { hostname = ["netflix.com", "*.netflix.com"], not_l7_protocol = "DNS" }
route = "zero"
add_to_set = "netflix4"
TOML
fg_check "the policy is valid" "$bin" policy check "$policy"
FG_EXTRA_TABLES=$'[hints]\nmin_ttl = 30' fg_start_gateway "$bin" "$policy"

rx() { fg_in "$FG_G" cat "/sys/class/net/$1/statistics/rx_bytes"; }
resolve() { fg_in "$FG_C" timeout 5 dig +short +time=2 +tries=1 @"$DNS" "$1" A | tail -1; }
fetch() {  # fetch NAME ADDRESS OUT: HTTPS GET of big.bin; prints the HTTP code
  fg_in "$FG_C" timeout 20 curl -sk --resolve "$1:443:$2" -o "$3" -w '%{http_code}' "https://$1/big.bin" 2>/dev/null || true
}
# The uplink addresses connections to ADDRESS:443 were masqueraded to, one per line.
nat_of() {
  fg_conntrack "$FG_G" -p tcp -d "$1" --dport 443 | awk '{print $8}'
}

# --- warm: resolved through the gateway -------------------------------------
addr=$(resolve www.netflix.com)
fg_check "dnsmasq answers www.netflix.com -> $NETFLIX (got '$addr')" test "$addr" = "$NETFLIX"
hint=$(timeout 5 "$FG_CTL" --socket "$FG_CONTROL_SOCKET" --json hint "$NETFLIX" || true)
fg_check "flowgatectl hint $NETFLIX names www.netflix.com ($hint)" \
  bash -c "jq -e '.result.dns[0].hostname == \"www.netflix.com\" and .result.dns[0].client == \"10.71.1.2\"' <<<'$hint' >/dev/null"
g1=$(rx g1) g2=$(rx g2)
code=$(fetch www.netflix.com "$addr" "$FG_WORK/warm.bin")
g1d=$(( $(rx g1) - g1 )) g2d=$(( $(rx g2) - g2 ))
fg_log "warm download: HTTP $code, g1 +$g1d B, g2 +$g2d B"
fg_check "the warm download is complete" cmp -s "$big" "$FG_WORK/warm.bin"
fg_check "it arrived over uplink B (+$g2d B)" test "$g2d" -ge $((4 * 1024 * 1024))
fg_check "nothing of it over uplink A (+$g1d B < 64 KiB)" test "$g1d" -lt 65536
fg_check "the connection was masqueraded to uplink B's address from its SYN" \
  test "$(nat_of "$NETFLIX")" = "10.71.3.1"
fg_check "decided by the zero-rating rule, at the first packet, from DNS" \
  fg_wait_log "flow_decided .*dst=10\.71\.100\.1:443 .*rule=zero-rate mark=2147483904 .*first_packet=1 early=dns"

# --- blocked name, resolved through the gateway -----------------------------
addr=$(resolve ads.blocked.example)
fg_check "dnsmasq answers ads.blocked.example -> $BLOCKED (got '$addr')" test "$addr" = "$BLOCKED"
t0=$(date +%s%N)
code=$(fetch ads.blocked.example "$addr" /dev/null)
ms=$(fg_ms_since "$t0")
fg_check "the blocked name is refused (HTTP $code, $ms ms)" test "$code" = "000"
fg_check "refused at its first packet by rule blocked (first_packet=1 early=dns)" \
  fg_wait_log "flow_decided .*dst=10\.71\.100\.2:443 .*verdict=reject rule=blocked .*first_packet=1 early=dns"
read -r seen _ <<<"$(fg_chain_counter "$FG_S" fgt_watch in)"
fg_check "the blocked server never saw a packet (counter $seen)" test "${seen:-x}" = "0"

# --- cold cache: no DNS through the gateway ---------------------------------
g1=$(rx g1) g2=$(rx g2)
code=$(fetch www.netflix.com "$COLD" "$FG_WORK/cold1.bin")
g1d=$(( $(rx g1) - g1 )) g2d=$(( $(rx g2) - g2 ))
fg_log "cold download 1: HTTP $code, g1 +$g1d B, g2 +$g2d B"
fg_check "cold: the first flow completes" cmp -s "$big" "$FG_WORK/cold1.bin"
fg_check "cold: it stayed on uplink A (+$g1d B), where its SYN went" test "$g1d" -ge $((4 * 1024 * 1024))
fg_check "cold: nothing of it over uplink B (+$g2d B)" test "$g2d" -lt 65536
fg_check "cold: DPI decided it by the zero-rating rule, route kept (mark=2147483648)" \
  fg_wait_log "flow_decided .*dst=10\.71\.100\.3:443 .*rule=zero-rate mark=2147483648 .*first_packet=0"
fg_check "cold: its server is in the kernel-bound set" \
  grep -qx "10.71.100.3" <<<"$(fg_set_elements "$FG_G" flowgate netflix4)"
first_nat=$(nat_of "$COLD")
fg_check "cold: the first flow was masqueraded to uplink A's address ($first_nat)" test "$first_nat" = "10.71.2.1"
g1=$(rx g1) g2=$(rx g2)
code=$(fetch www.netflix.com "$COLD" "$FG_WORK/cold2.bin")
g1d=$(( $(rx g1) - g1 )) g2d=$(( $(rx g2) - g2 ))
fg_log "cold download 2: HTTP $code, g1 +$g1d B, g2 +$g2d B (first flow NATed to $first_nat)"
fg_check "cold: the next flow completes" cmp -s "$big" "$FG_WORK/cold2.bin"
fg_check "cold: the next flow took uplink B from its SYN (+$g2d B)" test "$g2d" -ge $((4 * 1024 * 1024))
fg_check "cold: and not uplink A (+$g1d B)" test "$g1d" -lt 65536
fg_check "cold: the next flow was masqueraded to uplink B's address" grep -qx "10.71.3.1" <<<"$(nat_of "$COLD")"
st=$(fg_status || true)
fg_check "status counts the kernel-bound first packet" \
  bash -c "jq -e '.hints.first_packet.kernel_bound >= 1' <<<'$st' >/dev/null"
fg_check "status counts DNS hint hits" bash -c "jq -e '.hints.dns_hits >= 2 and .hints.dns.entries >= 2' <<<'$st' >/dev/null"

fg_stop_gateway
fg_finish
