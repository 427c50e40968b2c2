#!/bin/sh
# Checks the unit CMake generates from systemd/flowgate.service.in:
# `systemd-analyze verify` with its commands pointed at the built binaries,
# and the properties flowgate relies on (Type=notify with a watchdog, a
# reload that fails when the policy is refused, an unprivileged user with
# CAP_NET_ADMIN only, the directories it writes). Every check runs and
# reports; any failure fails the test. Exit 77 (skipped) without
# systemd-analyze (Debian package systemd; scripts/deps.sh test installs it).
# Usage: systemd_verify.sh UNIT_FILE FLOWGATE FLOWGATECTL INSTALL_BINDIR
set -u
unit="$1"; binary="$2"; ctl="$3"; bindir="$4"
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not found (install systemd): skipped"; exit 77; }
[ -r "$unit" ] || { echo "FAIL: cannot read $unit"; exit 1; }
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
sed -e "s#$bindir/flowgatectl#$ctl#g" -e "s#$bindir/flowgate #$binary #g" "$unit" > "$dir/flowgate.service" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# --man=no: the man pages of Documentation= are not installed in a build tree.
if out=$(systemd-analyze verify --man=no "$dir/flowgate.service" 2>&1); then
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
  */flowgatectl*' reload') ;;
  *) fail "ExecReload=$r, expected flowgatectl ... reload (a refused policy must fail the reload)" ;;
esac
w=$(value WatchdogSec)
case "$w" in
  '' | 0 | 0s | infinity) fail "WatchdogSec=$w, expected an interval (flowgate pings while its workers make progress)" ;;
esac
n=$(value NotifyAccess)
[ "$n" = main ] || [ "$n" = all ] || fail "NotifyAccess=$n, expected main (WATCHDOG=1 comes from the main process)"
u=$(value User)
[ -n "$u" ] && [ "$u" != root ] || fail "User=$u, expected an unprivileged user"
for d in RuntimeDirectory StateDirectory LogsDirectory; do
  [ "$(value $d)" = flowgate ] || fail "$d=$(value $d), expected flowgate"
done
[ "$(value NoNewPrivileges)" = yes ] || fail "NoNewPrivileges=$(value NoNewPrivileges), expected yes"
c=$(value CapabilityBoundingSet)
[ "$c" = CAP_NET_ADMIN ] || fail "CapabilityBoundingSet=$c, expected CAP_NET_ADMIN only"
a=$(value AmbientCapabilities)
[ "$a" = CAP_NET_ADMIN ] || fail "AmbientCapabilities=$a, expected CAP_NET_ADMIN"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "systemd unit verified"
