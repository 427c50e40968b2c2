#!/usr/bin/env bash
# netns test: zero-rating that a spoofed name cannot fool (docs/policy.md,
# "Verified names").
#
# The shipped kind of policy: application NetFlix -> route `zero` (uplink B,
# g2) and add the server to `zero_rated`, a set bound in the kernel to that
# route. Uplinks are routed (no NAT) and routing.keep_first_route = false,
# so a flow decided onto the route would switch to uplink B mid-way: every
# forged name that bought the route would show in g2's byte counter.
# The client resolves names through dnsmasq in the server namespace (its
# answers cross the gateway); the lab certificate names no Netflix host,
# and TLS 1.3 hides it anyway, so only DNS can verify a name here.
#   (a) TLS SNI www.netflix.com to SPOOF, an address nobody resolved and in
#       no Netflix range: the upload leaves by uplink A, SPOOF is not in the
#       set, the record says name_verified=false with the rule set aside;
#       a later plain (no TLS, no SNI) flow to SPOOF leaves by uplink A;
#   (c) HTTP Host www.netflix.com to SPOOF_HTTP: the same;
#   (d) a second client address (10.71.1.3) resolves api.netflix.com to
#       OTHER; the first client (10.71.1.2) sends that SNI to OTHER: not
#       verified for it, uplink A, not in the set;
#   (b) the first client resolves www.netflix.com (-> NETFLIX) through the
#       gateway, then uploads with that SNI: zero-rated from the SYN (uplink
#       B, first_packet, name_verified_by=dns), NETFLIX joins the set, and a
#       later plain flow to it takes uplink B in the kernel;
#   and the per-rule counters of unverified names (control socket, JSON).
# Kernel state is read as data: `nft -j` for the set, sysfs byte counters.
# Usage: name_verification_test.sh FLOWGATE_BINARY SOURCE_DIR [FLOWGATECTL]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root nft python3 dig dnsmasq jq curl openssl
bin=$1
bindir=$(dirname "$bin")
FG_CTL=$(fg_find_tool "${3:-}" "${FLOWGATECTL:-}" "$bindir/control/flowgatectl" "$bindir/flowgatectl" \
  "$(command -v flowgatectl || true)") || fg_die "flowgatectl not found"

NETFLIX=$FG_SERVICE4 SPOOF=10.71.100.4 SPOOF_HTTP=10.71.100.5 OTHER=10.71.100.6 DNS=10.71.100.53
CLIENT2=10.71.1.3
BYTES=$((2 * 1024 * 1024))

fg_lab_up
fg_cert
for a in $SPOOF $SPOOF_HTTP $OTHER $DNS; do ip -n "$FG_S" addr add "$a/32" dev lo; done
ip -n "$FG_C" addr add "$CLIENT2/24" dev c0  # a second client on the LAN (d)

# Sinks on every server address: TLS on 4433, plain TCP on 4434.
fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink 0.0.0.0 4433 --tls "$FG_WORK/cert.pem" "$FG_WORK/key.pem"
fg_bg "$FG_S" python3 "$FG_TRAFFIC" sink 0.0.0.0 4434
mkdir -p "$FG_WORK/www"
echo hello >"$FG_WORK/www/index.html"
fg_bg "$FG_S" python3 -m http.server --bind "$SPOOF_HTTP" --directory "$FG_WORK/www" 80
fg_bg "$FG_S" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$DNS" --port=53 \
  --address=/www.netflix.com/"$NETFLIX" --address=/api.netflix.com/"$OTHER" --pid-file="$FG_WORK/dnsmasq.pid"
fg_wait_listen "$FG_S" tcp 4433
fg_wait_listen "$FG_S" tcp 4434
fg_wait_listen "$FG_S" tcp 80
fg_wait_listen "$FG_S" udp 53

policy=$FG_WORK/zero-rate.toml
cat >"$policy" <<'TOML'
[policy]
default_action = "accept"
mark_mask = 0x0000ff00
mark_shift = 8

[route.zero]
table = 100
via = "10.71.3.2"      # uplink B (g2)
fwmark = 1

[set.zero_rated]
family = "ipv4"
address = "dst"
timeout = 3600
route = "zero"

# Routes and adds to a set: requires a verified name (the default).
[[rule]]
name = "zero-rate"
match = { application = "NetFlix", not_l7_protocol = "DNS" }
route = "zero"
add_to_set = "zero_rated"
TOML
check_out=$("$bin" policy check "$policy" 2>&1 || true)
fg_check "policy check says the rule requires a verified name" \
  grep -q "rule zero-rate: accept, requires a verified name" <<<"$check_out"
events=$FG_WORK/events.jsonl
FG_EXTRA_TABLES=$'[routing]\nkeep_first_route = false\n\n[output]\nevents_file = "'"$events"$'"\n' \
  fg_start_gateway "$bin" "$policy"

tx() { fg_tx_bytes "$FG_G" "$1"; }
resolve() {  # resolve NAME [SOURCE]: A record through the gateway
  fg_in "$FG_C" timeout 5 dig +short +time=2 +tries=1 ${2:+-b "$2"} @"$DNS" "$1" A | tail -1
}
upload() {  # upload ADDR PORT [--sni NAME]: prints the byte count the sink got
  fg_in "$FG_C" timeout 30 python3 "$FG_TRAFFIC" upload "$1" "$2" "$BYTES" "${@:3}" || true
}
# The set's elements (addresses), one per line, from nft's JSON; fails when
# the set cannot be read (an empty reading is no proof of absence).
set_elements() {
  local json
  json=$(fg_in "$FG_G" nft -j list set inet flowgate zero_rated) || return 1
  jq -r '[.nftables[] | .set? // empty] | if length == 1 then .[0] else error("no set zero_rated") end
         | (.elem // [])[] | if type == "object" then .elem.val else . end' <<<"$json"
}
in_set() {
  local elems
  elems=$(set_elements) || fg_die "cannot read set zero_rated"
  grep -qx "$1" <<<"$elems"
}
not_in_set() { ! in_set "$1"; }
# The first `flow` event to ADDR:PORT (waits up to 5 s); prints it as JSON.
flow_event() {
  local i ev
  for ((i = 0; i < 50; i++)); do
    ev=$(jq -c --arg a "$1" --argjson p "$2" \
      'select(.event == "flow" and .dst_ip == $a and .dst_port == $p)' "$events" 2>/dev/null | head -1)
    [[ -n $ev ]] && { echo "$ev"; return 0; }
    sleep 0.1
  done
  return 1
}
# upload_via UPLINK ADDR PORT [--sni NAME]: checks the upload completed and
# left the gateway by UPLINK (g1 or g2), not the other.
upload_via() {
  local want=$1 other a0 b0 got da db
  shift
  [[ $want == g1 ]] && other=g2 || other=g1
  a0=$(tx "$want") b0=$(tx "$other")
  got=$(upload "$@")
  da=$(( $(tx "$want") - a0 )) db=$(( $(tx "$other") - b0 ))
  fg_log "upload $*: sink got $got B; $want +$da B, $other +$db B"
  [[ $got == "$BYTES" && $da -ge $BYTES && $db -lt 65536 ]]
}

# --- (a) spoofed TLS SNI ------------------------------------------------------
fg_check "(a) a spoofed SNI www.netflix.com to $SPOOF leaves by uplink A" \
  upload_via g1 "$SPOOF" 4433 --sni www.netflix.com
ev=$(flow_event "$SPOOF" 4433 || true)
fg_check "(a) its record: NetFlix, name unverified, zero-rate set aside, no route ($ev)" \
  jq -e '.application == "NetFlix" and .hostname == "www.netflix.com" and .name_verified == false
         and .name_verified_by == "none" and .rule == null and .route == null
         and .unverified_rules == ["zero-rate"]' <<<"${ev:-null}"
fg_check "(a) $SPOOF is not in the set" not_in_set "$SPOOF"
fg_check "(a) a later plain flow to $SPOOF leaves by uplink A" upload_via g1 "$SPOOF" 4434

# --- (c) spoofed HTTP Host ----------------------------------------------------
code=$(fg_in "$FG_C" timeout 10 curl -s -o /dev/null -w '%{http_code}' \
  --resolve "www.netflix.com:80:$SPOOF_HTTP" http://www.netflix.com/ 2>/dev/null || true)
fg_check "(c) the HTTP request with Host www.netflix.com is served (HTTP $code)" test "$code" = "200"
ev=$(flow_event "$SPOOF_HTTP" 80 || true)
fg_check "(c) its record: NetFlix over HTTP, name unverified, no route ($ev)" \
  jq -e '.application == "NetFlix" and .l7_protocol == "HTTP" and .name_verified == false
         and .rule == null and .route == null and .unverified_rules == ["zero-rate"]' <<<"${ev:-null}"
fg_check "(c) $SPOOF_HTTP is not in the set" not_in_set "$SPOOF_HTTP"
fg_check "(c) a later plain flow to $SPOOF_HTTP leaves by uplink A" upload_via g1 "$SPOOF_HTTP" 4434

# --- (d) a name another client resolved -------------------------------------
addr=$(resolve api.netflix.com "$CLIENT2")
fg_check "(d) $CLIENT2 resolves api.netflix.com -> $OTHER (got '$addr')" test "$addr" = "$OTHER"
hint=$(timeout 5 "$FG_CTL" --socket "$FG_CONTROL_SOCKET" --json hint "$OTHER" || true)
fg_check "(d) the gateway holds that answer for $CLIENT2 only" \
  jq -e --arg c "$CLIENT2" '[.result.dns[].client] == [$c]' <<<"${hint:-null}"
fg_check "(d) $FG_CLIENT4 sending SNI api.netflix.com to $OTHER leaves by uplink A" \
  upload_via g1 "$OTHER" 4433 --sni api.netflix.com
ev=$(flow_event "$OTHER" 4433 || true)
fg_check "(d) its record: name unverified, no route ($ev)" \
  jq -e --arg c "$FG_CLIENT4" '.src_ip == $c and .name_verified == false and .rule == null and .route == null' <<<"${ev:-null}"
fg_check "(d) $OTHER is not in the set" not_in_set "$OTHER"

# --- (b) resolved through the gateway: zero-rated from the SYN ---------------
addr=$(resolve www.netflix.com)
fg_check "(b) dnsmasq answers www.netflix.com -> $NETFLIX (got '$addr')" test "$addr" = "$NETFLIX"
fg_check "(b) the upload with SNI www.netflix.com leaves by uplink B" \
  upload_via g2 "$NETFLIX" 4433 --sni www.netflix.com
ev=$(flow_event "$NETFLIX" 4433 || true)
fg_check "(b) its record: zero-rate, route zero, from the first packet, verified by DNS ($ev)" \
  jq -e '.rule == "zero-rate" and .route.name == "zero" and .first_packet == true
         and .name_verified == true and .name_verified_by == "dns" and (has("unverified_rules") | not)' <<<"${ev:-null}"
fg_check "(b) $NETFLIX is in the set" in_set "$NETFLIX"
fg_check "(b) a later plain flow to $NETFLIX takes uplink B in the kernel" upload_via g2 "$NETFLIX" 4434
elems=$(set_elements) || fg_die "cannot read set zero_rated"
fg_check "(b) the set holds the verified server only: $(paste -sd, <<<"$elems")" \
  test "$(paste -sd, <<<"$elems")" = "$NETFLIX"

# --- counters -----------------------------------------------------------------
pol=$(timeout 5 "$FG_CTL" --socket "$FG_CONTROL_SOCKET" --json policy || true)
fg_check "the control socket counts 3 unverified names for zero-rate (and the verified hits)" \
  jq -e '.result.rules[] | select(.name == "zero-rate") | .require_verified_name == true and .unverified == 3 and .hits >= 1' \
  <<<"${pol:-null}"
st=$(fg_status || true)
fg_check "status sums them" jq -e '.policy.unverified_names == 3' <<<"${st:-null}"
fg_check "the unverified matches were logged" fg_wait_log "unverified_name .*rule=zero-rate"

fg_stop_gateway
fg_finish
