#include "gateway/output/netify.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "common/cipher_suites.h"
#include "common/tls_version.h"
#include "gateway/core/ip_address.h"

namespace fg::output {
namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

// ---------------------------------------------------------------- SHA-1
// FIPS 180-4, section 6.1: 512-bit blocks, 80 rounds, big-endian words.
class Sha1 {
 public:
  void update(std::string_view data) {
    for (char ch : data) {
      block_[fill_++] = static_cast<uint8_t>(ch);
      if (fill_ == 64) {
        compress();
        fill_ = 0;
      }
    }
    length_ += data.size();
  }

  std::array<uint8_t, 20> finish() {
    const uint64_t bits = length_ * 8;
    block_[fill_++] = 0x80;
    if (fill_ > 56) {
      while (fill_ < 64) block_[fill_++] = 0;
      compress();
      fill_ = 0;
    }
    while (fill_ < 56) block_[fill_++] = 0;
    for (int i = 7; i >= 0; --i) block_[fill_++] = static_cast<uint8_t>(bits >> (i * 8));
    compress();
    fill_ = 0;
    std::array<uint8_t, 20> out{};
    for (size_t i = 0; i < 5; ++i)
      for (size_t b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<uint8_t>(h_[i] >> (24 - 8 * b));
    return out;
  }

 private:
  static uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

  void compress() {
    std::array<uint32_t, 80> w{};
    for (size_t t = 0; t < 16; ++t)
      w[t] = uint32_t{block_[t * 4]} << 24 | uint32_t{block_[t * 4 + 1]} << 16 |
             uint32_t{block_[t * 4 + 2]} << 8 | uint32_t{block_[t * 4 + 3]};
    for (size_t t = 16; t < 80; ++t) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
    for (size_t t = 0; t < 80; ++t) {
      uint32_t f, k;
      if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
      else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
      else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
      else { f = b ^ c ^ d; k = 0xca62c1d6; }
      const uint32_t tmp = rotl(a, 5) + f + e + k + w[t];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = tmp;
    }
    h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d; h_[4] += e;
  }

  std::array<uint32_t, 5> h_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
  std::array<uint8_t, 64> block_{};
  size_t fill_ = 0;
  uint64_t length_ = 0;
};

// ------------------------------------------------------ reading the record
// Every accessor checks the type: a mistyped field counts as absent.

const json* member(const json& r, const char* key) {
  auto it = r.find(key);
  return it == r.end() ? nullptr : &*it;
}

std::optional<std::string> str(const json& r, const char* key) {
  const json* v = member(r, key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

// A non-empty string.
std::optional<std::string> text(const json& r, const char* key) {
  auto s = str(r, key);
  if (s && s->empty()) return std::nullopt;
  return s;
}

std::optional<uint64_t> count(const json& r, const char* key) {
  const json* v = member(r, key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer()) {
    const int64_t n = v->get<int64_t>();
    if (n >= 0) return static_cast<uint64_t>(n);
  }
  return std::nullopt;
}

std::optional<uint64_t> bounded(const json& r, const char* key, uint64_t max) {
  auto n = count(r, key);
  if (n && *n > max) return std::nullopt;
  return n;
}

// Unix seconds (with microseconds) -> epoch milliseconds, truncated. Goes
// through whole microseconds so 0.001 does not become 0 ms by rounding error.
std::optional<uint64_t> epochMs(const json& r, const char* key) {
  const json* v = member(r, key);
  if (!v || !v->is_number()) return std::nullopt;
  const double s = v->get<double>();
  if (!std::isfinite(s) || s < 0 || s > 1e12) return std::nullopt;
  return static_cast<uint64_t>(std::llround(s * 1e6)) / 1000;
}

// flowgate's `proto` (IANA keyword or decimal number) -> protocol number.
std::optional<uint64_t> protoNumber(std::string_view p) {
  static constexpr std::pair<std::string_view, uint8_t> kNames[] = {
      {"icmp", 1}, {"igmp", 2},       {"ipip", 4},   {"tcp", 6},    {"udp", 17},
      {"ipv6", 41}, {"gre", 47},      {"esp", 50},   {"ah", 51},    {"ipv6-icmp", 58},
      {"pim", 103}, {"vrrp", 112},    {"sctp", 132}, {"udplite", 136},
  };
  for (const auto& [name, num] : kNames)
    if (name == p) return num;
  unsigned n = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
  if (ec != std::errc() || end != p.data() + p.size() || p.empty() || n > 255) return std::nullopt;
  return n;
}

std::string hex16(uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", v);
  return buf;
}

std::optional<uint16_t> parseHex16(std::string_view s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// "TLSv1.2" -> 0x0303; "TLS (7F1C)" (flowgate's spelling of other values) -> 0x7f1c.
std::optional<uint16_t> tlsVersionWire(std::string_view name) {
  if (auto v = parseTlsVersion(name)) return v;
  constexpr std::string_view kPrefix = "TLS (";
  if (name.starts_with(kPrefix) && name.ends_with(")"))
    return parseHex16(name.substr(kPrefix.size(), name.size() - kPrefix.size() - 1));
  return std::nullopt;
}

// IANA name -> id; "0xXXXX" (flowgate's spelling of unassigned values) -> XXXX.
std::optional<uint16_t> cipherWire(std::string_view name) {
  if (name.size() > 2 && (name.starts_with("0x") || name.starts_with("0X")))
    return parseHex16(name.substr(2));
  if (const CipherSuite* cs = findCipherSuite(name)) return cs->id;
  return std::nullopt;
}

// ------------------------------------------------------------- addresses

struct Network {
  core::IpAddress base;
  unsigned prefix = 0;
};

std::optional<Network> parseNetwork(std::string_view cidr) {
  std::string_view addr = cidr;
  std::optional<unsigned> prefix;
  if (auto slash = cidr.find('/'); slash != std::string_view::npos) {
    addr = cidr.substr(0, slash);
    std::string_view p = cidr.substr(slash + 1);
    unsigned n = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size()) return std::nullopt;
    prefix = n;
  }
  auto a = core::IpAddress::parse(addr);
  if (!a || (a->version != 4 && a->version != 6)) return std::nullopt;
  const unsigned max = a->version == 4 ? 32 : 128;
  if (!prefix) prefix = max;
  if (*prefix > max) return std::nullopt;
  return Network{*a, *prefix};
}

bool bitsMatch(const core::IpAddress& a, const core::IpAddress& b, unsigned prefix) {
  const unsigned whole = prefix / 8, rest = prefix % 8;
  for (unsigned i = 0; i < whole; ++i)
    if (a.bytes[i] != b.bytes[i]) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

bool contains(const Network& n, const core::IpAddress& a) {
  return n.base.version == a.version && bitsMatch(n.base, a, n.prefix);
}

bool isMulticast(const core::IpAddress& a) {
  return a.version == 4 ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

// 255.255.255.255, or the last address of a configured IPv4 local network
// (of prefix /30 or shorter).
bool isBroadcast(const core::IpAddress& a, const std::vector<Network>& nets) {
  if (a.version != 4) return false;
  if (a.bytes[0] == 255 && a.bytes[1] == 255 && a.bytes[2] == 255 && a.bytes[3] == 255) return true;
  for (const Network& n : nets) {
    if (n.base.version != 4 || n.prefix > 30 || !contains(n, a)) continue;
    bool all_ones = true;
    for (unsigned bit = n.prefix; bit < 32 && all_ones; ++bit)
      all_ones = (a.bytes[bit / 8] >> (7 - bit % 8)) & 1;
    if (all_ones) return true;
  }
  return false;
}

// ------------------------------------------------------------ the mapping

// flowgate end_reason -> flow_purge reason (docs/netify.md).
std::string purgeReason(const json& r) {
  if (auto end = str(r, "end_reason")) {
    if (*end == "fin" || *end == "rst" || *end == "reused") return "closed";
    if (*end == "idle") return "expired";
    return "terminated";  // evicted, shutdown, end_of_input, anything new
  }
  // The daemon's flow_end (conntrack destroyed the entry): TCP entries go
  // after the connection closed, the others after their idle timeout.
  auto proto = str(r, "proto");
  return proto && *proto == "tcp" ? "closed" : "expired";
}

std::string digestOf(const json& r) {
  // Canonical text of the flow's identity; see docs/netify.md "digest".
  std::string in = "flowgate-netify-1";
  auto add = [&](const std::string& s) {
    in += '|';
    in += s;
  };
  auto num = [](std::optional<uint64_t> v) { return v ? std::to_string(*v) : std::string(); };
  add(num(count(r, "ip_version")));
  add(str(r, "proto").value_or(""));
  add(num(count(r, "vlan").value_or(0)));
  add(str(r, "src_ip").value_or(""));
  add(num(count(r, "src_port")));
  add(str(r, "dst_ip").value_or(""));
  add(num(count(r, "dst_port")));
  if (auto id = str(r, "flow_id")) {
    add("id:" + *id);
  } else {
    const json* fs = member(r, "first_seen");
    const bool ok = fs && fs->is_number() && std::isfinite(fs->get<double>()) &&
                    fs->get<double>() >= 0 && fs->get<double>() <= 1e12;
    add("us:" + (ok ? std::to_string(std::llround(fs->get<double>() * 1e6)) : std::string()));
  }
  return netifySha1Hex(in);
}

}  // namespace

std::string netifySha1Hex(std::string_view input) {
  Sha1 h;
  h.update(input);
  const auto d = h.finish();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(40);
  for (uint8_t b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

json netifyFirstSight(const json& r) {
  if (!r.is_object()) return r;
  json out = json::object();
  for (const char* key : {"event", "ts", "flow_id", "ip_version", "proto", "vlan", "src_ip", "src_port", "dst_ip",
                          "dst_port", "first_seen", "in_interface", "out_interface", "src_mac", "dst_mac"})
    if (const json* v = member(r, key)) out[key] = *v;
  if (const json* v = member(r, "first_seen")) out["last_seen"] = *v;
  return out;
}

bool validNetifyCidr(std::string_view cidr) { return parseNetwork(cidr).has_value(); }

std::optional<ojson> netifyRecord(const json& r, const NetifyOptions& opt) {
  if (!r.is_object()) return std::nullopt;
  const auto event = str(r, "event");
  if (!event || (*event != "flow" && *event != "flow_end")) return std::nullopt;
  return netifyMessage(r, *event == "flow_end" ? NetifyType::Purge : NetifyType::Flow, opt);
}

std::optional<ojson> netifyMessage(const json& r, NetifyType type, const NetifyOptions& opt,
                                   const NetifyInterval* interval) {
  if (!r.is_object()) return std::nullopt;
  if (type == NetifyType::Stats && !interval) return std::nullopt;
  const bool v4 = opt.version == 4;

  std::vector<Network> nets;
  nets.reserve(opt.local_networks.size());
  for (const auto& c : opt.local_networks)
    if (auto n = parseNetwork(c)) nets.push_back(*n);
  auto inLocal = [&](const std::optional<core::IpAddress>& a) {
    if (!a) return false;
    for (const Network& n : nets)
      if (contains(n, *a)) return true;
    return false;
  };

  const auto src_text = str(r, "src_ip"), dst_text = str(r, "dst_ip");
  const auto src = src_text ? core::IpAddress::parse(*src_text) : std::nullopt;
  const auto dst = dst_text ? core::IpAddress::parse(*dst_text) : std::nullopt;
  // Which addresses are on the LAN side: local_networks when configured and
  // one of them contains the address, else the kernel's view (own addresses,
  // loopback, connected LAN networks; docs/netify.md "Which side is local").
  auto onLan = [&](const std::optional<std::string>& text, const std::optional<core::IpAddress>& a) {
    if (inLocal(a)) return true;
    return text && a && opt.on_lan && opt.on_lan(*text);
  };
  const auto in_if = text(r, "in_interface");
  const auto out_if = text(r, "out_interface");
  auto listed = [](const std::vector<std::string>& list, const std::optional<std::string>& name) {
    if (!name) return false;
    for (const auto& l : list)
      if (l == *name) return true;
    return false;
  };
  // The opener's side: its arrival interface's role when configured, then
  // the addresses.
  // local_networks decide when they hold either address.
  bool src_in = inLocal(src), dst_in = inLocal(dst);
  if (!src_in && !dst_in) {
    if (listed(opt.lan_interfaces, in_if)) src_in = true;
    else if (listed(opt.wan_interfaces, in_if)) src_in = false;
    else src_in = onLan(src_text, src);
    dst_in = onLan(dst_text, dst);
  }

  // The local side: the one on the LAN side; when both or neither are, the
  // opener (src).
  bool local_is_src = true;
  if (src_in != dst_in) local_is_src = src_in;
  const bool internal = (src_in && dst_in) ||
                        (listed(opt.lan_interfaces, in_if) && listed(opt.lan_interfaces, out_if));

  ojson env = ojson::object();
  switch (type) {
    case NetifyType::Flow: env["type"] = "flow"; break;
    case NetifyType::DpiComplete: env["type"] = "flow_dpi_complete"; break;
    case NetifyType::Stats: env["type"] = "flow_stats"; break;
    case NetifyType::Purge: env["type"] = "flow_purge"; break;
  }
  if (type == NetifyType::Purge) env["reason"] = purgeReason(r);
  env["interface"] = in_if ? *in_if : opt.interface;
  env["internal"] = internal;
  // v4: true when the flow existed before the agent saw its start. flowgate
  // sees every flow it reports from its first packet.
  if (v4) env["established"] = false;

  const char* l_b = local_is_src ? "src_bytes" : "dst_bytes";
  const char* o_b = local_is_src ? "dst_bytes" : "src_bytes";
  const char* l_p = local_is_src ? "src_packets" : "dst_packets";
  const char* o_p = local_is_src ? "dst_packets" : "src_packets";
  const auto lb = count(r, l_b), ob = count(r, o_b), lp = count(r, l_p), op = count(r, o_p);
  auto totals = [&](ojson& f) {
    if (auto v = count(r, "bytes")) f["total_bytes"] = *v;
    else if (lb && ob) f["total_bytes"] = *lb + *ob;
    if (auto v = count(r, "packets")) f["total_packets"] = *v;
    else if (lp && op) f["total_packets"] = *lp + *op;
  };
  auto detectionPackets = [&](ojson& f) {
    if (auto v = count(r, "dpi_packets")) f["detection_packets"] = *v;
    else f["detection_packets"] = 0;
  };

  ojson f = ojson::object();
  f["digest"] = digestOf(r);

  if (type == NetifyType::Stats) {
    // The agent's stats message: the counters of the last interval per side,
    // the flow's totals, and when the flow was last seen.
    if (auto v = epochMs(r, "last_seen")) f["last_seen_at"] = *v;
    f["local_bytes"] = local_is_src ? interval->src_bytes : interval->dst_bytes;
    f["other_bytes"] = local_is_src ? interval->dst_bytes : interval->src_bytes;
    f["local_packets"] = local_is_src ? interval->src_packets : interval->dst_packets;
    f["other_packets"] = local_is_src ? interval->dst_packets : interval->src_packets;
    totals(f);
    detectionPackets(f);
    env["flow"] = std::move(f);
    return env;
  }

  if (auto v = epochMs(r, "first_seen")) {
    f["first_seen_at"] = *v;
    if (v4) f["first_update_at"] = *v;
  }
  if (auto v = epochMs(r, "last_seen")) f["last_seen_at"] = *v;
  if (auto v = count(r, "ip_version"); v && (*v == 4 || *v == 6)) f["ip_version"] = *v;
  if (auto p = str(r, "proto"))
    if (auto n = protoNumber(*p)) f["ip_protocol"] = *n;
  {
    const json* vlan = member(r, "vlan");
    if (!vlan) f["vlan_id"] = 0;
    else if (auto v = bounded(r, "vlan", 4095)) f["vlan_id"] = *v;
  }
  // Not tracked per flow (docs/netify.md).
  f["ip_nat"] = false;

  const char* l_ip = local_is_src ? "src_ip" : "dst_ip";
  const char* o_ip = local_is_src ? "dst_ip" : "src_ip";
  const char* l_port = local_is_src ? "src_port" : "dst_port";
  const char* o_port = local_is_src ? "dst_port" : "src_port";
  auto macOf = [&](const char* key) -> std::string {
    constexpr const char* kNone = "00:00:00:00:00:00";
    // The record's own: the source hardware address of that side's packets.
    const char* mac_key = std::string_view(key) == "src_ip" ? "src_mac" : "dst_mac";
    if (auto m = str(r, mac_key); m && m->size() == 17) return *m;
    auto ip = str(r, key);
    if (!ip || !opt.mac_of) return kNone;
    auto m = opt.mac_of(*ip);
    return m ? *m : kNone;
  };
  f["local_mac"] = macOf(l_ip);
  f["other_mac"] = macOf(o_ip);
  if (auto v = str(r, l_ip)) f["local_ip"] = *v;
  if (auto v = bounded(r, l_port, 65535)) f["local_port"] = *v;
  if (auto v = str(r, o_ip)) f["other_ip"] = *v;
  if (auto v = bounded(r, o_port, 65535)) f["other_port"] = *v;
  f["local_origin"] = local_is_src;
  {
    const auto& other = local_is_src ? dst : src;
    const char* kind = "remote";
    if (other && isMulticast(*other)) kind = "multicast";
    else if (other && isBroadcast(*other, nets)) kind = "broadcast";
    else if (internal || (local_is_src ? dst_in : src_in)) kind = "local";
    f["other_type"] = kind;
  }

  // Detection. The agent names the protocol and, separately, the
  // application; with no application it writes "Unknown" and id 0.
  const auto l7 = str(r, "l7_protocol");
  const std::string proto_name = l7 && !l7->empty() ? *l7 : "Unknown";
  std::string app_name = str(r, "application").value_or("");
  if (app_name.empty() || app_name == proto_name) app_name = "Unknown";
  std::optional<uint32_t> proto_id;
  if (opt.protocol_id && proto_name != "Unknown") proto_id = opt.protocol_id(proto_name);
  f["detected_protocol"] = proto_id.value_or(0);
  f["detected_protocol_name"] = proto_name;
  f["detected_application"] = 0;  // Netify's application ids are not flowgate's to assign
  f["detected_application_name"] = app_name;
  const auto confidence = str(r, "confidence");
  f["detection_guessed"] = confidence && (*confidence == "guessed" || *confidence == "unknown");
  {
    const json* du = member(r, "detection_updated");
    f["detection_updated"] = du && du->is_boolean() && du->get<bool>();
  }
  // The agent's soft dissectors answer from addresses and names, not from
  // the flow's payload: flowgate's DNS and learned-server answers.
  f["soft_dissector"] = confidence && (*confidence == "dns" || *confidence == "cache");
  if (v4) f["dhc_hit"] = confidence && *confidence == "dns";
  f["category"] = ojson{{"application", 0}, {"protocol", 0}, {"domain", 0}};
  f["risks"] = ojson{{"risks", ojson::array()},
                     {"ndpi_risk_score", 0},
                     {"ndpi_risk_score_client", 0},
                     {"ndpi_risk_score_server", 0}};

  const json* tls = member(r, "tls");
  if (tls && !tls->is_object()) tls = nullptr;
  const auto hostname = text(r, "hostname");
  // flowgate's hostname is the SSH client's banner for SSH (not a host name).
  const bool ssh = l7 && *l7 == "SSH";
  if (hostname && !ssh) f["host_server_name"] = *hostname;
  if (auto v = text(r, "dns_hostname")) f["dns_host_name"] = *v;

  const bool quic = l7 && *l7 == "QUIC";
  if (tls || quic) {
    ojson s = ojson::object();
    const json empty = json::object();
    const json& t = tls ? *tls : empty;
    std::optional<uint16_t> version;
    if (auto v = str(t, "version")) version = tlsVersionWire(*v);
    if (!version && quic) version = 0x0304;  // QUIC carries TLS 1.3 (RFC 9001)
    std::optional<uint16_t> cipher;
    if (auto v = str(t, "cipher")) cipher = cipherWire(*v);
    // The agent writes both always; 0x0000 where the handshake did not tell.
    s["version"] = hex16(version.value_or(0));
    s["cipher_suite"] = hex16(cipher.value_or(0));
    if (hostname) s["client_sni"] = *hostname;
    if (const json* alpn = member(t, "alpn"); alpn && alpn->is_array()) {
      ojson a = ojson::array();
      for (const auto& p : *alpn)
        if (p.is_string()) a.push_back(p.get<std::string>());
      s["alpn"] = std::move(a);
    }
    if (auto v = text(t, "ja3c")) s["client_ja3"] = *v;
    if (auto v = text(t, "ja3s")) s["server_ja3"] = *v;
    f["ssl"] = std::move(s);
  }
  if (const json* http = member(r, "http"); http && http->is_object())
    if (auto ua = text(*http, "user_agent")) f["http"] = ojson{{"user_agent", *ua}};
  if (ssh && hostname) f["ssh"] = ojson{{"client", *hostname}};

  {
    // Counters: cumulative, as far as the record has them.
    if (lb) f["local_bytes"] = *lb;
    if (ob) f["other_bytes"] = *ob;
    if (lp) f["local_packets"] = *lp;
    if (op) f["other_packets"] = *op;
    totals(f);
    if (lb || ob) detectionPackets(f);
  }

  {
    const auto id = count(r, "conntrack_id");
    const auto mark = bounded(r, "mark", 0xffffffffu);
    if (v4) {
      if (id) f["ct_id"] = *id;
      if (mark) f["ct_mark"] = *mark;
    } else {
      ojson ct = ojson::object();
      if (id) ct["id"] = *id;
      if (mark) ct["mark"] = *mark;
      if (!ct.empty()) f["conntrack"] = std::move(ct);
    }
  }

  env["flow"] = std::move(f);
  return env;
}

}  // namespace fg::output
