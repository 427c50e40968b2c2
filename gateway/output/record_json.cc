#include "gateway/output/record_json.h"

#include <cstdio>

#include "common/cipher_suites.h"
#include "common/tls_version.h"

namespace fg::output {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t utf8Seq(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (b < 0x80) return 1;
  if ((b & 0xe0) == 0xc0) { n = 2; cp = b & 0x1f; }
  else if ((b & 0xf0) == 0xe0) { n = 3; cp = b & 0x0f; }
  else if ((b & 0xf8) == 0xf0) { n = 4; cp = b & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (c & 0x3f);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    return 0;
  return n;
}

}  // namespace

std::string safeString(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = utf8Seq(s, i);
    // C1 controls (U+0080..U+009F, e.g. the terminal CSI U+009B) count as
    // control characters too: each of their two bytes is escaped.
    const bool c1 = n == 2 && b == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0;
    if (c1) {
      char buf[9];
      std::snprintf(buf, sizeof buf, "\\x%02X\\x%02X", b, static_cast<unsigned char>(s[i + 1]));
      out += buf;
      i += 2;
      continue;
    }
    if (n == 0 || b < 0x20 || b == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02X", b);
      out += buf;
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

double toSeconds(core::Timestamp ts) { return static_cast<double>(ts) / 1e6; }

nlohmann::ordered_json flowRecord(const core::Flow& f, std::string_view event, core::Timestamp ts,
                          std::optional<core::EndReason> end) {
  using json = nlohmann::ordered_json;
  const core::Classification& c = f.cls;
  json r = json::object();
  r["event"] = event;
  r["ts"] = toSeconds(ts);
  r["flow_id"] = std::to_string(f.id);
  r["ip_version"] = f.ip_version;
  r["proto"] = core::protoName(f.proto);
  r["src_ip"] = f.src.toString();
  r["src_port"] = f.src_port;
  r["dst_ip"] = f.dst.toString();
  r["dst_port"] = f.dst_port;
  if (f.key.vlan) r["vlan"] = f.key.vlan;
  if (f.tunnel != core::Tunnel::None) r["tunnel"] = core::toString(f.tunnel);
  r["l7_protocol"] = safeString(c.l7_protocol);
  r["application"] = safeString(c.application);
  r["category"] = safeString(c.category);
  r["hostname"] = safeString(c.hostname);
  if (c.tls_version || c.cipher || !c.ja3c.empty() || !c.ja3s.empty() || !c.alpn.empty()) {
    json t = json::object();
    if (c.tls_version) t["version"] = tlsVersionName(c.tls_version);
    if (c.cipher) {
      const CipherSuite* cs = findCipherSuite(c.cipher);
      if (cs) {
        t["cipher"] = cs->name;
      } else {
        char buf[16];
        std::snprintf(buf, sizeof buf, "0x%04X", c.cipher);
        t["cipher"] = buf;
      }
      t["cipher_strength"] = toString(cs ? cs->strength : CipherStrength::Unknown);
    }
    if (!c.ja3c.empty()) t["ja3c"] = safeString(c.ja3c);
    if (!c.ja3s.empty()) t["ja3s"] = safeString(c.ja3s);
    if (!c.alpn.empty()) {
      json a = json::array();
      for (const auto& p : c.alpn) a.push_back(safeString(p));
      t["alpn"] = std::move(a);
    }
    r["tls"] = std::move(t);
  }
  if (!c.dns_query.empty() || c.dns_qtype) {
    json d = json::object();
    d["query"] = safeString(c.dns_query);
    if (c.dns_qtype) d["qtype"] = c.dns_qtype;
    r["dns"] = std::move(d);
  }
  if (!c.user_agent.empty()) r["http"] = json{{"user_agent", safeString(c.user_agent)}};
  r["packets"] = f.totalPackets();
  r["bytes"] = f.totalBytes();
  r["src_packets"] = f.packets[0];
  r["src_bytes"] = f.bytes[0];
  r["dst_packets"] = f.packets[1];
  r["dst_bytes"] = f.bytes[1];
  r["first_seen"] = toSeconds(f.first_seen);
  r["last_seen"] = toSeconds(f.last_seen);
  r["dpi_packets"] = f.dpi_packets;
  r["confidence"] = core::toString(c.confidence);
  r["app_source"] = core::toString(c.app_source);
  if (!c.owner.empty()) r["owner"] = safeString(c.owner);
  if (c.name_proof != core::NameProof::None) {
    r["name_verified"] = c.name_proof != core::NameProof::Unverified;
    r["name_verified_by"] = core::toString(c.name_proof);
  }
  if (f.early) {
    const core::EarlyAnswer& e = *f.early;
    if (e.source == core::Confidence::Dns) r["dns_hostname"] = safeString(e.hostname);
    json a = json::object();
    a["confidence"] = core::toString(e.source);
    a["application"] = safeString(e.application);
    if (!e.l7_protocol.empty()) a["l7_protocol"] = safeString(e.l7_protocol);
    if (!e.category.empty()) a["category"] = safeString(e.category);
    a["hostname"] = safeString(e.hostname);
    r["first_answer"] = std::move(a);
    r["detection_updated"] = e.detection_updated;
  }
  if (const core::HealthFigures h = core::healthFigures(f.health); h.any()) r["health"] = healthRecord(h);
  if (end) r["end_reason"] = core::toString(*end);
  return r;
}

nlohmann::ordered_json healthRecord(const core::HealthFigures& h) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  auto us = [&](const char* name, int64_t v) {
    if (v >= 0) j[name] = v;
  };
  us("handshake_us", h.handshake);
  if (h.handshake >= 0) j["handshake_exact"] = h.handshake_exact;
  us("handshake_server_us", h.handshake_server);
  us("handshake_client_us", h.handshake_client);
  us("response_us", h.response);
  us("tls_hello_us", h.tls_hello);
  us("tls_handshake_us", h.tls_handshake);
  if (h.syn_retries) j["syn_retries"] = h.syn_retries;
  if (h.resets) j["reset_by"] = h.resets == 3 ? "both" : h.resets == 1 ? "client" : "server";
  if (h.failure != core::HealthFailure::None) {
    j["failure"] = core::toString(h.failure);
    if (h.failure == core::HealthFailure::Unreachable) {
      j["icmp_type"] = h.icmp_type;
      j["icmp_code"] = h.icmp_code;
    }
  }
  return j;
}

nlohmann::ordered_json decisionRecord(const core::Flow& f, const policy::Decision& d,
                                      const policy::PolicySet& policy, core::Timestamp ts,
                                      std::string_view in_interface, std::string_view out_interface) {
  using json = nlohmann::ordered_json;
  json r = flowRecord(f, "flow", ts);
  r["verdict"] = policy::toString(d.verdict);
  if (d.rule == policy::Decision::kNone) r["rule"] = nullptr;
  else r["rule"] = std::string(policy.ruleName(d.rule));
  r["mark"] = f.decision.mark_bits;
  // The route the flow takes: the decision's, unless the flow kept the route
  // of its first packet (FlowDecision::provisional_bits, route_pinned); read off the mark.
  const uint32_t route_id = policy.routeForMark(f.decision.mark_bits);
  const policy::RouteInfo* route = route_id == policy::Decision::kNone ? nullptr : &policy.routes()[route_id];
  if (!route) r["route"] = nullptr;
  else r["route"] = json{{"name", route->name}, {"table", route->table}, {"fwmark", route->fwmark}};
  const bool decided_route = d.route != policy::Decision::kNone && d.route < policy.routes().size();
  if (decided_route ? route != &policy.routes()[d.route] : route != nullptr) r["route_pinned"] = true;
  json shadow = json::array();
  for (uint32_t id : d.shadowRules()) shadow.push_back(std::string(policy.ruleName(id)));
  r["shadow_rules"] = std::move(shadow);
  if (d.unverified_count > 0) {
    json unverified = json::array();
    for (uint32_t id : d.unverifiedRules()) unverified.push_back(std::string(policy.ruleName(id)));
    r["unverified_rules"] = std::move(unverified);
  }
  if (d.exempt) r["exempt"] = true;
  r["policy_generation"] = d.generation;
  r["early"] = f.decision.early;
  r["first_packet"] = f.decision.first_packet;
  r["first_packet"] = f.decision.first_packet;
  if (!in_interface.empty()) r["in_interface"] = safeString(in_interface);
  if (!out_interface.empty()) r["out_interface"] = safeString(out_interface);
  // The hardware addresses the flow's packets came from (inline only).
  auto macText = [](const std::array<uint8_t, 6>& m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return std::string(buf);
  };
  if (f.mac_known & 1u) r["src_mac"] = macText(f.mac[0]);
  if (f.mac_known & 2u) r["dst_mac"] = macText(f.mac[1]);
  return r;
}

nlohmann::ordered_json statsRecord(const core::PipelineCounters& c, const core::FlowTableCounters& t,
                           core::Timestamp ts) {
  using json = nlohmann::ordered_json;
  json errors = json::object();
  for (size_t i = 1; i < c.decode_errors.by_reason.size(); ++i)
    errors[std::string(core::toString(static_cast<core::DecodeError>(i)))] =
        c.decode_errors.by_reason[i];
  return json{
      {"event", "stats"},
      {"ts", toSeconds(ts)},
      {"packets", c.packets},
      {"bytes", c.bytes},
      {"decoded", c.decoded},
      {"decode_errors", std::move(errors)},
      {"fragments", c.fragments},
      {"fragments_unmatched", c.fragments_unmatched},
      {"inspected_packets", c.inspected_packets},
      {"flows", t.created},
      {"flows_expired", t.expired},
      {"flows_evicted", t.evicted},
      {"classified_final", c.classified_final},
      {"classified_giveup", c.classified_giveup},
      {"early_answers", c.early_answers},
      {"detection_updated", c.detection_updated},
      {"catalog_refined", c.catalog_refined},
  };
}

std::string encodeLine(const nlohmann::ordered_json& record) {
  // Strings were made valid UTF-8 above; `replace` is a last line of defence.
  return record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace fg::output
