// The flow record encoder: field names and types, and safeString's promise
// that any bytes off the wire end up as valid UTF-8 JSON.
#include "gateway/output/record_json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fg::output {
namespace {

using nlohmann::json;
using core::Flow;

core::IpAddress ip(const char* s) {
  auto a = core::IpAddress::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(core::IpAddress{});
}

// A flow as the pipeline leaves it (Flow is move-only, so built in place).
std::unique_ptr<Flow> makeFlow(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                               uint8_t proto) {
  auto f = std::make_unique<Flow>();
  f->id = 42;
  f->src = ip(src);
  f->dst = ip(dst);
  f->src_port = sport;
  f->dst_port = dport;
  f->proto = proto;
  f->ip_version = f->src.version;
  f->key.a = f->src;
  f->key.b = f->dst;
  f->key.a_port = sport;
  f->key.b_port = dport;
  f->key.proto = proto;
  return f;
}

// What a consumer sees: the encoded line parsed back.
json roundTrip(const nlohmann::ordered_json& record) {
  const std::string line = encodeLine(record);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  return json::parse(line);  // throws (fails the test) on invalid JSON
}

TEST(FlowRecord, TlsFlowFieldsAndTypes) {
  auto f = makeFlow("192.168.1.10", 51000, "93.184.216.34", 443, core::kProtoTcp);
  f->cls.l7_protocol = "TLS";
  f->cls.application = "Google";
  f->cls.category = "Web";
  f->cls.hostname = "www.example.com";
  f->cls.tls_version = 0x0303;
  f->cls.cipher = 0xC02F;
  f->cls.ja3c = "771,4865-4866,0-23,29,0";
  f->cls.alpn = {"h2", "http/1.1"};
  f->cls.confidence = core::Confidence::Dpi;
  f->packets[0] = 10;
  f->packets[1] = 8;
  f->bytes[0] = 1000;
  f->bytes[1] = 5000;
  f->first_seen = 1'500'000;
  f->last_seen = 2'250'000;
  f->dpi_packets = 6;

  const auto rec = flowRecord(*f, "flow_end", 3'000'000, core::EndReason::Fin);
  const json j = roundTrip(rec);

  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(rec.begin().key(), "event") << "the event name leads the record";
  EXPECT_EQ(j["event"], "flow_end");
  ASSERT_TRUE(j["ts"].is_number());
  EXPECT_DOUBLE_EQ(j["ts"].get<double>(), 3.0);
  ASSERT_TRUE(j["flow_id"].is_string()) << "64-bit ids are strings (JSON numbers lose precision)";
  EXPECT_EQ(j["flow_id"], "42");
  ASSERT_TRUE(j["ip_version"].is_number_integer());
  EXPECT_EQ(j["ip_version"], 4);
  EXPECT_EQ(j["proto"], "tcp");
  EXPECT_EQ(j["src_ip"], "192.168.1.10");
  ASSERT_TRUE(j["src_port"].is_number_integer());
  EXPECT_EQ(j["src_port"], 51000);
  EXPECT_EQ(j["dst_ip"], "93.184.216.34");
  EXPECT_EQ(j["dst_port"], 443);
  EXPECT_FALSE(j.contains("vlan"));
  EXPECT_FALSE(j.contains("tunnel"));
  EXPECT_EQ(j["l7_protocol"], "TLS");
  EXPECT_EQ(j["application"], "Google");
  EXPECT_EQ(j["category"], "Web");
  EXPECT_EQ(j["hostname"], "www.example.com");

  ASSERT_TRUE(j.contains("tls"));
  const json& tls = j["tls"];
  ASSERT_TRUE(tls.is_object());
  EXPECT_EQ(tls["version"], "TLSv1.2");
  EXPECT_EQ(tls["cipher"], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  EXPECT_EQ(tls["cipher_strength"], "strong");
  EXPECT_EQ(tls["ja3c"], "771,4865-4866,0-23,29,0");
  EXPECT_FALSE(tls.contains("ja3s"));
  ASSERT_TRUE(tls["alpn"].is_array());
  EXPECT_EQ(tls["alpn"], json::array({"h2", "http/1.1"}));

  EXPECT_FALSE(j.contains("dns"));
  EXPECT_FALSE(j.contains("http"));
  for (const char* k : {"packets", "bytes", "src_packets", "src_bytes", "dst_packets", "dst_bytes",
                        "dpi_packets"})
    EXPECT_TRUE(j[k].is_number_unsigned()) << k;
  EXPECT_EQ(j["packets"], 18);
  EXPECT_EQ(j["bytes"], 6000);
  EXPECT_EQ(j["src_packets"], 10);
  EXPECT_EQ(j["src_bytes"], 1000);
  EXPECT_EQ(j["dst_packets"], 8);
  EXPECT_EQ(j["dst_bytes"], 5000);
  EXPECT_DOUBLE_EQ(j["first_seen"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["last_seen"].get<double>(), 2.25);
  EXPECT_EQ(j["dpi_packets"], 6);
  EXPECT_EQ(j["confidence"], "dpi");
  EXPECT_EQ(j["end_reason"], "fin");
}

TEST(FlowRecord, TlsVersionAndCipherNames) {
  struct Case {
    uint16_t version;
    uint16_t cipher;
    std::string version_name, cipher_name, strength;
  };
  const Case cases[] = {
      {.version = 0x0304, .cipher = 0x1301, .version_name = "TLSv1.3",
       .cipher_name = "TLS_AES_128_GCM_SHA256", .strength = "strong"},
      {.version = 0x0301, .cipher = 0x0004, .version_name = "TLSv1",
       .cipher_name = "TLS_RSA_WITH_RC4_128_MD5", .strength = "insecure"},
      {.version = 0x0302, .cipher = 0x000A, .version_name = "TLSv1.1",
       .cipher_name = "TLS_RSA_WITH_3DES_EDE_CBC_SHA", .strength = "weak"},
      {.version = 0x0303, .cipher = 0x002F, .version_name = "TLSv1.2",
       .cipher_name = "TLS_RSA_WITH_AES_128_CBC_SHA", .strength = "weak"},
      // A GREASE value is no assigned suite: hex, strength unknown.
      {.version = 0x0303, .cipher = 0x0A0A, .version_name = "TLSv1.2", .cipher_name = "0x0A0A",
       .strength = "unknown"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.cipher_name);
    auto f = makeFlow("10.0.0.1", 1, "10.0.0.2", 443, core::kProtoTcp);
    f->cls.tls_version = c.version;
    f->cls.cipher = c.cipher;
    const json j = roundTrip(flowRecord(*f, "flow", 0));
    EXPECT_EQ(j["tls"]["version"], c.version_name);
    EXPECT_EQ(j["tls"]["cipher"], c.cipher_name);
    EXPECT_EQ(j["tls"]["cipher_strength"], c.strength);
    EXPECT_FALSE(j["tls"].contains("alpn"));
  }
}

TEST(FlowRecord, UnknownClassificationHasNoTlsOrDnsObjects) {
  auto f = makeFlow("10.0.0.1", 5000, "10.0.0.2", 80, core::kProtoTcp);
  const json j = roundTrip(flowRecord(*f, "flow", 0));
  EXPECT_FALSE(j.contains("tls"));
  EXPECT_FALSE(j.contains("dns"));
  EXPECT_FALSE(j.contains("http"));
  EXPECT_FALSE(j.contains("end_reason")) << "only ended flows carry an end reason";
  EXPECT_EQ(j["l7_protocol"], "");
  EXPECT_EQ(j["hostname"], "");
  EXPECT_EQ(j["confidence"], "unknown");
  EXPECT_EQ(j["packets"], 0);
}

TEST(FlowRecord, HealthFiguresInMicroseconds) {
  auto f = makeFlow("10.1.0.2", 40000, "10.9.9.9", 443, core::kProtoTcp);
  f->health.syn = 1'000'000;
  f->health.syn_ack = 1'040'000;
  f->health.client_next = 1'055'000;
  f->health.client_ack_bare = false;
  f->health.request = f->health.tls_client_hello = 1'055'000;
  f->health.response = f->health.tls_server_hello = 1'117'500;
  f->health.syn_retries = 2;
  f->health.resets = 1;
  const json r = roundTrip(flowRecord(*f, "flow", 0));
  ASSERT_TRUE(r.contains("health"));
  const json& h = r["health"];
  EXPECT_EQ(h["handshake_us"], 55'000);
  EXPECT_EQ(h["handshake_server_us"], 40'000);
  EXPECT_EQ(h["handshake_client_us"], 15'000);
  EXPECT_EQ(h["handshake_exact"], false);
  EXPECT_EQ(h["response_us"], 62'500);
  EXPECT_EQ(h["tls_hello_us"], 62'500);
  EXPECT_FALSE(h.contains("tls_handshake_us"));
  EXPECT_EQ(h["syn_retries"], 2);
  EXPECT_EQ(h["reset_by"], "client");
  EXPECT_FALSE(h.contains("failure"));
}

TEST(FlowRecord, HealthFailureAndNoHealthWhenNothingSeen) {
  auto f = makeFlow("10.1.0.2", 40000, "10.9.9.9", 443, core::kProtoTcp);
  EXPECT_FALSE(roundTrip(flowRecord(*f, "flow", 0)).contains("health"));
  f->health.syn = 1;
  f->health.failure = core::HealthFailure::Unreachable;
  f->health.icmp_type = 3;
  f->health.icmp_code = 1;
  const json h = roundTrip(flowRecord(*f, "flow", 0))["health"];
  EXPECT_EQ(h["failure"], "unreachable");
  EXPECT_EQ(h["icmp_type"], 3);
  EXPECT_EQ(h["icmp_code"], 1);
  EXPECT_FALSE(h.contains("handshake_us"));
}

TEST(FlowRecord, PartialTlsKnowledge) {
  auto f = makeFlow("10.0.0.1", 5000, "10.0.0.2", 443, core::kProtoTcp);
  f->cls.alpn = {"h2"};
  f->cls.ja3s = "ja3s-hash";
  const json j = roundTrip(flowRecord(*f, "flow", 0));
  ASSERT_TRUE(j.contains("tls"));
  EXPECT_FALSE(j["tls"].contains("version"));
  EXPECT_FALSE(j["tls"].contains("cipher"));
  EXPECT_FALSE(j["tls"].contains("cipher_strength"));
  EXPECT_EQ(j["tls"]["ja3s"], "ja3s-hash");
  EXPECT_EQ(j["tls"]["alpn"], json::array({"h2"}));
}

TEST(FlowRecord, DnsAndHttp) {
  auto f = makeFlow("2001:db8::1", 5353, "2001:db8::53", 53, core::kProtoUdp);
  f->cls.dns_query = "example.org";
  f->cls.dns_qtype = 28;
  f->cls.user_agent = "curl/8.0";
  const json j = roundTrip(flowRecord(*f, "flow", 0));
  EXPECT_EQ(j["ip_version"], 6);
  EXPECT_EQ(j["src_ip"], "2001:db8::1");
  EXPECT_EQ(j["dst_ip"], "2001:db8::53");
  EXPECT_EQ(j["proto"], "udp");
  ASSERT_TRUE(j["dns"].is_object());
  EXPECT_EQ(j["dns"]["query"], "example.org");
  EXPECT_EQ(j["dns"]["qtype"], 28);
  EXPECT_EQ(j["http"]["user_agent"], "curl/8.0");
  EXPECT_FALSE(j.contains("tls"));

  f->cls.dns_query.clear();
  const json q = roundTrip(flowRecord(*f, "flow", 0));
  ASSERT_TRUE(q.contains("dns")) << "a qtype alone is still DNS knowledge";
  EXPECT_EQ(q["dns"]["query"], "");
}

TEST(FlowRecord, PortlessProtocolsAndProtoNames) {
  struct Case {
    const char* src;
    const char* dst;
    uint8_t proto;
    std::string name;
  };
  const Case cases[] = {
      {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = core::kProtoIcmp, .name = "icmp"},
      {.src = "fe80::1", .dst = "ff02::1", .proto = core::kProtoIcmpv6, .name = "ipv6-icmp"},
      {.src = "10.0.0.1", .dst = "224.0.0.18", .proto = 112, .name = "vrrp"},
      {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = core::kProtoGre, .name = "gre"},
      {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = 253, .name = "253"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto f = makeFlow(c.src, 0, c.dst, 0, c.proto);
    const json j = roundTrip(flowRecord(*f, "flow", 0));
    EXPECT_EQ(j["proto"], c.name);
    ASSERT_TRUE(j.contains("src_port"));
    ASSERT_TRUE(j.contains("dst_port"));
    EXPECT_EQ(j["src_port"], 0);
    EXPECT_EQ(j["dst_port"], 0);
    EXPECT_TRUE(j["src_port"].is_number_integer());
  }
  auto sctp = makeFlow("10.0.0.1", 2905, "10.0.0.2", 3868, core::kProtoSctp);
  EXPECT_EQ(roundTrip(flowRecord(*sctp, "flow", 0))["proto"], "sctp");
}

TEST(FlowRecord, VlanTunnelAndLargeValues) {
  auto f = makeFlow("10.0.0.1", 1, "10.0.0.2", 2, core::kProtoUdp);
  f->key.vlan = 4094;
  f->tunnel = core::Tunnel::Vxlan;
  f->id = 9'223'372'036'854'775'809ull;  // beyond a double's 53 bits
  f->packets[0] = 1ull << 40;
  f->bytes[1] = (1ull << 53) + 1;
  const json j = roundTrip(flowRecord(*f, "flow", 0, core::EndReason::Evicted));
  EXPECT_EQ(j["vlan"], 4094);
  EXPECT_EQ(j["tunnel"], "vxlan");
  EXPECT_EQ(j["flow_id"], "9223372036854775809");
  EXPECT_EQ(j["src_packets"].get<uint64_t>(), 1ull << 40);
  EXPECT_EQ(j["dst_bytes"].get<uint64_t>(), (1ull << 53) + 1);
  EXPECT_EQ(j["end_reason"], "evicted");
}

TEST(FlowRecord, EndReasonNames) {
  auto f = makeFlow("10.0.0.1", 1, "10.0.0.2", 2, core::kProtoUdp);
  const std::pair<core::EndReason, const char*> cases[] = {
      {core::EndReason::Fin, "fin"},         {core::EndReason::Rst, "rst"},
      {core::EndReason::Idle, "idle"},       {core::EndReason::Evicted, "evicted"},
      {core::EndReason::EndOfInput, "end_of_input"}, {core::EndReason::Shutdown, "shutdown"},
  };
  for (const auto& [reason, name] : cases)
    EXPECT_EQ(roundTrip(flowRecord(*f, "flow_end", 0, reason))["end_reason"], name);
}

TEST(StatsRecord, CountersAndDecodeErrorsByName) {
  core::PipelineCounters c;
  c.packets = 100;
  c.bytes = 12345;
  c.decoded = 97;
  c.decode_errors.count(core::DecodeError::NotIp);
  c.decode_errors.count(core::DecodeError::NotIp);
  c.decode_errors.count(core::DecodeError::TunnelTooDeep);
  c.fragments = 4;
  c.fragments_unmatched = 1;
  c.classified_final = 5;
  c.classified_giveup = 2;
  core::FlowTableCounters t{.created = 7, .expired = 3, .evicted = 1};
  const json j = roundTrip(statsRecord(c, t, 2'000'000));
  EXPECT_EQ(j["event"], "stats");
  EXPECT_DOUBLE_EQ(j["ts"].get<double>(), 2.0);
  EXPECT_EQ(j["packets"], 100);
  EXPECT_EQ(j["bytes"], 12345);
  EXPECT_EQ(j["decoded"], 97);
  ASSERT_TRUE(j["decode_errors"].is_object());
  EXPECT_EQ(j["decode_errors"].size(), static_cast<size_t>(core::DecodeError::kCount) - 1);
  EXPECT_FALSE(j["decode_errors"].contains("none"));
  EXPECT_EQ(j["decode_errors"]["not_ip"], 2);
  EXPECT_EQ(j["decode_errors"]["tunnel_too_deep"], 1);
  EXPECT_EQ(j["decode_errors"]["truncated_ip"], 0);
  EXPECT_EQ(j["fragments"], 4);
  EXPECT_EQ(j["fragments_unmatched"], 1);
  EXPECT_EQ(j["flows"], 7);
  EXPECT_EQ(j["flows_expired"], 3);
  EXPECT_EQ(j["flows_evicted"], 1);
  EXPECT_EQ(j["classified_final"], 5);
  EXPECT_EQ(j["classified_giveup"], 2);
}

TEST(ToSeconds, Microseconds) {
  EXPECT_DOUBLE_EQ(toSeconds(0), 0.0);
  EXPECT_DOUBLE_EQ(toSeconds(1'500'000), 1.5);
  EXPECT_DOUBLE_EQ(toSeconds(1), 1e-6);
  EXPECT_DOUBLE_EQ(toSeconds(1'700'000'000'123'456), 1'700'000'000.123456);
}

// ---- safeString ----------------------------------------------------------------------

struct SafeCase {
  std::string name;
  std::string in, out;
};

void PrintTo(const SafeCase& c, std::ostream* os) { *os << c.name; }

class SafeStringTest : public testing::TestWithParam<SafeCase> {};

TEST_P(SafeStringTest, Escapes) {
  const SafeCase& c = GetParam();
  EXPECT_EQ(safeString(c.in), c.out);
  // The result is valid as JSON text, and decodes to itself.
  nlohmann::ordered_json rec = {{"h", safeString(c.in)}};
  const json j = roundTrip(rec);
  EXPECT_EQ(j["h"].get<std::string>(), c.out);
  // And it is a fixed point: nothing left to escape.
  EXPECT_EQ(safeString(c.out), c.out);
}

using namespace std::string_literals;

INSTANTIATE_TEST_SUITE_P(
    Cases, SafeStringTest,
    testing::Values(
        SafeCase{.name = "Empty", .in = "", .out = ""},
        SafeCase{.name = "Ascii", .in = "www.example.com", .out = "www.example.com"},
        SafeCase{.name = "TwoByte", .in = "caf\xc3\xa9", .out = "caf\xc3\xa9"},
        SafeCase{.name = "ThreeByte", .in = "\xe6\x97\xa5\xe6\x9c\xac", .out = "\xe6\x97\xa5\xe6\x9c\xac"},
        SafeCase{.name = "FourByteEmoji", .in = "a\xf0\x9f\x98\x80z", .out = "a\xf0\x9f\x98\x80z"},
        SafeCase{.name = "MaxCodePoint", .in = "\xf4\x8f\xbf\xbf", .out = "\xf4\x8f\xbf\xbf"},
        SafeCase{.name = "LastBeforeSurrogates", .in = "\xed\x9f\xbf", .out = "\xed\x9f\xbf"},
        SafeCase{.name = "FirstAfterSurrogates", .in = "\xee\x80\x80", .out = "\xee\x80\x80"},
        SafeCase{.name = "LoneContinuation", .in = "\x80", .out = "\\x80"},
        SafeCase{.name = "ByteFF", .in = "ok\xff", .out = "ok\\xFF"},
        SafeCase{.name = "ByteFE", .in = "\xfe", .out = "\\xFE"},
        SafeCase{.name = "OverlongSlash2", .in = "\xc0\xaf", .out = "\\xC0\\xAF"},
        SafeCase{.name = "OverlongNul2", .in = "\xc1\x80", .out = "\\xC1\\x80"},
        SafeCase{.name = "C1ControlSequenceIntroducer", .in = "a\xc2\x9b[2J", .out = "a\\xC2\\x9B[2J"},
        SafeCase{.name = "Overlong3", .in = "\xe0\x80\xaf", .out = "\\xE0\\x80\\xAF"},
        SafeCase{.name = "Overlong4", .in = "\xf0\x80\x80\xaf", .out = "\\xF0\\x80\\x80\\xAF"},
        SafeCase{.name = "SurrogateHigh", .in = "\xed\xa0\x80", .out = "\\xED\\xA0\\x80"},
        SafeCase{.name = "SurrogateLow", .in = "\xed\xbf\xbf", .out = "\\xED\\xBF\\xBF"},
        SafeCase{.name = "BeyondMax", .in = "\xf4\x90\x80\x80", .out = "\\xF4\\x90\\x80\\x80"},
        SafeCase{.name = "FiveByteForm", .in = "\xf8\x88\x80\x80\x80",
                 .out = "\\xF8\\x88\\x80\\x80\\x80"},
        SafeCase{.name = "TruncatedAtEnd", .in = "x\xe2\x82", .out = "x\\xE2\\x82"},
        SafeCase{.name = "TruncatedFourAtEnd", .in = "\xf0\x9f\x98", .out = "\\xF0\\x9F\\x98"},
        SafeCase{.name = "TruncatedMidString", .in = "\xe2\x82" "A\xe2\x82\xac",
                 .out = "\\xE2\\x82" "A\xe2\x82\xac"},
        SafeCase{.name = "LeadThenLead", .in = "\xc3\xc3\xa9", .out = "\\xC3\xc3\xa9"},
        SafeCase{.name = "Nul", .in = "a\0b"s, .out = "a\\x00b"},
        SafeCase{.name = "TabNewlineReturn", .in = "\t\n\r", .out = "\\x09\\x0A\\x0D"},
        SafeCase{.name = "Escape", .in = "\x1b[31mred", .out = "\\x1B[31mred"},
        SafeCase{.name = "Delete", .in = "\x7f", .out = "\\x7F"},
        SafeCase{.name = "QuoteAndBackslashKept", .in = "a\"b\\c", .out = "a\"b\\c"},
        SafeCase{.name = "Mixed", .in = "h\xc3\xa9\xff\x01.com", .out = "h\xc3\xa9\\xFF\\x01.com"}),
    [](const auto& info) { return info.param.name; });

// The expected text for one byte on its own (no neighbour can complete it).
std::string escapedAlone(uint8_t b) {
  if (b >= 0x20 && b < 0x7f) return std::string(1, static_cast<char>(b));
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", b);
  return buf;
}

TEST(SafeString, HostnameOfAllByteValuesIsValidJson) {
  std::string all;
  std::string expected;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
    // In increasing order no lead byte is followed by a continuation byte.
    expected += escapedAlone(static_cast<uint8_t>(b));
  }
  auto f = makeFlow("10.0.0.1", 1, "10.0.0.2", 2, core::kProtoTcp);
  f->cls.hostname = all;
  f->cls.user_agent = all;
  f->cls.alpn = {all};
  f->cls.dns_query = all;
  const json j = roundTrip(flowRecord(*f, "flow", 0));
  EXPECT_EQ(j["hostname"], expected);
  EXPECT_EQ(j["http"]["user_agent"], expected);
  EXPECT_EQ(j["tls"]["alpn"][0], expected);
  EXPECT_EQ(j["dns"]["query"], expected);
}

TEST(SafeString, EverySingleByteAlone) {
  for (int b = 0; b < 256; ++b) {
    const std::string in(1, static_cast<char>(b));
    EXPECT_EQ(safeString(in), escapedAlone(static_cast<uint8_t>(b))) << b;
  }
}

// Random bytes, biased towards UTF-8 lead and continuation bytes.
TEST(SafeString, RandomBytesAlwaysGiveValidJson) {
  std::mt19937 rng(12345);
  const uint8_t interesting[] = {0x00, 0x1f, 0x20, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
                                 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 'a', '"', '\\'};
  for (int iter = 0; iter < 5000; ++iter) {
    std::string s;
    const size_t n = rng() % 24;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t r = rng();
      s.push_back(static_cast<char>(r % 3 == 0 ? interesting[(r >> 8) % sizeof interesting]
                                               : (r >> 8) % 256));
    }
    const std::string out = safeString(s);
    for (unsigned char c : out) ASSERT_TRUE(c >= 0x20 && c != 0x7f) << "control byte survived";
    auto f = makeFlow("10.0.0.1", 1, "10.0.0.2", 2, core::kProtoTcp);
    f->cls.hostname = s;
    const std::string line = encodeLine(flowRecord(*f, "flow", 0));
    json j;
    ASSERT_NO_THROW(j = json::parse(line)) << "iteration " << iter;
    ASSERT_EQ(j["hostname"].get<std::string>(), out);
    ASSERT_EQ(safeString(out), out);
    // Valid UTF-8 input comes through unchanged.
    if (json::accept("\"" + s + "\"") && s.find_first_of(std::string("\0\x7f\"\\", 4)) ==
                                             std::string::npos) {
      bool has_control = false;
      for (unsigned char c : s) has_control |= c < 0x20;
      // C1 controls (U+0080..U+009F: C2 80..C2 9F) are escaped too.
      for (size_t k = 0; k + 1 < s.size(); ++k)
        has_control |= static_cast<unsigned char>(s[k]) == 0xc2 &&
                       static_cast<unsigned char>(s[k + 1]) < 0xa0;
      if (!has_control) {
        ASSERT_EQ(out, s);
      }
    }
  }
}

}  // namespace
}  // namespace fg::output

namespace fg::output {
namespace {

TEST(DecisionRecord, CarriesVerdictRuleMarkRouteAndShadows) {
  static const policy::NameCatalog catalog{.protocols = {"TLS", "NetFlix"}, .categories = {"Video"}};
  const std::vector<policy::PolicySource> src{{"p.toml", R"(
[policy]
mark_mask = 0xff00
mark_shift = 8

[route.zr]
table = 100
via = "10.0.3.2"
fwmark = 1

[[rule]]
name = "audit"
mode = "shadow"
match = { application = "NetFlix" }
action = "drop"

[[rule]]
name = "netflix"
match = { application = "NetFlix" }
route = "zr"
)"}};
  auto p = policy::compilePolicy(src, policy::LoadOptions{.catalog = &catalog}, 7);
  ASSERT_TRUE(p.ok()) << policy::formatError(p.errors().front());
  auto f = makeFlow("10.0.0.1", 40000, "10.9.9.9", 443, core::kProtoTcp);
  f->cls.application = "NetFlix";
  f->cls.l7_protocol = "TLS";
  policy::FlowFacts facts;
  facts.application = "NetFlix";
  facts.l7_protocol = "TLS";
  const policy::Decision d = p.value()->evaluate(facts, std::chrono::system_clock::now());
  f->decision = core::FlowDecision{.decided = true, .verdict = 0, .early = false,
                                   .mark_bits = 0x80000100u, .rule = d.rule, .generation = 7};
  const auto r = decisionRecord(*f, d, *p.value(), 1'700'000'000'000'000, "lan0", "");
  EXPECT_EQ(r["event"], "flow");
  EXPECT_EQ(r["verdict"], "accept");
  EXPECT_EQ(r["rule"], "netflix");
  EXPECT_EQ(r["mark"], 0x80000100u);
  EXPECT_EQ(r["route"]["name"], "zr");
  EXPECT_EQ(r["route"]["table"], 100);
  EXPECT_EQ(r["shadow_rules"], nlohmann::ordered_json::array({"audit"}));
  EXPECT_EQ(r["policy_generation"], 7);
  EXPECT_EQ(r["in_interface"], "lan0");
  EXPECT_FALSE(r.contains("out_interface"));
  const auto back = nlohmann::json::parse(encodeLine(r));
  EXPECT_EQ(back["route"]["fwmark"].get<uint64_t>(), r["route"]["fwmark"].get<uint64_t>());
}

TEST(DecisionRecord, DefaultDecisionHasNullRuleAndRoute) {
  auto p = policy::PolicySet::empty();
  auto f = makeFlow("10.0.0.1", 1, "10.0.0.2", 2, core::kProtoUdp);
  const policy::Decision d = p->evaluate(policy::FlowFacts{}, std::chrono::system_clock::now());
  const auto r = decisionRecord(*f, d, *p, 0, "", "");
  EXPECT_TRUE(r["rule"].is_null());
  EXPECT_TRUE(r["route"].is_null());
  EXPECT_EQ(r["verdict"], "accept");
}

}  // namespace
}  // namespace fg::output
