#!/usr/bin/env bash
# Install flowgate's build, test and demo dependencies on Debian 12.
# Idempotent: apt is only touched when something is missing.
#
# Usage: scripts/deps.sh [all|build|test|demo|package|fuzz]...   (default: all; fuzz is not in all)
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config g++ ccache
  libndpi-dev libpcap-dev nlohmann-json3-dev libtomlplusplus-dev
  libmnl-dev libnftnl-dev libnetfilter-queue-dev libboost-dev libmosquitto-dev libssl-dev libcli11-dev
)
# Every tool a test uses (tests/, netns-tests/): a missing one makes a test
# skip, and a skip fails a CI run. systemd provides systemd-analyze
# (systemd_unit_verify); iptables is here because routers have it: with its
# libxtables extensions nft prints flowgate's queue rule differently, and the
# tests must give the same answers either way.
test_pkgs=(
  libgtest-dev libgmock-dev python3 python3-jsonschema
  iproute2 nftables conntrack curl openssl dnsutils dnsmasq-base procps jq util-linux tcpdump coreutils
  mosquitto mosquitto-clients systemd iptables
)
package_pkgs=(
  debhelper dpkg-dev pandoc adduser
)
fuzz_pkgs=(
  clang libclang-rt-14-dev llvm
)
demo_pkgs=(
  python3 iproute2 nftables conntrack tcpdump curl openssl dnsutils
  dnsmasq-base procps jq util-linux mosquitto mosquitto-clients
)

die() { printf 'deps.sh: %s\n' "$*" >&2; exit 1; }

groups=("$@")
[[ ${#groups[@]} -gt 0 ]] || groups=(all)

wanted=()
for g in "${groups[@]}"; do
  case "$g" in
    build) wanted+=("${build_pkgs[@]}") ;;
    test)  wanted+=("${test_pkgs[@]}") ;;
    fuzz)  wanted+=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
    package) wanted+=("${build_pkgs[@]}" "${package_pkgs[@]}") ;;
    demo)  wanted+=("${demo_pkgs[@]}") ;;
    all)   wanted+=("${build_pkgs[@]}" "${test_pkgs[@]}" "${demo_pkgs[@]}" "${package_pkgs[@]}") ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) die "unknown group '$g' (expected all, build, test, demo, package or fuzz)" ;;
  esac
done

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian 12 only"

missing=()
declare -A seen=()
for p in "${wanted[@]}"; do
  [[ -z ${seen[$p]:-} ]] || continue
  seen[$p]=1
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps.sh: all ${#seen[@]} packages already installed"
  exit 0
fi

echo "deps.sh: missing packages: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  die "must run as root to install them (try: sudo $0 ${groups[*]})"
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "deps.sh: installed ${#missing[@]} package(s)"
