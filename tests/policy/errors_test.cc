// Every class of load error names file, line, column, key and what was
// expected; all errors are reported, not only the first.
#include "tests/policy/policy_test_util.h"

namespace fg::policy {
namespace {

using ::testing::HasSubstr;

struct ErrorCase {
  std::string name;
  std::string text;
  int line;
  int column;  // 0: not checked
  std::string key;
  std::string message;  // substring
  friend void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }
};

class ErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorTest, ReportsLocationKeyAndExpectation) {
  const auto& c = GetParam();
  auto r = testing::compileText(c.text, "policy.toml");
  ASSERT_FALSE(r.ok()) << c.text;
  std::string all;
  for (const auto& x : r.errors()) all += formatError(x) + "\n";
  // The error for the key under test (others may accompany it).
  auto it = std::find_if(r.errors().begin(), r.errors().end(),
                         [&](const LoadError& x) { return x.key == c.key; });
  ASSERT_NE(it, r.errors().end()) << all;
  const LoadError& e = *it;
  EXPECT_EQ(e.file, "policy.toml");
  EXPECT_EQ(e.line, c.line) << all;
  if (c.column != 0) {
    EXPECT_EQ(e.column, c.column) << all;
  }
  EXPECT_EQ(e.key, c.key) << all;
  EXPECT_THAT(e.message, HasSubstr(c.message)) << all;
}

const std::string kRule = "[[rule]]\nname = \"r\"\n";  // lines 1-2

const ErrorCase kErrorCases[] = {
    {"unknown_rule_key", kRule + "acton = \"drop\"\n", 3, 1, "rule[r].acton",
     "unknown key (did you mean 'action'?)"},
    {"unknown_match_key", kRule + "match = { aplication = \"TLS\" }\n", 3, 11, "rule[r].match.aplication",
     "did you mean 'application'?"},
    {"unknown_negated_key", kRule + "match = { not_hostnme = \"a.com\" }\n", 3, 0, "rule[r].match.not_hostnme",
     "did you mean 'not_hostname'?"},
    {"unknown_top_level_key", "[[rules]]\nname = \"x\"\n", 1, 0, "rules", "did you mean 'rule'?"},
    {"unknown_policy_key", "[policy]\ndefault_actoin = \"drop\"\n", 2, 1, "policy.default_actoin",
     "did you mean 'default_action'?"},
    {"wrong_type_action", kRule + "action = 1\n", 3, 10, "rule[r].action",
     "expected a string, got an integer"},
    {"wrong_type_enabled", kRule + "enabled = \"yes\"\n", 3, 0, "rule[r].enabled",
     "expected a boolean (true or false), got a string"},
    {"wrong_type_match", kRule + "match = \"TLS\"\n", 3, 0, "rule[r].match", "expected a table"},
    {"wrong_type_list_element", kRule + "match = { application = [\"TLS\", 7] }\n", 3, 0,
     "rule[r].match.application", "expected a string, got an integer"},
    {"bad_action_value", kRule + "action = \"block\"\n", 3, 0, "rule[r].action",
     "expected \"accept\", \"drop\" or \"reject\""},
    {"bad_cidr_host_bits", kRule + "match = { src = \"10.0.0.1/8\" }\n", 3, 0, "rule[r].match.src",
     "host bits set after the prefix (did you mean 10.0.0.0/8?)"},
    {"bad_cidr_prefix", kRule + "match = { dst = [\"10.0.0.0/8\", \"10.0.0.0/33\"] }\n", 3, 0,
     "rule[r].match.dst", "prefix length must be 0-32"},
    {"bad_ipv6", kRule + "match = { dst = \"2001:db8:::1\" }\n", 3, 0, "rule[r].match.dst",
     "bad address or CIDR"},
    {"bad_port", kRule + "match = { dst_port = 70000 }\n", 3, 0, "rule[r].match.dst_port",
     "bad port 70000: expected a port 0-65535"},
    {"bad_port_range", kRule + "match = { src_port = \"2000-1000\" }\n", 3, 0, "rule[r].match.src_port",
     "low <= high"},
    {"unknown_application", kRule + "match = { application = \"Netflx\" }\n", 3, 0,
     "rule[r].match.application", "unknown nDPI protocol/application 'Netflx' (did you mean 'NetFlix'?)"},
    {"unknown_l7_protocol", kRule + "match = { l7_protocol = \"TSL\" }\n", 3, 0, "rule[r].match.l7_protocol",
     "(did you mean 'TLS'?)"},
    {"unknown_category", kRule + "match = { category = \"Vidoe\" }\n", 3, 0, "rule[r].match.category",
     "unknown nDPI category 'Vidoe' (did you mean 'Video'?)"},
    {"unknown_cipher", kRule + "match = { cipher = \"TLS_RSA_WITH_RC4_128_MD\" }\n", 3, 0,
     "rule[r].match.cipher", "did you mean 'TLS_RSA_WITH_RC4_128_MD5'?"},
    {"bad_cipher_strength", kRule + "match = { cipher_strength = \"medium\" }\n", 3, 0,
     "rule[r].match.cipher_strength", "expected \"insecure\", \"weak\", \"strong\" or \"unknown\""},
    {"bad_tls_version", kRule + "match = { tls_version = \"< TLS1.2\" }\n", 3, 0,
     "rule[r].match.tls_version", "expected a version like \"TLSv1.2\""},
    {"bad_ja3", kRule + "match = { ja3c = \"xyz\" }\n", 3, 0, "rule[r].match.ja3c", "32 hexadecimal digits"},
    {"bad_hostname", kRule + "match = { hostname = \"foo..com\" }\n", 3, 0, "rule[r].match.hostname",
     "bad hostname"},
    {"bad_hostname_wildcard", kRule + "match = { hostname = \"a*.example.com\" }\n", 3, 0,
     "rule[r].match.hostname", "\"*.example.com\" (subdomains)"},
    {"bad_regex", kRule + "match = { hostname = \"~(\" }\n", 3, 0, "rule[r].match.hostname",
     "invalid regular expression"},
    {"bad_proto", kRule + "match = { proto = \"tpc\" }\n", 3, 0, "rule[r].match.proto",
     "did you mean 'tcp'?"},
    {"bad_confidence", kRule + "match = { confidence = \"dpii\" }\n", 3, 0, "rule[r].match.confidence",
     "did you mean 'dpi'?"},
    {"bad_interface", kRule + "match = { in_interface = \"a-very-long-interface-name\" }\n", 3, 0,
     "rule[r].match.in_interface", "bad interface name"},
    {"bad_day", kRule + "match = { days = [\"mon\", \"mnday\"] }\n", 3, 0, "rule[r].match.days",
     "unknown day 'mnday' (did you mean 'monday'?)"},
    {"bad_time", kRule + "match = { time = \"25:00-26:00\" }\n", 3, 0, "rule[r].match.time",
     "expected \"HH:MM-HH:MM\""},
    {"empty_time", kRule + "match = { time = \"10:00-10:00\" }\n", 3, 0, "rule[r].match.time",
     "empty time range"},
    {"time_and_not_time", kRule + "match = { time = \"10:00-11:00\", not_time = \"10:30-10:40\" }\n", 3, 0,
     "rule[r].match.time", "either time or not_time"},
    {"empty_list", kRule + "match = { application = [] }\n", 3, 0, "rule[r].match.application",
     "an empty list matches nothing"},
    {"unknown_group", "[address_group]\nlan = [\"10.0.0.0/8\"]\n" + kRule + "match = { src = \"lna\" }\n", 5, 0,
     "rule[r].match.src", "unknown address group 'lna' (did you mean 'lan'?)"},
    {"undefined_class", "[class]\nvideo = 1\n" + kRule + "class = \"vidoe\"\n", 5, 9, "rule[r].class",
     "undefined class 'vidoe' (did you mean 'video'?)"},
    {"undefined_route", kRule + "route = \"uplink\"\n", 3, 0, "rule[r].route",
     "undefined route 'uplink'; define it as [route.uplink]"},
    {"undefined_set", "[set.blocked]\nfamily = \"ipv4\"\n" + kRule + "add_to_set = [\"blocked\", \"blokced\"]\n", 5,
     0, "rule[r].add_to_set", "undefined set 'blokced' (did you mean 'blocked'?)"},
    {"duplicate_rule_name", kRule + "[[rule]]\nname = \"r\"\n", 4, 8, "rule[r].name",
     "duplicate rule name (first defined at policy.toml:2)"},
    {"missing_rule_name", "[[rule]]\naction = \"drop\"\n", 1, 0, "rule[#1].name", "missing required key"},
    {"bad_rule_name", "[[rule]]\nname = \"has space\"\n", 2, 0, "rule[#1].name", "rule names use"},
    {"conflicting_class_marks", "[class]\na = 1\nb = 2\nc = 1\n", 4, 5, "class.c",
     "conflicting mark values: mark 0x1 is already used by class 'a'"},
    {"route_conflicts_with_class", "[class]\na = 1\n[route.r]\ntable = 10\nfwmark = 1\n", 5, 0,
     "route.r.fwmark", "conflicting mark values"},
    {"class_outside_mask", "[policy]\nmark_mask = 0xff\n[class]\nbig = 300\n", 4, 7, "class.big",
     "is outside mark_mask 0xff; expected a value from 1 to 255"},
    {"class_outside_shifted_mask", "[policy]\nmark_mask = 0xff00\nmark_shift = 8\n[class]\nbig = 256\n", 5, 0,
     "class.big", "(mark 0x10000 after mark_shift 8) is outside mark_mask 0xff00"},
    {"fwmark_outside_mask", "[route.r]\ntable = 10\nfwmark = 0x100\n", 3, 0, "route.r.fwmark",
     "outside mark_mask"},
    {"mask_below_shift", "[policy]\nmark_mask = 0xff\nmark_shift = 4\n", 2, 0, "policy.mark_mask",
     "has bits below mark_shift 4"},
    {"route_table_reserved", "[route.r]\ntable = 254\nfwmark = 1\n", 2, 9, "route.r.table",
     "routing table 254 out of range: expected 1-252 or 256-4294967295"},
    {"route_table_zero", "[route.r]\ntable = 0\nfwmark = 1\n", 2, 0, "route.r.table", "out of range"},
    {"route_unknown_key", "[route.r]\ntabel = 10\n", 2, 0, "route.r.tabel", "did you mean 'table'?"},
    {"route_bad_via", "[route.r]\ntable = 10\nfwmark = 1\nvia = \"10.0.0.300\"\n", 4, 0, "route.r.via",
     "expected an IPv4 or IPv6 next-hop address"},
    {"route_missing_table", "[route.r]\nfwmark = 1\n", 1, 0, "route.r.table", "missing required key"},
    {"set_missing_family", "[set.s]\naddress = \"dst\"\n", 1, 0, "set.s.family", "missing required key"},
    {"set_bad_address", "[set.s]\nfamily = \"ipv4\"\naddress = \"source\"\n", 3, 0, "set.s.address",
     "expected \"src\" or \"dst\""},
    {"set_bad_timeout", "[set.s]\nfamily = \"ipv4\"\ntimeout = \"5 weeks\"\n", 3, 0, "set.s.timeout",
     "expected seconds (integer) or a duration"},
    {"set_unknown_key", "[set.s]\nfamily = \"ipv4\"\nverdikt = \"drop\"\n", 3, 1, "set.s.verdikt",
     "unknown key (did you mean 'verdict'?); expected one of: family, address, timeout, route, class, verdict"},
    {"set_bind_undefined_route",
     "[route.uplink]\ntable = 10\nfwmark = 1\n[set.s]\nfamily = \"ipv4\"\nroute = \"uplnk\"\n", 6, 9,
     "set.s.route", "undefined route 'uplnk' (did you mean 'uplink'?); define it as [route.uplnk]"},
    {"set_bind_undefined_class", "[class]\nvideo = 1\n[set.s]\nfamily = \"ipv4\"\nclass = \"vidoe\"\n", 5, 9,
     "set.s.class", "undefined class 'vidoe' (did you mean 'video'?); define it in [class]"},
    {"set_bind_bad_verdict", "[set.s]\nfamily = \"ipv4\"\nverdict = \"dorp\"\n", 3, 11, "set.s.verdict",
     "expected \"accept\", \"drop\" or \"reject\", got 'dorp' (did you mean 'drop'?)"},
    {"set_bind_verdict_type", "[set.s]\nfamily = \"ipv4\"\nverdict = 1\n", 3, 11, "set.s.verdict",
     "expected a string, got an integer"},
    {"set_bind_route_type", "[set.s]\nfamily = \"ipv4\"\nroute = [\"up\"]\n", 3, 9, "set.s.route",
     "expected a string, got an array"},
    {"set_bind_class_type", "[set.s]\nfamily = \"ipv4\"\nclass = 3\n", 3, 9, "set.s.class",
     "expected a string, got an integer"},
    {"set_bind_verdict_on_src", "[set.s]\nfamily = \"ipv4\"\naddress = \"src\"\nverdict = \"drop\"\n", 4, 11,
     "set.s.verdict", "a kernel binding needs address = \"dst\""},
    {"set_bind_route_on_src",
     "[route.up]\ntable = 10\nfwmark = 1\n[set.s]\nroute = \"up\"\nfamily = \"ipv6\"\naddress = \"src\"\n", 5, 9,
     "set.s.route", "this set holds source addresses (address = \"src\")"},
    {"set_bind_class_on_src", "[class]\nbulk = 1\n[set.s]\nfamily = \"ipv4\"\naddress = \"src\"\nclass = \"bulk\"\n",
     6, 9, "set.s.class", "a kernel binding needs address = \"dst\""},
    {"set_bind_route_on_drop",
     "[route.up]\ntable = 10\nfwmark = 1\n[set.s]\nfamily = \"ipv4\"\nverdict = \"drop\"\nroute = \"up\"\n", 7, 9,
     "set.s.route", "has no effect: verdict is \"drop\" (a flow the kernel blocks has no route or class)"},
    {"set_bind_class_on_reject",
     "[class]\nbulk = 1\n[set.s]\nclass = \"bulk\"\nfamily = \"ipv4\"\nverdict = \"reject\"\n", 4, 9,
     "set.s.class", "has no effect: verdict is \"reject\""},
    {"set_bind_class_overlaps_route",
     "[class]\nbulk = 1\n[route.up]\ntable = 10\nfwmark = 2\n[set.s]\nfamily = \"ipv4\"\nclass = \"bulk\"\nroute = \"up\"\n",
     9, 9, "set.s.route", "class mark 0x1 overlaps the fwmark_mask 0xff of route 'up'"},
    {"class_on_drop", "[class]\nbulk = 1\n" + kRule + "action = \"drop\"\nclass = \"bulk\"\n", 6, 0,
     "rule[r].class", "has no effect: action is \"drop\""},
    {"class_overlaps_route_mask",
     "[class]\nbulk = 1\n[route.up]\ntable = 10\nfwmark = 2\n" + kRule + "class = \"bulk\"\nroute = \"up\"\n", 9,
     0, "rule[r].route", "overlaps the fwmark_mask 0xff of route 'up'"},
    {"unknown_timezone", "[policy]\ntimezone = \"Europe/Berln\"\n", 2, 12, "policy.timezone",
     "unknown time zone 'Europe/Berln'"},
    {"toml_syntax", "[[rule]]\nname = \"r\nmatch = 3\n", 2, 0, "toml", "syntax error"},
    {"bad_mode", kRule + "mode = \"dry-run\"\n", 3, 0, "rule[r].mode", "expected \"enforce\" or \"shadow\""},
};

INSTANTIATE_TEST_SUITE_P(Errors, ErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(ErrorsTest, ReportsEveryErrorOfEveryFile) {
  const std::vector<PolicySource> sources{
      {"a.toml", R"([[rule]]
name = "one"
acton = "drop"
match = { application = "Netflx", dst_port = 99999 }
[[rule]]
name = "two"
class = "missing"
)"},
      {"b.toml", R"([[rule]]
name = "one"
match = { src = "300.1.1.1" }
)"},
  };
  auto r = compilePolicy(sources, testing::testOptions(), 1);
  ASSERT_FALSE(r.ok());
  std::vector<std::string> lines;
  for (const auto& e : r.errors()) lines.push_back(formatError(e));
  EXPECT_EQ(lines.size(), 6u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("a.toml:3:1: rule[one].acton: unknown key")));
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("a.toml:4:")));
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("rule[one].match.dst_port: bad port 99999")));
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("a.toml:7:9: rule[two].class: undefined class 'missing'")));
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("b.toml:2:8: rule[one].name: duplicate rule name (first defined at a.toml:2)")));
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("b.toml:3:17: rule[one].match.src: bad address or CIDR '300.1.1.1'")));
}

TEST(ErrorsTest, ReportsEverySetBindingError) {
  auto r = testing::compileText(R"([class]
bulk = 1
[route.up]
table = 10
fwmark = 0x10
fwmark_mask = 0xf0
[set.s]
family = "ipv4"
address = "src"
verdict = "drop"
route = "up"
class = "bulk"
[set.t]
family = "ipv6"
route = "down"
class = "blk"
verdict = "allow"
)",
                                "policy.toml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> lines;
  for (const auto& e : r.errors()) lines.push_back(formatError(e));
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "policy.toml:10:11: set.s.verdict: a kernel binding needs address = \"dst\": the kernel "
                       "matches the destination of new flows against the set, and this set holds source "
                       "addresses (address = \"src\")",
                       "policy.toml:11:9: set.s.route: a kernel binding needs address = \"dst\": the kernel "
                       "matches the destination of new flows against the set, and this set holds source "
                       "addresses (address = \"src\")",
                       "policy.toml:11:9: set.s.route: has no effect: verdict is \"drop\" (a flow the kernel "
                       "blocks has no route or class)",
                       "policy.toml:12:9: set.s.class: a kernel binding needs address = \"dst\": the kernel "
                       "matches the destination of new flows against the set, and this set holds source "
                       "addresses (address = \"src\")",
                       "policy.toml:12:9: set.s.class: has no effect: verdict is \"drop\" (a flow the kernel "
                       "blocks has no route or class)",
                       "policy.toml:15:9: set.t.route: undefined route 'down'; define it as [route.down]",
                       "policy.toml:16:9: set.t.class: undefined class 'blk' (did you mean 'bulk'?); define it in "
                       "[class]",
                       "policy.toml:17:11: set.t.verdict: expected \"accept\", \"drop\" or \"reject\", got "
                       "'allow'",
                   }))
      << ::testing::PrintToString(lines);
}

TEST(ErrorsTest, SetWithBadBindingIsNotUsable) {
  // The set's own error is reported; a rule naming it adds no second error.
  auto r = testing::compileText(R"([set.s]
family = "ipv4"
verdict = "block"
[[rule]]
name = "r"
add_to_set = "s"
)",
                                "policy.toml");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(r.errors()[0].key, "set.s.verdict");
}

TEST(ErrorsTest, SettingsAcrossFilesMustAgree) {
  const std::vector<PolicySource> sources{
      {"a.toml", "[policy]\ndefault_action = \"drop\"\n"},
      {"b.toml", "[policy]\n\ndefault_action = \"accept\"\n"},
  };
  auto r = compilePolicy(sources, testing::testOptions(), 1);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(formatError(r.errors()[0]),
            "b.toml:3:1: policy.default_action: already set to 'drop' at a.toml:2; files that set it must agree");
}

TEST(ErrorsTest, SettingsRepeatedWithTheSameValueLoad) {
  const std::vector<PolicySource> sources{
      {"a.toml", "[policy]\ndefault_action = \"drop\"\nmark_mask = 0xff00\nmark_shift = 8\n"},
      {"b.toml", "[policy]\ndefault_action = \"drop\"\nmark_mask = 65280\nmark_shift = 8\n"},
  };
  auto r = compilePolicy(sources, testing::testOptions(), 1);
  ASSERT_TRUE(r.ok()) << formatError(r.errors()[0]);
  EXPECT_EQ(r.value()->evaluate(FlowFacts{}, testing::mondayNoonUtc()).verdict, Verdict::Drop);
  EXPECT_EQ(r.value()->summary().mark_mask, 0xff00u);
}

TEST(ErrorsTest, FormatOmitsUnknownPositions) {
  EXPECT_EQ(formatError(LoadError{"x.toml", 0, 0, "", "cannot read file"}), "x.toml: cannot read file");
  EXPECT_EQ(formatError(LoadError{"x.toml", 4, 0, "k", "m"}), "x.toml:4: k: m");
  EXPECT_EQ(formatError(LoadError{"x.toml", 4, 2, "k", "m"}), "x.toml:4:2: k: m");
}

TEST(ErrorsTest, MissingPathsAreErrors) {
  const std::vector<std::string> paths{"/nonexistent/policy.toml"};
  auto r = loadPolicy(paths, testing::testOptions(), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(formatError(r.errors()[0]), "/nonexistent/policy.toml: no such file or directory");
}

}  // namespace
}  // namespace fg::policy
