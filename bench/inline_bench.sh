#!/usr/bin/env bash
# bench/inline_bench.sh FLOWGATE FGLOAD [SECONDS] [ROUNDS]
#
# The inline gateway benchmark. In one namespace lab (netns-tests/lib.sh:
# client -> gateway -> server) and one run it measures, in alternating rounds
# (median of ROUNDS, default 3):
#   plain    plain forwarding, no flowgate running (no nft table, no conntrack);
#   plainct  reference: plain forwarding with conntrack on (a one-rule nft
#            table of the bench's own, `ct state established accept`), which
#            any stateful router pays; it separates conntrack's cost from
#            flowgate's;
#   flowgate flowgate with an accept-all policy, normal mode (fast path on);
#   all2us   flowgate with gateway.fast_path = false (every packet to userspace);
# for
#   bulk     one TCP stream downloading 8 GB (bounded to 30 s), Gbit/s;
#   conn     new connections/s: PARALLEL concurrent loops of connect, HTTP GET
#            with a Host header, read the ~200-byte response, close
#            (SECONDS per measurement, default 5);
#   lat      first-response latency: one loop (no queueing), p50/p99 of
#            connect-start -> first response byte; flowgate's added latency is
#            p50(flowgate) - p50(plain).
# and flowgate's own counters: packets queued to userspace (the queue rule's
# counter, and the "stopped packets=N flows_decided=M" line), per connection.
#
# Prints figures; asserts no timing. All traffic stays between the lab
# namespaces; every load is bounded in time. Needs root, nft, ip.
#
# Environment: FGB_PARALLEL (default 64), FGB_BULK_BYTES (default 8G),
# FGB_WORKERS (flowgate workers, default 1), FGB_EXTRA_TOML (appended to
# [gateway] of both flowgate modes), FGB_MODES (default "plain plainct flowgate
# all2us"; plain must stay first: ratios are against it), FGB_POLICY (a policy
# file or directory instead of the built-in accept-all one; `realistic` = the
# shipped weak-TLS, BitTorrent and QoS policies), FLOWGATECTL (for flowgate's
# own enqueue-to-verdict percentiles; found next to FLOWGATE by default).
set -euo pipefail

FLOWGATE=${1:?usage: inline_bench.sh FLOWGATE FGLOAD [SECONDS] [ROUNDS]}
FGLOAD=${2:?usage: inline_bench.sh FLOWGATE FGLOAD [SECONDS] [ROUNDS]}
SECS=${3:-5}
ROUNDS=${4:-3}
PARALLEL=${FGB_PARALLEL:-64}
BULK_BYTES=${FGB_BULK_BYTES:-8G}
WORKERS=${FGB_WORKERS:-1}
EXTRA=${FGB_EXTRA_TOML:-}
MODES=${FGB_MODES:-"plain plainct flowgate all2us"}
PORT=7001
FLOWGATE=$(readlink -f "$FLOWGATE")
FGLOAD=$(readlink -f "$FGLOAD")

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../netns-tests/lib.sh
source "$here/../netns-tests/lib.sh"
fg_require_root nft ip
[[ -x $FLOWGATE ]] || { echo "flowgate binary $FLOWGATE not found"; exit 2; }
[[ -x $FGLOAD ]] || { echo "fgload binary $FGLOAD not found"; exit 2; }

fg_lab_up

# Eight more client source addresses: the client does not run out of
# ephemeral ports at high connection rates, and queue balancing (which hashes
# addresses, not ports) has something to spread when workers > 1.
SRCS=$FG_CLIENT4
for i in $(seq 10 17); do
  ip -n "$FG_C" addr add "10.71.1.$i/24" dev c0
  SRCS+=",10.71.1.$i"
done
fg_in "$FG_C" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
fg_in "$FG_S" sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192

fg_bg "$FG_S" "$FGLOAD" server --addr 0.0.0.0 --port $PORT
fg_wait_listen "$FG_S" tcp $PORT

cat >"$FG_WORK/accept-all.toml" <<'TOML'
[policy]
default_action = "accept"

[[rule]]
name = "web"
match = { l7_protocol = "HTTP" }
action = "accept"
TOML
POLICY=$FG_WORK/accept-all.toml
if [[ ${FGB_POLICY:-} == realistic ]]; then
  # What an operator runs: the shipped weak-TLS block, BitTorrent bucket and
  # QoS classes by application (the zero-rating one needs a second uplink).
  POLICY=$FG_WORK/realistic
  mkdir -p "$POLICY"
  cp "$here/../policies/10-block-weak-tls.toml" "$here/../policies/30-bittorrent-bulk.toml" \
     "$here/../policies/40-qos-gaming.toml" "$POLICY/"
elif [[ -n ${FGB_POLICY:-} ]]; then
  POLICY=$(readlink -f "$FGB_POLICY")
fi
CTL=$(fg_find_tool "${FLOWGATECTL:-}" "$(dirname "$FLOWGATE")/control/flowgatectl" "$(dirname "$FLOWGATE")/flowgatectl" 2>/dev/null || true)
"$FLOWGATE" policy check "$POLICY" >/dev/null

# Like fg_start_gateway, but log_level "info": lib.sh's "debug" logs every
# decision and flow end, which is not what a deployment runs.
fgb_start_gateway() {
  local extra=$1
  cat >"$FG_WORK/flowgate.toml" <<TOML
[gateway]
log_level = "info"
interfaces = ["g0"]
workers = $WORKERS
$extra

[policy]
path = ["$POLICY"]

[apps]
shipped = "$(readlink -f "$here/../apps")"
TOML
  : >"$FG_WORK/flowgate.log"
  ip netns exec "$FG_G" "$FLOWGATE" run --config "$FG_WORK/flowgate.toml" >>"$FG_WORK/flowgate.log" 2>&1 &
  FG_GATEWAY_PID=$!
  FG_PIDS+=("$FG_GATEWAY_PID")
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q "^INFO started " "$FG_WORK/flowgate.log" && return 0
    kill -0 "$FG_GATEWAY_PID" 2>/dev/null || { cat "$FG_WORK/flowgate.log" >&2; fg_die "flowgate exited during start"; }
    sleep 0.1
  done
  fg_die "flowgate did not start within 10 s"
}

kv() { sed -nE "s/.*(^| )$1=([^ ]+).*/\2/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else { m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; if (m >= 100 || m <= -100) printf "%.0f\n", m; else printf "%.3f\n", m } }'; }

declare -A R  # R[mode,metric] = space-separated values over rounds
add() { R[$1,$2]="${R[$1,$2]:-} $3"; }

# queued MODE: packets queued to flowgate so far (fg_queued_packets reads the
# queue rules' counters from `nft -j`, and fails when it finds none); the
# plain modes have no flowgate table and queue nothing.
queued() { if [[ $1 == plain* ]]; then echo 0; else fg_queued_packets; fi; }

# Lets sockets and conntrack settle between measurements.
settle() { sleep 0.5; }

measure() {
  local mode=$1 out q0 q1
  case $mode in
    plain) ;;
    plainct)
      fg_in "$FG_G" nft -f - <<'NFT'
table inet fgbench {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    ct state established counter accept
  }
}
NFT
      ;;
    flowgate) fgb_start_gateway "$EXTRA" ;;
    all2us) fgb_start_gateway "fast_path = false
$EXTRA" ;;
  esac
  if [[ $mode != plain ]]; then
    # Short conntrack TIME_WAIT in the lab gateway: connection-rate runs
    # create hundreds of thousands of entries (limit 262144 on this VM).
    fg_in "$FG_G" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=5 2>/dev/null || true
  fi

  q0=$(queued "$mode")
  out=$(fg_in "$FG_C" "$FGLOAD" bulk --addr "$FG_SERVICE4" --port $PORT --bytes "$BULK_BYTES" --max-seconds 30 2>/dev/null || true)
  q1=$(queued "$mode")
  add "$mode" bulk "$(kv gbit_per_s "$out")"
  [[ $mode == plain* ]] || add "$mode" bulk_q "$((q1 - q0))"
  fg_log "$mode bulk: $out queued=$((q1 - q0))"
  settle

  q0=$(queued "$mode")
  out=$(fg_in "$FG_C" "$FGLOAD" conn --addr "$FG_SERVICE4" --port $PORT --seconds "$SECS" \
        --parallel "$PARALLEL" --src "$SRCS" 2>/dev/null || true)
  q1=$(queued "$mode")
  add "$mode" conn "$(kv conn_per_s "$out")"
  add "$mode" conn_p50 "$(kv p50_us "$out")"
  add "$mode" conn_failed "$(kv failed "$out")"
  local ok; ok=$(kv ok "$out"); ok=${ok:-0}
  if [[ $mode != plain* && $ok -gt 0 ]]; then
    add "$mode" conn_qpc "$(awk -v q=$((q1 - q0)) -v n="$ok" 'BEGIN{printf "%.2f", q/n}')"
  fi
  fg_log "$mode conn: $out queued=$((q1 - q0))"
  if [[ $mode != plain* && -n $CTL ]]; then
    # flowgate's own enqueue-to-verdict figures (since its start: bulk + conn).
    local vl; vl=$("$CTL" --json status 2>/dev/null | python3 -c 'import json,sys; l=json.load(sys.stdin)["result"]["queues"][0]["verdict_latency_us"]; print(l["p50"], l["p99"])' || true)
    add "$mode" vl_p50 "${vl% *}"; add "$mode" vl_p99 "${vl#* }"
  fi
  settle

  out=$(fg_in "$FG_C" "$FGLOAD" conn --addr "$FG_SERVICE4" --port $PORT --seconds 2 \
        --parallel 1 --threads 1 --src "$SRCS" 2>/dev/null || true)
  add "$mode" lat_p50 "$(kv p50_us "$out")"
  add "$mode" lat_p99 "$(kv p99_us "$out")"
  add "$mode" lat_rate "$(kv conn_per_s "$out")"
  fg_log "$mode lat: $out"

  if [[ $mode == plainct ]]; then
    fg_in "$FG_G" nft delete table inet fgbench
    fg_in "$FG_G" conntrack -F >/dev/null 2>&1 || true
  elif [[ $mode != plain ]]; then
    fg_stop_gateway
    local line; line=$(grep "^INFO stopped " "$FG_WORK/flowgate.log" | tail -1 || true)
    fg_log "$mode flowgate: $line"
    add "$mode" stopped_packets "$(sed -nE 's/.*packets=([0-9]+).*/\1/p' <<<"$line")"
    add "$mode" stopped_decided "$(sed -nE 's/.*flows_decided=([0-9]+).*/\1/p' <<<"$line")"
    fg_in "$FG_G" conntrack -F >/dev/null 2>&1 || true
  fi
  settle
}

fg_log "lab up; fgload server on $FG_SERVICE4:$PORT; $ROUNDS rounds, conn ${SECS}s x $PARALLEL parallel, bulk $BULK_BYTES"
LOADS=""
for ((r = 1; r <= ROUNDS; r++)); do
  LOADS+=" $(cut -d' ' -f1 /proc/loadavg)"
  for m in $MODES; do
    fg_log "round $r: $m"
    measure "$m"
  done
done

# ------------------------------------------------------------------ report
med() { median ${R[$1,$2]:-}; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 == 0) print "n/a"; else printf "%.3f", a/b }'; }
# Median over rounds of (mode / plain in the same round): robust to a machine
# whose load drifts between rounds (other jobs on a shared VM).
rratio() {
  local a=(${R[$1,$3]:-}) b=(${R[$2,$3]:-}) i out=()
  for ((i = 0; i < ${#a[@]} && i < ${#b[@]}; i++)); do out+=("$(ratio "${a[$i]}" "${b[$i]}")"); done
  median "${out[@]}"
}
echo
echo "policy: $POLICY"
echo "inline gateway benchmark: $(nproc) CPUs, kernel $(uname -r), $ROUNDS rounds (median), conn ${SECS}s x $PARALLEL parallel, bulk $BULK_BYTES x 1 stream, workers=$WORKERS"
echo "ratios: median over rounds of (mode / plain of the same round)"
printf '%-10s %12s %8s %12s %8s %10s %10s %10s %8s %10s %12s\n' mode bulk_Gbit/s ratio conn/s ratio lat_p50_us lat_p99_us added_us q/conn q/bulk verdict_p50/p99_us
for m in $MODES; do
  b=$(med "$m" bulk); c=$(med "$m" conn); l=$(med "$m" lat_p50); l99=$(med "$m" lat_p99)
  qpc=$(med "$m" conn_qpc); qb=$(med "$m" bulk_q)
  vl="$(med "$m" vl_p50)/$(med "$m" vl_p99)"
  [[ $m == plain* ]] && { qpc=-; qb=-; vl=-; }
  ladd=()
  la=(${R[$m,lat_p50]:-}) lb=(${R[plain,lat_p50]:-})
  for ((i = 0; i < ${#la[@]} && i < ${#lb[@]}; i++)); do ladd+=($((la[i] - lb[i]))); done
  printf '%-10s %12s %8s %12s %8s %10s %10s %10s %8s %10s %12s\n' "$m" "$b" "$(rratio "$m" plain bulk)" "$c" "$(rratio "$m" plain conn)" \
    "$l" "$l99" "$(awk -v v="$(median "${ladd[@]}")" 'BEGIN{printf "%+.0f", v}')" "$qpc" "$qb" "$vl"
done
echo
echo "per-round values (bulk Gbit/s | conn/s | lat p50 us | queued packets per connection | stopped packets / flows_decided):"
for m in $MODES; do
  echo "  $m: bulk${R[$m,bulk]:-} | conn${R[$m,conn]:-} | lat${R[$m,lat_p50]:-} | q/conn${R[$m,conn_qpc]:- -} | stopped${R[$m,stopped_packets]:- -} /${R[$m,stopped_decided]:- -} | conn failures${R[$m,conn_failed]:-}"
done
echo "load average per round:${LOADS:-}"
