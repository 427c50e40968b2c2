#!/usr/bin/env python3
"""Unit tests of netns-tests/fg_kstate.py, the reader of kernel state that the
namespace tests, bench/inline_bench.sh and the demo use.

Fixtures (tests/kstate/fixtures) are real listings of flowgate's table on
Debian 12 (nft 1.0.6, a kernel without native nft queue, so flowgate uses the
xtables NFQUEUE target):
  table-noxt.*   without iptables installed: text prints the queue rule as a
                 bare `counter packets N bytes M`
  table-xt.*     with iptables' libxtables extensions: text prints
                 `counter packets N bytes M queue num 0 bypass`
  table-native.json  table-noxt.json with the queue statement nft prints for a
                 native `queue num 0-1 bypass` (libnftables-json(5)), for
                 kernels that have nft_queue
  set-*.json     `nft -j list set` with and without element timeouts
  conntrack.xml  `conntrack -L -o xml` (one IPv4 and one IPv6 UDP entry)
Run: kstate_test.py PATH/TO/fg_kstate.py
"""
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
TOOL = None


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def run(args, stdin):
    p = subprocess.run([sys.executable, TOOL] + args, input=stdin, capture_output=True, text=True)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def text_queue_counter(text):
    """The last rule of chain pre in the *text* listing: its counter. Only the
    test reads text, to cross-check the JSON reader against nft's own view."""
    block = text.split("chain pre {\n")[1].split("\n\t}")[0]
    pre = block.strip().splitlines()[-1]  # last rule of the chain
    m = re.search(r"counter packets (\d+) bytes (\d+)", pre)
    return int(m.group(1)), int(m.group(2))


class Queued(unittest.TestCase):
    def test_both_text_forms_differ_but_json_reads_the_same(self):
        noxt, xt = fixture("table-noxt.txt"), fixture("table-xt.txt")
        self.assertIn("queue num 0 bypass", xt)
        self.assertNotIn("queue", noxt.split("chain pre {")[1].split("chain pre_save")[0])
        for form in ("noxt", "xt"):
            with self.subTest(form=form):
                rc, out, err = run(["queued"], fixture(f"table-{form}.json"))
                self.assertEqual(rc, 0, err)
                p, b = map(int, out.split())
                # queue rule + DNS observation rule (0 in these captures)
                self.assertEqual((p, b), text_queue_counter(fixture(f"table-{form}.txt")))
                self.assertGreater(p, 0, "the captures queued a few packets")

    def test_native_queue_statement(self):
        rc, out, err = run(["queued"], fixture("table-native.json"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, run(["queued"], fixture("table-noxt.json"))[1])

    def test_sums_every_queue_rule_of_the_chain(self):
        import json
        d = json.loads(fixture("table-xt.json"))
        pre = [i["rule"] for i in d["nftables"] if "rule" in i and i["rule"]["chain"] == "pre"]
        dns = [r for r in pre if len(r["expr"]) > 2 and "xt" in r["expr"][-1]][0]
        dns["expr"][-2]["counter"] = {"packets": 7, "bytes": 700}
        rc, out, err = run(["queued"], json.dumps(d))
        self.assertEqual(rc, 0, err)
        p, b = text_queue_counter(fixture("table-xt.txt"))
        self.assertEqual(out, f"{p + 7} {b + 700}")

    def test_no_queue_rule_is_an_error_not_zero(self):
        import json
        d = json.loads(fixture("table-noxt.json"))
        d["nftables"] = [i for i in d["nftables"]
                         if not ("rule" in i and "xt" in i["rule"]["expr"][-1])]
        rc, out, err = run(["queued"], json.dumps(d))
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("no 'queue' rule", err)

    def test_queue_rule_without_counter_is_an_error(self):
        import json
        d = json.loads(fixture("table-noxt.json"))
        for i in d["nftables"]:
            if "rule" in i:
                i["rule"]["expr"] = [e for e in i["rule"]["expr"] if "counter" not in e]
        rc, _, err = run(["queued"], json.dumps(d))
        self.assertEqual(rc, 2)
        self.assertIn("has no counter", err)

    def test_missing_chain_or_table_or_garbage(self):
        self.assertEqual(run(["queued", "--chain", "nope"], fixture("table-xt.json"))[0], 2)
        self.assertEqual(run(["queued"], '{"nftables": [{"metainfo": {}}]}')[0], 2)
        self.assertEqual(run(["queued"], "")[0], 2)
        self.assertEqual(run(["queued"], fixture("table-xt.txt"))[0], 2, "text is not JSON")


class Counter(unittest.TestCase):
    def test_reject_and_drop_rules(self):
        for form in ("noxt", "xt", "native"):
            with self.subTest(form=form):
                rc, out, err = run(["counter", "--chain", "fwd", "--kind", "reject-tcp"],
                                   fixture(f"table-{form}.json"))
                self.assertEqual((rc, out), (0, "0 0"), err)
                self.assertEqual(run(["counter", "--chain", "in", "--kind", "drop"],
                                     fixture(f"table-{form}.json"))[:2], (0, "0 0"))

    def test_counts_the_chosen_rule_only(self):
        import json
        d = json.loads(fixture("table-noxt.json"))
        for i in d["nftables"]:
            r = i.get("rule")
            if r and r["chain"] == "fwd" and r["expr"][-1].get("reject", {}) == {"type": "tcp reset"}:
                r["expr"][-2]["counter"] = {"packets": 3, "bytes": 180}
        s = json.dumps(d)
        self.assertEqual(run(["counter", "--chain", "fwd", "--kind", "reject-tcp"], s)[1], "3 180")
        self.assertEqual(run(["counter", "--chain", "in", "--kind", "reject-tcp"], s)[1], "0 0")
        self.assertEqual(run(["counter", "--chain", "fwd", "--kind", "reject-other"], s)[1], "0 0")
        self.assertEqual(run(["counter", "--chain", "fwd"], s)[1], "3 180", "every counter of the chain")

    def test_kind_absent_is_an_error(self):
        rc, out, err = run(["counter", "--chain", "pre_save", "--kind", "drop"], fixture("table-xt.json"))
        self.assertEqual((rc, out), (2, ""))
        rc, out, err = run(["counter", "--chain", "pre_save"], fixture("table-xt.json"))
        self.assertEqual((rc, out), (2, ""), "pre_save has no counter at all")

    def test_table_filter(self):
        self.assertEqual(run(["counter", "--table", "flowgate", "--chain", "fwd", "--kind", "drop"],
                             fixture("table-xt.json"))[:2], (0, "0 0"))
        self.assertEqual(run(["counter", "--table", "other", "--chain", "fwd", "--kind", "drop"],
                             fixture("table-xt.json"))[0], 2)


class Elements(unittest.TestCase):
    def test_with_and_without_timeouts(self):
        rc, out, err = run(["elements", "--set", "zero_rated"], fixture("set-timeout.json"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(out.split()), ["10.71.100.1", "10.71.3.2"])
        self.assertEqual(run(["elements"], fixture("set-plain.json"))[1], "fd71:100::1")

    def test_wrong_set_is_an_error(self):
        self.assertEqual(run(["elements", "--set", "netflix4"], fixture("set-plain.json"))[0], 2)

    def test_empty_set_prints_nothing(self):
        import json
        d = json.loads(fixture("set-timeout.json"))
        del d["nftables"][1]["set"]["elem"]
        self.assertEqual(run(["elements", "--set", "zero_rated"], json.dumps(d))[:2], (0, ""))


class Conntrack(unittest.TestCase):
    def test_entries(self):
        rc, out, err = run(["conntrack"], fixture("conntrack.xml"))
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2)
        p4 = lines[0].split()
        self.assertEqual((p4[0], p4[1], p4[3], p4[4], p4[5]), ("udp", "127.0.0.1", "127.0.0.1", "9", str(0xa0000000)))
        self.assertEqual(p4[6:], ["127.0.0.1", "127.0.0.1"], "reply direction")
        self.assertEqual(lines[1].split()[1], "::1")

    def test_empty(self):
        self.assertEqual(run(["conntrack"], "")[0], 2)
        self.assertEqual(run(["conntrack", "--allow-empty"], "")[:2], (0, ""))
        self.assertEqual(run(["conntrack"], "udp 17 29 src=1.2.3.4 mark=1\n")[0], 2, "text is not XML")


if __name__ == "__main__":
    TOOL = sys.argv.pop(1)
    unittest.main(verbosity=2)
