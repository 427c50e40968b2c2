#!/bin/sh
# `flowgate run` with a broken configuration must exit 2, name file, line and
# key of every error, and stop before touching the kernel.
set -u
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '[gateway]\nworkers = 0\nbogus = 1\n' > "$dir/bad.toml"
out=$("$bin" run --config "$dir/bad.toml" 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 2 ] || { echo "exit status $rc, expected 2"; exit 1; }
echo "$out" | grep -q "bad.toml:3:1: gateway.bogus: unknown key" || { echo "unknown key not reported"; exit 1; }
echo "$out" | grep -q "bad.toml:2:[0-9]*: gateway.workers: expected a value from 1 to 64" || { echo "range error not reported"; exit 1; }
echo "$out" | grep -q "nothing was changed" || exit 1
echo "$out" | grep -q "kernel_queue_mode" && { echo "touched the kernel"; exit 1; }
echo "ok"
