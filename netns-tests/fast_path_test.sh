#!/usr/bin/env bash
# netns test 4: the fast path. Once a flow is decided its packets never go to
# userspace again.
#   - policy: accept everything; its one harmless rule reads the application,
#     so the zero-filled flows (nDPI cannot classify them) are inspected up
#     to the packet budget before the default accepts them;
#   - 200 MB uploaded in one plain TCP flow (client -> server) and 200 MB
#     downloaded in another arrive with the exact byte count, within 60 s;
#   - nDPI inspects at most packet_budget (32) packets of each flow
#     (dpi_packets), then the default accepts it;
#   - userspace sees the budget plus the few packets the kernel queued while
#     the deciding verdict was on its way (the queue is asynchronous): the
#     queue rule's counter and flowgate's per-flow count (flow_end) stay
#     below 2 x budget per flow, out of thousands of (GRO) packets forwarded;
#     `stopped packets=N` stays small.
# Usage: fast_path_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root nft ss python3
bin=$1 src=$2
budget=32
total=$((200 * 1000 * 1000))

fg_lab_up
policy=$FG_WORK/accept-all.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"

# Harmless (no BitTorrent in this lab), but it reads the application, so an
# unclassifiable flow stays undecided until the packet budget runs out.
[[rule]]
name = "no-bittorrent"
match = { application = "BitTorrent" }
action = "reject"
TOML
fg_check "flowgate policy check accepts the policy" "$bin" policy check "$policy"
fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink "$FG_SERVICE4" 40123
fg_wait_listen "$FG_S" tcp 40123
fg_start_gateway "$bin" "$policy" "packet_budget = $budget"

# Port 40123: no nDPI port guess, the zero-filled flows stay Unknown.
# transfer upload|download: one 200 MB flow; sets T_BYTES, T_QUEUED (packets
# the queue rules counted meanwhile, read from `nft -j`: a missing counter
# fails the test), T_MS. Not in a subshell, so a failed reading stops it.
transfer() {
  local q0 q1 t0
  q0=$(fg_queued_packets)
  t0=$(date +%s%N)
  T_BYTES=$(fg_in "$FG_C" timeout 60 python3 "$FG_TRAFFIC" "$1" "$FG_SERVICE4" 40123 "$total" --timeout 60 || true)
  q1=$(fg_queued_packets)
  T_QUEUED=$((q1 - q0)) T_MS=$(fg_ms_since "$t0")
}
limit=$((2 * budget))

read -r tx0 _ < <(fg_tx "$FG_G" g1)
transfer upload
up_bytes=${T_BYTES:-0} up_queued=$T_QUEUED up_ms=$T_MS
read -r tx1 _ < <(fg_tx "$FG_G" g1)
fg_log "upload: $up_bytes bytes in $up_ms ms, $up_queued packets queued, $((tx1 - tx0)) packets (GRO units) forwarded to g1"
fg_check "200 MB upload arrived exactly ($up_bytes of $total)" test "$up_bytes" = "$total"
fg_check "upload: some but fewer than $limit packets queued ($up_queued)" test "$up_queued" -gt 0 -a "$up_queued" -lt "$limit"
transfer download
down_bytes=${T_BYTES:-0} down_queued=$T_QUEUED down_ms=$T_MS
fg_log "download: $down_bytes bytes in $down_ms ms, $down_queued packets queued"
fg_check "200 MB download arrived exactly ($down_bytes of $total)" test "$down_bytes" = "$total"
fg_check "download: some but fewer than $limit packets queued ($down_queued)" test "$down_queued" -gt 0 -a "$down_queued" -lt "$limit"

fg_check "both flows were decided (accept)" \
  test "$(grep -Ec 'flow_decided .*dst=10\.71\.100\.1:40123 .*verdict=accept ' "$FG_WORK/flowgate.log")" -eq 2
dpi=$(sed -nE 's/.*flow_decided .*dst=10\.71\.100\.1:40123 .* dpi_packets=([0-9]+).*/\1/p' "$FG_WORK/flowgate.log" | sort -n | tail -1)
fg_check "nDPI inspected at most the budget (dpi_packets max ${dpi:-none} <= $budget)" test "${dpi:-999}" -le "$budget"

fg_stop_gateway
# flow_end lines (at idle or shutdown) count the packets userspace saw per flow.
flows=$(sed -nE 's/.*flow_decided flow=([0-9]+) .*dst=10\.71\.100\.1:40123 .*/\1/p' "$FG_WORK/flowgate.log")
for f in $flows; do
  seen=$(sed -nE "s/.*flow_end flow=$f .* packets=([0-9]+) .*/\\1/p" "$FG_WORK/flowgate.log" | tail -1)
  fg_check "flow $f: userspace saw ${seen:-?} packets < $limit" test "${seen:-999}" -lt "$limit"
done
stopped=$(sed -nE 's/^INFO stopped packets=([0-9]+) .*/\1/p' "$FG_WORK/flowgate.log")
fg_log "flowgate: stopped packets=$stopped"
fg_check "flowgate handled few packets in all (${stopped:-?} < $((2 * limit + 32)))" \
  test "${stopped:-999999}" -lt $((2 * limit + 32))
fg_finish
