#!/usr/bin/env python3
"""Corpus test: classify every capture of ../shared/corpus with `flowgate
classify`, match the records to expected.tsv and check the agreement floors.

Flows are matched by L4 protocol plus the unordered endpoint pair (ports are
ignored for port-less protocols); repeated tuples are paired in order.
Usage: corpus_score.py FLOWGATE CORPUS_DIR [--floors] [--schema SCHEMA.json]
Exit 77 (skipped) when the corpus is absent.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import ipaddress
import subprocess
import sys

# Issue 12: nDPI 4.2 plus flowgate's catalog and dissectors reach 86.5 / 93.9 /
# 99.2 / 99.45 here (nDPI 4.2 alone: 69.2 / 86.9 / 98.3 / 99.45).
FLOORS = {
    "found": 99.0,
    "master_app": 80.0,
    "master": 93.0,
    "hostname": 98.0,
    "tls_version": 93.0,
    "cipher": 94.0,
}
PORTLESS = {"icmp", "ipv6-icmp", "igmp", "esp", "gre", "vrrp", "ah", "pim"}
L4_NAMES = {"TCP": "tcp", "UDP": "udp", "ICMP": "icmp", "ICMPV6": "ipv6-icmp", "IGMP": "igmp",
            "ESP": "esp", "SCTP": "sctp", "VRRP": "vrrp", "GRE": "gre", "AH": "ah", "PIM": "pim"}
PROTO_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                 "ipv6-icmp": 58, "pim": 103, "vrrp": 112, "sctp": 132}


def proto_key(name):
    """Normalise a protocol to its number (as a string) for matching."""
    name = name.strip()
    low = L4_NAMES.get(name, name.lower())
    return str(PROTO_NUMBERS.get(low, low))


def canon_ip(text):
    """Canonical text of an address (the labels write some IPv6 differently)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def endpoint_key(proto, a_ip, a_port, b_ip, b_port):
    a_ip, b_ip = canon_ip(a_ip), canon_ip(b_ip)
    portless = proto in {str(PROTO_NUMBERS[p]) for p in PORTLESS if p in PROTO_NUMBERS}
    a = (a_ip, 0 if portless else int(a_port))
    b = (b_ip, 0 if portless else int(b_port))
    return (proto,) + tuple(sorted([a, b]))


def load_expected(path):
    rows = collections.defaultdict(list)
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            vals = line.rstrip("\n").split("\t")
            vals += [""] * (len(header) - len(vals))
            rows[vals[0]].append(dict(zip(header, vals)))
    return rows


def classify(flowgate, pcap, timeout):
    try:
        p = subprocess.run([flowgate, "classify", "-q", pcap], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return pcap, None, "timed out after %ds" % timeout
    # Any non-zero exit is a failure of that capture (1: it could not be
    # opened or read to its end), counted and reported, never scored.
    if p.returncode != 0:
        return pcap, None, "exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")[-500:])
    records = []
    for line in p.stdout.decode("utf-8").splitlines():
        records.append(json.loads(line))
    return pcap, records, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("flowgate")
    ap.add_argument("corpus")
    ap.add_argument("--floors", action="store_true", help="fail below the floors")
    ap.add_argument("--schema", help="validate every record against this JSON Schema")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()

    expected_path = os.path.join(args.corpus, "expected.tsv")
    if not os.path.exists(expected_path):
        print("corpus not found at %s: skipped" % args.corpus)
        return 77
    validator = None
    if args.schema:
        import jsonschema
        with open(args.schema) as f:
            schema = json.load(f)
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        # The validator must be able to say no: a record missing fields, and
        # one with a malformed address, are rejected.
        for bad in ({"event": "flow"}, {"event": "stats", "ts": 1}):
            if validator.is_valid(bad):
                print("FAIL: the schema accepts an invalid record: %r" % bad)
                return 1

    expected = load_expected(expected_path)
    pcap_dir = os.path.join(args.corpus, "pcap")
    pcaps = sorted(os.listdir(pcap_dir))
    failures = []
    totals = collections.Counter()
    mismatches = collections.defaultdict(list)
    records_checked = 0

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        results = list(ex.map(lambda n: classify(args.flowgate, os.path.join(pcap_dir, n), args.timeout), pcaps))

    for path, records, err in results:
        name = os.path.basename(path)
        if records is None:
            failures.append("%s: %s" % (name, err))
            continue
        flows = [r for r in records if r.get("event") == "flow"]
        if not records or records[-1].get("event") != "stats":
            failures.append("%s: no final stats record" % name)
        if validator:
            for r in records:
                errs = sorted(validator.iter_errors(r), key=lambda e: e.path)
                records_checked += 1
                if errs:
                    failures.append("%s: record fails the schema: %s" % (name, errs[0].message))
                    break
        by_key = collections.defaultdict(list)
        for r in flows:
            k = endpoint_key(proto_key(r["proto"]), r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
            by_key[k].append(r)
        for e in expected.get(name, []):
            totals["expected"] += 1
            k = endpoint_key(proto_key(e["l4"]), e["src_ip"], e["src_port"] or 0, e["dst_ip"], e["dst_port"] or 0)
            if not by_key.get(k):
                mismatches["found"].append("%s %s" % (name, k))
                continue
            r = by_key[k].pop(0)
            totals["found"] += 1
            tls = r.get("tls", {})
            checks = {
                "master_app": (r["l7_protocol"], r["application"]) == (e["master_proto"], e["app_proto"]),
                "master": r["l7_protocol"] == e["master_proto"],
                "hostname": r["hostname"] == e["hostname"],
            }
            for field, ok in checks.items():
                totals[field] += ok
                if not ok:
                    mismatches[field].append("%s %s: got %s/%s %r, want %s/%s %r" % (
                        name, k, r["l7_protocol"], r["application"], r["hostname"],
                        e["master_proto"], e["app_proto"], e["hostname"]))
            for field, got, want in (("tls_version", tls.get("version", ""), e["tls_version"]),
                                     ("cipher", tls.get("cipher", ""), e["cipher"])):
                if want:
                    totals[field + "_n"] += 1
                    totals[field] += got == want
                    if got != want:
                        mismatches[field].append("%s %s: got %r want %r" % (name, k, got, want))

    found = totals["found"]
    pct = {
        "found": 100.0 * found / max(totals["expected"], 1),
        "master_app": 100.0 * totals["master_app"] / max(found, 1),
        "master": 100.0 * totals["master"] / max(found, 1),
        "hostname": 100.0 * totals["hostname"] / max(found, 1),
        "tls_version": 100.0 * totals["tls_version"] / max(totals["tls_version_n"], 1),
        "cipher": 100.0 * totals["cipher"] / max(totals["cipher_n"], 1),
    }
    print("corpus: %d captures, %d expected flows, %d found" % (len(pcaps), totals["expected"], found))
    denominators = {"found": totals["expected"], "master_app": found, "master": found,
                    "hostname": found, "tls_version": totals["tls_version_n"], "cipher": totals["cipher_n"]}
    for k, v in pct.items():
        print("  %-12s %6.2f %%  (%d/%d, floor %.0f %%)" % (k, v, totals[k], denominators[k], FLOORS[k]))
    if validator:
        print("  schema: %d records validated" % records_checked)
    if args.verbose:
        for field, lst in mismatches.items():
            print("--- %s mismatches (%d)" % (field, len(lst)))
            for m in lst:
                print("   ", m)
    for f in failures:
        print("FAIL:", f)
    below = [k for k, v in pct.items() if v < FLOORS[k]]
    if args.floors and below:
        print("FAIL: below floor: %s" % ", ".join(below))
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
