#!/usr/bin/env bash
# The README's demo (scripts/lab/inline-demo.sh) end to end: it must run,
# show every use case decided as intended and leave nothing behind.
# Usage: inline_demo_test.sh FLOWGATE_BINARY SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
[[ $(id -u) -eq 0 ]] || { echo "not root: skipped"; exit 77; }
out=$(timeout 180 bash "$src/scripts/lab/inline-demo.sh" "$bin" 2>&1)
rc=$?
echo "$out"
[[ $rc -eq 77 ]] && exit 77
fails=0
check() {
  if grep -qE -- "$2" <<<"$out"; then echo "ok: $1"; else echo "FAIL: $1 (no line matching: $2)"; fails=$((fails + 1)); fi
}
[[ $rc -eq 0 ]] || { echo "FAIL: the demo exited with $rc"; fails=$((fails + 1)); }
check "weak-cipher server blocked" "legacy-bank \(AES128-SHA\) +HTTP 000 \(connection reset: blocked\)"
check "weak flow rejected by rule" "legacy-bank.example +reject +reject-weak-ciphers +0xa0000000"
check "Netflix zero-rated from its SYN (DNS hint)" "NetFlix +www.netflix.com +accept +zero-rate-netflix +0x80001000 +yes \(dns\)"
check "Zoom classed from its SYN (DNS hint)" "Zoom +us04web.zoom.us +accept +realtime-calls +0x80000100 +yes \(dns\)"
check "flowgatectl hint shows the DNS name" "dns: www.netflix.com for client 10.71.1.2 \(expires in [0-9]+ s\)"
check "flowgatectl hint shows the learned server" "learned: tcp/443 NetFlix"
check "upload left via uplink B" "upload to www.netflix.com .*uplink B \(zero-rated\) \+4[0-9]{3} KiB"
check "IPv6: Netflix resolves to its IPv6 address" "DNS www.netflix.com AAAA +-> fd71:100::2"
check "IPv6: the upload left via uplink B" "upload over IPv6 \(Netflix\) +4194304; uplink A \+[0-9]{1,2} KiB, uplink B \(zero-rated\) \+4[0-9]{3} KiB"
check "IPv6: Netflix zero-rated from its SYN (DNS hint)" "fd71:100::2\]?:4433 +NetFlix +www.netflix.com +accept +zero-rate-netflix +0x80001000 +yes \(dns\)"
check "IPv6: the zero_rated6 set holds the Netflix server" "^    zero_rated6 elements: fd71:100::2$"
check "IPv6: fwmark rule and default route in table 100" "ipv6 [0-9]+:.*fwmark 0x1000/0xff00 lookup 100"
check "IPv6: table 100 routes via uplink B" "table 100: default via fd71:3::2 dev g2"
check "status: the route covers both families" '"name":"zero-rated","families":"ipv4\+ipv6"'
check "Zoom in the realtime class" "Zoom +us04web.zoom.us +accept +realtime-calls +0x80000100"
check "BitTorrent in the bulk class" "BitTorrent +accept +bittorrent-bulk +0x80000300"
check "the zero_rated set holds the Netflix server only" "^    zero_rated elements: 10.71.100.2$"
check "fwmark rule installed" "fwmark 0x1000/0xff00 lookup 100"
check "table removed at exit" "flowgate tables left: 0"
# The same demo with one flag shows MQTT delivery (mosquitto is a test
# dependency, scripts/deps.sh; without it this half fails, it is not dropped).
if ! command -v mosquitto >/dev/null || ! command -v mosquitto_sub >/dev/null; then
  echo "FAIL: mosquitto/mosquitto_sub not installed: the --mqtt demo cannot be checked (scripts/deps.sh test)"
  fails=$((fails + 1))
else
  out=$(timeout 180 bash "$src/scripts/lab/inline-demo.sh" "$bin" --mqtt 2>&1)
  rc=$?
  echo "$out" | sed -n '/MQTT: what/,/the sink/p'
  [[ $rc -eq 0 ]] || { echo "FAIL: the --mqtt demo exited with $rc"; fails=$((fails + 1)); }
  check "--mqtt: the subscriber received flow records" "^ +[0-9]+ flowgate/[^/]+/flow/\\.\\.\\.$"
  check "--mqtt: a Netflix flow record as published" '"application":"NetFlix","hostname":"www.netflix.com","verdict":"accept","rule":"zero-rate-netflix"'
  check "--mqtt: the sink delivered everything" '"connected":true,"produced":([0-9]+),"delivered":\1,"dropped":0'
fi
left=$(ip netns list | grep -c "fgt-demo-" || true)
[[ $left -eq 0 ]] && echo "ok: no demo namespaces left" || { echo "FAIL: $left demo namespaces left"; fails=$((fails + 1)); }
[[ $fails -eq 0 ]]
