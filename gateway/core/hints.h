// Hints: what flowgate knows about a server before a flow to it says
// anything -- the input of first-packet decisions.
//
// Two sources, both bounded TtlLruCaches:
//   - DNS: (client, server address) -> hostname from the DNS responses the
//     gateway forwards to its clients (A/AAAA, CNAME chains attributed to
//     the name the client asked for), kept for the record's TTL clamped to
//     [dns.min_ttl_s, dns.max_ttl_s]. Per client: a hint is what *this*
//     client resolved, so no client (and no host that can send packets from
//     port 53) can make the gateway block or route another client's flows;
//     only answers to a query the client sent (the server side of a flow
//     the client opened to port 53, or that DPI says is DNS) are read;
//   - learned: (address, port, protocol) -> application, protocol, category
//     and hostname of the last flow to that server that DPI classified
//     itself (confidence "dpi") as an application of its own (not a bare
//     protocol such as TLS: every server speaks that), kept for
//     learned_ttl_s.
// CNAME chains are followed across messages too: a chain's targets are
// remembered (target -> the name first asked), so a later question for a
// target (stub resolvers and apps often ask for it again) is still
// attributed to the name the client wanted.
// lookup() answers for a new flow's server: the DNS name wins for the
// hostname (it is what this client asked for); the learned entry supplies
// the application when it was learned for that same name, else the caller
// matches the hostname itself (nDPI's host rules, Classifier::matchHostname).
//
// What it must never do: block a worker for long (one short critical section
// per DNS response and per new flow; no I/O, no allocation beyond the
// entries), trust a DNS message (dns.h parses it defensively), or grow past
// its configured sizes.
// Threading: thread-safe (one mutex). One Hints is shared by all workers:
// the DNS response and the flow it announces may land on different queues.
// Error convention: none; malformed DNS messages are counted.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/flow.h"
#include "gateway/core/hint_cache.h"

namespace fg::core {

struct HintsConfig {
  bool enabled = true;          // false: no DNS learning, no first-packet answers
  HintCacheConfig dns{};        // (client, address) -> hostname
  size_t learned_entries = 65'536;
  uint32_t learned_ttl_s = 900;
};

// What one client resolved to one address: the name it asked for (CNAME
// chains attributed to it) and every name of the chains and earlier answers
// that led there (for name verification), at most kMaxNames.
struct DnsHint {
  static constexpr size_t kMaxNames = 8;
  std::string name;
  std::vector<std::string> names;  // `name` first
};

struct LearnedServer {
  std::string application, l7_protocol, category, hostname;
};

struct ServerKey {
  IpAddress addr;
  uint16_t port = 0;
  uint8_t proto = 0;
  friend bool operator==(const ServerKey&, const ServerKey&) = default;
};
struct ServerKeyHash {
  size_t operator()(const ServerKey& k) const noexcept;
};

struct HintsCounters {
  uint64_t dns_responses = 0;   // DNS responses inspected
  uint64_t dns_unparsed = 0;    // not a readable response (counted, ignored)
  uint64_t dns_addresses = 0;   // address records learned
  uint64_t dns_aliased = 0;     // answers attributed to an earlier question through its CNAME chain
  uint64_t lookups = 0;         // new flows looked up
  uint64_t dns_hits = 0;        // answered from DNS
  uint64_t cache_hits = 0;      // answered from the learned cache only
  uint64_t learned = 0;         // DPI-classified flows remembered
  size_t dns_entries = 0, learned_entries = 0;
  HintCacheCounters dns{}, learned_cache{};
};

struct DnsKey {
  IpAddress client, server;
  friend bool operator==(const DnsKey&, const DnsKey&) = default;
};
struct DnsKeyHash {
  size_t operator()(const DnsKey& k) const noexcept;
};
struct AliasKey {
  IpAddress client;
  std::string name;
  friend bool operator==(const AliasKey&, const AliasKey&) = default;
};
struct AliasKeyHash {
  size_t operator()(const AliasKey& k) const noexcept;
};

// What the caches hold for one server address (flowgatectl hint ADDRESS).
// O(entries): an operator's lookup, not for the packet path.
struct HintInfo {
  struct Dns {
    IpAddress client;
    std::string hostname;
    Timestamp expires = 0;
  };
  std::vector<Dns> dns;
  struct Learned {
    uint16_t port = 0;
    uint8_t proto = 0;
    LearnedServer server;
    Timestamp expires = 0;
  };
  std::vector<Learned> learned;
};

class Hints {
 public:
  explicit Hints(HintsConfig config);
  Hints(const Hints&) = delete;
  Hints& operator=(const Hints&) = delete;

  bool enabled() const { return config_.enabled; }
  const HintsConfig& config() const { return config_; }

  // One DNS message (UDP payload, or a TCP segment starting with the length
  // prefix) answering `client`. Responses with addresses fill its hints.
  void learnDns(const IpAddress& client, std::span<const uint8_t> payload, bool tcp, Timestamp now);
  // A flow DPI classified itself (confidence dpi) teaches its server,
  // unless the name it was classified by is unverified (a forged SNI must
  // not teach the server an application).
  void learnFlow(const Flow& flow, Timestamp now);
  // Whether `client` resolved `name` (or a CNAME chain through it) to
  // `server` and the answer is still live. Counts nothing, changes no LRU
  // order (checked for each inspected packet until a name is verified).
  bool resolvedTo(const IpAddress& client, const IpAddress& server, std::string_view name, Timestamp now) const;
  // The early answer for `client`'s new flow to `server`, or nullopt.
  std::optional<EarlyAnswer> lookup(const IpAddress& client, const ServerKey& server, Timestamp now);

  HintInfo describe(const IpAddress& addr, Timestamp now) const;
  HintsCounters counters() const;

 private:
  HintsConfig config_;
  mutable std::mutex mu_;
  TtlLruCache<DnsKey, DnsHint, DnsKeyHash> dns_;
  TtlLruCache<AliasKey, std::string, AliasKeyHash> aliases_;  // (client, CNAME target) -> asked name
  TtlLruCache<ServerKey, LearnedServer, ServerKeyHash> learned_;
  HintsCounters counters_;
};

}  // namespace fg::core
