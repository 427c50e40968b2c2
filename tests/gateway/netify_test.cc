// Netify-style records (gateway/output/netify.h, docs/netify.md): which side
// is local, the byte/packet swap, the ssl hex mapping, flow_purge reasons,
// and that no record, however malformed, makes the encoder throw.
#include "gateway/output/netify.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/core/flow.h"
#include "gateway/core/packet.h"
#include "gateway/output/record_json.h"

namespace fg::output {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

// A classify-style TLS record: 192.168.1.10 (client) -> 93.184.216.34:443.
json tlsRecord() {
  return json::parse(R"({
    "event":"flow","ts":2.25,"flow_id":"42","ip_version":4,"proto":"tcp",
    "src_ip":"192.168.1.10","src_port":51000,"dst_ip":"93.184.216.34","dst_port":443,
    "l7_protocol":"TLS","application":"Google","category":"Web","hostname":"www.example.com",
    "tls":{"version":"TLSv1.2","cipher":"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
           "cipher_strength":"strong","ja3c":"aaaabbbbccccddddeeeeffff00001111",
           "ja3s":"1111000ffffeeeeddddccccbbbbaaaa","alpn":["h2","http/1.1"]},
    "packets":18,"bytes":6000,"src_packets":10,"src_bytes":1000,"dst_packets":8,"dst_bytes":5000,
    "first_seen":1444236900.923881,"last_seen":1444236901.449309,"dpi_packets":6,
    "confidence":"dpi","end_reason":"fin"})");
}

// The inline daemon's flow event: the record plus the decision.
json decisionRecord() {
  json r = tlsRecord();
  r.erase("end_reason");
  r["verdict"] = "accept";
  r["rule"] = nullptr;
  r["mark"] = 0x80000102u;
  r["route"] = nullptr;
  r["shadow_rules"] = json::array();
  r["policy_generation"] = 3;
  r["early"] = false;
  r["first_packet"] = false;
  r["in_interface"] = "lan0";
  return r;
}

ojson convert(const json& r, const NetifyOptions& o = {}) {
  auto n = netifyRecord(r, o);
  EXPECT_TRUE(n.has_value());
  return n.value_or(ojson::object());
}

TEST(NetifySha1, KnownVectors) {
  // FIPS 180 examples.
  EXPECT_EQ(netifySha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(netifySha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(netifySha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(netifySha1Hex(std::string(1'000'000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // Lengths around the padding boundary (55, 56, 63, 64 bytes) stay 40 hex digits.
  for (size_t n : {55u, 56u, 63u, 64u, 65u})
    EXPECT_EQ(netifySha1Hex(std::string(n, 'x')).size(), 40u) << n;
}

TEST(Netify, EnvelopeAndCoreFieldsDefaultSide) {
  const ojson n = convert(tlsRecord(), {.local_networks = {}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "eth0", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  EXPECT_EQ(n.begin().key(), "type");
  EXPECT_EQ(n["type"], "flow");
  EXPECT_FALSE(n.contains("reason")) << "only flow_purge has a reason";
  EXPECT_EQ(n["interface"], "eth0") << "no in_interface: the configured name";
  EXPECT_EQ(n["internal"], false);
  const ojson& f = n["flow"];
  ASSERT_TRUE(f.is_object());
  ASSERT_TRUE(f["digest"].is_string());
  EXPECT_EQ(f["digest"].get<std::string>().size(), 40u);
  EXPECT_EQ(f["digest"].get<std::string>().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(f["first_seen_at"], 1444236900923u);
  EXPECT_EQ(f["last_seen_at"], 1444236901449u);
  EXPECT_TRUE(f["first_seen_at"].is_number_unsigned());
  EXPECT_EQ(f["ip_version"], 4);
  EXPECT_EQ(f["ip_protocol"], 6);
  EXPECT_EQ(f["vlan_id"], 0);
  // Default: the opener is local.
  EXPECT_EQ(f["local_ip"], "192.168.1.10");
  EXPECT_EQ(f["local_port"], 51000);
  EXPECT_EQ(f["other_ip"], "93.184.216.34");
  EXPECT_EQ(f["other_port"], 443);
  EXPECT_EQ(f["local_origin"], true);
  EXPECT_EQ(f["other_type"], "remote");
  EXPECT_EQ(f["detected_protocol_name"], "TLS");
  EXPECT_EQ(f["detected_application_name"], "Google");
  EXPECT_EQ(f["detection_guessed"], false);
  EXPECT_EQ(f["host_server_name"], "www.example.com");
  EXPECT_FALSE(f.contains("dns_host_name"));
  EXPECT_EQ(f["local_bytes"], 1000);
  EXPECT_EQ(f["other_bytes"], 5000);
  EXPECT_EQ(f["local_packets"], 10);
  EXPECT_EQ(f["other_packets"], 8);
  EXPECT_EQ(f["total_bytes"], 6000);
  EXPECT_EQ(f["total_packets"], 18);
  EXPECT_FALSE(f.contains("conntrack")) << "classify records carry no mark";
  // Members the agent always writes are there, with its "unknown" values
  // where flowgate cannot know them (no MAC or id lookups configured here).
  EXPECT_EQ(f["local_mac"], "00:00:00:00:00:00");
  EXPECT_EQ(f["other_mac"], "00:00:00:00:00:00");
  EXPECT_EQ(f["detected_protocol"], 0);
  EXPECT_EQ(f["detected_application"], 0);
  EXPECT_EQ(f["category"], ojson({{"application", 0}, {"protocol", 0}, {"domain", 0}}));
  EXPECT_EQ(f["risks"]["ndpi_risk_score"], 0);
  EXPECT_EQ(f["ip_nat"], false);
  EXPECT_EQ(f["soft_dissector"], false);
  EXPECT_EQ(f["detection_updated"], false);
}

TEST(Netify, LookupsVersion4AndMessageTypes) {
  NetifyOptions o;
  o.mac_of = [](std::string_view ip) -> std::optional<std::string> {
    if (ip == "192.168.1.10") return "02:00:00:00:00:0a";
    return std::nullopt;
  };
  o.protocol_id = [](std::string_view name) -> std::optional<uint32_t> {
    if (name == "TLS") return 91;
    return std::nullopt;
  };
  o.on_lan = [](std::string_view ip) { return ip == "192.168.1.10"; };
  json r = tlsRecord();
  const auto src = r["src_ip"].get<std::string>();
  r["src_ip"] = r["dst_ip"];
  r["dst_ip"] = "192.168.1.10";  // the LAN side answers: reported from its side
  auto n = netifyMessage(r, NetifyType::DpiComplete, o);
  ASSERT_TRUE(n);
  EXPECT_EQ((*n)["type"], "flow_dpi_complete");
  const ojson& f = (*n)["flow"];
  EXPECT_EQ(f["local_ip"], "192.168.1.10");
  EXPECT_EQ(f["local_origin"], false);
  EXPECT_EQ(f["local_mac"], "02:00:00:00:00:0a");
  EXPECT_EQ(f["other_mac"], "00:00:00:00:00:00");
  EXPECT_EQ(f["detected_protocol"], 91);

  o.version = 4;
  auto v4 = netifyMessage(r, NetifyType::Flow, o);
  ASSERT_TRUE(v4);
  EXPECT_EQ((*v4)["established"], false);
  EXPECT_TRUE((*v4)["flow"].contains("first_update_at"));
  EXPECT_TRUE((*v4)["flow"].contains("dhc_hit"));
  EXPECT_FALSE((*v4)["flow"].contains("conntrack"));

  NetifyInterval iv{.src_bytes = 10, .dst_bytes = 20, .src_packets = 1, .dst_packets = 2};
  auto st = netifyMessage(r, NetifyType::Stats, o, &iv);
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["type"], "flow_stats");
  EXPECT_EQ((*st)["flow"]["local_bytes"], 20) << "local is dst here";
  EXPECT_EQ((*st)["flow"]["other_bytes"], 10);
  EXPECT_EQ((*st)["flow"]["total_bytes"], 6000);
  EXPECT_FALSE(netifyMessage(r, NetifyType::Stats, o)) << "stats need an interval";

  const json first = netifyFirstSight(tlsRecord());
  EXPECT_EQ(first["last_seen"], first["first_seen"]);
  auto fl = netifyMessage(first, NetifyType::Flow, NetifyOptions{});
  ASSERT_TRUE(fl);
  EXPECT_EQ((*fl)["flow"]["detected_protocol_name"], "Unknown");
  EXPECT_FALSE((*fl)["flow"].contains("ssl"));
  EXPECT_FALSE((*fl)["flow"].contains("total_bytes"));
  (void)src;
}

TEST(Netify, SslHexMapping) {
  const ojson s = convert(tlsRecord())["flow"]["ssl"];
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["version"], "0x0303");
  EXPECT_EQ(s["cipher_suite"], "0xc02f");
  EXPECT_EQ(s["client_sni"], "www.example.com");
  EXPECT_EQ(s["alpn"], ojson::array({"h2", "http/1.1"}));
  EXPECT_EQ(s["client_ja3"], "aaaabbbbccccddddeeeeffff00001111");
  EXPECT_EQ(s["server_ja3"], "1111000ffffeeeeddddccccbbbbaaaa");

  struct Case {
    const char* version;
    const char* cipher;
    const char* want_version;
    const char* want_cipher;
  };
  const Case cases[] = {
      {"TLSv1.3", "TLS_AES_128_GCM_SHA256", "0x0304", "0x1301"},
      {"TLSv1", "TLS_RSA_WITH_RC4_128_SHA", "0x0301", "0x0005"},
      {"TLSv1.1", "0x00FF", "0x0302", "0x00ff"},  // unassigned suites as flowgate spells them
      {"SSLv3", "0xFAFA", "0x0300", "0xfafa"},
      {"DTLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "0xfefd", "0xc02c"},
      {"TLS (7F1C)", "0x1301", "0x7f1c", "0x1301"},  // other wire values
      {"TLSv9", "TLS_NO_SUCH_SUITE", "0x0000", "0x0000"},  // the agent's "not known"
      {"TLS (XYZW)", "0x12345", "0x0000", "0x0000"},
      {"", "", "0x0000", "0x0000"},
  };
  for (const Case& c : cases) {
    json r = tlsRecord();
    r["tls"]["version"] = c.version;
    r["tls"]["cipher"] = c.cipher;
    const ojson ssl = convert(r)["flow"]["ssl"];
    SCOPED_TRACE(std::string(c.version) + " / " + c.cipher);
    EXPECT_EQ(ssl["version"], c.want_version);
    EXPECT_EQ(ssl["cipher_suite"], c.want_cipher);
  }

  json r = tlsRecord();
  r.erase("tls");
  EXPECT_FALSE(convert(r)["flow"].contains("ssl")) << "no handshake, no ssl object";
  r["tls"] = json{{"alpn", json::array({"h3", 7})}};
  r["hostname"] = "";
  const ojson partial = convert(r)["flow"]["ssl"];
  EXPECT_EQ(partial, ojson({{"version", "0x0000"}, {"cipher_suite", "0x0000"}, {"alpn", ojson::array({"h3"})}}))
      << partial.dump();
}

TEST(Netify, LocalSideByNetworks) {
  // A flow opened from outside towards a LAN server: dst is local.
  json r = tlsRecord();
  r["src_ip"] = "203.0.113.7";
  r["src_port"] = 40000;
  r["dst_ip"] = "10.1.2.3";
  r["dst_port"] = 22;
  const ojson n = convert(r, {.local_networks = {"192.168.0.0/16", "10.0.0.0/8"},
                              .lan_interfaces = {}, .wan_interfaces = {}, 
                              .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  const ojson& f = n["flow"];
  EXPECT_EQ(f["local_ip"], "10.1.2.3");
  EXPECT_EQ(f["local_port"], 22);
  EXPECT_EQ(f["other_ip"], "203.0.113.7");
  EXPECT_EQ(f["other_port"], 40000);
  EXPECT_EQ(f["local_origin"], false);
  EXPECT_EQ(f["other_type"], "remote");
  EXPECT_EQ(n["internal"], false);
  // The counters follow the sides: local is dst.
  EXPECT_EQ(f["local_bytes"], 5000);
  EXPECT_EQ(f["other_bytes"], 1000);
  EXPECT_EQ(f["local_packets"], 8);
  EXPECT_EQ(f["other_packets"], 10);
  EXPECT_EQ(f["total_bytes"], 6000);
  EXPECT_EQ(f["total_packets"], 18);

  // Src in the networks: src.
  const ojson s = convert(tlsRecord(), {.local_networks = {"192.168.1.0/24"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  EXPECT_EQ(s["flow"]["local_ip"], "192.168.1.10");
  EXPECT_EQ(s["flow"]["local_origin"], true);
  EXPECT_EQ(s["flow"]["local_bytes"], 1000);

  // Both inside: internal, the opener is local, the other side "local".
  json both = tlsRecord();
  both["dst_ip"] = "192.168.1.1";
  const ojson b = convert(both, {.local_networks = {"192.168.0.0/16"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  EXPECT_EQ(b["internal"], true);
  EXPECT_EQ(b["flow"]["local_ip"], "192.168.1.10");
  EXPECT_EQ(b["flow"]["other_type"], "local");
  EXPECT_EQ(b["flow"]["local_origin"], true);

  // IPv6, prefix not on a byte boundary; a bare address is a /128.
  json v6 = tlsRecord();
  v6["ip_version"] = 6;
  v6["src_ip"] = "2001:db8::1";
  v6["dst_ip"] = "fd12:3456::8";
  const ojson n6 = convert(v6, {.local_networks = {"fc00::/7"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  EXPECT_EQ(n6["flow"]["local_ip"], "fd12:3456::8");
  EXPECT_EQ(n6["flow"]["local_origin"], false);
  const ojson h6 = convert(v6, {.local_networks = {"2001:db8::1"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  EXPECT_EQ(h6["flow"]["local_ip"], "2001:db8::1");
  // Neither inside: the default (src).
  const ojson none = convert(v6, {.local_networks = {"10.0.0.0/8", "garbage", "1.2.3.4/33"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  EXPECT_EQ(none["flow"]["local_ip"], "2001:db8::1");
  EXPECT_EQ(none["flow"]["local_origin"], true);
}

TEST(Netify, LocalSideByInterfaces) {
  json r = decisionRecord();
  r["src_ip"] = "100.64.0.5";  // CGNAT space: in no configured network
  NetifyOptions o{.local_networks = {"192.168.0.0/16"}, .lan_interfaces = {"lan0", "wlan0"}, .wan_interfaces = {},  .interface = "br0", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}};
  ojson n = convert(r, o);
  EXPECT_EQ(n["interface"], "lan0") << "the record's in_interface wins";
  EXPECT_EQ(n["flow"]["local_ip"], "100.64.0.5");
  EXPECT_EQ(n["flow"]["local_origin"], true);
  EXPECT_EQ(n["internal"], false);
  // Networks decide before interfaces.
  r["dst_ip"] = "192.168.7.7";
  n = convert(r, o);
  EXPECT_EQ(n["flow"]["local_ip"], "192.168.7.7");
  EXPECT_EQ(n["flow"]["local_origin"], false);
  // In and out on LAN interfaces: internal.
  r = decisionRecord();
  r["out_interface"] = "wlan0";
  n = convert(r, o);
  EXPECT_EQ(n["internal"], true);
  EXPECT_EQ(n["flow"]["other_type"], "local");
  r["out_interface"] = "wan0";
  EXPECT_EQ(convert(r, o)["internal"], false);
  // Empty in_interface: the configured interface.
  r["in_interface"] = "";
  EXPECT_EQ(convert(r, o)["interface"], "br0");
}

TEST(Netify, OtherTypeMulticastBroadcast) {
  json r = tlsRecord();
  r["proto"] = "udp";
  r["dst_ip"] = "224.0.0.251";
  EXPECT_EQ(convert(r)["flow"]["other_type"], "multicast");
  r["dst_ip"] = "ff02::fb";
  EXPECT_EQ(convert(r)["flow"]["other_type"], "multicast");
  r["dst_ip"] = "255.255.255.255";
  EXPECT_EQ(convert(r)["flow"]["other_type"], "broadcast");
  r["dst_ip"] = "192.168.1.255";
  const NetifyOptions o{.local_networks = {"192.168.1.0/24"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}};
  EXPECT_EQ(convert(r, o)["flow"]["other_type"], "broadcast");
  EXPECT_EQ(convert(r)["flow"]["other_type"], "remote") << "no network known: not a broadcast";
}

TEST(Netify, DecisionFieldsAndConntrack) {
  const ojson n = convert(decisionRecord());
  EXPECT_EQ(n["type"], "flow");
  EXPECT_EQ(n["flow"]["conntrack"], ojson({{"mark", 0x80000102u}}));
  for (const char* k : {"verdict", "rule", "mark", "route", "policy_generation"})
    EXPECT_FALSE(n["flow"].contains(k)) << k;

  // The daemon's flow_end: conntrack totals (original = src), id and mark.
  json e = decisionRecord();
  e["event"] = "flow_end";
  e["first_seen"] = 1444236900.9;  // conntrack's start, not the engine's
  e["duration"] = 0.55;
  e["counted_by"] = "conntrack";
  e["conntrack_id"] = 3735928559u;
  const ojson p = convert(e, {.local_networks = {"93.184.0.0/16"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  EXPECT_EQ(p["type"], "flow_purge");
  EXPECT_EQ(p["reason"], "closed") << "TCP conntrack entries are destroyed after the close";
  EXPECT_EQ(p["flow"]["conntrack"], ojson({{"id", 3735928559u}, {"mark", 0x80000102u}}));
  EXPECT_EQ(p["flow"]["local_bytes"], 5000);
  EXPECT_EQ(p["flow"]["other_bytes"], 1000);
  // The digest ties the purge to its flow even though first_seen changed.
  EXPECT_EQ(p["flow"]["digest"], n["flow"]["digest"]);
}

TEST(Netify, PurgeReasons) {
  const std::pair<const char*, const char*> table[] = {
      {"fin", "closed"},           {"rst", "closed"},          {"reused", "closed"},
      {"idle", "expired"},         {"evicted", "terminated"},  {"shutdown", "terminated"},
      {"end_of_input", "terminated"}, {"something_new", "terminated"},
  };
  for (const auto& [end, want] : table) {
    json r = tlsRecord();
    r["event"] = "flow_end";
    r["end_reason"] = end;
    const ojson n = convert(r);
    EXPECT_EQ(n["type"], "flow_purge") << end;
    EXPECT_EQ(n["reason"], want) << end;
    auto it = n.begin();
    EXPECT_EQ((it++).key(), "type");
    EXPECT_EQ(it.key(), "reason");
  }
  // No end_reason (the daemon's conntrack destroy): by protocol.
  json r = tlsRecord();
  r["event"] = "flow_end";
  r.erase("end_reason");
  EXPECT_EQ(convert(r)["reason"], "closed");
  r["proto"] = "udp";
  EXPECT_EQ(convert(r)["reason"], "expired");
  r.erase("proto");
  EXPECT_EQ(convert(r)["reason"], "expired");
  // A `flow` event is never a purge, end_reason or not.
  EXPECT_FALSE(convert(tlsRecord()).contains("reason"));
}

TEST(Netify, NonFlowRecordsAreNullopt) {
  const NetifyOptions o;
  for (const char* text : {R"({"event":"stats","ts":1,"packets":3})",
                           R"({"event":"aggregate","ts":1,"application":"Google"})",
                           R"({"event":"FLOW"})", R"({"event":1})", R"({"type":"flow"})", "{}",
                           "[]", "null", "42", R"("flow")", R"([{"event":"flow"}])"})
    EXPECT_FALSE(netifyRecord(json::parse(text), o).has_value()) << text;
}

TEST(Netify, Detection) {
  const std::pair<const char*, bool> table[] = {
      {"dpi", false}, {"guessed", true}, {"unknown", true}, {"dns", false}, {"cache", false}};
  for (const auto& [conf, guessed] : table) {
    json r = tlsRecord();
    r["confidence"] = conf;
    EXPECT_EQ(convert(r)["flow"]["detection_guessed"], guessed) << conf;
  }
  json r = tlsRecord();
  r["dns_hostname"] = "example.com";
  EXPECT_EQ(convert(r)["flow"]["dns_host_name"], "example.com");
  // SSH: flowgate's hostname is the client banner, Netify's ssh.client.
  r = tlsRecord();
  r.erase("tls");
  r["l7_protocol"] = r["application"] = "SSH";
  r["hostname"] = "SSH-2.0-OpenSSH_9.2";
  const ojson f = convert(r)["flow"];
  EXPECT_FALSE(f.contains("host_server_name"));
  EXPECT_EQ(f["ssh"], ojson({{"client", "SSH-2.0-OpenSSH_9.2"}}));
  // HTTP user agent; empty hostname is no hostname.
  r = tlsRecord();
  r.erase("tls");
  r["hostname"] = "";
  r["http"] = {{"user_agent", "curl/8.0"}};
  const ojson h = convert(r)["flow"];
  EXPECT_FALSE(h.contains("host_server_name"));
  EXPECT_EQ(h["http"], ojson({{"user_agent", "curl/8.0"}}));
}

TEST(Netify, ProtocolsVlanTimes) {
  const std::pair<const char*, int> protos[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1},
                                                {"ipv6-icmp", 58}, {"sctp", 132}, {"gre", 47},
                                                {"253", 253}, {"0", 0}};
  for (const auto& [name, num] : protos) {
    json r = tlsRecord();
    r["proto"] = name;
    EXPECT_EQ(convert(r)["flow"]["ip_protocol"], num) << name;
  }
  for (const char* bad : {"256", "-1", "", "TCP", "6x"}) {
    json r = tlsRecord();
    r["proto"] = bad;
    EXPECT_FALSE(convert(r)["flow"].contains("ip_protocol")) << bad;
  }
  json r = tlsRecord();
  r["vlan"] = 100;
  EXPECT_EQ(convert(r)["flow"]["vlan_id"], 100);
  r["first_seen"] = 0.001;
  r["last_seen"] = 1.999999;
  EXPECT_EQ(convert(r)["flow"]["first_seen_at"], 1);
  EXPECT_EQ(convert(r)["flow"]["last_seen_at"], 1999);
}

TEST(Netify, DigestIdentity) {
  const std::string base = convert(tlsRecord())["flow"]["digest"];
  // Stable, and independent of what is not identity.
  json r = tlsRecord();
  r["bytes"] = 1;
  r["hostname"] = "other";
  r["first_seen"] = 5.0;
  EXPECT_EQ(convert(r)["flow"]["digest"], base);
  EXPECT_EQ(convert(r, {.local_networks = {"93.0.0.0/8"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "x", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}})["flow"]["digest"], base);
  // Every part of the identity counts.
  std::vector<std::string> seen{base};
  auto differs = [&](const char* key, const json& value) {
    json c = tlsRecord();
    c[key] = value;
    const std::string d = convert(c)["flow"]["digest"];
    for (const auto& s : seen) EXPECT_NE(d, s) << key;
    seen.push_back(d);
  };
  differs("flow_id", "43");
  differs("src_port", 51001);
  differs("dst_port", 444);
  differs("src_ip", "192.168.1.11");
  differs("dst_ip", "93.184.216.35");
  differs("proto", "udp");
  differs("vlan", 7);
  // Without a flow_id, first_seen identifies the flow.
  json a = tlsRecord(), b = tlsRecord();
  a.erase("flow_id");
  b.erase("flow_id");
  b["first_seen"] = 1444236900.923882;
  EXPECT_NE(convert(a)["flow"]["digest"], convert(b)["flow"]["digest"]);
  EXPECT_NE(convert(a)["flow"]["digest"], base);
}

// Every field of a full record replaced by every wrong type, and removed:
// never an exception, always a record (the event is intact), and a wrong
// type leaves the key out rather than passing the wrong type through.
TEST(Netify, MalformedRecordsNeverThrow) {
  json full = decisionRecord();
  full["vlan"] = 5;
  full["dns_hostname"] = "x";
  full["http"] = {{"user_agent", "ua"}};
  full["conntrack_id"] = 9;
  full["out_interface"] = "lan0";
  const std::vector<json> wrong = {nullptr, true, -1, 1.5, -2.5, 1e300, 18446744073709551615u,
                                   "", "x", "0x", json::array(), json::array({1, "a"}),
                                   json::object(), json{{"version", 1}, {"cipher", nullptr}}};
  const NetifyOptions opts[] = {
      {},
      {.local_networks = {"192.168.0.0/16", "::/0", "0.0.0.0/0", "bad/cidr", "/", "1.2.3.4/"},
       .lan_interfaces = {"lan0", ""}, .wan_interfaces = {}, 
       .interface = "", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}},
  };
  size_t cases = 0;
  for (const auto& o : opts) {
    for (auto it = full.begin(); it != full.end(); ++it) {
      if (it.key() == "event") continue;
      for (const json& w : wrong) {
        json r = full;
        r[it.key()] = w;
        std::optional<ojson> n;
        ASSERT_NO_THROW(n = netifyRecord(r, o)) << it.key() << " = " << w.dump();
        ASSERT_TRUE(n.has_value()) << it.key();
        ASSERT_NO_THROW((void)encodeLine(*n));
        ++cases;
      }
      json r = full;
      r.erase(it.key());
      ASSERT_NO_THROW((void)netifyRecord(r, o)) << "without " << it.key();
    }
    // Nested objects' members with wrong types.
    for (const char* k : {"version", "cipher", "ja3c", "ja3s", "alpn"})
      for (const json& w : wrong) {
        json r = full;
        r["tls"][k] = w;
        ASSERT_NO_THROW((void)netifyRecord(r, o)) << "tls." << k << " = " << w.dump();
      }
  }
  EXPECT_GT(cases, 100u);

  json r = full;
  r["src_port"] = 70000;
  r["src_bytes"] = -5;
  r["ip_version"] = 5;
  r["vlan"] = 5000;
  r["first_seen"] = "1.5";
  r["mark"] = -1;
  r["confidence"] = 3;
  const ojson f = convert(r)["flow"];
  for (const char* k : {"local_port", "local_bytes", "ip_version", "vlan_id", "first_seen_at"})
    EXPECT_FALSE(f.contains(k)) << k;
  EXPECT_EQ(f["detection_guessed"], false) << "a mistyped confidence is no guess";
  EXPECT_EQ(f.value("conntrack", ojson()), ojson({{"id", 9}})) << "a negative mark is no mark";

  // The bare minimum: only the event.
  const ojson bare = convert(json{{"event", "flow_end"}});
  EXPECT_EQ(bare["type"], "flow_purge");
  EXPECT_EQ(bare["reason"], "expired");
  EXPECT_EQ(bare["flow"]["digest"].get<std::string>().size(), 40u);
}

// The encoder over what flowRecord really produces.
TEST(Netify, FromFlowRecord) {
  core::Flow f;
  f.id = 7;
  f.src = *core::IpAddress::parse("10.0.0.2");
  f.dst = *core::IpAddress::parse("10.0.0.1");
  f.src_port = 5353;
  f.dst_port = 53;
  f.proto = core::kProtoUdp;
  f.ip_version = 4;
  f.key.vlan = 12;
  f.cls.l7_protocol = f.cls.application = "DNS";
  f.cls.category = "Network";
  f.cls.hostname = "example.org";
  f.cls.dns_query = "example.org";
  f.cls.dns_qtype = 1;
  f.cls.confidence = core::Confidence::Dpi;
  f.packets[0] = f.packets[1] = 1;
  f.bytes[0] = 60;
  f.bytes[1] = 120;
  f.first_seen = 1'000'000;
  f.last_seen = 1'020'000;
  const json rec = flowRecord(f, "flow", f.last_seen, core::EndReason::Idle);
  const ojson n = convert(rec, {.local_networks = {"10.0.0.0/24"}, .lan_interfaces = {}, .wan_interfaces = {},  .interface = "pcap", .version = 5, .on_lan = {}, .mac_of = {}, .protocol_id = {}});
  EXPECT_EQ(n["internal"], true);
  EXPECT_EQ(n["flow"]["vlan_id"], 12);
  EXPECT_EQ(n["flow"]["ip_protocol"], 17);
  EXPECT_EQ(n["flow"]["first_seen_at"], 1000);
  EXPECT_EQ(n["flow"]["last_seen_at"], 1020);
  EXPECT_EQ(n["flow"]["host_server_name"], "example.org");
  EXPECT_EQ(n["flow"]["total_bytes"], 180);
  json end = rec;
  end["event"] = "flow_end";
  EXPECT_EQ(convert(end)["reason"], "expired");
}

}  // namespace
}  // namespace fg::output

namespace fg::output {
namespace {

// Interface roles and the kernel's view: the opener arriving on a WAN
// interface is remote; on a LAN interface local; otherwise on_lan decides.
TEST(Netify, InterfaceRolesAndTheHostsView) {
  nlohmann::json r = nlohmann::json::parse(R"({"event":"flow","flow_id":"9","ip_version":4,"proto":"tcp",
    "src_ip":"198.51.100.7","src_port":50000,"dst_ip":"192.168.1.10","dst_port":22,"in_interface":"wan0"})");
  NetifyOptions o;
  o.lan_interfaces = {"lan0"};
  o.wan_interfaces = {"wan0"};
  o.on_lan = [](std::string_view ip) { return ip.starts_with("192.168.1."); };
  auto n = netifyRecord(r, o);
  ASSERT_TRUE(n);
  EXPECT_EQ((*n)["flow"]["local_ip"], "192.168.1.10") << "an inbound connection: the server is the local side";
  EXPECT_EQ((*n)["flow"]["local_origin"], false);
  EXPECT_EQ((*n)["flow"]["other_type"], "remote");
  EXPECT_EQ((*n)["internal"], false);
  // From the LAN to the internet.
  r["in_interface"] = "lan0";
  r["src_ip"] = "192.168.1.20";
  r["dst_ip"] = "203.0.113.5";
  n = netifyRecord(r, o);
  EXPECT_EQ((*n)["flow"]["local_ip"], "192.168.1.20");
  EXPECT_EQ((*n)["flow"]["local_origin"], true);
  EXPECT_EQ((*n)["flow"]["other_type"], "remote");
  // Between two LAN hosts: internal, the other side local.
  r["dst_ip"] = "192.168.1.30";
  n = netifyRecord(r, o);
  EXPECT_EQ((*n)["internal"], true);
  EXPECT_EQ((*n)["flow"]["other_type"], "local");
  // The record's hardware addresses, by side; unknown stays zeros.
  EXPECT_EQ((*n)["flow"]["local_mac"], "00:00:00:00:00:00");
  r["src_mac"] = "02:00:00:00:00:01";
  n = netifyRecord(r, o);
  EXPECT_EQ((*n)["flow"]["local_mac"], "02:00:00:00:00:01");
  EXPECT_EQ((*n)["flow"]["other_mac"], "00:00:00:00:00:00");
  // An inbound flow: the opener is the other side, and so is its address.
  r["in_interface"] = "wan0";
  r["src_ip"] = "198.51.100.7";
  r["dst_mac"] = "02:00:00:00:00:09";
  n = netifyRecord(r, o);
  EXPECT_EQ((*n)["flow"]["local_mac"], "02:00:00:00:00:09");
  EXPECT_EQ((*n)["flow"]["other_mac"], "02:00:00:00:00:01");
}

}  // namespace
}  // namespace fg::output
