#!/usr/bin/env bash
# netns test: a flow flood (>= 1 M distinct TCP SYN flows) through the gateway.
#   - flowgate runs with `[flows] max_flows = 100000` (one worker) and a policy
#     whose weak-cipher rule keeps every TCP flow undecided until the server's
#     hello, so a flow that only ever sends a SYN stays in the flow table (with
#     its nDPI state: the most expensive kind of flow) until it is evicted;
#   - bench/fgflood writes 1 M SYNs from distinct (source address in
#     10.71.1.0/24, source port) pairs on the client's veth, bounded to 60 s;
#     the server's namespace drops them before its TCP stack (no SYN-ACKs, no
#     ARP storm), so every flood flow lives only in the gateway. The queue
#     may overflow: the kernel then fails those packets open (counted as the
#     queue rule's counter minus what flowgate received);
#   - meanwhile a client makes real TLS 1.3 connections with SNI
#     (legit.flowgate.test) every 250 ms: each one must succeed and be decided
#     by flowgate (a log = true accept rule names them);
#   - flowgate's VmRSS/VmHWM is sampled; VmHWM must stay under a budget derived
#     from max_flows: 100 MiB base + 100 000 x 2 KiB (docs/performance.md: an
#     undecided flow with nDPI state costs 1 307 bytes; 2 KiB leaves room for
#     hash-table growth and allocator slack), flows_evicted > 0, the tracked
#     flows never exceed the cap; peak RSS and bytes per tracked flow
#     ((VmHWM - baseline) / flows active at the peak) are reported;
#   - afterwards flowgate still runs, answers status, and the weak-cipher TLS
#     server is still rejected (enforcement intact).
# Environment: FGF_COUNT (1000000), FGF_SECONDS (60), FGF_RATE (25000 packets/s:
# half of what one worker inspects on the quiet 2-core development VM, about
# 52 k/s, so no packet is failed open and every legitimate connection must be
# classified. Both are asserted: a run where the kernel failed packets open (a
# worker that fell behind or stopped answering, a machine too busy for the
# rate) did not show what this test claims and fails; overload and fail-open
# are netns.overload_test's subject; see docs/performance.md "Floods and
# overload"). ctest runs it alone (RUN_SERIAL). Usage: flood_test.sh FLOWGATE_BINARY SOURCE_DIR
#   flowgatectl and fgflood are found next to FLOWGATE, in the build tree
#   (control/flowgatectl, ../bench/fgflood) or in $FLOWGATECTL / $FGFLOOD.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft python3 jq conntrack
bin=$1 src=$2
bindir=$(cd "$(dirname "$bin")" && pwd)
ctl=$(fg_find_tool "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl") ||
  fg_die "flowgatectl not found (build target flowgatectl, or set FLOWGATECTL)"
FG_CTL=$ctl
fgflood=$(fg_find_tool "${FGFLOOD:-}" "$bindir/../bench/fgflood" "$bindir/fgflood") ||
  fg_die "fgflood not found (build target fgflood, or set FGFLOOD)"
count=${FGF_COUNT:-1000000}
seconds=${FGF_SECONDS:-60}
rate=${FGF_RATE:-25000}
max_flows=100000

status() { fg_status; }
kib() { sed -nE "s/^$1:\s+([0-9]+) kB/\1/p" "/proc/$FG_GATEWAY_PID/status" 2>/dev/null || echo 0; }

fg_lab_up
fg_cert
policy=$FG_WORK/flood-policy.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"

# Pending for every TCP flow until the server's hello: a SYN-only flow stays
# undecided (and keeps its nDPI state) until it is evicted.
[[rule]]
name = "reject-weak-ciphers"
match = { cipher_strength = ["insecure", "weak"] }
action = "reject"
log = true

# Names the legitimate client's connections in the log (accept).
[[rule]]
name = "legit-client"
match = { hostname = "legit.flowgate.test" }
action = "accept"
log = true
TOML
fg_check "flowgate policy check accepts the policy" "$bin" policy check "$policy"

# The server drops the flood before conntrack and its TCP stack.
fg_in "$FG_S" nft -f - <<'NFT'
table inet fgflood {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    tcp dport 9999 counter drop
  }
}
NFT
fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -tls1_3 -www -quiet
fg_bg "$FG_S" bash -c "exec openssl s_server -accept '$FG_SERVICE4:8443' -cert '$FG_WORK/cert.pem' \
  -key '$FG_WORK/key.pem' -tls1_2 -cipher AES128-SHA -quiet > '$FG_WORK/weak-server.out' 2>&1"
fg_wait_listen "$FG_S" tcp 443
fg_wait_listen "$FG_S" tcp 8443
# log_level info: a debug line per evicted flow would make the log, not the
# flow table, the bottleneck.
FG_LOG_LEVEL=info FG_EXTRA_TABLES=$'[flows]\nmax_flows = '"$max_flows" fg_start_gateway "$bin" "$policy"
gw_mac=$(fg_in "$FG_G" cat /sys/class/net/g0/address)

legit() {  # one TLS 1.3 connection with SNI; prints the HTTP code
  fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' --max-time 8 \
    --resolve "legit.flowgate.test:443:$FG_SERVICE4" https://legit.flowgate.test/ 2>/dev/null || true
}
fg_check "a legitimate TLS connection passes before the flood ($(legit))" test "$(legit)" = "200"
sleep 0.5
base_rss=$(kib VmRSS)
fg_log "flowgate baseline: VmRSS $base_rss KiB, VmHWM $(kib VmHWM) KiB"
decided0=$(grep -c 'flow_decided .*rule=legit-client' "$FG_WORK/flowgate.log" || true)
# The queue rule's counter and flowgate's received count, read as one: the
# received count before and after the rule's counter must agree, else a
# packet (an IPv6 router or multicast message of the lab's links, a late
# segment) crossed the gateway between the two reads and would count as
# failed open. Retries until the gateway is quiet for the reads.
counters() {
  local i a b q
  for ((i = 0; i < 20; i++)); do
    a=$(status | jq '.queues[0].received') q=$(fg_queued_packets) b=$(status | jq '.queues[0].received')
    [[ $a == "$b" ]] && { echo "$q $b"; return 0; }
    sleep 0.1
  done
  echo "$q $b"
}
read -r q0 rx0 <<<"$(counters)"

# Samplers: RSS every 200 ms; flowgate status every second.
( while kill -0 "$FG_GATEWAY_PID" 2>/dev/null; do
    echo "$(date +%s.%N) $(kib VmRSS) $(kib VmHWM)"; sleep 0.2
  done ) >"$FG_WORK/rss.log" 2>/dev/null &
FG_PIDS+=($!)
( while kill -0 "$FG_GATEWAY_PID" 2>/dev/null; do
    s=$(status 2>/dev/null) && echo "$s" | jq -c '[.counters.flows.active, .counters.flows.evicted, .queues[0].received, .counters.queue_enobufs]'
    sleep 1
  done ) >"$FG_WORK/status.log" 2>/dev/null &
FG_PIDS+=($!)
# The legitimate client: a connection every 250 ms while the flood runs.
( while [[ ! -e $FG_WORK/flood.done ]]; do
    echo "$(date +%s.%N) $(legit)"; sleep 0.25
  done ) >"$FG_WORK/legit.log" 2>&1 &
legit_pid=$!
FG_PIDS+=("$legit_pid")

t0=$(date +%s%N)
fg_in "$FG_C" "$fgflood" syn --iface c0 --dst-mac "$gw_mac" --dst "$FG_SERVICE4" --port 9999 \
  --count "$count" --seconds "$seconds" --rate "$rate" --src-net 10.71.1.0/24 >"$FG_WORK/flood.json" ||
  fg_die "fgflood failed: $(cat "$FG_WORK/flood.json")"
touch "$FG_WORK/flood.done"
flood_ms=$(fg_ms_since "$t0")
wait "$legit_pid" 2>/dev/null || true
sleep 1  # let the queue drain and the samplers catch up
sent=$(jq .sent "$FG_WORK/flood.json")
pps=$(jq .pps "$FG_WORK/flood.json")
fg_log "flood: $(cat "$FG_WORK/flood.json")"
read -r server_drops _ <<<"$(fg_chain_counter "$FG_S" fgflood pre)"
read -r q1 rx1 <<<"$(counters)"
st=$(status) || fg_die "flowgate does not answer status after the flood"
evicted=$(jq '.counters.flows.evicted' <<<"$st")
queued=$((q1 - q0)) received=$((rx1 - rx0))
failed_open=$((queued - received))
fg_log "gateway: $queued packets hit the queue rule, flowgate received $received, failed open $failed_open;" \
  "server dropped $server_drops flood SYNs; flows evicted $evicted"
fg_log "status: $(jq -c '{flows: .counters.flows, enobufs: .counters.queue_enobufs, q: .queues[0]}' <<<"$st")"

fg_check "the generator sent all $count distinct SYN flows (sent $sent at $pps pkt/s in $flood_ms ms)" \
  test "$sent" -ge "$count"
fg_check "the flood crossed the gateway (server dropped $server_drops >= 95 % of $sent)" \
  test "$((server_drops * 100))" -ge "$((sent * 95))"
fg_check "flowgate is still running" kill -0 "$FG_GATEWAY_PID"
fg_check "flows were evicted at the cap (evicted $evicted > 0)" test "$evicted" -gt 0
peak_active=$(jq -s 'map(.[0]) | max // 0' "$FG_WORK/status.log")
fg_check "tracked flows never exceeded max_flows (peak $peak_active <= $max_flows)" test "$peak_active" -le "$max_flows"
fg_check "flowgate inspected at least max_flows flood packets (received $received)" test "$received" -ge "$max_flows"
fg_check "queue rule counter >= packets flowgate received ($queued >= $received)" test "$queued" -ge "$received"

hwm=$(kib VmHWM)
peak_rss=$(awk 'BEGIN{m=0} {if ($2 > m) m = $2} END{print m}' "$FG_WORK/rss.log")
budget=$(( 100 * 1024 + max_flows * 2 ))   # KiB
per_flow=$(( peak_active > 0 ? (hwm - base_rss) * 1024 / peak_active : 0 ))
fg_log "memory: baseline $base_rss KiB, peak VmRSS $peak_rss KiB, VmHWM $hwm KiB (budget $budget KiB);" \
  "$per_flow bytes per tracked flow ($peak_active flows at the peak)"
fg_check "VmHWM $hwm KiB < budget $budget KiB (100 MiB + $max_flows x 2 KiB)" test "$hwm" -lt "$budget"

total_legit=$(wc -l <"$FG_WORK/legit.log")
ok_legit=$(awk '$2 == "200"' "$FG_WORK/legit.log" | wc -l)
decided1=$(grep -c 'flow_decided .*rule=legit-client' "$FG_WORK/flowgate.log" || true)
decided=$((decided1 - decided0))
fg_log "legitimate client during the flood: $ok_legit of $total_legit connections answered 200, $decided decided by legit-client"
fg_check "legitimate connections were made during the flood ($total_legit >= 5)" test "$total_legit" -ge 5
fg_check "every legitimate connection during the flood succeeded ($ok_legit of $total_legit)" \
  test "$ok_legit" -eq "$total_legit"
# Decided at all (any rule, also the unlogged default): the decided bit in the
# conntrack mark of the client's connections to 443 (they stay in TIME_WAIT).
ct=$(fg_conntrack "$FG_G" -p tcp --orig-src "$FG_CLIENT4" --dport 443)
ct_total=$(grep -c . <<<"$ct" || true)
ct_decided=$(awk '$6 >= 2147483648' <<<"$ct" | grep -c . || true)
fg_log "conntrack: $ct_decided of $ct_total client connections to 443 carry the decided mark"
fg_check "the kernel failed no packet open during the flood ($failed_open)" test "$failed_open" -eq 0
fg_check "every legitimate connection was decided (conntrack decided mark on $ct_decided of $ct_total)" \
  test "$ct_total" -gt 0 -a "$ct_decided" -eq "$ct_total"
fg_check "every legitimate connection during the flood was classified by SNI (legit-client decided $decided of $ok_legit)" \
  test "$ok_legit" -gt 0 -a "$decided" -ge "$ok_legit"

# After the flood: enforcement intact, legitimate traffic decided at once.
weak_out=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' --tls-max 1.2 \
  --ciphers AES128-SHA "https://$FG_SERVICE4:8443/" 2>&1 || true)
fg_check "the weak-cipher server is still rejected after the flood (HTTP '$weak_out')" test "$weak_out" = "000"
fg_check "flowgate decided it by reject-weak-ciphers" \
  fg_wait_log 'flow_decided .*dst=10\.71\.100\.1:8443 .*verdict=reject rule=reject-weak-ciphers' 3
fg_check "a legitimate connection after the flood passes ($(legit))" test "$(legit)" = "200"
fg_check "flowgate answers status after the flood" status
fg_check "flowgate logged no error" fg_absent '^(ERROR|FATAL)' "$FG_WORK/flowgate.log"
fg_log "memory after the flood: VmRSS $(kib VmRSS) KiB, flows active $(status | jq .counters.flows.active)"
fg_stop_gateway
fg_log "stopped: $(grep -E '^INFO stopped' "$FG_WORK/flowgate.log" || true)"
fg_finish
