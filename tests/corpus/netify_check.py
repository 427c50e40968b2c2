#!/usr/bin/env python3
"""Netify-format test: run `flowgate classify --format netify` over every
capture of the corpus and validate every record against
docs/netify-flow.schema.json, plus what a schema cannot say: every flow has
its `flow` (first sight), `flow_dpi_complete` and `flow_purge` messages with
the same digest, the `flow` differs from the `flow_purge`, the totals are the
sum of the sides, first_seen_at <= last_seen_at. The schema must accept a
message shaped like the agent's own and reject obviously bad records.

Usage: netify_check.py FLOWGATE CORPUS_DIR SCHEMA.json [--local-net CIDR]...
Exit 77 (skipped) when the corpus is absent.
"""
import argparse
import collections
import concurrent.futures
import copy
import json
import os
import subprocess
import sys


def run(flowgate, pcap, local_nets, timeout):
    cmd = [flowgate, "classify", "-q", "--format", "netify", "--interface", "corpus0"]
    for n in local_nets:
        cmd += ["--local-net", n]
    cmd.append(pcap)
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return pcap, None, "timed out after %ds" % timeout
    # 1: some input could not be read (truncated captures): records still count.
    if p.returncode != 0:  # 1: a capture could not be opened or read to its end
        return pcap, None, "exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")[-500:])
    try:
        records = [json.loads(line) for line in p.stdout.decode("utf-8").splitlines()]
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return pcap, None, "unparseable output: %s" % e
    return pcap, records, None


def bad_records(good):
    """Records the schema must reject, derived from a good one."""
    bad = []

    def variant(fn):
        r = copy.deepcopy(good)
        fn(r)
        bad.append(r)

    bad.append({"type": "flow"})
    bad.append({"event": "flow", "flow_id": "1"})  # a flowgate record, not a Netify one
    variant(lambda r: r.pop("flow"))
    variant(lambda r: r.pop("interface"))
    variant(lambda r: r.update(type="flow_update"))
    variant(lambda r: r.update(type="flow_purge"))  # purge without a reason
    variant(lambda r: r.update(reason="closed"))  # flow with a reason
    variant(lambda r: r["flow"].pop("digest"))
    variant(lambda r: r["flow"].update(digest="XYZ"))
    variant(lambda r: r["flow"].update(local_ip="999.1.1.1"))
    variant(lambda r: r["flow"].update(local_port=70000))
    variant(lambda r: r["flow"].update(first_seen_at=1444236900.5))  # seconds, not integer ms
    variant(lambda r: r["flow"].update(local_bytes=-1))
    variant(lambda r: r["flow"].update(other_type="elsewhere"))
    variant(lambda r: r["flow"].update(ssl={"version": "TLSv1.2"}))
    variant(lambda r: r["flow"].update(ssl={"cipher_suite": 49199}))
    variant(lambda r: r["flow"].pop("local_origin"))
    variant(lambda r: r["flow"].pop("local_mac"))
    variant(lambda r: r["flow"].update(other_mac="unknown"))
    variant(lambda r: r["flow"].update(detected_protocol="TLS"))
    variant(lambda r: r["flow"].pop("risks"))
    variant(lambda r: r["flow"]["category"].pop("domain"))
    variant(lambda r: (r.update(type="flow_stats"), r["flow"].pop("detection_packets")))  # stats lacking a counter
    return bad


# A detection message shaped like the agent's own v5 `flow_dpi_complete`
# (written here from its documented member list; the values are made up).
AGENT_LIKE = {
    "type": "flow_dpi_complete", "interface": "eth0", "internal": False,
    "flow": {
        "digest": "0123456789abcdef0123456789abcdef01234567",
        "first_seen_at": 1700000000000, "last_seen_at": 1700000000250,
        "ip_version": 4, "ip_protocol": 6, "vlan_id": 0, "ip_nat": False, "ip_dscp": 0,
        "local_mac": "02:00:00:00:00:01", "other_mac": "00:00:00:00:00:00",
        "local_ip": "192.168.1.10", "local_port": 50000, "other_ip": "198.51.100.7", "other_port": 443,
        "local_origin": True, "other_type": "remote",
        "detected_protocol": 91, "detected_protocol_name": "TLS",
        "detected_application": 0, "detected_application_name": "Unknown",
        "detection_guessed": False, "detection_updated": False, "soft_dissector": False,
        "category": {"application": 0, "protocol": 0, "domain": 0},
        "risks": {"risks": [], "ndpi_risk_score": 0, "ndpi_risk_score_client": 0,
                  "ndpi_risk_score_server": 0},
        "host_server_name": "example.org", "dns_host_name": "",
        "ssl": {"version": "0x0304", "cipher_suite": "0x1301", "client_sni": "example.org"},
    },
}
AGENT_LIKE_STATS = {
    "type": "flow_stats", "interface": "eth0", "internal": False,
    "flow": {"digest": "0123456789abcdef0123456789abcdef01234567", "last_seen_at": 1700000015000,
             "local_bytes": 100, "other_bytes": 2000, "local_packets": 2, "other_packets": 3,
             "total_bytes": 9000, "total_packets": 20, "detection_packets": 6},
}


def check_flow(msgs):
    """Invariants across one flow's messages (flow, flow_dpi_complete,
    flow_purge); list of problems."""
    problems = []
    flow, dpi, purge = msgs
    digests = {m["flow"]["digest"] for m in msgs}
    if len(digests) != 1:
        problems.append("digest differs between the flow's messages")
    if flow["flow"] == purge["flow"]:
        problems.append("the flow message equals its flow_purge")
    if flow["flow"]["detected_protocol_name"] != "Unknown":
        problems.append("flow at first sight with a detection")
    for rec in (dpi["flow"], purge["flow"]):
        if rec["total_bytes"] != rec["local_bytes"] + rec["other_bytes"]:
            problems.append("total_bytes != local_bytes + other_bytes")
        if rec["total_packets"] != rec["local_packets"] + rec["other_packets"]:
            problems.append("total_packets != local_packets + other_packets")
        if rec["first_seen_at"] > rec["last_seen_at"]:
            problems.append("first_seen_at > last_seen_at")
    if dpi["flow"]["total_packets"] > purge["flow"]["total_packets"]:
        problems.append("flow_dpi_complete counts more packets than the flow_purge")
    if dpi["flow"]["detected_application_name"] != purge["flow"]["detected_application_name"] and \
            not purge["flow"]["detection_updated"]:
        pass  # the final record may name a later answer (DNS hint contradicted)
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("flowgate")
    ap.add_argument("corpus")
    ap.add_argument("schema")
    ap.add_argument("--local-net", action="append", default=[])
    ap.add_argument("--timeout", type=int, default=120)
    args = ap.parse_args()

    pcap_dir = os.path.join(args.corpus, "pcap")
    if not os.path.isdir(pcap_dir):
        print("corpus not found at %s: skipped" % args.corpus)
        return 77
    import jsonschema

    with open(args.schema) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

    pcaps = sorted(os.listdir(pcap_dir))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        results = list(ex.map(
            lambda n: run(args.flowgate, os.path.join(pcap_dir, n), args.local_net, args.timeout),
            pcaps))

    failures = []
    stats = collections.Counter()
    sample = None
    for pcap, records, err in results:
        name = os.path.basename(pcap)
        if records is None:
            failures.append("%s: %s" % (name, err))
            continue
        stats["captures"] += 1
        pending = []
        for i, r in enumerate(records):
            stats["records"] += 1
            errors = sorted(validator.iter_errors(r), key=lambda e: list(e.path))
            if errors:
                e = errors[0]
                failures.append("%s record %d: %s at /%s" % (
                    name, i, e.message, "/".join(str(x) for x in e.path)))
                continue
            stats[r["type"]] += 1
            if "ssl" in r["flow"]:
                stats["ssl"] += 1
            if not r["flow"]["local_origin"]:
                stats["local_is_dst"] += 1
            # classify writes each flow's three messages in a row.
            pending.append(r)
            want = ("flow", "flow_dpi_complete", "flow_purge")[len(pending) - 1]
            if r["type"] != want:
                failures.append("%s record %d: %s where %s was due" % (name, i, r["type"], want))
                pending = []
                continue
            if r["type"] == "flow_dpi_complete" and sample is None and "ssl" in r["flow"]:
                sample = r
            if len(pending) == 3:
                for prob in check_flow(pending):
                    failures.append("%s record %d: %s" % (name, i, prob))
                pending = []
        if pending:
            failures.append("%s: last flow without its flow_purge" % name)

    # The schema must say yes to the agent's own shape...
    for good in (AGENT_LIKE, AGENT_LIKE_STATS):
        for e in validator.iter_errors(good):
            failures.append("the schema rejects an agent-shaped %s: %s at /%s" % (
                good["type"], e.message, "/".join(str(x) for x in e.path)))
    # ...and be able to say no.
    if sample is None:
        failures.append("no record with an ssl object in the corpus output")
    else:
        for bad in bad_records(sample):
            if validator.is_valid(bad):
                failures.append("the schema accepts an invalid record: %s" % json.dumps(bad)[:300])

    print("netify: %d captures, %d records (%d flow, %d flow_dpi_complete, %d flow_purge, %d with ssl, "
          "%d local=dst)" % (
        stats["captures"], stats["records"], stats["flow"], stats["flow_dpi_complete"], stats["flow_purge"],
        stats["ssl"],
        stats["local_is_dst"]))
    if stats["flow"] == 0:
        failures.append("no flow records at all")
    for f in failures[:50]:
        print("FAIL: " + f)
    if len(failures) > 50:
        print("... and %d more" % (len(failures) - 50))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
