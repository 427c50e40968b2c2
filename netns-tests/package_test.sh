#!/usr/bin/env bash
# The Debian package, installed and started the way its systemd unit starts
# it: installs the .deb, checks what it put on the machine (binaries, unit,
# man pages, completion, logrotate, the flowgate user, the shipped
# configuration and policy validate), then runs the installed
# /usr/bin/flowgate in the lab's gateway namespace as user flowgate with
# CAP_NET_ADMIN as its only capability (bounding, inheritable and ambient
# sets, no_new_privs: what User=, CapabilityBoundingSet= and
# AmbientCapabilities= give it) on the installed default policy, and checks
# that it enforces: a weak-cipher TLS handshake is cut, a strong one passes.
# The package is purged again at the end unless it was installed before.
#
# Usage: package_test.sh DEB_FILE_OR_DIR SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl nft setpriv dpkg apt-get
deb=$1
[[ -d $deb ]] && deb=$(ls "$deb"/flowgate_*.deb 2>/dev/null | head -1)
deb=$(readlink -f "${deb:-/nonexistent}")
[[ -f $deb ]] || fg_die "no package at $1 (build it with scripts/package.sh)"

preinstalled=0
dpkg-query -W -f='${db:Status-Status}' flowgate 2>/dev/null | grep -qx installed && preinstalled=1
purge_package() {
  [[ $preinstalled == 1 ]] || DEBIAN_FRONTEND=noninteractive dpkg --purge flowgate >/dev/null 2>&1 || true
}
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >"${TMPDIR:-/tmp}/flowgate-package-install.log" 2>&1 ||
  { cat "${TMPDIR:-/tmp}/flowgate-package-install.log" >&2; fg_die "the package did not install"; }

version=$(dpkg-deb -f "$deb" Version)
fg_check "flowgate --version names the package version ($version)" \
  bash -c "/usr/bin/flowgate --version | grep -qx 'flowgate ${version%%-*}'"
fg_check "flowgatectl --version" bash -c "/usr/bin/flowgatectl --version | grep -qx 'flowgatectl ${version%%-*}'"
for f in /lib/systemd/system/flowgate.service /etc/flowgate/flowgate.toml /etc/flowgate/policies/10-block-weak-tls.toml \
         /usr/share/man/man8/flowgate.8.gz /usr/share/man/man8/flowgatectl.8.gz /usr/share/man/man5/flowgate.toml.5.gz \
         /usr/share/man/man5/flowgate-policy.5.gz /usr/share/bash-completion/completions/flowgate \
         /usr/share/bash-completion/completions/flowgatectl /etc/logrotate.d/flowgate /usr/share/flowgate/policies \
         /usr/share/flowgate/apps /etc/flowgate/apps.d; do
  fg_check "installed: $f" test -e "$f"
done
fg_check "the unit starts /usr/bin/flowgate as user flowgate" \
  bash -c "grep -qx 'ExecStart=/usr/bin/flowgate run --config /etc/flowgate/flowgate.toml' /lib/systemd/system/flowgate.service &&
           grep -qx 'User=flowgate' /lib/systemd/system/flowgate.service"
fg_check "system user and group flowgate exist" bash -c "getent passwd flowgate >/dev/null && getent group flowgate >/dev/null"
fg_check "the flowgate user has no login shell" bash -c "getent passwd flowgate | grep -q ':/usr/sbin/nologin$'"
if command -v systemd-analyze >/dev/null 2>&1; then
  man_check=--man=yes; command -v man >/dev/null 2>&1 || man_check=--man=no   # man pages checked above as files
  out=$(systemd-analyze verify "$man_check" /lib/systemd/system/flowgate.service 2>&1) && ok=1 || ok=0
  fg_check "systemd-analyze verify accepts the installed unit ($out)" \
    bash -c "[[ $ok == 1 ]] && ! grep -q flowgate.service <<<'$out'"
elif [[ ${CI:-} == true ]]; then
  fg_check "systemd-analyze is installed under CI" false
fi
fg_check "the installed configuration and policy validate (as user flowgate)" \
  setpriv --reuid=flowgate --regid=flowgate --init-groups /usr/bin/flowgate run --config /etc/flowgate/flowgate.toml --check
fg_check "flowgate policy check over the installed policies" /usr/bin/flowgate policy check /etc/flowgate/policies
fg_check "the shipped examples load as one policy" /usr/bin/flowgate policy check /usr/share/flowgate/policies
fg_check "the installed catalog knows Fortnite" bash -c "/usr/bin/flowgate apps lookup Fortnite | grep -q Fortnite"

# ---- the installed binary, started the way the unit starts it -------------
fg_lab_up
trap 'fg_cleanup; purge_package' EXIT
chmod 0755 "$FG_WORK"
fg_cert
fg_bg "$FG_S" bash -c "cd '$FG_WORK' && exec openssl s_server -accept '$FG_SERVICE4:8443' -cert cert.pem -key key.pem -tls1_2 -cipher AES128-SHA -www -quiet >/dev/null 2>&1"
fg_bg "$FG_S" bash -c "cd '$FG_WORK' && exec openssl s_server -accept '$FG_SERVICE4:443' -cert cert.pem -key key.pem -www -quiet >/dev/null 2>&1"
fg_wait_listen "$FG_S" tcp 8443
fg_wait_listen "$FG_S" tcp 443

# RuntimeDirectory=flowgate: /run/flowgate owned by the service user (the
# instance lock lives there), as systemd makes it; restored afterwards.
run_owner=$(stat -c '%u:%g' /run/flowgate 2>/dev/null || true)
install -d -m 0755 /run/flowgate
chown flowgate:flowgate /run/flowgate
trap 'fg_cleanup; purge_package; if [[ -n $run_owner ]]; then chown "$run_owner" /run/flowgate; else rm -rf /run/flowgate; fi' EXIT
install -d -o flowgate -g flowgate -m 0755 "$FG_WORK/run"
sed -e "s|^interfaces = \[\]|interfaces = [\"g0\"]|" \
    -e "s|^socket = \"/run/flowgate/control.sock\"|socket = \"$FG_WORK/run/control.sock\"|" \
    /etc/flowgate/flowgate.toml >"$FG_WORK/flowgate.toml"
chmod 0644 "$FG_WORK/flowgate.toml"
grep -q "interfaces = \[\"g0\"\]" "$FG_WORK/flowgate.toml" || fg_die "could not point the installed configuration at the lab"
: >"$FG_WORK/flowgate.log"
ip netns exec "$FG_G" setpriv --reuid=flowgate --regid=flowgate --init-groups \
  --bounding-set=-all,+net_admin --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --no-new-privs \
  /usr/bin/flowgate run --config "$FG_WORK/flowgate.toml" >>"$FG_WORK/flowgate.log" 2>&1 &
FG_GATEWAY_PID=$!
FG_PIDS+=("$FG_GATEWAY_PID")
FG_CONTROL_SOCKET="$FG_WORK/run/control.sock"
for ((i = 0; i < 100; i++)); do
  [[ -S $FG_CONTROL_SOCKET ]] && grep -Eq "INFO started " "$FG_WORK/flowgate.log" && break
  kill -0 "$FG_GATEWAY_PID" 2>/dev/null || { cat "$FG_WORK/flowgate.log" >&2; fg_die "the installed flowgate exited during start"; }
  sleep 0.1
done
grep -Eq "INFO started " "$FG_WORK/flowgate.log" || { cat "$FG_WORK/flowgate.log" >&2; fg_die "the installed flowgate did not start within 10 s"; }

uid=$(id -u flowgate)
status=$(cat "/proc/$FG_GATEWAY_PID/status")
fg_check "runs as user flowgate" bash -c "awk '/^Uid:/ {print \$2, \$3, \$4, \$5}' <<<'$status' | grep -qx '$uid $uid $uid $uid'"
fg_check "effective capabilities: CAP_NET_ADMIN only" bash -c "grep -Eq '^CapEff:[[:space:]]+0000000000001000$' <<<'$status'"
fg_check "bounding set: CAP_NET_ADMIN only" bash -c "grep -Eq '^CapBnd:[[:space:]]+0000000000001000$' <<<'$status'"
fg_check "no_new_privs" bash -c "grep -Eq '^NoNewPrivs:[[:space:]]+1$' <<<'$status'"
fg_check "its table is installed" bash -c "ip netns exec '$FG_G' nft -j list table inet flowgate >/dev/null"

weak=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' --tls-max 1.2 --ciphers AES128-SHA \
  "https://$FG_SERVICE4:8443/" 2>/dev/null || true)
fg_check "the installed default policy rejects a weak-cipher handshake (HTTP $weak)" test "$weak" = "000"
strong=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' "https://$FG_SERVICE4:443/" 2>/dev/null || true)
fg_check "a strong TLS connection passes (HTTP $strong)" test "$strong" = "200"
rl=$(/usr/bin/flowgatectl --socket "$FG_CONTROL_SOCKET" reload 2>&1) && rl_rc=0 || rl_rc=$?
fg_check "ExecReload's command (flowgatectl reload) succeeds without root privileges in the daemon ($rl)" test "$rl_rc" = 0
lvl=$(/usr/bin/flowgatectl --socket "$FG_CONTROL_SOCKET" --json log-level warn 2>&1 || true)
fg_check "flowgatectl log-level changes the level at run time ($lvl)" bash -c "jq -e '.result.level == \"warn\"' <<<'$lvl' >/dev/null"
fg_stop_gateway
fg_check "the table is gone after SIGTERM" bash -c "! ip netns exec '$FG_G' nft list table inet flowgate >/dev/null 2>&1"
fg_finish
