#!/usr/bin/env bash
# netns test: MQTT output sinks against a real broker (Debian's mosquitto,
# inside the gateway namespace on its own loopback).
#   - four sinks: "all" (flowgate records, QoS 1, a 10-event queue, every
#     event), "blocked" (Netify-style records of blocked flows only),
#     "spool" (flow events, QoS 1, a 2-event queue with a spool file) and
#     "tls" (flow events over TLS, the broker's certificate verified);
#   - while the broker runs, what a subscriber receives is complete JSON:
#     flowgate flow records on flowgate/<host>/flow, a Netify record of the
#     blocked flow on netify/flow; a TLS sink verifies the broker certificate;
#   - the broker is stopped mid-run: flowgate keeps forwarding and enforcing
#     (transfers complete, the blocked name is still refused), the sinks
#     report disconnected, "all" drops beyond its queue, "spool" spools;
#   - the broker comes back: every sink reconnects, queues and spool drain,
#     the spooled flow events arrive in order, and for every sink
#     produced == delivered + dropped (+ waiting, 0 after the drain).
# Usage: mqtt_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft python3 jq mosquitto mosquitto_sub
bin=$1
bindir=$(dirname "$bin")
FG_CTL=$(fg_find_tool "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl" \
  "$(command -v flowgatectl || true)") || fg_die "flowgatectl not found"

fg_lab_up
fg_cert
PORT=18830
TLS_PORT=18883
SUB_PORT=18831  # the test's subscriber: a listener of its own (see phase 3)
# The broker's TLS certificate names 127.0.0.1 (the sink verifies it).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$FG_WORK/broker.key" -out "$FG_WORK/broker.pem" -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || fg_die "no broker certificate"
# user root: mosquitto would otherwise switch to its own user, which cannot
# read the test's private work directory.
cat >"$FG_WORK/mosquitto.conf" <<CONF
user root
allow_anonymous true
persistence false
listener $PORT 127.0.0.1
listener $SUB_PORT 127.0.0.1
listener $TLS_PORT 127.0.0.1
certfile $FG_WORK/broker.pem
keyfile $FG_WORK/broker.key
CONF
broker_pid="" sub_pid=""
# Subscribers print "topic payload" lines; we keep them in a file per phase.
start_broker_logged() {
  local log=$1
  fg_bg "$FG_G" mosquitto -c "$FG_WORK/mosquitto.conf"
  broker_pid=$FG_LAST_PID
  fg_wait_listen "$FG_G" tcp "$PORT"
  fg_bg "$FG_G" bash -c "exec mosquitto_sub -h 127.0.0.1 -p $SUB_PORT -q 1 -t 'flowgate/#' -t 'netify/#' -t 'spool/#' -t 'tls/#' -v >'$log'"
  sub_pid=$FG_LAST_PID
  # Subscribed before flowgate can (re)connect: the broker keeps nothing for
  # subscribers that are not there yet.
  local i
  for ((i = 0; i < 50; i++)); do
    fg_in "$FG_G" ss -tnH state established "( dport = :$SUB_PORT )" | grep -q . && break
    sleep 0.1
  done
  sleep 0.2
}

fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" -www -quiet
fg_wait_listen "$FG_S" tcp 443
policy=$FG_WORK/policy.toml
cat >"$policy" <<'TOML'
[[rule]]
name = "no-blocked"
match = { hostname = "blocked.example" }
action = "reject"
TOML

start_broker_logged "$FG_WORK/sub1.log"
# sink NAME TOPIC [KEY = VALUE lines]: one [[output.mqtt]] table on our broker
# (a fixed 2 s reconnect delay keeps the phases below predictable).
sink() {
  printf '\n[[output.mqtt]]\nname = "%s"\nhost = "127.0.0.1"\ntopic = "%s"\nreconnect_min = 2\nreconnect_max = 2\n' \
    "$1" "$2"
  shift 2
  printf '%s\n' "$@"
}
FG_EXTRA_TABLES="[accounting]
interval = 1
conntrack_dump_interval = 1

[output]
local_networks = [\"10.71.1.0/24\"]
$(sink all 'flowgate/{hostname}/{event}' "port = $PORT" 'qos = 1' 'queue_events = 10')
$(sink blocked 'netify/{event}' "port = $PORT" 'format = "netify"' 'events = ["flow"]' 'verdicts = ["reject", "drop"]')
$(sink spool 'spool/{event}' "port = $PORT" 'events = ["flow"]' 'qos = 1' 'queue_events = 2' \
  "spool_file = \"$FG_WORK/spool.jsonl\"")
$(sink tls 'tls/{event}' "port = $TLS_PORT" "ca_file = \"$FG_WORK/broker.pem\"" 'qos = 1' 'events = ["flow"]')
" FG_LOG_LEVEL=info fg_start_gateway "$bin" "$policy"

get() {  # get NAME: HTTP code of https://NAME/ through the gateway
  fg_in "$FG_C" timeout 10 curl -sk --resolve "$1:443:$FG_SERVICE4" -o /dev/null -w '%{http_code}' "https://$1/" 2>/dev/null || true
}
sinks() { fg_status | jq -c '.outputs.mqtt'; }
wait_sinks() {  # wait_sinks JQ_CONDITION SECONDS: until every sink satisfies it
  local cond=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    fg_status | jq -e "[.outputs.mqtt[] | select(($cond) | not)] | length == 0" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }

fg_check "every sink connects" wait_sinks '.connected' 10

# --- phase 1: broker up ------------------------------------------------------
# A control-socket subscriber in the Netify format, alongside.
fg_bg "$FG_G" bash -c "exec timeout 20 '$FG_CTL' --socket '$FG_CONTROL_SOCKET' --netify watch flow >'$FG_WORK/watch.jsonl'"
sleep 0.3
for i in 1 2 3; do code=$(get allowed.example); [[ $code == 200 ]] || fg_log "allowed $i: HTTP $code"; done
blocked=$(get blocked.example)
fg_check "the blocked name is refused (HTTP $blocked)" test "$blocked" = "000"
fg_check "all events delivered and acknowledged" wait_sinks '.queued == 0 and .inflight == 0 and .delivered >= 1' 10
sleep 0.5
python3 - "$FG_WORK/sub1.log" >"$FG_WORK/check1.txt" <<'PY' || true
import json, sys
flows = netify = spool = tls = 0
for line in open(sys.argv[1], encoding="utf-8"):
    topic, _, payload = line.rstrip("\n").partition(" ")
    r = json.loads(payload)  # every message is complete JSON
    if topic.startswith("flowgate/") and topic.endswith("/flow"):
        assert r["event"] == "flow" and r["flow_id"] and r["verdict"] in ("accept", "reject"), r
        flows += 1
    elif topic == "netify/flow":
        assert r["type"] == "flow" and r["flow"]["host_server_name"] == "blocked.example", r
        netify += 1
    elif topic == "spool/flow":
        assert r["event"] == "flow", r
        spool += 1
    elif topic == "tls/flow":
        assert r["event"] == "flow", r
        tls += 1
print(flows, netify, spool, tls)
PY
read -r flows1 netify1 spool1 tls1 <"$FG_WORK/check1.txt" || true
fg_log "phase 1 received: $flows1 flowgate flow records, $netify1 netify, $spool1 spool"
fg_check "the subscriber got the 4 flow records, complete JSON" test "${flows1:-0}" -ge 4
fg_check "the netify sink sent exactly the blocked flow" test "${netify1:-x}" = "1"
fg_check "the spool sink sent the 4 flow records" test "${spool1:-0}" -ge 4
fg_check "the TLS sink (verified broker certificate) sent the 4 flow records" test "${tls1:-0}" -ge 4

fg_check "flowgatectl watch --netify prints Netify flow records" \
  bash -c "head -1 '$FG_WORK/watch.jsonl' | jq -e '.type == \"flow\" and (.flow.digest | length) == 40' >/dev/null"

# --- phase 2: broker down ------------------------------------------------------
kill -TERM "$broker_pid" "$sub_pid" 2>/dev/null || true
wait "$broker_pid" 2>/dev/null || true
fg_check "the sinks notice the broker is gone" wait_sinks '.connected | not' 10
ok=0
for i in $(seq 1 15); do [[ $(get allowed.example) == 200 ]] && ok=$((ok + 1)); done
blocked=$(get blocked.example)
fg_check "flowgate keeps forwarding without the broker (15 of $ok transfers)" test "$ok" = "15"
fg_check "... and enforcing (blocked name refused: HTTP $blocked)" test "$blocked" = "000"
sleep 1.5  # flow_end and aggregate events of the outage
st=$(sinks)
fg_log "during the outage: $st"
fg_check "\"all\" dropped beyond its 10-event queue" bash -c "jq -e '.[] | select(.name == \"all\") | .dropped > 0 and .queued == 10' <<<'$st' >/dev/null"
fg_check "\"spool\" spooled instead of dropping" bash -c "jq -e '.[] | select(.name == \"spool\") | .spooled >= 14 and .dropped == 0' <<<'$st' >/dev/null"
spooled=$(jq '.[] | select(.name == "spool") | .spooled' <<<"$st")

# --- phase 3: broker back ------------------------------------------------------
# flowgate's ports stay closed until the subscriber is in (flowgate retries
# every 2 s), so it sees every replayed message.
fg_in "$FG_G" nft -f - <<NFT
table inet fgt_hold {
  chain out {
    type filter hook output priority 0;
    tcp dport { $PORT, $TLS_PORT } drop
  }
}
NFT
start_broker_logged "$FG_WORK/sub2.log"
fg_in "$FG_G" nft delete table inet fgt_hold
fg_check "every sink reconnects" wait_sinks '.connected and .connects >= 2' 15
fg_check "queues, spool and in-flight messages drain" \
  wait_sinks '.queued == 0 and .spool_waiting == 0 and .inflight == 0' 15
for i in 1 2; do get allowed.example >/dev/null; done
fg_check "new events flow again" wait_sinks '.queued == 0 and .inflight == 0' 10
sleep 0.5
st=$(sinks)
fg_log "after the outage: $st"
fg_check "every event is accounted for: produced == delivered + dropped (+ waiting)" \
  bash -c "jq -e 'all(.[]; .produced == .delivered + .dropped + .queued + .spool_waiting + .inflight)' <<<'$st' >/dev/null"
fg_check "\"spool\" lost nothing" bash -c "jq -e '.[] | select(.name == \"spool\") | .dropped == 0 and .delivered == .produced' <<<'$st' >/dev/null"
# The spooled flow events arrived after the reconnect, complete and in order.
order=$(python3 - "$FG_WORK/sub2.log" <<'PY'
import json, sys
ids = [int(json.loads(l.split(" ", 1)[1])["flow_id"]) for l in open(sys.argv[1]) if l.startswith("spool/flow ")]
print(len(ids), "ordered" if ids == sorted(ids) else "unordered")
PY
)
fg_log "spool replay: $order (spooled $spooled)"
fg_check "the spooled flow events arrived, in order ($order)" \
  bash -c "read -r n o <<<'$order'; [[ \$n -ge $spooled && \$o == ordered ]]"
fg_check "mqtt metrics are exported" \
  bash -c "timeout 5 '$FG_CTL' --socket '$FG_CONTROL_SOCKET' metrics | grep -q 'flowgate_mqtt_delivered_total{sink=\"spool\"}'"

fg_check "no spool resynchronisation or refused publish was needed" \
  fg_absent 'mqtt_spool_lost|mqtt_publish_refused' "$FG_WORK/flowgate.log"
fg_stop_gateway
fg_check "stopped: each sink reports its totals" grep -q '^INFO mqtt_sink_stopped sink=spool ' "$FG_WORK/flowgate.log"
fg_finish
