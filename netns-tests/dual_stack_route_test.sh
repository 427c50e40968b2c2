#!/usr/bin/env bash
# netns test: a zero-rated service on a dual-stack network.
#
# The route class names a next hop per family (via = [IPv4, IPv6] on uplink
# B, g2). The client resolves the zero-rated name through a DNS server in the
# server namespace (AAAA over IPv6, A over IPv4: the answers cross the
# gateway and become DNS hints), then uploads 20 MiB over TLS to the answer.
# For each family, routed (no NAT, the server routes replies back over
# uplink A) and then masqueraded on both uplinks (the server has no route to
# the LAN; a connection lives on the uplink its SYN took):
#   - >= 90 % of the bytes the gateway forwards towards the server leave
#     through g2 (interface TX counters), and the SYN arrives at the server
#     on s2, not on s1 (counters of an nft table in the server namespace,
#     read with `nft -j`);
#   - the flow is decided by the zero-rating rule at its first packet from
#     the DNS hint; its server lands in the kernel-bound set of its family;
#   - the kernel has an `ip -6 rule` and an IPv6 default route in table 100
#     as well as the IPv4 ones (`ip -j`), and status says the route covers
#     ipv4+ipv6.
# Then the gaps are reported, never silent:
#   - `flowgate policy check` warns about a policy whose route has only an
#     IPv4 next hop (naming the rule and the route);
#   - after a reload to that policy, an IPv6 flow the rule routes leaves by
#     the default uplink and status/metrics count it as uncovered.
# Usage: dual_stack_route_test.sh FLOWGATE_BINARY SOURCE_DIR [FLOWGATECTL]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl ss nft conntrack python3 dig dnsmasq jq
bin=$1
bindir=$(dirname "$bin")
FG_CTL=$(fg_find_tool "${3:-}" "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl" \
  "$(command -v flowgatectl || true)") || fg_die "flowgatectl not found"

NAME=video.zero.example
DNS4=10.71.100.53 DNS6=fd71:100::53
# Service addresses per phase (a new address per phase, so each phase's
# first flow is routed by its DNS hint, not by the kernel-bound set).
ROUTED4=10.71.100.1 ROUTED6=fd71:100::1
NAT4=10.71.100.2 NAT6=fd71:100::2
GAP6=fd71:100::3
PORT=4433
MIB20=$((20 * 1024 * 1024))

fg_lab_up
for a in $NAT4 $DNS4; do ip -n "$FG_S" addr add "$a/32" dev lo; done
for a in $NAT6 $GAP6 $DNS6; do ip -n "$FG_S" addr add "$a/128" dev lo; done
fg_wait_ipv6
fg_cert

# SYNs to the service port, per server interface and family.
fg_in "$FG_S" nft -f - <<NFT
table inet fgt_syn {
  counter s1_v4 {}
  counter s2_v4 {}
  counter s1_v6 {}
  counter s2_v6 {}
  chain pre {
    type filter hook prerouting priority -300;
    tcp dport $PORT tcp flags & (syn | ack) == syn meta nfproto ipv4 iifname "s1" counter name s1_v4
    tcp dport $PORT tcp flags & (syn | ack) == syn meta nfproto ipv4 iifname "s2" counter name s2_v4
    tcp dport $PORT tcp flags & (syn | ack) == syn meta nfproto ipv6 iifname "s1" counter name s1_v6
    tcp dport $PORT tcp flags & (syn | ack) == syn meta nfproto ipv6 iifname "s2" counter name s2_v6
  }
}
NFT
syn_count() { fg_in "$FG_S" nft -j list counter inet fgt_syn "$1" | jq '.nftables[] | select(.counter) | .counter.packets'; }

# "::" takes IPv4 connections too (v4-mapped): one sink for every address.
fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink :: "$PORT" --tls "$FG_WORK/cert.pem" "$FG_WORK/key.pem"
# The zero-rated name has an address of each family per phase; dnsmasq
# answers A and AAAA from the --address lines of the name asked.
fg_bg "$FG_S" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
  --listen-address="$DNS4" --listen-address="$DNS6" --port=53 \
  --address=/"routed.$NAME"/"$ROUTED4" --address=/"routed.$NAME"/"$ROUTED6" \
  --address=/"nat.$NAME"/"$NAT4" --address=/"nat.$NAME"/"$NAT6" \
  --address=/"gap.$NAME"/"$GAP6" --pid-file="$FG_WORK/dnsmasq.pid"
fg_wait_listen "$FG_S" tcp "$PORT"
fg_wait_listen "$FG_S" udp 53

policy=$FG_WORK/dual-stack.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"
mark_mask = 0x0000ff00
mark_shift = 8

[route.zero]
table = 100
via = ["10.71.3.2", "fd71:3::2"]   # uplink B (g2), one next hop per family
fwmark = 1                          # 0x100

[set.zero4]
family = "ipv4"
address = "dst"
timeout = 600
route = "zero"

[set.zero6]
family = "ipv6"
address = "dst"
timeout = 600
route = "zero"

[[rule]]
name = "zero-rate"
match = { hostname = "*.video.zero.example", not_l7_protocol = "DNS" }
route = "zero"
add_to_set = ["zero4", "zero6"]
TOML
check_out=$("$bin" policy check "$policy" 2>&1) || fg_die "policy check failed: $check_out"
fg_check "policy check: the route covers ipv4+ipv6" grep -q '^route zero: .*via 10.71.3.2 and fd71:3::2; ipv4+ipv6$' <<<"$check_out"
fg_check "policy check: no warning for the dual-stack policy" bash -c "! grep -q warning <<<'$check_out'"

# The same policy with an IPv4 next hop only.
v4only=$FG_WORK/v4-only.toml
sed 's/^via = .*/via = "10.71.3.2"/' "$policy" >"$v4only"
rc=0
gap_out=$("$bin" policy check "$v4only" 2>&1) || rc=$?
fg_log "policy check of the IPv4-only route:"$'\n'"$gap_out"
fg_check "policy check: an IPv4-only route still loads (exit $rc)" test "$rc" = 0
fg_check "policy check warns: rule zero-rate routes IPv6 flows through route zero" \
  grep -Eq "^warning: .*rule\[zero-rate\]\.route: rule 'zero-rate' routes IPv6 flows, but route 'zero' covers ipv4 only" <<<"$gap_out"
fg_check "policy check warns: ipv6 set zero6 is bound to route zero" \
  grep -Eq "^warning: .*set\.zero6\.route: set 'zero6' \(ipv6\) is bound to route 'zero', which has no IPv6 next hop" <<<"$gap_out"
fg_check "policy check: the route line says ipv4" grep -q '^route zero: .*via 10.71.3.2; ipv4$' <<<"$gap_out"

FG_EXTRA_TABLES=$'[hints]\nmin_ttl = 30' fg_start_gateway "$bin" "$policy"

# --- the kernel's routing state, as data ------------------------------------
for fam in 4 6; do
  rules=$(fg_in "$FG_G" ip -j -"$fam" rule show)
  fg_check "ip -$fam rule: fwmark 0x100/0xff00 lookup 100" \
    jq -e 'any(.[]; .fwmark == "0x100" and .fwmask == "0xff00" and (.table == "100" or .table == 100))' <<<"$rules"
  fg_check "ip -$fam rule: lookup main suppress_prefixlength 0" \
    jq -e 'any(.[]; .table == "main" and .suppress_prefixlen == 0)' <<<"$rules"
done
r4=$(fg_in "$FG_G" ip -j -4 route show table 100)
r6=$(fg_in "$FG_G" ip -j -6 route show table 100)
fg_check "table 100: IPv4 default via 10.71.3.2 dev g2" \
  jq -e 'any(.[]; .dst == "default" and .gateway == "10.71.3.2" and .dev == "g2")' <<<"$r4"
fg_check "table 100: IPv6 default via fd71:3::2 dev g2" \
  jq -e 'any(.[]; .dst == "default" and .gateway == "fd71:3::2" and .dev == "g2")' <<<"$r6"
st=$(fg_status || true)
fg_check "status: route zero covers ipv4+ipv6" \
  jq -e '.policy.routes[0] | .name == "zero" and .families == "ipv4+ipv6"' <<<"$st"

# --- helpers ------------------------------------------------------------------
resolve() {  # resolve NAME TYPE SERVER: the last answer line
  fg_in "$FG_C" timeout 5 dig +short +time=2 +tries=1 @"$3" "$1" "$2" | tail -1
}
upload() {  # upload ADDRESS BYTES NAME: prints the byte count the server got
  fg_in "$FG_C" timeout 60 python3 "$FG_TRAFFIC" upload "$1" "$PORT" "$2" --sni "$3" --timeout 50 || true
}
# zero_rated PHASE FAMILY(4|6) DNS ADDRESS_EXPECTED: resolve, upload 20 MiB,
# check the uplink split, the SYN's way, the decision and the set.
zero_rated() {
  local phase=$1 fam=$2 dns=$3 want=$4 type=A set=zero4 addr esc got
  [[ $fam == 6 ]] && type=AAAA set=zero6
  local what="$phase IPv$fam"
  addr=$(resolve "$phase.$NAME" "$type" "$dns")
  fg_check "$what: $phase.$NAME $type -> $want (got '$addr')" test "$addr" = "$want"
  local s1a s2a a0 b0 a1 b1
  s1a=$(syn_count "s1_v$fam") s2a=$(syn_count "s2_v$fam")
  a0=$(fg_tx_bytes "$FG_G" g1) b0=$(fg_tx_bytes "$FG_G" g2)
  got=$(upload "$addr" "$MIB20" "$phase.$NAME")
  a1=$(fg_tx_bytes "$FG_G" g1) b1=$(fg_tx_bytes "$FG_G" g2)
  local da=$((a1 - a0)) db=$((b1 - b0))
  local s1d=$(( $(syn_count "s1_v$fam") - s1a )) s2d=$(( $(syn_count "s2_v$fam") - s2a ))
  fg_log "$what upload: $got B; g1 +$da B, g2 +$db B; SYNs at the server: s1 +$s1d, s2 +$s2d"
  fg_check "$what: the 20 MiB upload arrived whole ($got)" test "$got" = "$MIB20"
  fg_check "$what: >= 90 % of the forward bytes left via uplink B (g2 +$db of $((da + db)))" \
    test $((db * 10)) -ge $(((da + db) * 9))
  fg_check "$what: g2 carried at least the upload (+$db >= $MIB20)" test "$db" -ge "$MIB20"
  fg_check "$what: the SYN arrived over uplink B (s2 +$s2d, s1 +$s1d)" test "$s2d" -ge 1 -a "$s1d" -eq 0
  esc=${want//./\\.}
  fg_check "$what: decided by zero-rate at the first packet from DNS (mark 0x80000100)" \
    fg_wait_log "flow_decided .*dst=\[?$esc\]?:$PORT .*rule=zero-rate mark=2147483904 .*first_packet=1 early=dns"
  fg_check "$what: $want is in the kernel-bound set $set" \
    bash -c "ip netns exec '$FG_G' nft -j list set inet flowgate $set |
      jq -e '[.nftables[] | select(.set) | .set.elem[]? | (.elem.val? // .)] | index(\"$want\") != null' >/dev/null"
}

# --- routed uplinks (no NAT) --------------------------------------------------
zero_rated routed 6 "$DNS6" "$ROUTED6"
zero_rated routed 4 "$DNS4" "$ROUTED4"

# --- NAT on both uplinks -------------------------------------------------------
fg_in "$FG_G" nft -f - <<'NFT'
table inet fgt_nat {
  chain post {
    type nat hook postrouting priority srcnat;
    oifname { "g1", "g2" } masquerade
  }
}
NFT
ip -n "$FG_S" route del 10.71.1.0/24
ip -n "$FG_S" -6 route del fd71:1::/64
zero_rated nat 6 "$DNS6" "$NAT6"
zero_rated nat 4 "$DNS4" "$NAT4"
ct6=$(fg_in "$FG_G" conntrack -L -f ipv6 -p tcp -d "$NAT6" --dport "$PORT" 2>/dev/null || true)
fg_check "nat IPv6: the connection was masqueraded to uplink B's address (fd71:3::1)" \
  grep -q "src=$NAT6 dst=fd71:3::1 " <<<"$ct6"

st=$(fg_status || true)
fg_check "status: route zero routed >= 2 flows of each family, none uncovered" \
  jq -e '.policy.routes[0] | .flows.ipv4 >= 2 and .flows.ipv6 >= 2 and .uncovered == 0' <<<"$st"

# --- the gap at run time: reload to the IPv4-only route --------------------------
cp "$v4only" "$policy"
fg_check "reload to the IPv4-only route succeeds" timeout 10 "$FG_CTL" --socket "$FG_CONTROL_SOCKET" reload
fg_check "the reload logged the policy warning" fg_wait_log "WARN policy_warning .*rule 'zero-rate' routes IPv6 flows"
r6=$(fg_in "$FG_G" ip -j -6 rule show)
fg_check "no ip -6 fwmark rule for the IPv4-only route" \
  jq -e 'all(.[]; (.table == "100" or .table == 100) | not)' <<<"$r6"
addr=$(resolve "gap.$NAME" AAAA "$DNS6")
a0=$(fg_tx_bytes "$FG_G" g1) b0=$(fg_tx_bytes "$FG_G" g2)
got=$(upload "$addr" $((1024 * 1024)) "gap.$NAME")
a1=$(fg_tx_bytes "$FG_G" g1) b1=$(fg_tx_bytes "$FG_G" g2)
fg_log "gap IPv6 upload: $got B; g1 +$((a1 - a0)) B, g2 +$((b1 - b0)) B"
fg_check "gap: the IPv6 upload completes over the default uplink (g1 +$((a1 - a0)))" \
  test "$got" = $((1024 * 1024)) -a $((a1 - a0)) -ge $((1024 * 1024))
st=$(fg_status || true)
fg_check "gap: status counts the IPv6 flow routed through zero as uncovered" \
  jq -e '.policy.routes[0] | .families == "ipv4" and .uncovered >= 1 and .flows.ipv6 >= 1' <<<"$st"
metrics=$(timeout 5 "$FG_CTL" --socket "$FG_CONTROL_SOCKET" metrics || true)
fg_check "gap: metrics flowgate_route_uncovered_flows_total{route=\"zero\"} >= 1" \
  grep -Eq '^flowgate_route_uncovered_flows_total\{route="zero"\} [1-9]' <<<"$metrics"

fg_stop_gateway
fg_check "the ip -4/-6 rules of table 100 are gone after SIGTERM" \
  bash -c "! ip netns exec '$FG_G' ip -4 rule show | grep -q 'lookup 100' && ! ip netns exec '$FG_G' ip -6 rule show | grep -q 'lookup 100'"
fg_finish
