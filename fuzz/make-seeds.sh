#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets in OUTDIR (docs/fuzzing.md):
#   OUTDIR/pipeline, OUTDIR/metadata  from ../shared/corpus/pcap (pcap_seeds.py)
#   OUTDIR/policy   policies/*.toml, the demo policy, the policies inside the
#                   policy unit tests (raw strings) and the pipeline targets' policy
#   OUTDIR/control  a set of request lines, valid and invalid
#   OUTDIR/config   config/flowgate.toml and the configs inside its unit test
# Seeds are generated, never committed. Existing seed files are replaced.
# usage: fuzz/make-seeds.sh OUTDIR [CORPUS_DIR]
set -euo pipefail
out=${1:?usage: make-seeds.sh OUTDIR [CORPUS_DIR]}
src=$(cd "$(dirname "$0")/.." && pwd)
corpus=${2:-${FLOWGATE_CORPUS_DIR:-$src/../shared/corpus}}

for t in pipeline metadata policy control config; do
  rm -rf "${out:?}/$t"
  mkdir -p "$out/$t"
done

# Packets. Without the developer corpus the packet targets start from a
# minimal seed each (libFuzzer still works, just slower).
shopt -s nullglob
captures=("$corpus"/pcap/*.pcap "$corpus"/pcap/*.pcapng)
if ((${#captures[@]})); then
  python3 "$src/fuzz/pcap_seeds.py" "$out/pipeline" "$out/metadata" "${captures[@]}"
else
  echo "make-seeds: no captures in $corpus/pcap; minimal packet seeds only" >&2
fi
printf '\x03' >"$out/pipeline/minimal-raw"
printf '\x00' >"$out/metadata/minimal-tls"

# Policies: files, then every raw string literal holding a TOML table from the
# tests and the fuzz targets' fixed policy.
for f in "$src"/policies/*.toml "$src"/scripts/lab/demo-policy.toml; do
  cp "$f" "$out/policy/file-$(basename "$f")"
done
python3 - "$out/policy" "$src"/tests/policy/*.cc "$src"/tests/gateway/engine_test.cc \
    "$src"/fuzz/fuzz_policy.h <<'PY'
import hashlib, os, re, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8", errors="replace").read()
    for m in re.finditer(r'R"\((.*?)\)"', text, re.S):
        body = m.group(1)
        if "[" not in body and "=" not in body:
            continue
        name = "test-%s-%s" % (os.path.basename(path).split(".")[0],
                               hashlib.sha1(body.encode()).hexdigest()[:10])
        open(os.path.join(out, name), "w", encoding="utf-8").write(body)
PY

# Control request lines (one per file, no newline, as the server hands them over).
i=0
while IFS= read -r line; do
  printf '%s' "$line" >"$out/control/req-$i"
  i=$((i + 1))
done <<'LINES'
{"request":"status"}
{"request":"status","id":1}
{"request":"policy","id":"a-b"}
{"request":"reload","id":null}
{"request":"metrics"}
{"request":"flows"}
{"request":"flows","limit":5,"filter":{"application":"NetFlix","address":"10.0.0.2","rule":"zero-rate-netflix"}}
{"request":"flow","flow_id":"3-17"}
{"request":"subscribe"}
{"request":"subscribe","topics":["flow","flow_end","aggregate","log"],"filter":{"application":"YouTube"}}
{"request":"subscribe","topics":[],"filter":null}
{"request":"flows","limit":-1,"extra":true}
{"id":{"nested":[1,2]},"request":"status"}
  {"request":"status"}	
[1,2,3]
{"request":5}
{"request":"nope","id":9007199254740993}
LINES

# Daemon configurations.
cp "$src/config/flowgate.toml" "$out/config/file-flowgate.toml"
python3 - "$out/config" "$src"/tests/gateway/config_test.cc <<'PY'
import hashlib, os, re, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    if not os.path.exists(path):
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    for m in re.finditer(r'R"\((.*?)\)"', text, re.S):
        body = m.group(1)
        name = "test-" + hashlib.sha1(body.encode()).hexdigest()[:10]
        open(os.path.join(out, name), "w", encoding="utf-8").write(body)
PY

for t in pipeline metadata policy control config; do
  printf 'make-seeds: %-8s %4d seeds\n' "$t" "$(find "$out/$t" -type f | wc -l)"
done
