#!/usr/bin/env bash
# netns test: the systemd watchdog is fed only while every worker makes
# progress. flowgate starts as systemd would start it with WatchdogSec=1s
# (NOTIFY_SOCKET is a datagram socket this test reads, WATCHDOG_USEC=1000000,
# no WATCHDOG_PID: the pid is unknown before the start) and test hooks on
# (FLOWGATE_TEST_HOOKS=1: SIGUSR2 stalls worker 0, a second SIGUSR2 lets it
# run again).
#   - READY=1 arrives, then regular WATCHDOG=1 pings while traffic passes;
#   - after worker 0 is stalled on purpose, at most one more ping arrives
#     (a check may still see the worker's last rounds), then none while it
#     stays stalled; the stall is logged once with the worker and how long;
#   - once it runs again, the recovery is logged and the pings resume;
#   - without FLOWGATE_TEST_HOOKS, SIGUSR2 is refused (logged) and the pings
#     go on; STOPPING=1 arrives at shutdown.
# Pings are counted, never timed (a slow machine only sends fewer of them).
# Usage: watchdog_test.sh FLOWGATE_BINARY SOURCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
fg_require_root curl
bin=$1

fg_lab_up
policy=$FG_WORK/accept.toml
printf '[policy]\ndefault_action = "accept"\n' >"$policy"
fg_bg "$FG_S" python3 -m http.server --bind "$FG_SERVICE4" 80
fg_wait_listen "$FG_S" tcp 80

# The notification socket: one line per field, "monotonic_ns FIELD".
notify=$FG_WORK/notify.sock
notes=$FG_WORK/notify.log
: >"$notes"
fg_bg "$FG_G" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        data = s.recv(4096).decode(errors="replace")
        for field in data.split("\n"):
            if field:
                out.write("%d %s\n" % (time.monotonic_ns(), field))
' "$notify" "$notes"
for ((i = 0; i < 50; i++)); do [[ -S $notify ]] && break; sleep 0.1; done
[[ -S $notify ]] || fg_die "the notification listener did not start"

pings() { grep -c ' WATCHDOG=1$' "$notes" || true; }
# wait_pings N [SECONDS]: waits (10 s default) until N pings arrived in all.
wait_pings() {
  local n=$1 secs=${2:-10} i
  for ((i = 0; i < secs * 10; i++)); do
    [[ $(pings) -ge $n ]] && return 0
    sleep 0.1
  done
  return 1
}
http() { fg_in "$FG_C" curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$FG_SERVICE4/" || true; }

NOTIFY_SOCKET=$notify WATCHDOG_USEC=1000000 FLOWGATE_TEST_HOOKS=1 fg_start_gateway "$bin" "$policy" "workers = 2"
fg_check "the test hooks are announced as such" fg_wait_log '^WARN test_hooks_enabled ' 5
fg_check "READY=1 arrives" grep -q ' READY=1$' "$notes"
fg_check "the watchdog is enabled at the interval systemd asked for" \
  fg_wait_log '^INFO watchdog_enabled .*interval_ms=1000' 5
fg_check "WATCHDOG=1 pings arrive while the workers run" wait_pings 3
fg_check "traffic passes ($(http))" test "$(http)" = 200
before=$(pings)
fg_check "pings go on ($before so far)" wait_pings $((before + 2))

# Stall worker 0 on purpose.
kill -USR2 "$FG_GATEWAY_PID"
fg_check "worker 0 is stalled on request" fg_wait_log '^WARN test_worker_stall .*worker=0 .*stalled=yes' 5
at_stall=$(pings)
fg_check "the stall is logged with the worker and how long" \
  fg_wait_log '^ERROR worker_stalled .*worker=0 .*stalled_ms=[0-9]+ .*watchdog_pings=stopped' 5
at_log=$(pings)
sleep 3  # three watchdog intervals: six checks, none of which may ping
after=$(pings)
fg_log "pings: $before before, $at_stall at the stall, $at_log when logged, $after three intervals later"
fg_check "at most one ping after the stall ($at_stall -> $after)" test "$after" -le $((at_stall + 1))
fg_check "no ping once the stall is logged ($at_log -> $after)" test "$after" -eq "$at_log"
fg_check "the stall is logged once" test "$(grep -c '^ERROR worker_stalled ' "$FG_WORK/flowgate.log")" -eq 1
fg_check "only worker 0 is reported" fg_absent '^ERROR worker_stalled .*worker=1 ' "$FG_WORK/flowgate.log"
fg_check "flowgate still runs" kill -0 "$FG_GATEWAY_PID"

# Let it run again: the recovery is logged and the pings resume.
kill -USR2 "$FG_GATEWAY_PID"
fg_check "worker 0 runs again on request" fg_wait_log '^WARN test_worker_stall .*worker=0 .*stalled=no' 5
fg_check "the recovery is logged" fg_wait_log '^WARN worker_recovered .*worker=0 .*stalled_ms=[0-9]+' 5
fg_check "pings resume" wait_pings $((after + 2))
fg_check "traffic passes ($(http))" test "$(http)" = 200
fg_stop_gateway
fg_check "STOPPING=1 arrives at shutdown" grep -q ' STOPPING=1$' "$notes"

# Without the test hooks, SIGUSR2 stalls nothing.
: >"$notes"
NOTIFY_SOCKET=$notify WATCHDOG_USEC=1000000 fg_start_gateway "$bin" "$policy"
fg_check "pings arrive" wait_pings 2
kill -USR2 "$FG_GATEWAY_PID"
fg_check "SIGUSR2 is refused without FLOWGATE_TEST_HOOKS=1" fg_wait_log '^WARN test_hook_refused ' 5
now=$(pings)
fg_check "pings go on" wait_pings $((now + 2))
fg_check "nothing was stalled" fg_absent 'worker_stalled|test_worker_stall' "$FG_WORK/flowgate.log"
fg_stop_gateway

# WATCHDOG_PID naming another process: the watchdog is not ours.
: >"$notes"
NOTIFY_SOCKET=$notify WATCHDOG_USEC=1000000 WATCHDOG_PID=1 fg_start_gateway "$bin" "$policy"
fg_check "READY=1 arrives" grep -q ' READY=1$' "$notes"
sleep 1.5  # three checks' worth of time
fg_check "no ping when WATCHDOG_PID names another process ($(pings))" test "$(pings)" -eq 0
fg_stop_gateway
fg_finish
