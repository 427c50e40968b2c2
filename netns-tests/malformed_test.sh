#!/usr/bin/env bash
# netns test: malformed traffic through the inline path.
#   - bench/fgflood's battery (see bench/fgflood.cc) is written as Ethernet
#     frames on the client's veth: broken IPv4 headers (total length beyond
#     the packet, IHL < 5, IHL beyond the packet, bad checksum, wrong version),
#     broken TCP/UDP headers (data offset 0, 4, 15 in a 20-byte header, cut
#     headers), broken inner headers and 7-deep nesting inside IP-in-IP, IPv6
#     with 20 extension headers and with one running past the packet, tiny,
#     overlapping, incomplete IPv4 fragments and an IPv6 first fragment without
#     its TCP header, a bad TCP checksum, SYN + data flows carrying garbage TLS
#     records (absurd record and handshake lengths, a ClientHello with broken
#     extension lengths), garbage QUIC on UDP/443 and garbage DNS with
#     compression loops on UDP/53; then real TCP connections (full handshake)
#     to a TLS server that send the same garbage records;
#   - the battery runs once, then twice more (--reps 2): after each round
#     flowgate still runs (its pid, and `flowgatectl status` answers), and its
#     decode_errors counter grew by exactly the number of packets the battery
#     marks `decode_error:*` (the kernel forwards those to the queue: conntrack
#     calls them invalid, so they carry no ct mark); the gateway's kernel
#     counted the `kernel_drop` cases itself (nstat: IpInHdrErrors,
#     IpExtInTruncatedPkts, IpExtInCsumErrors, IpReasmFails/Overlaps) and they
#     never reached flowgate (the queue rule's counter grew by exactly what
#     flowgate received);
#   - a forged ICMP error (sent by the client) quoting a segment of its own
#     undecided TCP connection to a weak-cipher server must not decide that
#     connection (see the comment at the check: it currently does, and the
#     weak handshake passes);
#   - afterwards a normal TLS connection with SNI is decided and passes.
# Usage: malformed_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft python3 jq nstat
bin=$1 src=$2
bindir=$(cd "$(dirname "$bin")" && pwd)
ctl=$(fg_find_tool "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl") ||
  fg_die "flowgatectl not found (build target flowgatectl, or set FLOWGATECTL)"
FG_CTL=$ctl
fgflood=$(fg_find_tool "${FGFLOOD:-}" "$bindir/../bench/fgflood" "$bindir/fgflood") ||
  fg_die "fgflood not found (build target fgflood, or set FGFLOOD)"

status() { fg_status; }
# Kernel SNMP counters of the gateway (absolute values).
# The gateway's kernel SNMP counters as JSON (nstat --json: data, zeros included).
snmp() { fg_in "$FG_G" nstat -az --json 2>/dev/null; }
snmp_delta() {  # snmp_delta BEFORE_FILE AFTER_FILE: the counters that moved
  jq -rn --slurpfile a "$1" --slurpfile b "$2" \
    '$b[0].kernel | to_entries | map(select(.value != ($a[0].kernel[.key] // 0))) | map("\(.key)+\(.value - ($a[0].kernel[.key] // 0))") | join(" ")'
}
# Some counters appear only once they first move: absent before = 0, absent
# after = an error.
snmp_get() {  # snmp_get BEFORE_FILE NAME AFTER_FILE: how much NAME grew
  jq -en --slurpfile a "$1" --slurpfile b "$3" --arg k "$2" \
    '($b[0].kernel[$k] // error("no counter " + $k)) - ($a[0].kernel[$k] // 0)' ||
    fg_die "nstat has no counter $2"
}

fg_lab_up
fg_wait_ipv6
fg_cert
policy=$FG_WORK/malformed-policy.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"

[[rule]]
name = "reject-weak-ciphers"
match = { cipher_strength = ["insecure", "weak"] }
action = "reject"
log = true

[[rule]]
name = "after-battery"
match = { hostname = "after.flowgate.test" }
action = "accept"
log = true
TOML
fg_check "flowgate policy check accepts the policy" "$bin" policy check "$policy"
fg_bg "$FG_S" openssl s_server -accept "$FG_SERVICE4:443" -cert "$FG_WORK/cert.pem" -key "$FG_WORK/key.pem" \
  -tls1_3 -www -quiet
fg_bg "$FG_S" bash -c "exec openssl s_server -accept '$FG_SERVICE4:8443' -cert '$FG_WORK/cert.pem' \
  -key '$FG_WORK/key.pem' -tls1_2 -cipher AES128-SHA -www -quiet >/dev/null 2>&1"
fg_wait_listen "$FG_S" tcp 443
fg_wait_listen "$FG_S" tcp 8443
fg_start_gateway "$bin" "$policy"
gw_mac=$(fg_in "$FG_G" cat /sys/class/net/g0/address)

round() {  # round NAME REPS SEED
  local name=$1 reps=$2 seed=$3 d0 d1 q0 q1 r0 r1 expected st
  d0=$(status | jq '.counters.decode_errors')
  r0=$(status | jq '.queues[0].received')
  q0=$(fg_queued_packets)
  snmp >"$FG_WORK/snmp0"
  fg_in "$FG_C" "$fgflood" malformed --iface c0 --dst-mac "$gw_mac" --src "$FG_CLIENT4" --dst "$FG_SERVICE4" \
    --src6 "$FG_CLIENT6" --dst6 "$FG_SERVICE6" --port 443 --reps "$reps" --seed "$seed" >"$FG_WORK/battery-$name.txt" ||
    fg_die "fgflood malformed failed: $(cat "$FG_WORK/battery-$name.txt")"
  sleep 1  # the queue is asynchronous; let the last verdicts and counters settle
  snmp >"$FG_WORK/snmp1"
  expected=$(sed -nE 's/^total .*expected_decode_errors=([0-9]+).*/\1/p' "$FG_WORK/battery-$name.txt")
  fg_log "$name: $(grep '^total' "$FG_WORK/battery-$name.txt")"
  fg_check "$name: flowgate is still running" kill -0 "$FG_GATEWAY_PID"
  st=$(status) || { fg_check "$name: flowgate answers status" false; return; }
  fg_check "$name: flowgate answers status" true
  d1=$(jq '.counters.decode_errors' <<<"$st")
  r1=$(jq '.queues[0].received' <<<"$st")
  q1=$(fg_queued_packets)
  fg_log "$name: decode_errors +$((d1 - d0)) (expected $expected); queue rule +$((q1 - q0)), flowgate received +$((r1 - r0))"
  fg_log "$name: gateway kernel counters: $(snmp_delta "$FG_WORK/snmp0" "$FG_WORK/snmp1")"
  fg_check "$name: decode_errors grew by exactly the battery's undecodable packets (+$((d1 - d0)) = $expected)" \
    test "$((d1 - d0))" -eq "$expected"
  fg_check "$name: nothing failed open or got lost in the queue (rule +$((q1 - q0)) = received +$((r1 - r0)))" \
    test "$((q1 - q0))" -eq "$((r1 - r0))"
  # The kernel_drop cases, one per repetition each: total length beyond the
  # packet -> InTruncatedPkts; IHL < 5, wrong version -> InHdrErrors; IHL
  # beyond the packet -> InHdrErrors or InTruncatedPkts (depends on the check
  # order); bad checksum -> InCsumErrors (or InHdrErrors on older kernels).
  local hdr trunc csum
  hdr=$(snmp_get "$FG_WORK/snmp0" IpInHdrErrors "$FG_WORK/snmp1")
  trunc=$(snmp_get "$FG_WORK/snmp0" IpExtInTruncatedPkts "$FG_WORK/snmp1")
  csum=$(snmp_get "$FG_WORK/snmp0" IpExtInCsumErrors "$FG_WORK/snmp1")
  fg_check "$name: the gateway's IP layer discarded the 5 broken IPv4 headers per repetition (hdr $hdr + truncated $trunc + csum $csum = $((5 * reps)))" \
    test "$((hdr + trunc + csum))" -eq "$((5 * reps))"
}

round first 1 1
round again 2 2

# Garbage TLS records on real TCP connections (full handshake) to the server.
garbage=$(fg_in "$FG_C" python3 - "$FG_SERVICE4" <<'PY'
import socket, sys
recs = [
    bytes.fromhex("1603 01ffff 0100 01fc 0303 0000".replace(" ", "")),
    bytes.fromhex("1603 010008 01ffffff 0303 aabb".replace(" ", "")),
    bytes.fromhex("1603 01002a 01000026 0303".replace(" ", "")) + bytes(32) + b"\xff",
    b"\x16\x03\x01\x00\x40\x01\x00\x00\x3c\x03\x03" + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00\x7f\xf0"
      + b"\x00\x00\x01\x00\xff\xf0\x00\xff\xff" + b"evil",
    bytes.fromhex("6303030000150303400002"),
    bytes.fromhex("80ff010301ffff0000"),
]
done = 0
for r in recs:
    try:
        s = socket.create_connection((sys.argv[1], 443), timeout=3)
        s.sendall(r)
        try:
            s.recv(4096)
        except OSError:
            pass
        s.close()
        done += 1
    except OSError as e:
        print("error", e, file=sys.stderr)
print(done)
PY
)
fg_check "6 real connections carried garbage TLS records ($garbage)" test "$garbage" = "6"
fg_check "flowgate survived them" kill -0 "$FG_GATEWAY_PID"

# A forged ICMP error related to an undecided TCP flow. The client opens a TCP
# connection to the weak-cipher server, then sends one ICMP port-unreachable
# whose quoted header is a server->client segment of that connection.
# Conntrack attaches the ICMP packet to the TCP connection (RELATED), flowgate
# decides the ICMP packet as a flow of its own and answers it with the decided
# mark, and pre_save copies that mark into the *TCP connection's* ct mark: the
# TCP flow takes the fast path before its server hello was ever inspected, and
# the weak-cipher handshake completes. Expected: the weak handshake is still
# rejected. (Known failure with flowgate 0.1.0; see docs/performance.md.)
cat >"$FG_WORK/icmp_related.py" <<'PY'
import socket, ssl, struct, sys, time
srv, cli, forge = sys.argv[1], sys.argv[2], sys.argv[3] == "forge"
def csum(b):
    if len(b) % 2:
        b += b"\0"
    x = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    x = (x >> 16) + (x & 0xffff)
    x += x >> 16
    return ~x & 0xffff
s = socket.create_connection((srv, 8443), timeout=5)
lport = s.getsockname()[1]
if forge:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, socket.inet_aton(srv), socket.inet_aton(cli))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    msg = struct.pack("!BBHI", 3, 3, 0, 0) + ip + struct.pack("!HHI", 8443, lport, 12345)
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    r.sendto(msg, (srv, 0))
    time.sleep(0.3)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers("AES128-SHA:@SECLEVEL=0")
try:
    t = ctx.wrap_socket(s)
    t.sendall(b"GET / HTTP/1.0\r\n\r\n")
    print("passed" if t.recv(100).startswith(b"HTTP/") else "no-answer")
except (OSError, ssl.SSLError):
    print("rejected")
PY
plain=$(fg_in "$FG_C" timeout 15 python3 "$FG_WORK/icmp_related.py" "$FG_SERVICE4" "$FG_CLIENT4" plain || true)
forged=$(fg_in "$FG_C" timeout 15 python3 "$FG_WORK/icmp_related.py" "$FG_SERVICE4" "$FG_CLIENT4" forge || true)
fg_check "weak-cipher handshake is rejected ($plain)" test "$plain" = "rejected"
fg_check "a forged ICMP error related to the flow does not decide it: the weak handshake is still rejected ($forged)" \
  test "$forged" = "rejected"

code=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' --max-time 8 \
  --resolve "after.flowgate.test:443:$FG_SERVICE4" https://after.flowgate.test/ 2>/dev/null || true)
fg_check "a normal TLS connection afterwards passes ($code)" test "$code" = "200"
fg_check "and is decided (flow_decided rule=after-battery)" \
  fg_wait_log 'flow_decided .*dst=10\.71\.100\.1:443 .*hostname=after\.flowgate\.test .*verdict=accept rule=after-battery' 3
fg_check "flowgate answers status at the end" fg_status
fg_check "flowgate logged no error" fg_absent '^(ERROR|FATAL)' "$FG_WORK/flowgate.log"
fg_log "battery (last round):"$'\n'"$(cat "$FG_WORK/battery-again.txt")"
fg_stop_gateway
fg_finish
