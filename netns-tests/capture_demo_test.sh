#!/usr/bin/env bash
# End-to-end: record the demo traffic (scripts/lab/capture-demo.sh) and check
# that `flowgate classify` recognises each flow in it.
#
# Usage: netns-tests/capture_demo_test.sh PATH/TO/flowgate [SOURCE_DIR]
# Exit: 0 pass, 1 fail, 2 usage, 77 skipped (not root, or no network namespaces).
set -euo pipefail

prog=${0##*/}
[[ $# -eq 1 || $# -eq 2 ]] || { echo "usage: $prog PATH/TO/flowgate [SOURCE_DIR]" >&2; exit 2; }
flowgate=$1
src=${2:-$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/..}
capture=$src/scripts/lab/capture-demo.sh
[[ -x $flowgate ]] || { echo "$prog: $flowgate is not an executable" >&2; exit 1; }
[[ -x $capture ]] || { echo "$prog: $capture not found" >&2; exit 1; }

skip() { echo "$prog: SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root"
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
probe="fgprobe-$$"
ip netns add "$probe" >/dev/null 2>&1 || skip "cannot create network namespaces (ip netns add)"
ip netns del "$probe"

tmp=$(mktemp -d /tmp/fg-capture-test.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$capture" "$tmp/demo.pcap"
"$flowgate" classify "$tmp/demo.pcap" >"$tmp/flows.jsonl"

python3 - "$tmp/flows.jsonl" <<'PY'
import json
import sys

records = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
flows = [r for r in records if r.get("event") == "flow"]
stats = [r for r in records if r.get("event") == "stats"]

def brief(r):
    t = r.get("tls") or {}
    return (f"{r.get('proto')} {r.get('src_ip')} -> {r.get('dst_ip')}:{r.get('dst_port')} "
            f"{r.get('l7_protocol')}/{r.get('application')} host={r.get('hostname')!r}"
            + (f" tls={t.get('version')} {t.get('cipher')} ({t.get('cipher_strength')})" if t else ""))

checks = [
    ("DNS flow asking for www.netflix.com",
     lambda r: r.get("l7_protocol") == "DNS" and r.get("dst_port") == 53
     and "www.netflix.com" in (r.get("hostname"), (r.get("dns") or {}).get("query"))),
    ("TLS flow with hostname www.netflix.com",
     lambda r: r.get("l7_protocol") == "TLS" and r.get("hostname") == "www.netflix.com"),
    ("HTTP flow with hostname demo.example.com",
     lambda r: r.get("l7_protocol") == "HTTP" and r.get("hostname") == "demo.example.com"),
    ("TLS flow on 8443 with TLS_RSA_WITH_AES_128_CBC_SHA, strength weak",
     lambda r: r.get("dst_port") == 8443
     and (r.get("tls") or {}).get("cipher") == "TLS_RSA_WITH_AES_128_CBC_SHA"
     and (r.get("tls") or {}).get("cipher_strength") == "weak"),
    ("BitTorrent flow",
     lambda r: "BitTorrent" in (r.get("l7_protocol"), r.get("application"))),
    ("IPv6 flow (TCP to fd00:203::1)",
     lambda r: r.get("ip_version") == 6 and r.get("proto") == "tcp"
     and r.get("dst_ip") == "fd00:203::1"),
]

failed = 0
print(f"{len(flows)} flow records")
for name, pred in checks:
    hit = next((r for r in flows if pred(r)), None)
    if hit:
        print(f"ok    {name}: {brief(hit)}")
    else:
        failed += 1
        print(f"FAIL  {name}: no such record")
if len(stats) == 1 and records[-1].get("event") == "stats":
    print(f"ok    final stats record: packets={stats[0].get('packets')} flows={stats[0].get('flows')}")
else:
    failed += 1
    print("FAIL  exactly one stats record, last")
if failed:
    print("records:")
    for r in flows:
        print("  " + brief(r))
    sys.exit(f"{failed} check(s) failed")
print("all checks passed")
PY
