#!/bin/sh
# Checks systemd/flowgate.service with `systemd-analyze verify`, pointing its
# ExecStart at the built binary. Exit 77 (skipped) without systemd-analyze.
set -eu
unit="$1"; binary="$2"
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not found: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/local/bin/flowgate#$binary#g" "$unit" > "$dir/flowgate.service"
out=$(systemd-analyze verify "$dir/flowgate.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings; treat any message about our unit as failure.
if printf '%s\n' "$out" | grep -q "flowgate.service"; then echo "$out"; exit 1; fi
grep -q '^Type=notify' "$unit" && grep -q '^ExecReload=.*-HUP' "$unit" && grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN$' "$unit"
echo "systemd unit verified"
