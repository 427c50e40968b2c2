#!/usr/bin/env bash
# The flowgate demo (as root, from anywhere; safe to run again):
#   1. install missing Debian packages   (scripts/deps.sh)
#   2. build                              (scripts/build.sh)
#   3. run the inline namespace lab       (scripts/lab/inline-demo.sh):
#      client -- gateway running `flowgate run` -- server over two uplinks,
#      real traffic (dig, curl, openssl, a BitTorrent handshake, IPv6),
#      what flowgate decided for each flow, and the proof in the kernel
#      (a blocked handshake, a zero-rated flow on the second uplink, marks in
#      conntrack, the nft set, the policy routes). Everything is removed at
#      the end, also on Ctrl-C.
# With --mqtt the lab also runs an MQTT broker (Debian's mosquitto) and
# flowgate publishes every event to it (docs/mqtt.md).
# The offline engine on a recorded capture: scripts/classify-demo.sh.
set -euo pipefail
demo_args=()
for a in "$@"; do
  case "$a" in
    --mqtt) demo_args+=(--mqtt) ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) printf 'demo.sh: unknown option %s (expected --mqtt)\n' "$a" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

die() { printf '\ndemo.sh: error: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "the demo needs root (network namespaces, nftables): sudo $0"

printf '\n==> Dependencies\n'
scripts/deps.sh || die "installing dependencies failed (see above)"
printf '\n==> Build\n'
scripts/build.sh || die "the build failed (see above)"
[[ -x build/gateway/flowgate ]] || die "build/gateway/flowgate was not built"

scripts/lab/inline-demo.sh "$PWD/build/gateway/flowgate" "${demo_args[@]}"
