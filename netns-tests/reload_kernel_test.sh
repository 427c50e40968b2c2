#!/usr/bin/env bash
# netns test: a reload is transactional in the kernel too (routes, rules,
# nft table and sets), and a routed flow keeps its uplink through a reload.
#   - generation 1 zero-rates www.netflix.com over uplink B (route class in
#     table 100, set zero_rated);
#   - a paced upload with the Netflix SNI runs while `flowgatectl reload`
#     installs generation 2 (one more rule, one more set: the nft table is
#     replaced): the reload succeeds, and the whole upload leaves through g2
#     (interface byte counters), none of it through g1;
#   - generation 3 points the route class at an unreachable next hop and
#     adds a set: `flowgatectl reload` exits non-zero and prints the route's
#     error; status still shows generation 2 and one failed reload; the
#     fwmark rule, table 100's route via uplink B and generation 2's sets
#     are all still in the kernel (read as JSON: ip -j, nft -j), and a new
#     Netflix upload still leaves through g2.
# Routed uplinks (no NAT), keep_first_route = false, hints off, as in
# zero_rating_test.sh.
# Usage: reload_kernel_test.sh FLOWGATE_BINARY SOURCE_DIR [FLOWGATECTL]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl nft conntrack python3 jq
bin=$1
bindir=$(dirname "$bin")
FG_CTL=$(fg_find_tool "${3:-}" "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl" \
  "$(command -v flowgatectl || true)") || fg_die "flowgatectl not found"

fg_lab_up
fg_cert
policy=$FG_WORK/zero-rating.toml
# write_policy VIA [EXTRA]: the zero-rating policy with the route class's
# next hop and extra TOML appended.
write_policy() {
  cat >"$policy" <<TOML
[policy]
default_action = "accept"
mark_mask = 0x0000ff00
mark_shift = 8

[route.zero-rated]
table = 100
via = "$1"
fwmark = 1

[set.zero_rated]
family = "ipv4"
address = "dst"
timeout = 3600

# The test's service stands for Netflix's servers: the operator's ranges
# verify the name the upload sends (route rules act on verified names only).
[verified_ranges]
NetFlix = ["$FG_SERVICE4"]

[[rule]]
name = "zero-rate-netflix-hosts"
match = { hostname = ["netflix.com", "*.netflix.com"] }
route = "zero-rated"
add_to_set = ["zero_rated"]
${2:-}
TOML
}
gen2_extra='
[set.watched]
family = "ipv4"
address = "dst"

[[rule]]
name = "watch-example"
match = { hostname = "www.example.org" }
add_to_set = ["watched"]'
write_policy "$FG_SRVB4"

fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink "$FG_SERVICE4" 4433 --tls "$FG_WORK/cert.pem" "$FG_WORK/key.pem"
fg_wait_listen "$FG_S" tcp 4433
FG_EXTRA_TABLES=$'[routing]\nkeep_first_route = false\n[hints]\nenabled = false' fg_start_gateway "$bin" "$policy"

ctl() { timeout 10 "$FG_CTL" --socket "$FG_CONTROL_SOCKET" "$@"; }
generation() { fg_status | jq -r '.policy.generation'; }
# Kernel state as data.
set_names() { fg_in "$FG_G" nft -j list table inet flowgate | jq -c '[.nftables[] | select(.set) | .set.name] | sort'; }
has_fwmark_rule() {
  fg_in "$FG_G" ip -j rule show | jq -e 'any(.[]; .fwmark == "0x100" and .fwmask == "0xff00" and (.table | tostring) == "100")' >/dev/null
}
table100_gateway() {
  fg_in "$FG_G" ip -j route show table 100 | jq -r '[.[] | select(.dst == "default")] | if length == 1 then "\(.[0].gateway) \(.[0].dev)" else "none" end'
}
upload() {  # upload BYTES [RATE]: prints the bytes the sink got
  fg_in "$FG_C" timeout 60 python3 "$FG_TRAFFIC" upload "$FG_SERVICE4" 4433 "$1" --sni www.netflix.com \
    ${2:+--rate "$2"} || true
}

fg_check "generation 1 in force" test "$(generation)" = 1
fg_check "generation 1: table 100 routes via uplink B ($(table100_gateway))" test "$(table100_gateway)" = "$FG_SRVB4 g2"
fg_check "generation 1: fwmark rule for table 100" has_fwmark_rule
fg_check "generation 1: the rule 'lookup main suppress_prefixlength 0'" \
  bash -c "ip netns exec '$FG_G' ip -j rule show | jq -e 'any(.[]; .table == \"main\" and .suppress_prefixlen == 0)' >/dev/null"
fg_check "generation 1: sets $(set_names)" test "$(set_names)" = '["zero_rated"]'

# A paced upload (6 MiB at 2 MiB/s) runs through a successful reload.
size=$((6 * 1024 * 1024))
a0=$(fg_tx_bytes "$FG_G" g1) b0=$(fg_tx_bytes "$FG_G" g2)
upload "$size" $((2 * 1024 * 1024)) >"$FG_WORK/upload1" &
upload_pid=$!
fg_check "the running upload was decided by the route's rule" \
  fg_wait_log 'flow_decided .*dst=10\.71\.100\.1:4433 .*hostname=www\.netflix\.com .*rule=zero-rate-netflix-hosts '
write_policy "$FG_SRVB4" "$gen2_extra"
out=$(ctl reload 2>&1) && rc=0 || rc=$?
fg_log "reload to generation 2: rc=$rc: $out"
fg_check "reload to generation 2 succeeds while the upload runs" test "$rc" -eq 0
fg_check "... and says generation 2" grep -q 'generation 2' <<<"$out"
fg_check "the upload was still running after the reload" kill -0 "$upload_pid"
wait "$upload_pid" || true
got=$(cat "$FG_WORK/upload1")
a1=$(fg_tx_bytes "$FG_G" g1) b1=$(fg_tx_bytes "$FG_G" g2)
fg_log "upload through the reload: g1 +$((a1 - a0)) B, g2 +$((b1 - b0)) B"
fg_check "the upload arrived whole ($got of $size)" test "$got" = "$size"
fg_check "it left via g2 (+$((b1 - b0)) >= $size)" test $((b1 - b0)) -ge "$size"
fg_check "none of it used g1 (+$((a1 - a0)) < 64 KiB)" test $((a1 - a0)) -lt 65536
fg_check "generation 2 in force" test "$(generation)" = 2
fg_check "generation 2: sets $(set_names)" test "$(set_names)" = '["watched","zero_rated"]'

# Generation 3: the route class's next hop is unreachable (no connected
# subnet holds it); the kernel refuses the route.
write_policy 10.71.9.9 "$gen2_extra
[set.gen3]
family = \"ipv4\"
address = \"dst\""
fg_check "flowgate policy check accepts generation 3 (the error is the kernel's)" "$bin" policy check "$policy"
out=$(ctl reload 2>&1) && rc=0 || rc=$?
fg_log "reload to generation 3: rc=$rc: $out"
fg_check "reload to generation 3 exits non-zero" test "$rc" -ne 0
fg_check "... and prints the route's error" grep -q "route 'zero-rated': ip route" <<<"$out"
fg_check "reload_failed logged, generation 2 kept" fg_wait_log '^ERROR reload_failed kept_generation=2'
st=$(fg_status)
fg_check "status: generation 2" test "$(jq -r '.policy.generation' <<<"$st")" = 2
fg_check "status: 1 reload ok, 1 failed" test "$(jq -c '[.policy.reloads_ok, .policy.reloads_failed]' <<<"$st")" = '[1,1]'
fg_check "table 100 still routes via uplink B ($(table100_gateway))" test "$(table100_gateway)" = "$FG_SRVB4 g2"
fg_check "the fwmark rule for table 100 is still there" has_fwmark_rule
fg_check "generation 2's sets, no gen3 ($(set_names))" test "$(set_names)" = '["watched","zero_rated"]'

# Still enforcing: a new Netflix flow leaves through g2.
size=$((2 * 1024 * 1024))
a0=$(fg_tx_bytes "$FG_G" g1) b0=$(fg_tx_bytes "$FG_G" g2)
got=$(upload "$size")
a1=$(fg_tx_bytes "$FG_G" g1) b1=$(fg_tx_bytes "$FG_G" g2)
fg_check "an upload after the failed reload arrived whole ($got of $size)" test "$got" = "$size"
fg_check "... via g2 (+$((b1 - b0)) >= $size)" test $((b1 - b0)) -ge "$size"
fg_check "... not via g1 (+$((a1 - a0)) < 64 KiB)" test $((a1 - a0)) -lt 65536
set_json=$(fg_in "$FG_G" nft -j list set inet flowgate zero_rated)
fg_check "the new flow's server landed in zero_rated" \
  jq -e '[.nftables[] | select(.set) | .set.elem[]? | (.elem.val? // .)] | any(. == "10.71.100.1")' <<<"$set_json"

fg_stop_gateway
fg_check "fwmark rule removed after SIGTERM" bash -c "! ip netns exec '$FG_G' ip rule show | grep -q 'lookup 100'"
fg_check "table 100 emptied after SIGTERM" test "$(table100_gateway)" = none
fg_finish
