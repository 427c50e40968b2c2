#!/usr/bin/env python3
"""End-to-end check of the shipped policies on real captures.

Runs `flowgate classify` over captures of the developer corpus, pipes the
flow records into `flowgate policy eval` with each shipped policy, and checks
the decisions: weak TLS is rejected by 10-block-weak-tls.toml, Netflix gets the
zero-rated route, BitTorrent gets the scavenger class. Exit 77 (skip) when the
corpus is not there.
"""
import argparse
import json
import os
import subprocess
import sys

SKIP = 77
WEAK_VERSIONS = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "DTLSv1.0"}
CAPTURES = [
    "webex.pcap", "KakaoTalk_chat.pcap", "smtp-starttls.pcap", "pop3_stls.pcap", "tor.pcap",
    "ftp-start-tls.pcap", "tls_invalid_reads.pcap", "dtls2.pcap", "netflix.pcap", "bittorrent.pcap",
    "bittorrent_utp.pcap", "6in4tunnel.pcap",
]

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowgate", required=True)
    ap.add_argument("--policies", required=True)
    ap.add_argument("--corpus", required=True)
    a = ap.parse_args()

    pcap_dir = os.path.join(a.corpus, "pcap")
    captures = [os.path.join(pcap_dir, c) for c in CAPTURES if os.path.exists(os.path.join(pcap_dir, c))]
    if not os.path.isdir(pcap_dir) or not captures:
        print("corpus not found at %s: skipping" % a.corpus)
        return SKIP

    policies = {n: os.path.join(a.policies, n) for n in
                ("10-block-weak-tls.toml", "20-zero-rate-netflix.toml", "40-qos-gaming.toml", "30-bittorrent-bulk.toml")}
    for name, path in policies.items():
        rc, out, err = run([a.flowgate, "policy", "check", path])
        check(rc == 0 and out.startswith("ok:"), "policy check %s: rc=%d %s" % (name, rc, err.strip()))

    rc, records_text, err = run([a.flowgate, "classify", "-q"] + captures)
    if rc != 0:
        print("flowgate classify failed (rc=%d): %s" % (rc, err))
        return 1
    records = [json.loads(l) for l in records_text.splitlines() if l.strip()]
    flows = {r["flow_id"]: r for r in records if r.get("event") == "flow"}
    check(len(flows) > 50, "expected many flow records, got %d" % len(flows))
    # flow ids restart per capture: key decisions by position instead.
    flow_list = [r for r in records if r.get("event") == "flow"]

    def evaluate(policy):
        rc, out, err = run([a.flowgate, "policy", "eval", policies[policy]], stdin=records_text)
        check(rc == 0, "policy eval %s: rc=%d %s" % (policy, rc, err.strip()))
        decisions = [json.loads(l) for l in out.splitlines() if l.strip()]
        check(len(decisions) == len(flow_list),
              "%s: %d decisions for %d flow records (stats line must be skipped)" %
              (policy, len(decisions), len(flow_list)))
        return list(zip(flow_list, decisions))

    # block-weak-tls: every flow with an old version or a weak/insecure cipher is rejected.
    rejected = weak = strong_ok = 0
    for rec, d in evaluate("10-block-weak-tls.toml"):
        check(d["flow_id"] == rec["flow_id"], "decision order does not follow the records")
        tls = rec.get("tls") or {}
        is_weak = tls.get("version") in WEAK_VERSIONS or tls.get("cipher_strength") in ("insecure", "weak")
        if is_weak:
            weak += 1
            check(d["verdict"] == "reject",
                  "weak TLS flow not rejected: %s %s -> %s" % (tls.get("version"), tls.get("cipher"), d))
        if d["verdict"] == "reject":
            rejected += 1
            check(is_weak, "strong flow rejected: %s -> %s" % (tls, d))
        if tls.get("version") in ("TLSv1.2", "TLSv1.3") and tls.get("cipher_strength") == "strong":
            strong_ok += d["verdict"] == "accept"
    check(weak >= 10, "expected >= 10 weak TLS flows in the corpus captures, got %d" % weak)
    check(strong_ok >= 5, "expected strong TLS flows to be accepted, got %d" % strong_ok)
    rc4 = [r for r in flow_list if "RC4" in ((r.get("tls") or {}).get("cipher") or "")]
    check(len(rc4) >= 1, "expected RC4 flows (webex, KakaoTalk, smtp/pop3 STARTTLS)")

    # zero-rate-netflix: Netflix flows take the zero-rated route and fill the
    # set, when their name is verified (docs/policy.md "Verified names"; a
    # capture replayed without --hints verifies by certificate only). An
    # unverified name gets the default: no route, no set, the rule set aside.
    netflix = unverified = 0
    for rec, d in evaluate("20-zero-rate-netflix.toml"):
        is_netflix = (rec.get("application") or "").lower() == "netflix"
        if is_netflix and rec.get("name_verified") is False:
            unverified += 1
            check(d["route"] is None and d["sets"] == [] and d["mark"] == 0,
                  "Netflix flow with an unverified name zero-rated: %s" % d)
            check("zero-rate-netflix" in d["unverified_rules"], "unverified match not reported: %s" % d)
        elif is_netflix:
            netflix += 1
            check(d["route"] is not None and d["route"]["name"] == "zero-rated" and d["route"]["table"] == 100,
                  "Netflix flow not zero-rated: %s" % d)
            check(d["mark"] == 0x1000 and d["mask"] == 0xff00, "Netflix mark: %s" % d)
            family = "netflix6" if ":" in rec["dst_ip"] else "netflix4"
            check({"set": family, "address": rec["dst_ip"]} in d["sets"], "Netflix set addition: %s" % d)
        elif d["route"] is not None:
            host = rec.get("hostname") or ""
            check("nflx" in host or "netflix" in host, "non-Netflix flow zero-rated: %s %s" % (host, d))
    print("Netflix flows: %d zero-rated (name verified or none), %d with an unverified name" % (netflix, unverified))
    check(netflix + unverified >= 5, "expected Netflix flows in netflix.pcap, got %d" % (netflix + unverified))

    # bittorrent-bulk: BitTorrent flows get the scavenger class (4, mark 0x400).
    bt = 0
    for rec, d in evaluate("30-bittorrent-bulk.toml"):
        is_bt = "bittorrent" in ((rec.get("application") or "") + (rec.get("l7_protocol") or "")).lower()
        if is_bt:
            bt += 1
            check(d["mark"] == 0x400 and d["mask"] == 0xff00 and (d["rule"] or "").startswith("bittorrent"),
                  "BitTorrent flow not in the scavenger class: %s" % d)
        else:
            check(d["mark"] == 0, "non-BitTorrent flow classed: %s %s" % (rec.get("application"), d))
    check(bt >= 5, "expected BitTorrent flows, got %d" % bt)

    # qos-gaming: evaluates every record without error.
    evaluate("40-qos-gaming.toml")

    # A single record via --flow, and the exit codes of usage errors.
    rc, out, _ = run([a.flowgate, "policy", "eval", policies["10-block-weak-tls.toml"], "--flow",
                      json.dumps(rc4[0]) if rc4 else "{}"])
    check(rc == 0 and json.loads(out)["verdict"] == ("reject" if rc4 else "accept"), "--flow: %s" % out)
    rc, _, _ = run([a.flowgate, "policy", "frobnicate"])
    check(rc == 2, "unknown subcommand must exit 2, got %d" % rc)
    rc, _, _ = run([a.flowgate, "policy", "check"])
    check(rc == 2, "check without PATH must exit 2, got %d" % rc)
    bad = os.path.join(os.environ.get("TMPDIR", "/tmp"), "fg-corpus-eval-bad-%d.toml" % os.getpid())
    with open(bad, "w") as f:
        f.write('[[rule]]\nname = "x"\nmatch = { application = "Netflx" }\nacton = "drop"\n')
    try:
        rc, _, err = run([a.flowgate, "policy", "check", bad])
    finally:
        os.unlink(bad)
    check(rc == 1 and ":3:" in err and ":4:1: rule[x].acton" in err and "NetFlix" in err,
          "check must print every error with its line: rc=%d %s" % (rc, err))

    print("flows=%d weak=%d rejected=%d netflix=%d bittorrent=%d" % (len(flow_list), weak, rejected, netflix, bt))
    for f in failures[:30]:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
