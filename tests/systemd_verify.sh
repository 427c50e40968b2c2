#!/bin/sh
# Checks systemd/flowgate.service: `systemd-analyze verify` with its ExecStart
# pointed at the built binary, and the properties flowgate relies on
# (Type=notify, ExecReload sends SIGHUP, CAP_NET_ADMIN only). Every check
# runs and reports; any failure fails the test. Exit 77 (skipped) without
# systemd-analyze (Debian package systemd; scripts/deps.sh test installs it).
# Usage: systemd_verify.sh UNIT_FILE FLOWGATE_BINARY
set -u
unit="$1"; binary="$2"
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not found (install systemd): skipped"; exit 77; }
[ -r "$unit" ] || { echo "FAIL: cannot read $unit"; exit 1; }
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/local/bin/flowgate#$binary#g" "$unit" > "$dir/flowgate.service" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

if out=$(systemd-analyze verify "$dir/flowgate.service" 2>&1); then
  # verify exits 0 on some warnings; treat any message about our unit as failure.
  if printf '%s\n' "$out" | grep -q "flowgate.service"; then
    printf '%s\n' "$out"; fail "systemd-analyze verify reports on the unit"
  fi
else
  printf '%s\n' "$out"; fail "systemd-analyze verify exits non-zero"
fi

# The value of KEY in [Service] (last assignment wins, as in systemd).
value() {
  sed -n '/^\[Service\]/,/^\[/p' "$unit" | sed -n "s/^$1=//p" | tail -n 1
}
t=$(value Type)
[ "$t" = notify ] || fail "Type=$t, expected notify (flowgate reports readiness with sd_notify)"
r=$(value ExecReload)
case "$r" in
  *kill*-HUP*'$MAINPID'*) ;;
  *) fail "ExecReload=$r, expected a SIGHUP to \$MAINPID (flowgate reloads on SIGHUP)" ;;
esac
c=$(value CapabilityBoundingSet)
[ "$c" = CAP_NET_ADMIN ] || fail "CapabilityBoundingSet=$c, expected CAP_NET_ADMIN only"
a=$(value AmbientCapabilities)
[ "$a" = CAP_NET_ADMIN ] || fail "AmbientCapabilities=$a, expected CAP_NET_ADMIN"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "systemd unit verified"
