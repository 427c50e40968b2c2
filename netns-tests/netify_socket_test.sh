#!/usr/bin/env bash
# netns test: the Netify-compatible socket ([output.netify_socket]) and the
# live message lifecycle.
#   - two consumers (netify_consumer.py, written from the agent's documented
#     stream format only) read the gateway's stream, one over TCP, one over
#     the Unix socket; each is greeted with agent_hello then agent_status,
#     and agent_status repeats every update interval (2 s here);
#   - a paced 20 MB TLS upload (SNI www.netflix.com, ~4 s) through the
#     gateway: the consumers get flow, flow_dpi_complete (application
#     NetFlix, host_server_name, ssl.client_sni), flow_stats (per-interval
#     local_*/other_* whose sums match the totals) and flow_purge, all with
#     one digest; the client is local (LAN interface g0), the server remote
#     (WAN interfaces g1/g2): local_ip, local_origin, internal false,
#     other_type remote; local_mac is the client interface's hardware address
#     (NFQA_HWADDR); flow_purge's local_bytes within 2 % of the bytes
#     sent;
#   - flow_purge and flowgate's own flow_end leave while the kernel still
#     holds the connection in TIME_WAIT (the default 120 s timeout is kept):
#     the end comes from conntrack's state change, not its destroy; the
#     delay from the client's exit is printed; the later destroy gives no
#     second end record;
#   - a slow consumer connects and reads nothing for 10 s while 300 short
#     TLS connections run: every connection succeeds, the TCP consumer still
#     gets every purge, flowgate_netify_socket_dropped_total > 0 and the
#     status's netify_socket.dropped agree; the connection rates with and
#     without the slow consumer are printed (never asserted);
#   - a flow still open at shutdown gets its flow_purge (reason terminated).
# Usage: netify_socket_test.sh FLOWGATE_BINARY SOURCE_DIR [FLOWGATECTL]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl ss nft conntrack python3
bin=$1 src=$2
bindir=$(cd "$(dirname "$bin")" && pwd)
ctl=${3:-${FLOWGATECTL:-}}
if [[ -z $ctl ]]; then
  for c in "$bindir/control/flowgatectl" "$bindir/flowgatectl" "$(command -v flowgatectl || true)"; do
    [[ -n $c && -x $c ]] && { ctl=$c; break; }
  done
fi
[[ -n $ctl && -x $ctl ]] || fg_die "flowgatectl not found (pass it as the third argument)"
consumer=$here/netify_consumer.py

fg_lab_up
fg_cert

policy=$FG_WORK/netflix.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"
mark_mask = 0x000000f0
mark_shift = 4

[class]
video = 2

# No DNS in this lab: the operator's range verifies the SNI for the rule.
[verified_ranges]
NetFlix = ["10.71.100.1"]

[[rule]]
name = "netflix-video"
match = { application = "NetFlix" }
class = "video"
TOML

fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink "$FG_SERVICE4" 4433 --tls "$FG_WORK/cert.pem" "$FG_WORK/key.pem"
fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink "$FG_SERVICE4" 8080
fg_wait_listen "$FG_S" tcp 4433
fg_wait_listen "$FG_S" tcp 8080

nsock=$FG_WORK/netify.sock
events=$FG_WORK/events.jsonl
FG_EXTRA_TABLES="
[accounting]
conntrack_dump_interval = 1

[output]
events_file = \"$events\"
events = [\"flow\", \"flow_end\", \"flow_stats\"]
lan_interfaces = [\"g0\"]
wan_interfaces = [\"g1\", \"g2\"]

[output.netify_socket]
path = \"$nsock\"
listen = [\"127.0.0.1:7150\"]
update_interval = 2
queue_events = 256
"
fg_start_gateway "$bin" "$policy"
fgctl() { "$ctl" --socket "$FG_CONTROL_SOCKET" "$@"; }
fg_wait_listen "$FG_G" tcp 7150
tw=$(fg_in "$FG_G" sysctl -n net.netfilter.nf_conntrack_tcp_timeout_time_wait)
fg_log "conntrack TIME_WAIT timeout in the gateway: ${tw}s"

tcp_out=$FG_WORK/netify_tcp.jsonl unix_out=$FG_WORK/netify_unix.jsonl
fg_bg "$FG_G" python3 "$consumer" read tcp:127.0.0.1:7150 "$tcp_out"
tcp_pid=$FG_LAST_PID
fg_bg "$FG_G" python3 "$consumer" read "unix:$nsock" "$unix_out"
unix_pid=$FG_LAST_PID
greeted() { [[ $(grep -c '"type": "agent_status"' "$1" 2>/dev/null) -ge 1 ]]; }
for ((i = 0; i < 50; i++)); do greeted "$tcp_out" && greeted "$unix_out" && break; sleep 0.1; done

# --- a TLS upload through the gateway ---------------------------------------
up_bytes=$((20 * 1024 * 1024))
fg_in "$FG_C" timeout 60 python3 "$FG_TRAFFIC" upload "$FG_SERVICE4" 4433 "$up_bytes" --sni www.netflix.com \
  --rate $((5 * 1024 * 1024)) >"$FG_WORK/upload.out" 2>&1 || true
up_end=$(date +%s.%N)
fg_check "the upload completed ($(tr -d '\n' <"$FG_WORK/upload.out"))" grep -qx "$up_bytes" "$FG_WORK/upload.out"

# Its end record: wait for flow_purge (at most 10 s), then look at conntrack.
purged() { grep -q '"type": "flow_purge".*"other_port": 4433' "$tcp_out"; }
for ((i = 0; i < 100; i++)); do purged && break; sleep 0.1; done
ct_state=$(fg_in "$FG_G" conntrack -L -p tcp --dport 4433 2>/dev/null | grep -o 'TIME_WAIT' | head -1 || true)
fg_check "flow_purge received for the upload" purged
fg_check "flow_purge came while conntrack still holds the connection in TIME_WAIT (not at its destroy)" \
  test "$ct_state" = TIME_WAIT

sleep 3  # two more agent_status intervals
kill -TERM "$unix_pid" 2>/dev/null || true

client_mac=$(fg_in "$FG_C" cat /sys/class/net/c0/address)
python3 - "$tcp_out" "$unix_out" "$up_bytes" "$up_end" "$FG_CLIENT4" "$FG_SERVICE4" "$events" "$client_mac" <<'PY' || FG_FAILS=$((FG_FAILS + 1))
import json, sys
tcp_out, unix_out, up_bytes, up_end, client, server, events, client_mac = sys.argv[1:]
up_bytes, up_end = int(up_bytes), float(up_end)
fails = 0
def check(what, ok):
    global fails
    print(("ok: " if ok else "FAIL: ") + what, file=sys.stderr)
    fails += 0 if ok else 1

for name, path in (("tcp", tcp_out), ("unix", unix_out)):
    lines = [json.loads(l) for l in open(path)]
    check(f"{name}: no framing errors", all("error" not in l for l in lines))
    msgs = [l["msg"] for l in lines if "msg" in l]
    types = [m.get("type") for m in msgs]
    check(f"{name}: greeted with agent_hello then agent_status (got {types[:2]})", types[:2] == ["agent_hello", "agent_status"])
    check(f"{name}: agent_status repeats ({types.count('agent_status')} seen)", types.count("agent_status") >= 3)
    hello = msgs[0] if msgs else {}
    check(f"{name}: agent_hello names a version", isinstance(hello.get("agent_version"), str))
    st = next((m for m in msgs if m.get("type") == "agent_status"), {})
    check(f"{name}: agent_status has timestamp, uptime, flow_count",
          all(isinstance(st.get(k), int) for k in ("timestamp", "uptime", "flow_count")))
    flows = [m for m in msgs if "flow" in m and m["flow"].get("other_port") == 4433]
    dpi = [m for m in flows if m["type"] == "flow_dpi_complete"]
    check(f"{name}: one flow_dpi_complete for the upload ({len(dpi)})", len(dpi) == 1)
    if not dpi:
        continue
    d = dpi[0]
    digest = d["flow"]["digest"]
    mine = [m for m in msgs if "flow" in m and m["flow"].get("digest") == digest]
    seq = [m["type"] for m in mine]
    print(f"{name}: message sequence of the upload: {seq}", file=sys.stderr)
    check(f"{name}: flow, flow_dpi_complete, flow_stats..., flow_purge in order",
          len(seq) >= 4 and seq[0] == "flow" and seq[1] == "flow_dpi_complete" and seq[-1] == "flow_purge"
          and all(t == "flow_stats" for t in seq[2:-1]))
    f = d["flow"]
    check(f"{name}: detected_application_name NetFlix ({f.get('detected_application_name')})",
          f.get("detected_application_name") == "NetFlix")
    check(f"{name}: detected_protocol_name TLS ({f.get('detected_protocol_name')})", f.get("detected_protocol_name") == "TLS")
    check(f"{name}: host_server_name and ssl.client_sni www.netflix.com",
          f.get("host_server_name") == "www.netflix.com" and f.get("ssl", {}).get("client_sni") == "www.netflix.com")
    check(f"{name}: local = the client ({f.get('local_ip')}), other = the server ({f.get('other_ip')}), local_origin",
          f.get("local_ip") == client and f.get("other_ip") == server and f.get("local_origin") is True)
    check(f"{name}: internal false, other_type remote ({d.get('internal')}, {f.get('other_type')})",
          d.get("internal") is False and f.get("other_type") == "remote")
    check(f"{name}: interface g0 ({d.get('interface')})", d.get("interface") == "g0")
    check(f"{name}: local_mac is the client's interface address ({f.get('local_mac')} == {client_mac})",
          f.get("local_mac") == client_mac)
    check(f"{name}: other_mac present ({f.get('other_mac')})", isinstance(f.get("other_mac"), str) and len(f["other_mac"]) == 17)
    stats = [m for m in mine if m["type"] == "flow_stats"]
    purge = mine[-1]
    p = purge["flow"]
    check(f"{name}: flow_purge reason closed ({purge.get('reason')})", purge.get("reason") == "closed")
    ratio = p.get("local_bytes", 0) / up_bytes
    print(f"{name}: flow_purge local_bytes={p.get('local_bytes')} other_bytes={p.get('other_bytes')} "
          f"total_bytes={p.get('total_bytes')} sent={up_bytes} ratio={ratio:.4f}", file=sys.stderr)
    check(f"{name}: flow_purge local_bytes within 2 % of the bytes sent", 1.0 <= ratio <= 1.02)
    check(f"{name}: flow_purge total = local + other",
          p.get("total_bytes") == p.get("local_bytes", 0) + p.get("other_bytes", 0))
    check(f"{name}: at least one flow_stats ({len(stats)})", len(stats) >= 1)
    prev = 0
    ok = True
    for s in stats:
        sf = s["flow"]
        # Each interval's counters add up to the growth of the totals.
        ok = ok and sf["total_bytes"] - prev == sf["local_bytes"] + sf["other_bytes"]
        prev = sf["total_bytes"]
    check(f"{name}: flow_stats intervals add up to their totals", ok)
    check(f"{name}: flow_stats totals never exceed the purge's", prev <= p.get("total_bytes", 0))
    rx = next(l["rx"] for l in lines if l.get("msg") == purge)
    print(f"{name}: flow_purge received {rx - up_end:.2f} s after the client finished", file=sys.stderr)

# flowgate's own flow_end of the upload: once.
ends = [e for e in map(json.loads, open(events)) if e.get("event") == "flow_end" and e.get("dst_port") == 4433]
check(f"events file: one flow_end for the upload ({len(ends)})", len(ends) == 1)
if ends:
    check(f"events file: flow_end end_reason fin ({ends[0].get('end_reason')})", ends[0].get("end_reason") == "fin")
sys.exit(1 if fails else 0)
PY

# --- a slow consumer ----------------------------------------------------------
conns() {  # conns N: N short TLS uploads of 20 kB (SNI www.example.org); prints ok/failed and the rate
  fg_in "$FG_C" python3 - "$FG_SERVICE4" "$1" <<'PY'
import socket, ssl, struct, sys, time
addr, n = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ok = failed = 0
t0 = time.monotonic()
for _ in range(n):
    try:
        with socket.create_connection((addr, 4433), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="www.example.org") as s:
                s.sendall(struct.pack(">Q", 20000) + b"\0" * 20000)
                ans = s.recv(64)
        good = ans.startswith(b"OK 20000")
        ok += good
        failed += not good
    except OSError:
        failed += 1
secs = time.monotonic() - t0
print(f"ok={ok} failed={failed} conn_per_s={ok / secs:.0f}")
PY
}
purges() { grep -c '"type": "flow_purge".*"host_server_name": "www.example.org"' "$tcp_out" || true; }
base=$(conns 150)
fg_log "connections without a slow consumer: $base"
fg_in "$FG_G" python3 "$consumer" hold "unix:$nsock" 10 >"$FG_WORK/hold.out" 2>&1 &
hold_pid=$!
FG_PIDS+=("$hold_pid")
sleep 0.5
slow=$(conns 300)
fg_log "connections with a consumer reading nothing: $slow"
fg_check "every connection succeeded with the slow consumer connected" grep -q "ok=300 failed=0" <<<"$slow"
wait "$hold_pid" || true
fg_log "slow consumer afterwards: $(cat "$FG_WORK/hold.out")"
fg_check "the slow consumer's stream is still well framed after its drops" \
  python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); sys.exit(0 if d["errors"] == 0 and d["framed"] > 0 else 1)' "$FG_WORK/hold.out"
metrics=$(fgctl metrics)
dropped=$(sed -nE 's/^flowgate_netify_socket_dropped_total ([0-9]+)$/\1/p' <<<"$metrics")
fg_log "flowgate_netify_socket_dropped_total $dropped"
fg_check "drops counted in the metrics ($dropped)" test "${dropped:-0}" -gt 0
st_dropped=$(fgctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["outputs"]["netify_socket"]["dropped"])')
fg_check "status outputs.netify_socket.dropped = the metric ($st_dropped)" test "$st_dropped" = "$dropped"
for ((i = 0; i < 50; i++)); do [[ $(purges) -ge 450 ]] && break; sleep 0.2; done
fast_purges=$(purges)
fg_check "the TCP consumer got a flow_purge for every short connection ($fast_purges of 450)" test "$fast_purges" -ge 450

# --- a flow open at shutdown -------------------------------------------------
dpis() { grep -c '"type": "flow_dpi_complete".*"host_server_name": "www.netflix.com"' "$tcp_out" || true; }
dpi_before=$(dpis)
fg_in "$FG_C" timeout 60 python3 "$FG_TRAFFIC" upload "$FG_SERVICE4" 4433 $((50 * 1024 * 1024)) --sni www.netflix.com \
  --rate $((1024 * 1024)) >/dev/null 2>&1 &
open_pid=$!
FG_PIDS+=("$open_pid")
for ((i = 0; i < 50; i++)); do [[ $(dpis) -gt $dpi_before ]] && break; sleep 0.1; done
sleep 1
before=$(grep -c '"type": "flow_purge".*"other_port": 4433' "$tcp_out" || true)
fg_stop_gateway
sleep 0.5
after=$(grep -c '"type": "flow_purge".*"other_port": 4433' "$tcp_out" || true)
fg_check "the flow open at shutdown got its flow_purge ($before -> $after)" test "$after" -gt "$before"
fg_check "its reason is terminated" grep -q '"type": "flow_purge".*"reason": "terminated"' "$tcp_out"
kill "$open_pid" 2>/dev/null || true
fg_finish
