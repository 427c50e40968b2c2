#!/usr/bin/env python3
"""First-packet figures over the corpus: run `flowgate classify --hints` on
every capture of ../shared/corpus (each capture alone: the DNS answers and
earlier flows inside it are what the hints know, as on a gateway that
started with the capture) and report

  - how many flows had an answer at their first packet (`first_answer`), by
    source (dns: the name the client resolved; cache: a server learned from
    an earlier flow),
  - how often that early answer agrees with DPI's own final answer:
    application (where the early answer named one) and hostname (where DPI
    read one; the resolved name and the SNI often differ legitimately).

Every record is validated against the JSON Schema when --schema is given.
With --floors the run fails below the floors (regression guard; the figures
themselves are printed for the closing notes and docs/first-packet.md).
Usage: first_packet_score.py FLOWGATE CORPUS_DIR [--floors] [--schema S]
Exit 77 (skipped) when the corpus is absent.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import subprocess
import sys

FLOORS = {
    "answered": 12.0,      # % of flows with a first-packet answer
    "app_agreement": 90.0,  # % of early applications DPI confirms
}


def classify(flowgate, pcap, timeout):
    p = subprocess.run([flowgate, "classify", "-q", "--hints", pcap], capture_output=True, timeout=timeout)
    if p.returncode != 0:  # 1: a capture could not be opened or read to its end
        raise RuntimeError("%s: exit %d: %s" % (pcap, p.returncode, p.stderr.decode(errors="replace")[-300:]))
    return [json.loads(line) for line in p.stdout.decode("utf-8").splitlines()]


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("flowgate")
    ap.add_argument("corpus")
    ap.add_argument("--floors", action="store_true")
    ap.add_argument("--schema")
    ap.add_argument("--timeout", type=int, default=60)
    args = ap.parse_args()
    pcap_dir = os.path.join(args.corpus, "pcap")
    if not os.path.isdir(pcap_dir):
        print("corpus not found at %s: skipped" % args.corpus)
        return 77
    validator = None
    if args.schema:
        import jsonschema
        with open(args.schema) as f:
            validator = jsonschema.Draft202012Validator(json.load(f))

    pcaps = [os.path.join(pcap_dir, n) for n in sorted(os.listdir(pcap_dir))]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        results = list(ex.map(lambda p: classify(args.flowgate, p, args.timeout), pcaps))

    t = collections.Counter()
    disagreements = collections.Counter()
    bad = []
    for records in results:
        for r in records:
            if validator and not validator.is_valid(r):
                bad.append(next(iter(validator.iter_errors(r))).message)
            if r.get("event") == "stats":
                t["early_answers_stats"] += r["early_answers"]
                t["detection_updated_stats"] += r["detection_updated"]
                continue
            if r.get("event") != "flow":
                continue
            t["flows"] += 1
            fa = r.get("first_answer")
            if not fa:
                continue
            t["answered"] += 1
            t["answered_" + fa["confidence"]] += 1
            if r["confidence"] != "dpi":
                t["dpi_never"] += 1
                continue
            t["dpi_confirmed"] += 1
            if fa["application"]:
                t["app_compared"] += 1
                if fa["application"].lower() == r["application"].lower():
                    t["app_agree"] += 1
                else:
                    disagreements[(fa["application"], r["application"])] += 1
                if r["detection_updated"] == (fa["application"].lower() == r["application"].lower()):
                    bad.append("detection_updated disagrees with the applications in flow %s" % r["flow_id"])
            if r["hostname"]:
                t["host_compared"] += 1
                t["host_agree"] += fa["hostname"].lower() == r["hostname"].lower()

    figures = {
        "answered": pct(t["answered"], t["flows"]),
        "app_agreement": pct(t["app_agree"], t["app_compared"]),
    }
    print("first-packet answers over %d captures, %d flows:" % (len(pcaps), t["flows"]))
    print("  answered at the first packet: %d (%.2f %%): dns %d, cache %d" %
          (t["answered"], figures["answered"], t["answered_dns"], t["answered_cache"]))
    print("  DPI reached its own answer for %d of them (%d never did: the early answer stood)" %
          (t["dpi_confirmed"], t["dpi_never"]))
    print("  application agreement: %d of %d (%.2f %%)" % (t["app_agree"], t["app_compared"], figures["app_agreement"]))
    print("  hostname agreement (resolved name == name DPI read): %d of %d (%.2f %%)" %
          (t["host_agree"], t["host_compared"], pct(t["host_agree"], t["host_compared"])))
    for (early, final), n in disagreements.most_common(8):
        print("    early %-16s DPI %-16s x%d" % (early, final, n))
    failures = list(bad[:5])
    if t["answered"] != t["early_answers_stats"]:
        failures.append("stats early_answers %d != flows with first_answer %d" % (t["early_answers_stats"], t["answered"]))
    if args.floors:
        for k, floor in FLOORS.items():
            if figures[k] < floor:
                failures.append("%s %.2f %% is below the floor %.1f %%" % (k, figures[k], floor))
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
