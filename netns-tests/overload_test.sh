#!/usr/bin/env bash
# netns test: queue overload. More packets than flowgate can inspect.
#   - flowgate with `fast_path = false` (every packet of every flow goes to
#     userspace) and the default queue (queue_max_len 8192, fail_open = true);
#   - for FGO_SECONDS (15) bench/fgflood sends UDP as fast as the stack takes
#     it (64 flows, 64-byte payloads; the server drops it) while a 100 MB TCP
#     upload runs and a client makes TLS connections every 250 ms;
#   - nothing stalls: the upload arrives complete, every TLS connection
#     answers;
#   - the kernel failed packets open, and it is counted: the queue rule's nft
#     counter counts every packet that reached the queue rule; flowgate's
#     status queues[0].received counts every packet it read. The difference is
#     what the kernel accepted without userspace. With NFQA_CFG_F_FAIL_OPEN this
#     kernel (6.18, nfnetlink_queue.c) accepts a packet when the queue holds
#     queue_max_len packets, and also when the netlink unicast to flowgate's
#     socket fails (receive buffer full), without incrementing queue_dropped or
#     queue_user_dropped (columns 6 and 7 of /proc/net/netfilter/nfnetlink_queue,
#     status kernel_dropped / kernel_user_dropped): those stay 0, so the nft
#     counter difference is the proof. id_sequence (column 8) counts packets
#     that got a queue id (queue not full); rule counter - id_sequence delta =
#     failed open at a full queue, id_sequence delta - received = failed open
#     at a full socket (+ ENOBUFS, which flowgate counts as queue_enobufs);
#   - recovery: once the flood stops the queue drains (kernel_waiting 0), and
#     a new TLS connection is decided (flow_decided in the log); status still
#     answers. How fast it recovers is logged (and belongs to benchmarks), not
#     asserted. ctest runs this test alone (RUN_SERIAL).
# Usage: overload_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft python3 jq
bin=$1 src=$2
bindir=$(cd "$(dirname "$bin")" && pwd)
ctl=$(fg_find_tool "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl") ||
  fg_die "flowgatectl not found (build target flowgatectl, or set FLOWGATECTL)"
FG_CTL=$ctl
fgflood=$(fg_find_tool "${FGFLOOD:-}" "$bindir/../bench/fgflood" "$bindir/fgflood") ||
  fg_die "fgflood not found (build target fgflood, or set FGFLOOD)"
seconds=${FGO_SECONDS:-15}
upload=$((100 * 1000 * 1000))

status() { fg_status; }
# Queue 0's line of /proc/net/netfilter/nfnetlink_queue in the gateway:
# "queue_dropped user_dropped id_sequence" (the kernel's fixed columns, no
# netlink equivalent). No such line is an error, not zeros.
kqueue() {
  local l
  l=$(fg_in "$FG_G" awk '$1 == 0 {print $6, $7, $8}' /proc/net/netfilter/nfnetlink_queue)
  [[ $l =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]] || fg_die "no queue 0 line in /proc/net/netfilter/nfnetlink_queue ('$l')"
  echo "$l"
}

fg_lab_up
fg_cert
policy=$FG_WORK/overload-policy.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"

[[rule]]
name = "probe-client"
match = { hostname = "probe.flowgate.test" }
action = "accept"
log = true
TOML
fg_check "flowgate policy check accepts the policy" "$bin" policy check "$policy"
fg_in "$FG_S" nft -f - <<'NFT'
table inet fgflood {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    udp dport 9998 counter drop
  }
}
NFT
fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink "$FG_SERVICE4" 40123
fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -tls1_3 -www -quiet
fg_wait_listen "$FG_S" tcp 40123
fg_wait_listen "$FG_S" tcp 443
fg_start_gateway "$bin" "$policy" "fast_path = false"
gw_mac=$(fg_in "$FG_G" cat /sys/class/net/g0/address)

probe() {  # one TLS connection with SNI; prints "HTTP_CODE MS"
  local t0 code
  t0=$(date +%s%N)
  code=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' --max-time 8 \
    --resolve "probe.flowgate.test:443:$FG_SERVICE4" https://probe.flowgate.test/ 2>/dev/null || true)
  echo "${code:-000} $(fg_ms_since "$t0")"
}
read -r code _ < <(probe)
fg_check "a TLS connection passes before the load ($code)" test "$code" = "200"

q0=$(fg_queued_packets)
rx0=$(status | jq '.queues[0].received')
kq=$(kqueue)
read -r kd0 kud0 kid0 <<<"$kq"
enob0=$(status | jq '.counters.queue_enobufs')

# The load: the upload and the probing client run while fgflood floods.
fg_in "$FG_C" timeout 90 python3 "$FG_TRAFFIC" upload "$FG_SERVICE4" 40123 "$upload" --timeout 80 \
  >"$FG_WORK/upload.out" 2>&1 &
up_pid=$!
FG_PIDS+=("$up_pid")
( while [[ ! -e $FG_WORK/flood.done ]]; do probe; sleep 0.25; done ) >"$FG_WORK/probe.log" 2>&1 &
probe_pid=$!
FG_PIDS+=("$probe_pid")
t0=$(date +%s%N)
fg_in "$FG_C" "$fgflood" udp --iface c0 --dst-mac "$gw_mac" --dst "$FG_SERVICE4" --port 9998 \
  --count 20000000 --seconds "$seconds" --rate 0 --flows 64 --size 64 >"$FG_WORK/flood.json" ||
  fg_die "fgflood failed: $(cat "$FG_WORK/flood.json")"
flood_end=$(date +%s%N)
touch "$FG_WORK/flood.done"
fg_log "flood: $(cat "$FG_WORK/flood.json")"

# Recovery: the queue drains, then a new connection is decided.
drain_ms=-1
for ((i = 0; i < 100; i++)); do
  w=$(status | jq '.queues[0].kernel_waiting') || w=-1
  [[ $w -eq 0 ]] && { drain_ms=$(fg_ms_since "$flood_end"); break; }
  sleep 0.05
done
fg_check "the queue drained after the load (kernel_waiting 0 after ${drain_ms} ms)" test "$drain_ms" -ge 0
before=$(grep -c 'flow_decided .*rule=probe-client' "$FG_WORK/flowgate.log" || true)
pt0=$(date +%s%N)
read -r code probe_ms < <(probe)
dec_ms=-1
for ((i = 0; i < 1000; i++)); do
  now=$(grep -c 'flow_decided .*rule=probe-client' "$FG_WORK/flowgate.log" || true)
  [[ $now -gt $before ]] && { dec_ms=$(fg_ms_since "$pt0"); break; }
  sleep 0.01
done
recovery_ms=$(fg_ms_since "$flood_end")
fg_log "recovery: queue empty ${drain_ms} ms after the flood; new connection answered in ${probe_ms} ms, decided within ${dec_ms} ms of its start"
fg_check "a new connection after the load answers ($code)" test "$code" = "200"
fg_check "it is decided (after ${dec_ms} ms; -1 = not within 10 s)" test "$dec_ms" -ge 0

wait "$probe_pid" 2>/dev/null || true
up_rc=0
wait "$up_pid" || up_rc=$?
up_ms=$(fg_ms_since "$t0")
got=$(tail -1 "$FG_WORK/upload.out")
fg_check "the 100 MB upload completed during/after the load (got '$got', rc $up_rc, $up_ms ms from the flood start)" \
  test "$got" = "$upload"

q1=$(fg_queued_packets)
st=$(status) || fg_die "flowgate does not answer status after the load"
rx1=$(jq '.queues[0].received' <<<"$st")
kq=$(kqueue)
read -r kd1 kud1 kid1 <<<"$kq"
enob1=$(jq '.counters.queue_enobufs' <<<"$st")
queued=$((q1 - q0)) received=$((rx1 - rx0)) ids=$((kid1 - kid0))
failed_open=$((queued - received))
full_queue=$((queued - ids)) full_socket=$((ids - received))
sent=$(jq .sent "$FG_WORK/flood.json")
fg_log "counters: flood sent $sent; queue rule $queued; kernel ids $ids; flowgate received $received;" \
  "failed open $failed_open (queue full: $full_queue, socket full: $full_socket); queue_enobufs +$((enob1 - enob0));" \
  "queue_dropped +$((kd1 - kd0)), user_dropped +$((kud1 - kud0))"
fg_check "the load exceeded flowgate: the kernel failed packets open ($failed_open > 0)" test "$failed_open" -gt 0
fg_check "fail-open is not counted as a drop (queue_dropped +$((kd1 - kd0)), user_dropped +$((kud1 - kud0)))" \
  test "$((kd1 - kd0 + kud1 - kud0))" -eq 0

total_probe=$(wc -l <"$FG_WORK/probe.log")
ok_probe=$(awk '$1 == "200"' "$FG_WORK/probe.log" | wc -l)
max_probe=$(awk 'BEGIN{m=0} {if ($2 > m) m = $2} END{print m}' "$FG_WORK/probe.log")
fg_log "TLS connections during the load: $ok_probe of $total_probe answered, slowest $max_probe ms"
fg_check "TLS connections were made during the load ($total_probe >= 5)" test "$total_probe" -ge 5
fg_check "every TLS connection during the load answered ($ok_probe of $total_probe)" test "$ok_probe" -eq "$total_probe"
fg_check "flowgate is still running" kill -0 "$FG_GATEWAY_PID"
fg_check "flowgate logged no error" fg_absent '^(ERROR|FATAL)' "$FG_WORK/flowgate.log"
fg_stop_gateway
fg_log "stopped: $(grep -E '^INFO stopped' "$FG_WORK/flowgate.log" || true)"
fg_finish
