// Flow record JSON <-> FlowFacts / Decision.
#include <charconv>

#include <nlohmann/json.hpp>

#include "common/tls_version.h"
#include "policy/record_json.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"

namespace fg::policy {
namespace {

struct ProtoName {
  uint8_t number;
  std::string_view name;
};
constexpr ProtoName kProtos[] = {
    {1, "icmp"}, {2, "igmp"}, {6, "tcp"},   {17, "udp"},  {47, "gre"},     {50, "esp"},
    {51, "ah"},  {58, "ipv6-icmp"}, {132, "sctp"}, {136, "udplite"},
};

// Accepts a string; missing or null leaves `out` untouched.
Result<void> readString(const nlohmann::json& j, const char* field, std::string& out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) return makeError(std::string("field \"") + field + "\": expected a string");
  out = it->get<std::string>();
  return {};
}

Result<void> readPort(const nlohmann::json& j, const char* field, uint16_t& out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 65535)
    return makeError(std::string("field \"") + field + "\": expected a port number 0-65535");
  out = static_cast<uint16_t>(it->get<int64_t>());
  return {};
}

Result<void> readAddress(const nlohmann::json& j, const char* field, IpAddress& out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) return makeError(std::string("field \"") + field + "\": expected an IP address string");
  auto a = IpAddress::parse(it->get<std::string>());
  if (!a) return makeError(std::string("field \"") + field + "\": bad IP address \"" + it->get<std::string>() + "\"");
  out = *a;
  return {};
}

// nDPI-style version names, plus "TLS (0100)" hex forms.
std::optional<uint16_t> parseVersionText(std::string_view s) {
  if (auto v = parseTlsVersion(s)) return v;
  if (s.rfind("TLS (", 0) == 0 && s.size() == 10 && s.back() == ')') {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + 5, s.data() + 9, v, 16);
    if (ec == std::errc() && p == s.data() + 9) return static_cast<uint16_t>(v);
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint8_t> parseIpProto(std::string_view name) {
  for (const auto& p : kProtos)
    if (iequals(p.name, name)) return p.number;
  if (iequals(name, "icmpv6") || iequals(name, "icmp6")) return 58;
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
  if (!name.empty() && ec == std::errc() && ptr == name.data() + name.size() && v <= 255)
    return static_cast<uint8_t>(v);
  return std::nullopt;
}

std::string ipProtoName(uint8_t proto) {
  for (const auto& p : kProtos)
    if (p.number == proto) return std::string(p.name);
  return std::to_string(proto);
}

Result<FlowFacts> factsFromRecord(const nlohmann::json& j) {
  if (!j.is_object()) return makeError("flow record: expected a JSON object");
  FlowFacts f;
  for (auto [field, target] : {std::pair{"application", &f.application},
                               std::pair{"l7_protocol", &f.l7_protocol},
                               std::pair{"category", &f.category},
                               std::pair{"hostname", &f.hostname},
                               std::pair{"in_interface", &f.in_interface},
                               std::pair{"out_interface", &f.out_interface},
                               std::pair{"confidence", &f.confidence}}) {
    if (auto r = readString(j, field, *target); !r) return r.error();
  }
  if (auto r = readAddress(j, "src_ip", f.src); !r) return r.error();
  if (auto r = readAddress(j, "dst_ip", f.dst); !r) return r.error();
  if (auto r = readPort(j, "src_port", f.src_port); !r) return r.error();
  if (auto r = readPort(j, "dst_port", f.dst_port); !r) return r.error();
  if (auto it = j.find("proto"); it != j.end() && !it->is_null()) {
    std::optional<uint8_t> p;
    if (it->is_string()) p = parseIpProto(it->get<std::string>());
    else if (it->is_number_unsigned() && it->get<uint64_t>() <= 255) p = static_cast<uint8_t>(it->get<uint64_t>());
    if (!p) return makeError("field \"proto\": expected a protocol name (tcp, udp, ...) or number 0-255");
    f.ip_proto = *p;
  }
  if (auto it = j.find("tls"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return makeError("field \"tls\": expected an object");
    const auto& t = *it;
    std::string version, cipher, strength;
    if (auto r = readString(t, "version", version); !r) return makeError("tls." + r.error().context);
    if (auto r = readString(t, "cipher", cipher); !r) return makeError("tls." + r.error().context);
    if (auto r = readString(t, "cipher_strength", strength); !r) return makeError("tls." + r.error().context);
    if (auto r = readString(t, "ja3c", f.ja3c); !r) return makeError("tls." + r.error().context);
    if (auto r = readString(t, "ja3s", f.ja3s); !r) return makeError("tls." + r.error().context);
    if (!version.empty()) {
      auto v = parseVersionText(version);
      if (!v) return makeError("field \"tls.version\": unknown TLS version \"" + version + "\"");
      f.tls_version = *v;
    }
    if (!cipher.empty()) {
      f.cipher_name = cipher;
      if (const CipherSuite* s = findCipherSuite(std::string_view(cipher))) {
        f.cipher_id = s->id;
        f.cipher_strength = s->strength;
      }
    }
    if (!strength.empty()) {
      auto s = parseCipherStrength(strength);
      if (!s) return makeError("field \"tls.cipher_strength\": expected insecure, weak, strong or unknown");
      if (*s != CipherStrength::Unknown || f.cipher_id == 0) f.cipher_strength = *s;
    }
    if (auto a = t.find("alpn"); a != t.end() && !a->is_null()) {
      if (!a->is_array()) return makeError("field \"tls.alpn\": expected an array of strings");
      for (const auto& e : *a) {
        if (!e.is_string()) return makeError("field \"tls.alpn\": expected an array of strings");
        f.alpn.push_back(e.get<std::string>());
      }
    }
  }
  if (auto it = j.find("name_verified"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return makeError("field \"name_verified\": expected true or false");
    f.name_check = it->get<bool>() ? NameCheck::Verified : NameCheck::Unverified;
  }
  if (auto it = j.find("pending"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return makeError("field \"pending\": expected an array");
    for (const auto& e : *it) {
      const std::string s = e.is_string() ? e.get<std::string>() : "";
      if (s == "classification") f.pending |= kPendingClassification;
      else if (s == "tls_server_hello") f.pending |= kPendingTlsServerHello;
      else return makeError("field \"pending\": expected \"classification\" or \"tls_server_hello\"");
    }
  }
  return f;
}

nlohmann::json decisionToJson(const Decision& d, const PolicySet& policy) {
  nlohmann::json j;
  j["verdict"] = std::string(toString(d.verdict));
  j["rule"] = d.rule == Decision::kNone ? nlohmann::json(nullptr) : nlohmann::json(std::string(policy.ruleName(d.rule)));
  j["mark"] = d.mark;
  j["mask"] = d.mark_mask;
  if (d.route != Decision::kNone && d.route < policy.routes().size()) {
    j["route"] = {{"name", policy.routes()[d.route].name},
                  {"table", d.route_table},
                  {"fwmark", d.route_fwmark}};
  } else {
    j["route"] = nullptr;
  }
  j["sets"] = nlohmann::json::array();
  for (const auto& s : d.setAdditions())
    j["sets"].push_back({{"set", policy.sets()[s.set].name}, {"address", s.address.toString()}});
  j["log"] = d.log;
  j["shadow_rules"] = nlohmann::json::array();
  for (uint32_t id : d.shadowRules()) j["shadow_rules"].push_back(std::string(policy.ruleName(id)));
  j["unverified_rules"] = nlohmann::json::array();
  for (uint32_t id : d.unverifiedRules()) j["unverified_rules"].push_back(std::string(policy.ruleName(id)));
  j["final"] = d.final;
  j["exempt"] = d.exempt;
  j["generation"] = d.generation;
  return j;
}

}  // namespace fg::policy
