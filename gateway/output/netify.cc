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

bool validNetifyCidr(std::string_view cidr) { return parseNetwork(cidr).has_value(); }

std::optional<ojson> netifyRecord(const json& r, const NetifyOptions& opt) {
  if (!r.is_object()) return std::nullopt;
  const auto event = str(r, "event");
  if (!event || (*event != "flow" && *event != "flow_end")) return std::nullopt;
  const bool purge = *event == "flow_end";

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
  const bool src_in = inLocal(src), dst_in = inLocal(dst);
  const auto in_if = text(r, "in_interface");

  // Which side is local: the one inside local_networks; when both or neither
  // are, the opener (src): the LAN interface rule and the default agree on
  // it (docs/netify.md).
  bool local_is_src = true;
  if (src_in != dst_in) local_is_src = src_in;
  // Both ends local: both addresses in local_networks, or the packet came in
  // on a LAN interface and leaves on one.
  auto lanIf = [&](const std::optional<std::string>& name) {
    if (!name) return false;
    for (const auto& l : opt.lan_interfaces)
      if (l == *name) return true;
    return false;
  };
  const bool internal = (src_in && dst_in) || (lanIf(in_if) && lanIf(text(r, "out_interface")));

  ojson env = ojson::object();
  env["type"] = purge ? "flow_purge" : "flow";
  if (purge) env["reason"] = purgeReason(r);
  env["interface"] = in_if ? *in_if : opt.interface;
  env["internal"] = internal;

  ojson f = ojson::object();
  f["digest"] = digestOf(r);
  if (auto v = epochMs(r, "first_seen")) f["first_seen_at"] = *v;
  if (auto v = epochMs(r, "last_seen")) f["last_seen_at"] = *v;
  if (auto v = count(r, "ip_version"); v && (*v == 4 || *v == 6)) f["ip_version"] = *v;
  if (auto p = str(r, "proto"))
    if (auto n = protoNumber(*p)) f["ip_protocol"] = *n;
  {
    const json* vlan = member(r, "vlan");
    if (!vlan) f["vlan_id"] = 0;
    else if (auto v = bounded(r, "vlan", 4095)) f["vlan_id"] = *v;
  }

  const char* l_ip = local_is_src ? "src_ip" : "dst_ip";
  const char* o_ip = local_is_src ? "dst_ip" : "src_ip";
  const char* l_port = local_is_src ? "src_port" : "dst_port";
  const char* o_port = local_is_src ? "dst_port" : "src_port";
  if (auto v = str(r, l_ip)) f["local_ip"] = *v;
  if (auto v = bounded(r, l_port, 65535)) f["local_port"] = *v;
  if (auto v = str(r, o_ip)) f["other_ip"] = *v;
  if (auto v = bounded(r, o_port, 65535)) f["other_port"] = *v;
  f["local_origin"] = local_is_src;
  {
    const auto& other = local_is_src ? dst : src;
    const char* type = "remote";
    if (other && isMulticast(*other)) type = "multicast";
    else if (other && isBroadcast(*other, nets)) type = "broadcast";
    else if (internal || (local_is_src ? dst_in : src_in)) type = "local";
    f["other_type"] = type;
  }

  if (auto v = str(r, "l7_protocol")) f["detected_protocol_name"] = *v;
  if (auto v = str(r, "application")) f["detected_application_name"] = *v;
  if (auto c = str(r, "confidence")) f["detection_guessed"] = *c == "guessed" || *c == "unknown";

  const json* tls = member(r, "tls");
  if (tls && !tls->is_object()) tls = nullptr;
  const auto l7 = str(r, "l7_protocol");
  const auto hostname = text(r, "hostname");
  // flowgate's hostname is the SSH client's banner for SSH (not a host name).
  const bool ssh = l7 && *l7 == "SSH";
  if (hostname && !ssh) f["host_server_name"] = *hostname;
  if (auto v = text(r, "dns_hostname")) f["dns_host_name"] = *v;

  if (tls) {
    ojson s = ojson::object();
    if (auto v = str(*tls, "version"))
      if (auto w = tlsVersionWire(*v)) s["version"] = hex16(*w);
    if (auto v = str(*tls, "cipher"))
      if (auto w = cipherWire(*v)) s["cipher_suite"] = hex16(*w);
    if (hostname) s["client_sni"] = *hostname;
    if (const json* alpn = member(*tls, "alpn"); alpn && alpn->is_array()) {
      ojson a = ojson::array();
      for (const auto& p : *alpn)
        if (p.is_string()) a.push_back(p.get<std::string>());
      s["alpn"] = std::move(a);
    }
    if (auto v = text(*tls, "ja3c")) s["client_ja3"] = *v;
    if (auto v = text(*tls, "ja3s")) s["server_ja3"] = *v;
    f["ssl"] = std::move(s);
  }
  if (const json* http = member(r, "http"); http && http->is_object())
    if (auto ua = text(*http, "user_agent")) f["http"] = ojson{{"user_agent", *ua}};
  if (ssh && hostname) f["ssh"] = ojson{{"client", *hostname}};

  const char* l_b = local_is_src ? "src_bytes" : "dst_bytes";
  const char* o_b = local_is_src ? "dst_bytes" : "src_bytes";
  const char* l_p = local_is_src ? "src_packets" : "dst_packets";
  const char* o_p = local_is_src ? "dst_packets" : "src_packets";
  const auto lb = count(r, l_b), ob = count(r, o_b), lp = count(r, l_p), op = count(r, o_p);
  if (lb) f["local_bytes"] = *lb;
  if (ob) f["other_bytes"] = *ob;
  if (lp) f["local_packets"] = *lp;
  if (op) f["other_packets"] = *op;
  if (auto v = count(r, "bytes")) f["total_bytes"] = *v;
  else if (lb && ob) f["total_bytes"] = *lb + *ob;
  if (auto v = count(r, "packets")) f["total_packets"] = *v;
  else if (lp && op) f["total_packets"] = *lp + *op;

  {
    ojson ct = ojson::object();
    if (auto v = count(r, "conntrack_id")) ct["id"] = *v;
    if (auto v = bounded(r, "mark", 0xffffffffu)) ct["mark"] = *v;
    if (!ct.empty()) f["conntrack"] = std::move(ct);
  }

  env["flow"] = std::move(f);
  return env;
}

}  // namespace fg::output
