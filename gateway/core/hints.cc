#include "gateway/core/hints.h"

#include <algorithm>
#include <cstdint>

#include "common/ascii.h"
#include "gateway/core/dns.h"

namespace fg::core {

size_t ServerKeyHash::operator()(const ServerKey& k) const noexcept {
  return IpAddressHash{}(k.addr) ^ (static_cast<size_t>(k.port) << 8 | k.proto) * 0x9e3779b97f4a7c15ULL;
}

size_t DnsKeyHash::operator()(const DnsKey& k) const noexcept {
  return IpAddressHash{}(k.server) ^ (IpAddressHash{}(k.client) * 0x9e3779b97f4a7c15ULL);
}

size_t AliasKeyHash::operator()(const AliasKey& k) const noexcept {
  return std::hash<std::string>{}(k.name) ^ (IpAddressHash{}(k.client) * 0x9e3779b97f4a7c15ULL);
}

Hints::Hints(HintsConfig config)
    : config_(config),
      dns_(config.dns),
      aliases_(config.dns),
      learned_(HintCacheConfig{.max_entries = config.learned_entries,
                               .min_ttl_s = config.learned_ttl_s,
                               .max_ttl_s = config.learned_ttl_s}) {}

void Hints::learnDns(const IpAddress& client, std::span<const uint8_t> payload, bool tcp, Timestamp now) {
  if (!config_.enabled) return;
  std::optional<std::span<const uint8_t>> msg = tcp ? dnsTcpMessage(payload) : std::optional(payload);
  std::optional<DnsAnswer> a = msg ? parseDnsResponse(*msg) : std::nullopt;
  std::lock_guard lock(mu_);
  ++counters_.dns_responses;
  if (!a) {
    ++counters_.dns_unparsed;
    return;
  }
  if (a->qname.empty()) return;
  std::string name = a->qname;
  if (const auto* alias = aliases_.lookup(AliasKey{client, name}, now)) {
    name = alias->value;
    ++counters_.dns_aliased;
  }
  uint32_t ttl = a->addresses.empty() ? 300 : UINT32_MAX;
  for (const DnsAddress& d : a->addresses) ttl = std::min(ttl, d.ttl_s);
  for (const std::string& target : a->cnames)
    if (target != name) aliases_.insert(AliasKey{client, target}, name, ttl, now);
  // Every name of the chain leads to the addresses: a client may send any
  // of them as SNI. Names this client resolved to the address before stay
  // (a shared address serves several), up to DnsHint::kMaxNames.
  auto add = [](DnsHint& h, std::string_view n) {
    if (n.empty() || h.names.size() >= DnsHint::kMaxNames) return;
    for (const std::string& have : h.names)
      if (iequalsAscii(have, n)) return;
    h.names.emplace_back(n);
  };
  for (const DnsAddress& d : a->addresses) {
    const DnsKey key{client, d.address};
    DnsHint h{.name = name, .names = {}};
    add(h, name);
    add(h, a->qname);
    for (const std::string& target : a->cnames) add(h, target);
    if (const auto* old = dns_.peek(key, now))
      for (const std::string& n : old->value.names) add(h, n);
    dns_.insert(key, std::move(h), d.ttl_s, now);
    ++counters_.dns_addresses;
  }
}

void Hints::learnFlow(const Flow& f, Timestamp now) {
  if (!config_.enabled || f.cls.confidence != Confidence::Dpi) return;
  // Only an application of its own says something about the server: a bare
  // protocol ("TLS", "HTTP") is what every server on the address speaks,
  // and its hostname is one of many the address may serve.
  // A DNS flow's application is the one of the name it asked for (nDPI
  // calls a lookup of www.netflix.com "NetFlix"), not the resolver's.
  if (f.cls.application.empty() || f.cls.application == "Unknown" ||
      f.cls.application == f.cls.l7_protocol || f.cls.l7_protocol == "DNS")
    return;
  // An application read from a name only the client vouches for says
  // nothing about the server: one forged SNI would teach it to every client.
  if (f.cls.name_proof == NameProof::Unverified) return;
  LearnedServer s{.application = f.cls.application,
                  .l7_protocol = f.cls.l7_protocol,
                  .category = f.cls.category,
                  .hostname = f.cls.hostname};
  std::lock_guard lock(mu_);
  learned_.insert(ServerKey{f.dst, f.dst_port, f.proto}, std::move(s), config_.learned_ttl_s, now);
  ++counters_.learned;
}

std::optional<EarlyAnswer> Hints::lookup(const IpAddress& client, const ServerKey& server, Timestamp now) {
  if (!config_.enabled) return std::nullopt;
  std::lock_guard lock(mu_);
  ++counters_.lookups;
  const auto* dns = dns_.lookup(DnsKey{client, server.addr}, now);
  const auto* learned = learned_.lookup(server, now);
  EarlyAnswer a;
  if (dns) {
    ++counters_.dns_hits;
    a.source = Confidence::Dns;
    a.hostname = dns->value.name;
    // What DPI said about this server before counts only for the same name:
    // a shared CDN address serves many.
    if (learned && learned->value.hostname == dns->value.name) {
      a.application = learned->value.application;
      a.l7_protocol = learned->value.l7_protocol;
      a.category = learned->value.category;
    }
    return a;
  }
  if (!learned) return std::nullopt;
  ++counters_.cache_hits;
  a.source = Confidence::Cache;
  a.hostname = learned->value.hostname;
  a.application = learned->value.application;
  a.l7_protocol = learned->value.l7_protocol;
  a.category = learned->value.category;
  return a;
}

bool Hints::resolvedTo(const IpAddress& client, const IpAddress& server, std::string_view name,
                       Timestamp now) const {
  if (!config_.enabled) return false;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return false;
  std::lock_guard lock(mu_);
  const auto* e = dns_.peek(DnsKey{client, server}, now);
  if (!e) return false;
  for (std::string n : e->value.names) {
    if (!n.empty() && n.back() == '.') n.pop_back();
    if (iequalsAscii(n, name)) return true;
  }
  return false;
}

HintInfo Hints::describe(const IpAddress& addr, Timestamp now) const {
  std::lock_guard lock(mu_);
  HintInfo info;
  dns_.forEachLive(now, [&](const auto& e) {
    if (e.key.server == addr) info.dns.push_back({.client = e.key.client, .hostname = e.value.name, .expires = e.expires});
  });
  learned_.forEachLive(now, [&](const auto& e) {
    if (e.key.addr == addr)
      info.learned.push_back({.port = e.key.port, .proto = e.key.proto, .server = e.value, .expires = e.expires});
  });
  return info;
}

HintsCounters Hints::counters() const {
  std::lock_guard lock(mu_);
  HintsCounters c = counters_;
  c.dns_entries = dns_.size();
  c.learned_entries = learned_.size();
  c.dns = dns_.counters();
  c.learned_cache = learned_.counters();
  return c;
}

}  // namespace fg::core
