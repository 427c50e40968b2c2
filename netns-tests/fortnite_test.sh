#!/usr/bin/env bash
# netns test: Fortnite, end to end, by name from the first packet.
#
# The operator wants "Fortnite through with low latency" and writes it by
# name: the shipped policies/40-qos-gaming.toml gives application "Fortnite"
# (flowgate's own application catalog, apps/games.toml; nDPI 4.2 has no such
# application) the class realtime (mark_mask 0xff00, shift 8: class bits 0x100).
#   - the client resolves an Epic Games service name through the gateway
#     (dnsmasq in the server namespace answers; the answer crosses flowgate,
#     which learns the name for that client and server);
#   - then it talks TLS (HTTPS) and UDP (game datagrams) to that server;
#   - both flows leave their first packet with the realtime class from the
#     DNS hint (first_packet=1 early=dns), named Fortnite by the catalog;
#     the TLS flow is decided there, the UDP flow (unknown to DPI) once its
#     packet budget is spent, keeping the name it resolved; both end with
#     the realtime class in their conntrack mark (0x80000100);
#   - an HTTPS flow to a server the client did not resolve through the
#     gateway (no name) does not get the realtime class;
#   - SIGHUP with a broken operator catalog file fails the reload (located
#     error) and keeps the running catalog; once fixed, its operator entry
#     (same name pattern, another application) names the next flow.
# Usage: fortnite_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft conntrack python3 dig dnsmasq
bin=$1
src=$2
GAME=$FG_SERVICE4 OTHER=10.71.100.7 DNS=10.71.100.53
NAME=fortnite-public-service-prod11.ol.epicgames.com

fg_lab_up
fg_cert
for a in $OTHER $DNS; do ip -n "$FG_S" addr add "$a/32" dev lo; done
for a in $GAME $OTHER; do
  fg_bg "$FG_S" bash -c "cd '$FG_WORK' && exec openssl s_server -accept '$a:443' -cert cert.pem -key key.pem -WWW -quiet >/dev/null 2>&1"
done
echo hello >"$FG_WORK/index.html"
# A UDP game server: echoes every datagram.
fg_bg "$FG_S" python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$GAME', 7777))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
"
fg_bg "$FG_S" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$DNS" --port=53 \
  --address=/"$NAME"/"$GAME" --pid-file="$FG_WORK/dnsmasq.pid"
fg_wait_listen "$FG_S" tcp 443
fg_wait_listen "$FG_S" udp 7777
fg_wait_listen "$FG_S" udp 53

policy=$src/policies/40-qos-gaming.toml
fg_check "the shipped policy names Fortnite and is valid with the catalog" \
  bash -c "'$bin' apps check --apps '$src/apps' --apps-local '$FG_WORK/none' >/dev/null && '$bin' policy check '$policy' >/dev/null"
lookup=$("$bin" apps lookup "$NAME" --apps "$src/apps" --apps-local "$FG_WORK/none" || true)
fg_check "flowgate apps lookup names it Fortnite ($lookup)" grep -q "^$NAME: Fortnite " <<<"$lookup"
FG_EXTRA_TABLES=$'[apps]\nshipped = "'"$src"$'/apps"\nlocal = "'"$FG_WORK"$'/apps.d"' fg_start_gateway "$bin" "$policy"

addr=$(fg_in "$FG_C" timeout 5 dig +short +time=2 +tries=1 @"$DNS" "$NAME" A | tail -1)
fg_check "dnsmasq answers $NAME -> $GAME (got '$addr')" test "$addr" = "$GAME"

body=$(fg_in "$FG_C" timeout 10 curl -sk --resolve "$NAME:443:$GAME" "https://$NAME/index.html" || true)
fg_check "the TLS request to the game service completes ($body)" test "$body" = "hello"
echo_out=$(fg_in "$FG_C" timeout 10 python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 41777))
s.settimeout(3)
n = 0
for i in range(40):
    s.sendto(b'fortnite-move-%d' % i, ('$GAME', 7777))
    try:
        s.recvfrom(2048); n += 1
    except OSError:
        pass
print(n)
" || true)
fg_check "the UDP game datagrams are echoed ($echo_out of 40)" test "${echo_out:-0}" -ge 36
other=$(fg_in "$FG_C" timeout 10 curl -sk "https://$OTHER/index.html" || true)
fg_check "an unnamed TLS flow completes too ($other)" test "$other" = "hello"

mark=$((0x80000100))
fg_check "the TLS flow: Fortnite, rule fortnite, class realtime, at its first packet from DNS" \
  fg_wait_log "flow_decided .*dst=10\.71\.100\.1:443 .*app=Fortnite .*rule=fortnite mark=$mark .*first_packet=1 early=dns"
fg_check "the UDP flow: Fortnite, rule fortnite, class realtime, at its first packet from DNS" \
  fg_wait_log "flow_decided .*dst=10\.71\.100\.1:7777 .*app=Fortnite .*rule=fortnite mark=$mark .*first_packet=1 early=dns"
# conntrack as data (fg_conntrack: "proto src sport dst dport mark ..."): the
# distinct marks of the entries that match.
ct_mark() { fg_conntrack "$FG_G" "$@" | awk '{print $6}' | sort -u | paste -sd,; }
tls_mark=$(ct_mark -p tcp -d "$GAME" --dport 443) udp_mark=$(ct_mark -p udp -d "$GAME" --dport 7777)
other_mark=$(ct_mark -p tcp -d "$OTHER" --dport 443)
fg_check "conntrack: the TLS flow carries the realtime class ($tls_mark)" test "$tls_mark" = "$mark"
fg_check "conntrack: the UDP flow carries the realtime class ($udp_mark)" test "$udp_mark" = "$mark"
fg_check "conntrack: the unnamed flow is not realtime ($other_mark)" \
  bash -c "[[ -n '$other_mark' ]] && (( ($other_mark & 0xf00) != 0x100 ))"

# --- the catalog reloads with the policy (SIGHUP), all or nothing ------------
mkdir -p "$FG_WORK/apps.d"
printf '[[app]]\ncategory = "Game"\n' >"$FG_WORK/apps.d/broken.toml"
kill -HUP "$FG_GATEWAY_PID"
fg_check "a broken operator catalog fails the reload, located" fg_wait_log "policy_error .*broken\.toml:1:1: name: missing"
fg_check "... and the running catalog and policy stay" fg_wait_log "reload_failed"
tls_fortnite='flow_decided .*dst=10\.71\.100\.1:443 .*app=Fortnite .*rule=fortnite .*first_packet=1 early=dns'
n0=$(grep -c "$tls_fortnite" "$FG_WORK/flowgate.log" || true)
body=$(fg_in "$FG_C" timeout 10 curl -sk --resolve "$NAME:443:$GAME" "https://$NAME/index.html" || true)
more_fortnite() {
  local i
  for ((i = 0; i < 50; i++)); do
    (( $(grep -c "$tls_fortnite" "$FG_WORK/flowgate.log" || true) > n0 )) && return 0
    sleep 0.1
  done
  return 1
}
fg_check "after the failed reload the next flow is still Fortnite (realtime)" more_fortnite
n_before=$(grep -c "app=Fortnite" "$FG_WORK/flowgate.log" || true)
cat >"$FG_WORK/apps.d/broken.toml" <<'TOML'
[[app]]
name = "LabGame"
category = "Game"
hosts = ["fortnite-public-service-prod11.ol.epicgames.com"]   # an operator entry beats the shipped pattern
TOML
kill -HUP "$FG_GATEWAY_PID"
fg_check "the fixed catalog reloads" fg_wait_log "policy_reloaded"
body=$(fg_in "$FG_C" timeout 10 curl -sk --resolve "$NAME:443:$GAME" "https://$NAME/index.html" || true)
fg_check "the operator's entry names the next flow (LabGame, not the realtime rule)" \
  fg_wait_log "flow_decided .*dst=10\.71\.100\.1:443 .*app=LabGame "
fg_check "no further Fortnite flow" test "$(grep -c "app=Fortnite" "$FG_WORK/flowgate.log" || true)" = "$n_before"

fg_stop_gateway
fg_finish
