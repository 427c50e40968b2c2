#!/usr/bin/env bash
# Privilege drop: after setting up the kernel state, `flowgate run` with
# [gateway] user = "nobody" runs as that user with CAP_NET_ADMIN only, keeps
# enforcing (verdicts, set elements, reload), and its control socket
# (group nogroup, mode 0660) refuses a client of another user.
# Usage: privileges_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root openssl curl ss nft setpriv
bin=$1 src=$2
ctl="$(dirname "$bin")/control/flowgatectl"
[[ -x $ctl ]] || fg_die "flowgatectl not found next to $bin"
getent passwd nobody >/dev/null && getent passwd daemon >/dev/null && getent group nogroup >/dev/null ||
  { echo "users nobody/daemon or group nogroup missing: skipped"; exit 77; }

fg_lab_up
chmod 0755 "$FG_WORK"   # other users must reach the socket to be refused by its mode
fg_cert
fg_bg "$FG_S" bash -c "cd '$FG_WORK' && exec openssl s_server -accept '$FG_SERVICE4:8443' -cert cert.pem -key key.pem -tls1_2 -cipher AES128-SHA -www -quiet >/dev/null 2>&1"
fg_bg "$FG_S" bash -c "cd '$FG_WORK' && exec openssl s_server -accept '$FG_SERVICE4:443' -cert cert.pem -key key.pem -www -quiet >/dev/null 2>&1"
fg_wait_listen "$FG_S" tcp 8443
fg_wait_listen "$FG_S" tcp 443
cp "$src/scripts/lab/demo-policy.toml" "$FG_WORK/policy.toml"
# This lab has no DNS (curl --resolve): the operator's range verifies the
# Netflix SNI, so the zero-rating rule may add the server to its set.
printf '\n[verified_ranges]\nNetFlix = ["%s"]\n' "$FG_SERVICE4" >>"$FG_WORK/policy.toml"
chmod 0644 "$FG_WORK/policy.toml"
FG_EXTRA_TABLES='group = "nogroup"' fg_start_gateway "$bin" "$FG_WORK/policy.toml" 'user = "nobody"'
pid=$FG_GATEWAY_PID

status=$(cat "/proc/$pid/status")
uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' <<<"$status")
gid=$(awk '/^Gid:/ {print $2, $3, $4, $5}' <<<"$status")
capeff=$(awk '/^CapEff:/ {print $2}' <<<"$status")
capprm=$(awk '/^CapPrm:/ {print $2}' <<<"$status")
capbnd=$(awk '/^CapBnd:/ {print $2}' <<<"$status")
groups=$(awk '/^Groups:/ {$1=""; print}' <<<"$status" | xargs)
fg_check "runs as nobody (uid $uid)" test "$uid" = "65534 65534 65534 65534"
fg_check "group nogroup, no supplementary groups (gid $gid, groups '$groups')" \
  bash -c "[[ '$gid' == '65534 65534 65534 65534' && -z '$groups' ]]"
fg_check "effective capabilities: CAP_NET_ADMIN only ($capeff)" test "$capeff" = "0000000000001000"
fg_check "permitted capabilities: CAP_NET_ADMIN only ($capprm)" test "$capprm" = "0000000000001000"
fg_check "bounding set: CAP_NET_ADMIN only ($capbnd)" test "$capbnd" = "0000000000001000"
fg_check "no_new_privs is set" grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$pid/status"
# Every thread (workers, control, kernel writer) has the same credentials.
for t in /proc/$pid/task/*; do
  fg_check "thread ${t##*/}: CapEff CAP_NET_ADMIN, uid 65534" \
    bash -c "grep -q '^CapEff:[[:space:]]*0000000000001000' $t/status && grep -q '^Uid:[[:space:]]*65534' $t/status"
done

sock=$FG_CONTROL_SOCKET
perm=$(stat -c '%a %U %G' "$sock")
fg_check "control socket is 0660 root:nogroup ($perm)" test "$perm" = "660 root nogroup"
fg_check "root can use the control socket" "$ctl" --socket "$sock" status
out=$(setpriv --reuid=daemon --regid=daemon --clear-groups "$ctl" --socket "$sock" status 2>&1 || true)
fg_check "a client of another user is refused ($out)" grep -qi "permission denied" <<<"$out"
fg_check "a member of group nogroup is let in" \
  setpriv --reuid=daemon --regid=daemon --groups=nogroup "$ctl" --socket "$sock" status

# Enforcement keeps working with CAP_NET_ADMIN only.
weak=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' --tls-max 1.2 --ciphers AES128-SHA \
  "https://$FG_SERVICE4:8443/" 2>/dev/null || true)
fg_check "weak TLS still rejected after the drop (HTTP $weak)" test "$weak" = "000"
nf=$(fg_in "$FG_C" timeout 10 curl -sk -o /dev/null -w '%{http_code}' --resolve "www.netflix.com:443:$FG_SERVICE4" \
  https://www.netflix.com/ 2>/dev/null || true)
fg_check "Netflix flow passes (HTTP $nf)" test "$nf" = "200"
fg_check "set elements are still written (zero_rated holds the server)" \
  bash -c "for i in \$(seq 30); do ip netns exec '$FG_G' nft -j list set inet flowgate zero_rated 2>/dev/null |
    python3 '$FG_KSTATE' elements | grep -qx '10.71.100.1' && exit 0; sleep 0.1; done; exit 1"
rl=$("$ctl" --socket "$sock" reload 2>&1 || true)
fg_check "reload works without root ($rl)" grep -qi "generation" <<<"$rl"
fg_stop_gateway
fg_check "the table is gone after SIGTERM" fg_no_table "$FG_G" flowgate
fg_finish
