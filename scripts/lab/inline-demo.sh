#!/usr/bin/env bash
# The inline namespace lab: a client, a gateway running `flowgate run`, a
# server with two uplinks to the gateway (uplink A: default, uplink B:
# zero-rated). Real tools make real traffic; flowgate classifies and
# enforces; the script shows what it decided and the proof in the kernel.
#
# Usage: scripts/lab/inline-demo.sh FLOWGATE_BINARY [--mqtt]   (as root)
# --mqtt: a broker (mosquitto) in the gateway namespace and an MQTT sink
# publishing every event to it; a subscriber's view is shown at the end.
# Everything it creates is removed on exit, on failure and on Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=$1
mqtt=0
[[ ${2:-} == --mqtt ]] && mqtt=1
export FG_TAG="demo-$$"
# shellcheck source=../../netns-tests/lib.sh
source "$repo/netns-tests/lib.sh"
fg_require_root openssl curl ss nft conntrack python3 dig dnsmasq jq
traffic="$repo/netns-tests/fg_traffic.py"
bindir=$(dirname "$bin")
ctl=$(fg_find_tool "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl" \
  "$(command -v flowgatectl || true)") || ctl=""

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
row() { printf '  %-34s %s\n' "$1" "$2"; }

say "Building the lab: client -- gateway (flowgate) -- server, two uplinks"
fg_lab_up
fg_cert
cp "$here/demo-policy.toml" "$FG_WORK/policy.toml"
head -c $((4 * 1024 * 1024)) /dev/zero >"$FG_WORK/big.bin"
# Each service has an address of its own, as on the Internet: 10.71.100.1
# (example.org, legacy-bank, BitTorrent peer, DNS), .2 (Netflix), .3 (Zoom);
# Netflix is dual-stack (fd71:100::2), like the real service.
NETFLIX4=10.71.100.2 ZOOM4=10.71.100.3 NETFLIX6=fd71:100::2
ip -n "$FG_S" addr add "$NETFLIX4/32" dev lo
ip -n "$FG_S" addr add "$NETFLIX6/128" dev lo
fg_wait_ipv6
ip -n "$FG_S" addr add "$ZOOM4/32" dev lo
tls_server() {  # tls_server ADDRESS:PORT [s_server args]
  local at=$1; shift
  fg_bg "$FG_S" bash -c "cd '$FG_WORK' && exec openssl s_server -accept '$at' -cert cert.pem -key key.pem $* -quiet >/dev/null 2>&1"
}
tls_server "$FG_SERVICE4:443" -WWW
tls_server "[$FG_SERVICE6]:443" -WWW
tls_server "$NETFLIX4:443" -WWW
tls_server "[$NETFLIX6]:443" -WWW
tls_server "$ZOOM4:443" -WWW
tls_server "$FG_SERVICE4:8443" -tls1_2 -cipher AES128-SHA -www
fg_bg "$FG_S" python3 "$traffic" sink "$NETFLIX4" 4433 --tls "$FG_WORK/cert.pem" "$FG_WORK/key.pem"
fg_bg "$FG_S" python3 "$traffic" sink "$NETFLIX6" 4433 --tls "$FG_WORK/cert.pem" "$FG_WORK/key.pem"
fg_bg "$FG_S" python3 "$traffic" bt-server "$FG_SERVICE4" 6881
fg_bg "$FG_S" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$FG_SERVICE4" \
  --listen-address="$FG_SERVICE6" --port=53 --address=/netflix.com/"$NETFLIX4" --address=/netflix.com/"$NETFLIX6" \
  --address=/zoom.us/"$ZOOM4" \
  --address=/example.org/"$FG_SERVICE4" --address=/legacy-bank.example/"$FG_SERVICE4" \
  --pid-file="$FG_WORK/dnsmasq.pid"
for p in 443 8443 4433 6881; do fg_wait_listen "$FG_S" tcp "$p"; done
fg_wait_listen "$FG_S" udp 53

say "Starting flowgate run in the gateway namespace (policy: scripts/lab/demo-policy.toml)"
if [[ $mqtt -eq 1 ]]; then
  fg_require_root mosquitto mosquitto_sub
  printf 'listener 18830 127.0.0.1\nallow_anonymous true\npersistence false\n' >"$FG_WORK/mosquitto.conf"
  fg_bg "$FG_G" mosquitto -c "$FG_WORK/mosquitto.conf"
  fg_wait_listen "$FG_G" tcp 18830
  fg_bg "$FG_G" bash -c "exec mosquitto_sub -h 127.0.0.1 -p 18830 -t 'flowgate/#' -v >'$FG_WORK/mqtt.log'"
  sleep 0.2
  FG_EXTRA_TABLES=$'[accounting]\ninterval = 1\n\n[[output.mqtt]]\nname = "demo"\nhost = "127.0.0.1"\nport = 18830\nqos = 1\ntopic = "flowgate/{hostname}/{event}/{application}"'
  export FG_EXTRA_TABLES
  say "MQTT: a broker in the gateway namespace (127.0.0.1:18830), flowgate publishes every event"
fi
fg_start_gateway "$bin" "$FG_WORK/policy.toml"
grep -E "kernel_queue_mode|nft_table_installed|started" "$FG_WORK/flowgate.log" | sed 's/^/  /'

# The client resolves every name through the lab's DNS server (its answers
# cross the gateway, which learns address -> name), then connects.
resolve() { fg_in "$FG_C" timeout 5 dig +short +time=2 +tries=1 @"$FG_SERVICE4" "$1" A 2>/dev/null | tail -1; }
# AAAA from the lab's DNS server over IPv6 (hints are per client address).
resolve6() { fg_in "$FG_C" timeout 5 dig +short +time=2 +tries=1 @"$FG_SERVICE6" "$1" AAAA 2>/dev/null | tail -1; }
curl_to() {  # curl_to NAME URL [curl args]: prints the HTTP status (000 = failed)
  local name=$1 url=$2 addr; shift 2
  addr=$(resolve "$name")
  fg_in "$FG_C" timeout 10 curl -sk --resolve "$name:443:${addr:-0.0.0.0}" --resolve "$name:8443:${addr:-0.0.0.0}" \
    -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null || true
}

say "Traffic from the client (names resolved through the gateway first)"
row "DNS www.netflix.com" "-> $(resolve www.netflix.com)"
row "HTTPS www.example.org (TLS 1.3)" "HTTP $(curl_to www.example.org https://www.example.org/big.bin)"
weak=$(curl_to legacy-bank.example https://legacy-bank.example:8443/ --tls-max 1.2 --ciphers AES128-SHA)
row "HTTPS legacy-bank (AES128-SHA)" "HTTP $weak $([[ $weak == 000 ]] && echo '(connection reset: blocked)')"
row "HTTPS www.netflix.com" "HTTP $(curl_to www.netflix.com https://www.netflix.com/big.bin)"
a0=$(fg_tx_bytes "$FG_G" g1) b0=$(fg_tx_bytes "$FG_G" g2)
up=$(fg_in "$FG_C" timeout 20 python3 "$traffic" upload "$(resolve www.netflix.com)" 4433 $((4 * 1024 * 1024)) --sni www.netflix.com || true)
a1=$(fg_tx_bytes "$FG_G" g1) b1=$(fg_tx_bytes "$FG_G" g2)
row "4 MB upload to www.netflix.com" "$up; uplink A +$(( (a1 - a0) / 1024 )) KiB, uplink B (zero-rated) +$(( (b1 - b0) / 1024 )) KiB"
row "DNS www.netflix.com AAAA" "-> $(resolve6 www.netflix.com)"
a0=$(fg_tx_bytes "$FG_G" g1) b0=$(fg_tx_bytes "$FG_G" g2)
up=$(fg_in "$FG_C" timeout 20 python3 "$traffic" upload "$(resolve6 www.netflix.com)" 4433 $((4 * 1024 * 1024)) --sni www.netflix.com || true)
a1=$(fg_tx_bytes "$FG_G" g1) b1=$(fg_tx_bytes "$FG_G" g2)
row "4 MB upload over IPv6 (Netflix)" "$up; uplink A +$(( (a1 - a0) / 1024 )) KiB, uplink B (zero-rated) +$(( (b1 - b0) / 1024 )) KiB"
row "HTTPS us04web.zoom.us" "HTTP $(curl_to us04web.zoom.us https://us04web.zoom.us/big.bin)"
bt=$(fg_in "$FG_C" timeout 5 python3 "$traffic" bt-client "$FG_SERVICE4" 6881 >/dev/null 2>&1 && echo "handshake ok" || echo "failed")
row "BitTorrent handshake" "$bt"
v6=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' "https://[$FG_SERVICE6]/big.bin" 2>/dev/null || true)
row "HTTPS over IPv6" "HTTP $v6"
sleep 0.5

say "What flowgate decided (flow_decided log lines)"
python3 - "$FG_WORK/flowgate.log" <<'PY'
import re, sys
fmt = "  {:<22} {:<19} {:<14} {:<22} {:<7} {:<20} {:<10} {}"
print(fmt.format("client", "server", "application", "hostname", "verdict", "rule", "mark", "at SYN"))
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if " flow_decided " not in line:
        continue
    f = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))
    f = {k: v.strip('"') for k, v in f.items()}
    if f.get("dst", "").startswith("[ff"):
        continue  # the kernel's own IPv6 multicast listener reports
    if f.get("proto") == "udp" and f.get("dst", "").endswith(":53"):
        f["app"] = f.get("app", "") + " (dns)"
    first = "yes (" + f.get("early", "") + ")" if f.get("first_packet") == "1" else "-"
    print(fmt.format(f.get("src", ""), f.get("dst", ""), f.get("app", ""), f.get("hostname", "")[:22],
                     f.get("verdict", ""), f.get("rule", ""), hex(int(f.get("mark", "0"))), first))
PY

say "Enforcement in the kernel"
echo "  conntrack marks (0x80000000 decided, 0x20000000 reject, 0x1000 zero-rated route, 0x100/0x300 classes):"
# fg_conntrack: "proto src sport dst dport mark reply_src reply_dst" per entry, from conntrack -o xml.
fg_conntrack "$FG_G" | awk '$6 > 0 && $5 ~ /^(443|8443|4433|6881|53)$/ {
    printf "    src=%-14s dst=%-16s dport=%-5s mark=0x%08x\n", $2, $4, $5, $6 }' | sort -u
[[ -n $ctl ]] && hints=$(timeout 5 "$ctl" --socket "$FG_CONTROL_SOCKET" hint "$NETFLIX4" 2>/dev/null || true)
if [[ -n ${hints:-} ]]; then
  echo "  flowgatectl hint $NETFLIX4 (what the gateway learned from DNS and DPI):"
  sed 's/^/    /' <<<"$hints"
fi
echo "  nft sets zero_rated, zero_rated6 (server addresses the policy collected, one set per family):"
for set in zero_rated zero_rated6; do
  echo "    $set elements: $(fg_set_elements "$FG_G" flowgate "$set" | paste -sd' ')"
done
echo "  policy routing (both families):"
fg_in "$FG_G" ip -4 rule show | grep -E "suppress|fwmark" | sed 's/^/    ipv4 /'
fg_in "$FG_G" ip -6 rule show | grep -E "suppress|fwmark" | sed 's/^/    ipv6 /'
fg_in "$FG_G" ip -4 route show table 100 | sed 's/^/    table 100: /'
fg_in "$FG_G" ip -6 route show table 100 | sed 's/^/    table 100: /'
if [[ -n $ctl ]]; then
  echo "  flowgatectl status: route classes (families covered, flows routed per family)"
  timeout 5 "$ctl" --socket "$FG_CONTROL_SOCKET" status --json 2>/dev/null |
    jq -c '.result.policy.routes[] | {name, families, flows, uncovered}' | sed 's/^/    /'
fi
rej=$(fg_nft_counter fwd reject-tcp); rej=${rej%% *}
echo "  packets rejected by the kernel for blocked flows: $rej"
echo "  packets queued to flowgate: $(fg_queued_packets) (decided flows bypass userspace)"

if [[ $mqtt -eq 1 ]]; then
  sleep 1.5  # the last aggregate interval
  say "MQTT: what a subscriber received (mosquitto_sub -t 'flowgate/#')"
  total=$(wc -l <"$FG_WORK/mqtt.log")
  echo "  $total messages; by topic:"
  cut -d' ' -f1 "$FG_WORK/mqtt.log" | sed -E 's#^(flowgate/[^/]+/[^/]+)/.*#\1/...#' | sort | uniq -c | sed 's/^/    /'
  echo "  a flow record as published:"
  grep '^flowgate/[^/]*/flow/NetFlix ' "$FG_WORK/mqtt.log" | grep -m1 '"l7_protocol":"TLS"' | cut -d' ' -f2- | jq -c '{event, flow_id, application, hostname, verdict, rule, mark, first_packet}' | sed 's/^/    /'
  status=$(timeout 5 "$ctl" --socket "$FG_CONTROL_SOCKET" status --json 2>/dev/null | jq -c '.result.outputs.mqtt[0] | {connected, produced, delivered, dropped}' || true)
  echo "  the sink's counters: $status"
fi

say "Stopping flowgate (SIGTERM): table, rules and routes are removed"
fg_stop_gateway
grep -E "^INFO stopped" "$FG_WORK/flowgate.log" | sed 's/^/  /'
left=$(fg_in "$FG_G" nft -j list tables | jq '[.nftables[] | select(.table.name? == "flowgate")] | length')
echo "  flowgate tables left: $left"
say "Done: the lab is removed on exit"
