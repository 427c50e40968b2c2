#!/usr/bin/env python3
"""Kernel state as data, for flowgate's namespace tests, benchmarks and demo.

Reads what the kernel reports in its structured forms and prints plain values;
never scrapes the human-readable listings (their shape changes with the tools
installed: with iptables' libxtables extensions present, `nft list` prints the
xtables NFQUEUE target as `queue num 0 bypass`, without them as nothing at all).

  nft -j list table|chain ... | fg_kstate.py queued [--chain pre]
      packets that rules ending in a queue statement (native `queue` or the
      xtables NFQUEUE target) counted, summed over the chain: "packets bytes"
  nft -j list ... | fg_kstate.py counter --chain C [--kind K] [--table T]
      counters of the rules of chain C whose verdict statement is K (queue,
      drop, accept, reject-tcp, reject-other; default: every rule with a
      counter), summed: "packets bytes"
  nft -j list set ... | fg_kstate.py elements [--set S]
      the set's element values, one per line
  conntrack -L -o xml | fg_kstate.py conntrack
      one line per entry: "proto src sport dst dport mark reply_src reply_dst"
      (original direction, then the reply direction's addresses, which show
      NAT; mark in decimal; ports "-" for protocols without them)

A reader that finds nothing to read (no such chain, no matching rule, a
matching rule without a counter, input that is not what the tool prints) exits
2 with the reason on stderr: a missing rule is an error, never a count of 0.
An empty conntrack table is a valid answer (no lines); empty input is not,
since `conntrack -L -o xml` always prints its <conntrack> root when there are
entries and nothing at all when there are none -- so the caller passes
--allow-empty where no entries is a possible answer.
"""
import argparse
import json
import sys
import xml.etree.ElementTree as ET


class ReadError(Exception):
    pass


def load_nft(text):
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReadError(f"not nft JSON output ({e})")
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ReadError("no top-level 'nftables' array: not `nft -j` output")
    return items


def rules_of(items, chain, table=None):
    chains = [i["chain"] for i in items if "chain" in i]
    if chain not in {c.get("name") for c in chains if table is None or c.get("table") == table}:
        # `nft -j list chain` prints the chain object too, so its absence is an error.
        raise ReadError(f"no chain '{chain}'" + (f" in table '{table}'" if table else "") + " in the listing")
    return [i["rule"] for i in items
            if "rule" in i and i["rule"].get("chain") == chain
            and (table is None or i["rule"].get("table") == table)]


def is_queue(stmt):
    if "queue" in stmt:  # native nft queue: {"queue": {"num": ..., "flags": [...]}}
        return True
    xt = stmt.get("xt")  # nft_compat target: {"xt": {"type": "target", "name": "NFQUEUE"}}
    return isinstance(xt, dict) and xt.get("type") == "target" and xt.get("name") == "NFQUEUE"


def kind_of(rule):
    """The rule's verdict kind, from its last statement (None: no verdict)."""
    exprs = rule.get("expr", [])
    if not exprs:
        return None
    last = exprs[-1]
    if is_queue(last):
        return "queue"
    if "drop" in last:
        return "drop"
    if "accept" in last:
        return "accept"
    if "reject" in last:
        r = last["reject"] or {}
        return "reject-tcp" if r.get("type") == "tcp reset" else "reject-other"
    return None


def counter_of(rule):
    for e in rule.get("expr", []):
        if "counter" in e and isinstance(e["counter"], dict):
            return int(e["counter"]["packets"]), int(e["counter"]["bytes"])
    return None


def sum_counters(items, chain, kind, table=None):
    rules = rules_of(items, chain, table)
    picked = [r for r in rules if kind is None or kind_of(r) == kind]
    if kind is not None and not picked:
        raise ReadError(f"no '{kind}' rule in chain '{chain}' ({len(rules)} rules listed)")
    packets = nbytes = 0
    counted = 0
    for r in picked:
        c = counter_of(r)
        if c is None:
            if kind is not None:
                raise ReadError(f"the '{kind}' rule (handle {r.get('handle')}) in chain '{chain}' has no counter")
            continue
        packets += c[0]
        nbytes += c[1]
        counted += 1
    if counted == 0:
        raise ReadError(f"no rule with a counter in chain '{chain}'")
    return packets, nbytes


def set_elements(items, name=None):
    sets = [i["set"] for i in items if "set" in i and (name is None or i["set"].get("name") == name)]
    if len(sets) != 1:
        raise ReadError(f"expected one set{' named ' + repr(name) if name else ''} in the listing, found {len(sets)}")
    out = []
    for e in sets[0].get("elem", []):
        v = e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e
        if isinstance(v, dict) and "prefix" in v:
            v = f"{v['prefix']['addr']}/{v['prefix']['len']}"
        elif isinstance(v, dict) and "range" in v:
            v = f"{v['range'][0]}-{v['range'][1]}"
        out.append(str(v))
    return out


def conntrack_entries(text, allow_empty):
    if not text.strip():
        if allow_empty:
            return []
        raise ReadError("empty input: `conntrack -L -o xml` printed nothing (no entries?)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ReadError(f"not conntrack XML output ({e})")
    if root.tag != "conntrack":
        raise ReadError(f"root element <{root.tag}>, expected <conntrack>")
    out = []
    for flow in root.findall("flow"):
        orig = flow.find("meta[@direction='original']")
        reply = flow.find("meta[@direction='reply']")
        indep = flow.find("meta[@direction='independent']")
        if orig is None:
            raise ReadError("a <flow> without its original direction")
        l4 = orig.find("layer4")
        mark = indep.findtext("mark") if indep is not None else None
        out.append((l4.get("protoname") if l4 is not None else "?",
                    orig.findtext("layer3/src"), orig.findtext("layer4/sport") or "-",
                    orig.findtext("layer3/dst"), orig.findtext("layer4/dport") or "-",
                    int(mark) if mark else 0,
                    reply.findtext("layer3/src") if reply is not None else "-",
                    reply.findtext("layer3/dst") if reply is not None else "-"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queued")
    q.add_argument("--chain", default="pre")
    q.add_argument("--table")
    c = sub.add_parser("counter")
    c.add_argument("--chain", required=True)
    c.add_argument("--table")
    c.add_argument("--kind", choices=["queue", "drop", "accept", "reject-tcp", "reject-other"])
    e = sub.add_parser("elements")
    e.add_argument("--set")
    t = sub.add_parser("conntrack")
    t.add_argument("--allow-empty", action="store_true")
    a = ap.parse_args(argv)
    text = sys.stdin.read()
    try:
        if a.cmd == "queued":
            print(*sum_counters(load_nft(text), a.chain, "queue", a.table))
        elif a.cmd == "counter":
            print(*sum_counters(load_nft(text), a.chain, a.kind, a.table))
        elif a.cmd == "elements":
            for v in set_elements(load_nft(text), a.set):
                print(v)
        else:
            for entry in conntrack_entries(text, a.allow_empty):
                print(*entry)
    except (ReadError, KeyError, TypeError, ValueError) as ex:
        print(f"fg_kstate.py {a.cmd}: {ex}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
