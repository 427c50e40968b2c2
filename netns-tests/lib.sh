# netns-tests/lib.sh: a private router lab for flowgate's end-to-end tests.
# Source it from a test script (bash), then call fg_lab_up.
#
#   client ns   c0 10.71.1.2/24  fd71:1::2/64        default via the gateway
#      |
#   gateway ns  g0 10.71.1.1/24  fd71:1::1/64        (LAN, where flowgate inspects)
#               g1 10.71.2.1/24  fd71:2::1/64        uplink A (default route)
#               g2 10.71.3.1/24  fd71:3::1/64        uplink B (e.g. zero-rated)
#      |  |
#   server ns   s1 10.71.2.2/24  fd71:2::2/64        s2 10.71.3.2/24 fd71:3::2/64
#               lo 10.71.100.1/32 fd71:100::1/128    service address (reachable over both uplinks)
#               replies to the client subnet go back over uplink A
#
# Namespace names carry the test's PID, so tests can run in parallel; the
# addresses live inside the namespaces and never clash. Every process the
# test starts and every namespace is removed on exit, failure or signal.
# Traffic only ever flows between these namespaces.

set -euo pipefail

FG_TAG=${FG_TAG:-$$}
# flowgate logs "LEVEL event ..." without a timestamp prefix here: the tests
# match lines from their start (common/log.h, FLOWGATE_LOG_STYLE).
export FLOWGATE_LOG_STYLE=plain
FG_C="fgt-$FG_TAG-c"
FG_G="fgt-$FG_TAG-g"
FG_S="fgt-$FG_TAG-s"
FG_CLIENT4=10.71.1.2 FG_GW4=10.71.1.1 FG_UPA4=10.71.2.1 FG_UPB4=10.71.3.1
FG_SRVA4=10.71.2.2 FG_SRVB4=10.71.3.2 FG_SERVICE4=10.71.100.1
FG_CLIENT6=fd71:1::2 FG_GW6=fd71:1::1 FG_UPA6=fd71:2::1 FG_UPB6=fd71:3::1
FG_SRVA6=fd71:2::2 FG_SRVB6=fd71:3::2 FG_SERVICE6=fd71:100::1
FG_WORK=""
FG_PIDS=()
FG_GATEWAY_PID=""
FG_FAILS=0
FG_CHECKS=0

fg_log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
fg_die() { fg_log "FAIL: $*"; exit 1; }

# Exit 77 (ctest: skipped) when this machine cannot run namespace tests.
fg_require_root() {
  [[ $(id -u) -eq 0 ]] || { echo "not root: skipped"; exit 77; }
  ip netns list >/dev/null 2>&1 || { echo "no network namespace support: skipped"; exit 77; }
  local t
  for t in python3 jq "$@"; do  # python3, jq: the kernel-state readers
    command -v "$t" >/dev/null 2>&1 || { echo "missing tool $t: skipped"; exit 77; }
  done
}

fg_cleanup() {
  local rc=$?
  set +e
  trap '' INT TERM
  local pid ns
  for pid in "${FG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  sleep 0.2
  for pid in "${FG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  # flowgate's single-instance lock files live next to its control socket
  # (in FG_WORK for the lab's configuration; /run/flowgate for a test that
  # uses the packaged paths), named after the table and the namespace inode.
  local ino
  ino=$(stat -L -c %i "/run/netns/$FG_G" 2>/dev/null) && rm -f /run/flowgate/*-"$ino".lock
  for ns in "$FG_C" "$FG_G" "$FG_S"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    [[ -e /run/netns/$ns ]] && ip netns del "$ns" 2>/dev/null
  done
  if [[ -n $FG_WORK && -d $FG_WORK ]]; then
    if [[ $rc -ne 0 && -f $FG_WORK/flowgate.log ]]; then
      fg_log "flowgate log (last 40 lines):"
      tail -n 40 "$FG_WORK/flowgate.log" >&2
    fi
    rm -rf "$FG_WORK"
  fi
  return $rc
}

fg_in() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Runs a command in a namespace in the background; it is killed at exit.
# Sets FG_LAST_PID.
fg_bg() {
  local ns=$1; shift
  ip netns exec "$ns" "$@" &
  FG_LAST_PID=$!
  FG_PIDS+=("$FG_LAST_PID")
}

fg_lab_up() {
  trap fg_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  FG_WORK=$(mktemp -d /tmp/flowgate-netns.XXXXXX)
  local ns
  for ns in "$FG_C" "$FG_G" "$FG_S"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  ip -n "$FG_C" link add c0 type veth peer name g0 netns "$FG_G"
  ip -n "$FG_G" link add g1 type veth peer name s1 netns "$FG_S"
  ip -n "$FG_G" link add g2 type veth peer name s2 netns "$FG_S"
  local spec dev ns4 addr4 addr6
  for spec in "$FG_C c0 $FG_CLIENT4 $FG_CLIENT6" "$FG_G g0 $FG_GW4 $FG_GW6" \
              "$FG_G g1 $FG_UPA4 $FG_UPA6" "$FG_G g2 $FG_UPB4 $FG_UPB6" \
              "$FG_S s1 $FG_SRVA4 $FG_SRVA6" "$FG_S s2 $FG_SRVB4 $FG_SRVB6"; do
    read -r ns4 dev addr4 addr6 <<<"$spec"
    ip -n "$ns4" addr add "$addr4/24" dev "$dev"
    ip -n "$ns4" addr add "$addr6/64" dev "$dev" nodad
    ip -n "$ns4" link set "$dev" up
  done
  ip -n "$FG_S" addr add "$FG_SERVICE4/32" dev lo
  ip -n "$FG_S" addr add "$FG_SERVICE6/128" dev lo
  ip -n "$FG_C" route add default via "$FG_GW4"
  ip -n "$FG_C" -6 route add default via "$FG_GW6"
  ip -n "$FG_G" route add default via "$FG_SRVA4"
  ip -n "$FG_G" -6 route add default via "$FG_SRVA6"
  ip -n "$FG_S" route add 10.71.1.0/24 via "$FG_UPA4"
  ip -n "$FG_S" -6 route add fd71:1::/64 via "$FG_UPA6"
  fg_in "$FG_G" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  for ns in "$FG_G" "$FG_S"; do
    fg_in "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
  local d
  for d in g0 g1 g2; do fg_in "$FG_G" sysctl -qw "net.ipv4.conf.$d.rp_filter=0"; done
  for d in s1 s2; do fg_in "$FG_S" sysctl -qw "net.ipv4.conf.$d.rp_filter=0"; done

}

# fg_wait_ipv6: waits (5 s at most) until no address in the lab is still
# tentative. The link-local addresses of the veths go through duplicate
# address detection (~1-2 s); until then neighbour discovery cannot use them
# and the first IPv6 connection loses its SYN (a 1-2 s retransmission).
fg_wait_ipv6() {
  local i ns busy
  for ((i = 0; i < 50; i++)); do
    busy=""
    for ns in "$FG_C" "$FG_G" "$FG_S"; do
      [[ -n $(ip -n "$ns" -6 addr show tentative) ]] && busy=$ns
    done
    [[ -z $busy ]] && return 0
    sleep 0.1
  done
  fg_die "IPv6 addresses in $busy are still tentative after 5 s"
}

# fg_wait_listen NS PROTO(tcp|udp) PORT: waits (5 s at most) for a listener.
fg_wait_listen() {
  local ns=$1 proto=$2 port=$3 i
  for ((i = 0; i < 50; i++)); do
    if fg_in "$ns" ss -lnH "--$proto" "sport = :$port" | grep -q .; then return 0; fi
    sleep 0.1
  done
  fg_die "nothing listens on $proto/$port in $ns"
}

# A self-signed certificate for TLS servers: $FG_WORK/cert.pem, key.pem.
fg_cert() {
  [[ -f $FG_WORK/cert.pem ]] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$FG_WORK/key.pem" -out "$FG_WORK/cert.pem" \
    -days 2 -subj "/CN=flowgate-test" >/dev/null 2>&1 || fg_die "openssl could not make a certificate"
}

# fg_start_gateway FLOWGATE POLICY_PATH [EXTRA_TOML]: writes a config
# (log_level debug, queue 0, the policy, a control socket of its own at
# $FG_CONTROL_SOCKET; FG_LOG_LEVEL overrides the debug log level;
# FG_EXTRA_TABLES may add whole tables such as
# [accounting]) and starts `flowgate run` in the
# gateway namespace; waits for its "started" line. EXTRA_TOML is appended
# to the [gateway] table (e.g. "workers = 2").
fg_start_gateway() {
  local bin=$1 policy=$2 extra=${3:-}
  cat >"$FG_WORK/flowgate.toml" <<TOML
[gateway]
log_level = "${FG_LOG_LEVEL:-debug}"
interfaces = ["g0"]
$extra

[policy]
path = ["$policy"]

[control]
socket = "$FG_WORK/control.sock"
${FG_EXTRA_TABLES:-}
TOML
  FG_CONTROL_SOCKET="$FG_WORK/control.sock"
  : >"$FG_WORK/flowgate.log"
  ip netns exec "$FG_G" "$bin" run --config "$FG_WORK/flowgate.toml" >>"$FG_WORK/flowgate.log" 2>&1 &
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

# Stops flowgate with SIGTERM; fails unless it exits 0 within 10 s.
fg_stop_gateway() {
  [[ -n $FG_GATEWAY_PID ]] || return 0
  kill -TERM "$FG_GATEWAY_PID"
  local i rc=0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$FG_GATEWAY_PID" 2>/dev/null || break
    sleep 0.1
  done
  wait "$FG_GATEWAY_PID" || rc=$?
  FG_GATEWAY_PID=""
  [[ $rc -eq 0 ]] || fg_die "flowgate exited with $rc on SIGTERM"
}

# Kernel state is read as data (netns-tests/fg_kstate.py over `nft -j` JSON
# and `conntrack -o xml`), never scraped from the listings, whose text changes
# with the tools installed (iptables' libxtables prints the queue rule as
# `queue num 0 bypass`). A reader that finds nothing fails the test.
FG_KSTATE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fg_kstate.py"

# fg_nft_counter CHAIN KIND: "packets bytes" summed over the rules of CHAIN in
# the gateway's flowgate table whose verdict is KIND (queue, drop, accept,
# reject-tcp, reject-other). Fails (fg_die) when there is no such rule.
fg_nft_counter() {
  local json out
  json=$(fg_in "$FG_G" nft -j list table inet flowgate) || fg_die "nft -j list table inet flowgate failed"
  out=$(python3 "$FG_KSTATE" counter --chain "$1" --kind "$2" <<<"$json") || fg_die "no $2 counter in chain $1"
  echo "$out"
}

# Packets queued to userspace so far: the counters of every queue rule of
# chain pre (the queue rule and the DNS observation rule, docs/kernel.md
# rule 1b). Fails (fg_die) when the table has no counted queue rule.
fg_queued_packets() {
  local json out
  json=$(fg_in "$FG_G" nft -j list chain inet flowgate pre) || fg_die "nft -j list chain inet flowgate pre failed"
  out=$(python3 "$FG_KSTATE" queued <<<"$json") || fg_die "no counted queue rule in chain pre"
  echo "${out%% *}"
}

# fg_set_elements NS TABLE SET: the set's elements, one per line.
fg_set_elements() {
  local json
  json=$(fg_in "$1" nft -j list set inet "$2" "$3") || fg_die "nft -j list set inet $2 $3 failed"
  python3 "$FG_KSTATE" elements --set "$3" <<<"$json" || fg_die "could not read set $2 $3"
}

# fg_chain_counter NS TABLE CHAIN: "packets bytes" of every counter in a chain
# of a test's own table (e.g. a server-side watch or drop rule).
fg_chain_counter() {
  local json
  json=$(fg_in "$1" nft -j list chain inet "$2" "$3") || fg_die "nft -j list chain inet $2 $3 failed"
  python3 "$FG_KSTATE" counter --chain "$3" <<<"$json" || fg_die "no counter in chain $2 $3"
}

# fg_conntrack NS [conntrack filter args]: one line per entry,
# "proto src sport dst dport mark reply_src reply_dst" (original direction,
# mark in decimal, then the reply direction's addresses, which show NAT);
# nothing when no entry matches.
fg_conntrack() {
  local ns=$1 xml; shift
  xml=$(fg_in "$ns" conntrack -L -o xml "$@" 2>/dev/null) || fg_die "conntrack -L -o xml $* failed"
  python3 "$FG_KSTATE" conntrack --allow-empty <<<"$xml" || fg_die "could not read conntrack -o xml"
}

# TX packet/byte counters of an interface in a namespace: "packets bytes".
fg_tx() {
  fg_in "$1" cat "/sys/class/net/$2/statistics/tx_packets" "/sys/class/net/$2/statistics/tx_bytes" | paste -sd' '
}

# Bytes sent so far by an interface in a namespace.
fg_tx_bytes() { fg_in "$1" cat "/sys/class/net/$2/statistics/tx_bytes"; }

# The tests' Python traffic endpoints (netns-tests/fg_traffic.py).
FG_TRAFFIC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fg_traffic.py"

# fg_wait_log REGEX [SECONDS]: waits (5 s default) until flowgate's log has a
# line matching the extended regex; returns 1 on timeout.
fg_wait_log() {
  local regex=$1 secs=${2:-5} i
  for ((i = 0; i < secs * 10; i++)); do
    grep -Eq -- "$regex" "$FG_WORK/flowgate.log" && return 0
    sleep 0.1
  done
  return 1
}

# fg_get NAME: HTTPS GET of https://NAME/ from the client, NAME resolved to
# the service address; prints "http_code curl_exit elapsed_ms" (000 when no
# HTTP answer). Elapsed time is for the log only: tests assert no timings.
fg_get() {
  local t0 code rc=0
  t0=$(date +%s%N)
  code=$(fg_in "$FG_C" timeout 10 curl -sk --resolve "$1:443:$FG_SERVICE4" -o /dev/null -w '%{http_code}' \
    "https://$1/" 2>/dev/null) || rc=$?
  echo "${code:-000} $rc $(fg_ms_since "$t0")"
}

# fg_reset HTTP_CODE CURL_EXIT: true when the connection was reset during the
# handshake or the request (curl 35 or 56), i.e. refused at once rather than
# left to time out (124, 28) or answered.
fg_reset() { [[ $1 == 000 && ( $2 == 35 || $2 == 56 ) ]]; }

# fg_nft_tables NS: "family name" of every nft table in a namespace.
fg_nft_tables() {
  fg_in "$1" nft -j list tables | jq -r '.nftables[] | .table? // empty | "\(.family) \(.name)"'
}

# fg_absent REGEX FILE: FILE exists and no line matches REGEX (grep's "no
# match", exit 1; a missing or unreadable file, exit 2, is not "absent").
fg_absent() {
  local rc=0
  grep -Eq -- "$1" "$2" || rc=$?
  [[ $rc -eq 1 ]]
}

# fg_no_table NS NAME: true when the namespace has no table inet NAME (and
# nft could list the tables: an nft failure is not "gone").
fg_no_table() {
  local t
  t=$(fg_nft_tables "$1") || return 1
  ! grep -qx "inet $2" <<<"$t"
}

# fg_ms_since START_NS: milliseconds since a `date +%s%N` value.
fg_ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# First executable among the arguments (empty ones skipped); fails when none.
fg_find_tool() {
  local c
  for c in "$@"; do [[ -n $c && -x $c ]] && { echo "$c"; return 0; }; done
  return 1
}

# `flowgatectl status --json` of the running gateway: prints the result object.
# Needs FG_CTL (the flowgatectl binary).
fg_status() {
  local out
  out=$(timeout 5 "$FG_CTL" --socket "$FG_CONTROL_SOCKET" status --json) || return 1
  jq -e '.result' <<<"$out"
}

fg_check() {
  local what=$1; shift
  FG_CHECKS=$((FG_CHECKS + 1))
  if "$@"; then
    fg_log "ok: $what"
  else
    FG_FAILS=$((FG_FAILS + 1))
    fg_log "FAIL: $what"
  fi
}

# Ends the test: 0 when every check passed.
fg_finish() {
  if [[ $FG_FAILS -gt 0 ]]; then
    fg_log "$FG_FAILS of $FG_CHECKS checks failed"
    exit 1
  fi
  fg_log "all $FG_CHECKS checks passed"
  exit 0
}
