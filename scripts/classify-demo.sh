#!/usr/bin/env bash
# The offline demo (run as root from anywhere; safe to run again):
#   1. install missing dependencies   (scripts/deps.sh)
#   2. build                           (scripts/build.sh)
#   3. record real traffic between two network namespaces
#                                      (scripts/lab/capture-demo.sh)
#   4. classify it                     (build/gateway/flowgate classify)
# and print the flows as a table. The capture and the raw JSON lines are kept
# in build/demo/ (replaced by each run).
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
repo=$PWD

die() { printf '\ndemo.sh: error: %s\n' "$*" >&2; exit 1; }
stage() { printf '\n==> %s\n' "$*"; }

[[ $(id -u) -eq 0 ]] || die "the demo needs root (network namespaces, packet capture): sudo $0"

stage "Dependencies"
scripts/deps.sh || die "installing dependencies failed (see above)"

stage "Build"
scripts/build.sh || die "the build failed (see above)"
flowgate=$repo/build/gateway/flowgate
[[ -x $flowgate ]] || die "$flowgate was not built"

out_dir=$repo/build/demo
mkdir -p "$out_dir"
tmp_pcap="" tmp_json=""
trap 'rm -f -- "$tmp_pcap" "$tmp_json"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tmp_pcap=$(mktemp -p "$out_dir" --suffix=.pcap .capture.XXXXXX)
tmp_json=$(mktemp -p "$out_dir" --suffix=.jsonl .flows.XXXXXX)

stage "Recording traffic between network namespaces"
scripts/lab/capture-demo.sh "$tmp_pcap" || die "recording the demo traffic failed (see above)"

stage "Classifying: flowgate classify"
"$flowgate" classify "$tmp_pcap" >"$tmp_json" || die "flowgate classify failed (see above)"

pcap=$out_dir/capture.pcap
json=$out_dir/flows.jsonl
mv -f -- "$tmp_pcap" "$pcap"
mv -f -- "$tmp_json" "$json"
chmod 0644 "$pcap" "$json"

stage "Flows"
python3 - "$json" <<'PY' || die "could not read flowgate's output $json"
import json
import sys

path = sys.argv[1]
flows, stats = [], None
with open(path, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"{path}:{n}: not JSON: {e}")
        if rec.get("event") == "stats":
            stats = rec
        elif rec.get("event") in ("flow", "flow_end"):
            flows.append(rec)

def endpoint(ip, port):
    ip = str(ip or "?")
    if ":" in ip:
        ip = f"[{ip}]"
    return f"{ip}:{port}" if port else ip

def l7(r):
    proto, app = r.get("l7_protocol") or "", r.get("application") or ""
    if not app or app == proto:
        return proto or "-"
    return f"{proto}/{app}" if proto else app

def tls(r):
    t = r.get("tls") or {}
    parts = [t.get("version", ""), t.get("cipher", "")]
    if t.get("cipher_strength"):
        parts.append(f"({t['cipher_strength']})")
    return " ".join(p for p in parts if p) or "-"

def hostname(r):
    return r.get("hostname") or (r.get("dns") or {}).get("query") or "-"

header = ["PROTO", "CLIENT -> SERVER", "L7/APPLICATION", "CATEGORY", "HOSTNAME",
          "TLS", "PKTS", "BYTES", "CONFIDENCE"]
rows = []
for r in sorted(flows, key=lambda r: (r.get("first_seen", r.get("ts", 0)), str(r.get("flow_id")))):
    rows.append([
        str(r.get("proto", "?")),
        f"{r.get('src_ip', '?')} -> {endpoint(r.get('dst_ip'), r.get('dst_port'))}",
        l7(r),
        r.get("category") or "-",
        hostname(r),
        tls(r),
        str(r.get("packets", "")),
        str(r.get("bytes", "")),
        r.get("confidence") or "-",
    ])
right = {6, 7}
widths = [max(len(x) for x in col) for col in zip(header, *rows)]
def show(cells):
    print("  ".join(c.rjust(w) if i in right else c.ljust(w)
                    for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
show(header)
show(["-" * w for w in widths])
for row in rows:
    show(row)
print()
print(f"{len(flows)} flows", end="")
if stats:
    keys = ["packets", "bytes", "classified_final", "classified_giveup"]
    print("; stats: " + ", ".join(f"{k}={stats[k]}" for k in keys if k in stats), end="")
print()
if not flows:
    sys.exit("no flow records")
PY

printf '\nRaw JSON lines: %s\nCapture:        %s\n' "$json" "$pcap"
