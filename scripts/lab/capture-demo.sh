#!/usr/bin/env bash
# Record a small, known mix of real traffic between two network namespaces.
#
# Usage: scripts/lab/capture-demo.sh OUTPUT.pcap      (as root)
#
# Builds a private lab (names unique to this run, so runs can go in parallel):
#
#   fgdemo-PID-c  [fgdPIDc] 10.203.0.2/24 fd00:203::2/64
#        |  veth pair, nothing else: no route leaves the lab
#   fgdemo-PID-s  [fgdPIDs] 10.203.0.1/24 fd00:203::1/64
#
# Servers in the server namespace:
#   dnsmasq            udp/53   www.netflix.com, zoom.us, demo.example.com -> 10.203.0.1,
#                               example.org AAAA -> fd00:203::1
#   python http.server tcp/8080 (on 10.203.0.1 and on fd00:203::1)
#   openssl s_server   tcp/443  TLS 1.3 (strong) for www.netflix.com, us04web.zoom.us
#   openssl s_server   tcp/8443 TLS 1.2 only, AES128-SHA (static RSA, CBC: weak)
#                               for legacy-bank.example
#   python listener    tcp/6881 answers a BitTorrent handshake
#
# The client namespace runs tcpdump on its veth and then generates one flow of
# each kind. Only TCP and UDP are recorded (the capture filter leaves out the
# kernel's own IPv6 neighbour discovery / MLD chatter). Everything is torn down
# on exit, on failure and on SIGINT/SIGTERM. OUTPUT is written only on success.
set -euo pipefail

prog=${0##*/}
log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 1 && -n $1 && $1 != -* ]] || { echo "usage: $prog OUTPUT.pcap" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for tool in ip ss tcpdump python3 openssl dnsmasq dig curl timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "missing tool '$tool' (run scripts/deps.sh)"
done
out_dir=$(cd "$(dirname -- "$1")" 2>/dev/null && pwd) || die "output directory of '$1' does not exist"
output="$out_dir/$(basename -- "$1")"

# Nothing here may be sent through a proxy or pick up per-user client config.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# ---- names and addresses ---------------------------------------------------
id_tag=$$
ns_srv="fgdemo-$id_tag-s"
ns_cli="fgdemo-$id_tag-c"
if_srv="fgd${id_tag}s"           # <= 11 chars (IFNAMSIZ - 1 = 15)
if_cli="fgd${id_tag}c"
srv4=10.203.0.1 cli4=10.203.0.2
srv6=fd00:203::1 cli6=fd00:203::2

# ---- state and teardown ----------------------------------------------------
work=""
pids=()             # background processes we started
namespaces=()       # namespaces we created
tcpdump_pid=""
step_pid=""         # the traffic command running now
cleaned=0

cleanup() {
  local rc=$?
  set +e
  [[ $cleaned -eq 0 ]] || return 0
  cleaned=1
  trap '' INT TERM   # finish tearing down even if interrupted again
  local pid ns i
  [[ -n $step_pid ]] && pids+=("$step_pid")
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 30; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in "${namespaces[@]}"; do
    # Anything still inside a namespace of this run was started by this run.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    [[ -e /run/netns/$ns ]] || continue
    ip netns del "$ns" 2>/dev/null || log "warning: could not delete namespace $ns"
  done
  if [[ $rc -ne 0 && $rc -ne 130 && $rc -ne 143 && -n $work && -d $work/logs ]]; then
    local f
    for f in "$work"/logs/*.log; do
      [[ -s $f ]] || continue
      log "---- ${f##*/} (last lines) ----"
      tail -n 15 "$f" >&2
    done
  fi
  [[ -n $work ]] && rm -rf -- "$work"
  return 0
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

in_cli() { ip netns exec "$ns_cli" "$@"; }

# start_bg NAME NAMESPACE CMD...: run CMD in the background inside NAMESPACE,
# logging to $work/logs/NAME.log. `ip netns exec` execs, so $! is CMD itself.
# The outer `timeout` is only a safety net should this script be SIGKILLed.
start_bg() {
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" timeout --signal=TERM --kill-after=5 300 "$@" \
    </dev/null >"$work/logs/$name.log" 2>&1 &
  pids+=("$!")
}

# wait_listen NAME NAMESPACE tcp|udp ADDRESS PORT: poll ss (at most ~10 s).
# NAME must be the process started last.
wait_listen() {
  local name=$1 ns=$2 proto=$3 addr=$4 port=$5 flag i
  [[ $proto == tcp ]] && flag=-Hltn || flag=-Hlun
  for ((i = 0; i < 100; i++)); do
    if ip netns exec "$ns" ss "$flag" "sport = :$port" 2>/dev/null | grep -qF -- "$addr:$port"; then
      return 0
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || die "$name exited before listening"
    sleep 0.1
  done
  die "$name is not listening on $proto $addr port $port after 10 s"
}

# step DESCRIPTION CMD...: one bounded piece of client traffic; fatal on failure.
# Run in the background and waited for, so that a signal is handled at once
# (bash defers traps until a foreground command finishes).
step() {
  local what=$1
  shift
  log "traffic: $what"
  in_cli timeout --kill-after=2 15 "$@" </dev/null >>"$work/logs/client.log" 2>&1 &
  step_pid=$!
  if ! wait "$step_pid"; then
    step_pid=""
    die "traffic step failed: $what"
  fi
  step_pid=""
}

# ---- lab -------------------------------------------------------------------
work=$(mktemp -d /tmp/fgdemo.XXXXXX)
mkdir -p "$work/logs" "$work/www" "$work/tls"

for ns in "$ns_srv" "$ns_cli"; do
  [[ ! -e /run/netns/$ns ]] || die "namespace $ns already exists (stale from a killed run? remove with: ip netns del $ns)"
done
# Recorded before creation, so that a signal in between cannot leak one.
namespaces+=("$ns_srv" "$ns_cli")
ip netns add "$ns_srv" || die "cannot create network namespaces (ip netns add failed)"
ip netns add "$ns_cli"
ip link add name "$if_srv" netns "$ns_srv" type veth peer name "$if_cli" netns "$ns_cli"

# lab_end NAMESPACE INTERFACE IPV4 IPV6
lab_end() {
  ip -n "$1" link set lo up
  # No router solicitations: the lab has no router, keep the capture quiet.
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.router_solicitations=0"
  ip -n "$1" addr add "$3/24" dev "$2"
  ip -n "$1" -6 addr add "$4/64" dev "$2" nodad
  ip -n "$1" link set "$2" up
}
lab_end "$ns_srv" "$if_srv" "$srv4" "$srv6"
lab_end "$ns_cli" "$if_cli" "$cli4" "$cli6"
log "lab: $ns_cli ($cli4, $cli6) <-> $ns_srv ($srv4, $srv6)"

# ---- servers ---------------------------------------------------------------
# One self-signed certificate per server, naming only that server's hosts: in
# TLS 1.2 the certificate is visible, and nDPI also matches the names in it.
make_cert() {  # make_cert NAME HOST...
  local name=$1 san="" h
  shift
  for h in "$@"; do san+="${san:+,}DNS:$h"; done
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj "/CN=$1" \
    -addext "subjectAltName=$san" \
    -keyout "$work/tls/$name.key" -out "$work/tls/$name.crt" >/dev/null 2>&1 \
    || die "could not generate a self-signed certificate for $1"
}
make_cert tls13 www.netflix.com us04web.zoom.us
make_cert tls12 legacy-bank.example
printf '<html><body>flowgate demo</body></html>\n' >"$work/www/index.html"

start_bg dnsmasq "$ns_srv" dnsmasq --keep-in-foreground --conf-file=/dev/null \
  --no-resolv --no-hosts --no-poll --user=root --pid-file="$work/dnsmasq.pid" \
  --listen-address="$srv4" --bind-interfaces --port=53 --log-queries --log-facility=- \
  --address=/www.netflix.com/"$srv4" --address=/zoom.us/"$srv4" \
  --address=/demo.example.com/"$srv4" --address=/example.org/"$srv6"
wait_listen dnsmasq "$ns_srv" udp "$srv4" 53

start_bg http4 "$ns_srv" python3 -m http.server 8080 --bind "$srv4" --directory "$work/www"
wait_listen http4 "$ns_srv" tcp "$srv4" 8080
start_bg http6 "$ns_srv" python3 -m http.server 8080 --bind "$srv6" --directory "$work/www"
wait_listen http6 "$ns_srv" tcp "[$srv6]" 8080

start_bg tls13 "$ns_srv" openssl s_server -accept "$srv4:443" -www -naccept 1000 \
  -cert "$work/tls/tls13.crt" -key "$work/tls/tls13.key"
wait_listen tls13 "$ns_srv" tcp "$srv4" 443
start_bg tls12-weak "$ns_srv" openssl s_server -accept "$srv4:8443" -www -naccept 1000 \
  -tls1_2 -cipher AES128-SHA -cert "$work/tls/tls12.crt" -key "$work/tls/tls12.key"
wait_listen tls12-weak "$ns_srv" tcp "$srv4" 8443

# BitTorrent peer: read the 68-byte handshake, answer with the same info hash.
bt_server='
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 6881))
s.listen(8)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        d = b""
        while len(d) < 68:
            x = c.recv(68 - len(d))
            if not x:
                break
            d += x
        if len(d) == 68 and d[:20] == b"\x13BitTorrent protocol":
            c.sendall(d[:48] + b"-FG0001-" + b"demoserverid")
            c.recv(1024)
    except OSError:
        pass
    finally:
        c.close()
'
start_bg bittorrent "$ns_srv" python3 -c "$bt_server" "$srv4"
wait_listen bittorrent "$ns_srv" tcp "$srv4" 6881

# ---- capture ---------------------------------------------------------------
ip netns exec "$ns_cli" tcpdump -i "$if_cli" -n -s 0 -U --immediate-mode -Z root -w "$work/capture.pcap" \
  'tcp or udp' </dev/null >"$work/logs/tcpdump.log" 2>&1 &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
for ((i = 0; i < 100; i++)); do
  grep -q 'listening on' "$work/logs/tcpdump.log" 2>/dev/null && break
  kill -0 "$tcpdump_pid" 2>/dev/null || die "tcpdump exited early"
  sleep 0.1
done
grep -q 'listening on' "$work/logs/tcpdump.log" || die "tcpdump did not start capturing within 10 s"

# ---- traffic ---------------------------------------------------------------
step "DNS A www.netflix.com" \
  dig -r @"$srv4" +time=3 +tries=1 www.netflix.com A
step "DNS AAAA example.org" \
  dig -r @"$srv4" +time=3 +tries=1 example.org AAAA
step "HTTP Host: demo.example.com" \
  curl -q -fsS --noproxy '*' --max-time 10 -o /dev/null \
  -H 'Host: demo.example.com' "http://$srv4:8080/"
step "TLS 1.3 www.netflix.com" \
  curl -q -fsS --noproxy '*' --max-time 10 -k -o /dev/null \
  --resolve "www.netflix.com:443:$srv4" https://www.netflix.com/
# nDPI 4.2 knows Zoom as *.zoom.us (a bare zoom.us stays plain TLS).
step "TLS 1.3 us04web.zoom.us" \
  curl -q -fsS --noproxy '*' --max-time 10 -k -o /dev/null \
  --resolve "us04web.zoom.us:443:$srv4" https://us04web.zoom.us/
step "TLS 1.2 AES128-SHA legacy-bank.example:8443" \
  openssl s_client -connect "$srv4:8443" -servername legacy-bank.example
bt_client='
import socket, sys
h = (b"\x13BitTorrent protocol" + bytes(8) + bytes.fromhex("a1" * 20)
     + b"-FG0001-" + b"democlientid")
s = socket.create_connection((sys.argv[1], 6881), timeout=5)
s.sendall(h)
r = b""
while len(r) < 68:
    x = s.recv(68 - len(r))
    if not x:
        break
    r += x
if r[:20] != b"\x13BitTorrent protocol":
    sys.exit("no BitTorrent handshake in reply")
s.sendall(bytes([0, 0, 0, 1, 2]))  # "interested"
s.close()
'
step "BitTorrent handshake :6881" python3 -c "$bt_client" "$srv4"
step "HTTP over IPv6 [$srv6]:8080" \
  curl -q -fsS -g --noproxy '*' --max-time 10 -o /dev/null \
  -H 'Host: ipv6.example.com' "http://[$srv6]:8080/"

# Let the last FIN/ACKs reach the capture, then stop tcpdump cleanly.
sleep 0.5
kill -INT "$tcpdump_pid" 2>/dev/null || true
for ((i = 0; i < 50; i++)); do
  kill -0 "$tcpdump_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$tcpdump_pid" 2>/dev/null && die "tcpdump did not stop on SIGINT"
wait "$tcpdump_pid" || die "tcpdump failed"
packets=$(sed -n 's/^\([0-9][0-9]*\) packets captured$/\1/p' "$work/logs/tcpdump.log")
[[ ${packets:-0} -gt 0 ]] || die "tcpdump captured no packets"
grep -qx '0 packets dropped by kernel' "$work/logs/tcpdump.log" \
  || log "warning: tcpdump reports kernel drops"

mv -f -- "$work/capture.pcap" "$output"
log "wrote $output ($packets packets)"
