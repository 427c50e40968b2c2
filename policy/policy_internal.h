// Compiled policy representation shared by the loader (loader.cc) and the
// evaluator (policy.cc). Not part of the public API.
#pragma once

#include <algorithm>
#include <atomic>
#include <bitset>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ascii.h"
#include "policy/policy.h"
#include "policy/timezone.h"

namespace fg::policy {

// ---- case-insensitive helpers ----------------------------------------------

using fg::lowerAscii;  // common/ascii.h
std::string toLower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

struct CiHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept {
    uint64_t h = 1469598103934665603ull;
    for (char c : s) {
      h ^= static_cast<unsigned char>(lowerAscii(c));
      h *= 1099511628211ull;
    }
    return static_cast<size_t>(h);
  }
};
struct CiEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return iequals(a, b); }
};
template <typename T>
using CiMap = std::unordered_map<std::string, T, CiHash, CiEq>;

// ---- prefix map (CIDR index) ------------------------------------------------

// One hash map per (family, prefix length) in use; a lookup probes each
// length once, longest first: O(#distinct lengths), independent of the
// number of prefixes.
template <typename T>
class PrefixMap {
 public:
  T& slot(const Cidr& c) {
    auto& levels = c.network.family == IpFamily::V4 ? v4_ : v6_;
    for (auto& l : levels)
      if (l.len == c.prefix_len) return l.map[c.network];
    levels.push_back(Level{c.prefix_len, {}});
    std::sort(levels.begin(), levels.end(), [](const Level& a, const Level& b) { return a.len > b.len; });
    for (auto& l : levels)
      if (l.len == c.prefix_len) return l.map[c.network];
    __builtin_unreachable();
  }
  template <typename F>
  void forEachMatch(const IpAddress& a, F&& f) const {
    const auto& levels = a.family == IpFamily::V4 ? v4_ : a.family == IpFamily::V6 ? v6_ : empty_;
    for (const auto& l : levels) {
      auto it = l.map.find(a.masked(l.len));
      if (it != l.map.end()) f(it->second);
    }
  }
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  struct Level {
    int len;
    std::unordered_map<IpAddress, T, IpAddressHash> map;
  };
  std::vector<Level> v4_, v6_;
  std::vector<Level> empty_;
};

class CidrSet {
 public:
  void add(const Cidr& c) {
    map_.slot(c) = true;
    ++size_;
  }
  bool contains(const IpAddress& a) const {
    bool hit = false;
    map_.forEachMatch(a, [&](bool) { hit = true; });
    return hit;
  }
  bool empty() const { return size_ == 0; }

 private:
  PrefixMap<bool> map_;
  size_t size_ = 0;
};

// ---- rules ------------------------------------------------------------------

enum class Key : uint8_t {
  Application,
  L7Protocol,
  Category,
  Hostname,
  TlsVersion,
  Cipher,
  CipherStrength,
  Ja3c,
  Ja3s,
  Alpn,
  Src,
  Dst,
  SrcPort,
  DstPort,
  Proto,
  InInterface,
  OutInterface,
  Confidence,
  Days,
  Time,
};
inline constexpr size_t kKeyCount = static_cast<size_t>(Key::Time) + 1;

// PendingFlags bits whose facts a key reads.
uint8_t pendingGroupOf(Key k);

struct HostMatcher {
  std::vector<std::string> exact;     // lower-case
  std::vector<std::string> suffixes;  // "example.com" for "*.example.com"
  std::vector<std::regex> regexes;    // matched against the whole name
  bool matches(std::string_view host) const;
};

enum class CmpOp : uint8_t { Eq, Lt, Le, Gt, Ge };
struct VersionCmp {
  CmpOp op = CmpOp::Eq;
  uint16_t wire = 0;
  int rank = 0;
};

struct PortRange {
  uint16_t lo = 0, hi = 0;
};

struct Cond {
  Key key = Key::Application;
  bool negate = false;
  uint8_t group = 0;                  // pendingGroupOf(key)
  std::vector<std::string> strings;   // lower-case names, hashes, alpn, confidence
  std::vector<std::string> prefixes;  // interfaces: "eth" for "eth*"
  HostMatcher host;
  std::vector<VersionCmp> versions;
  std::vector<uint16_t> ciphers;
  uint8_t strengths = 0;  // bit per fg::CipherStrength
  CidrSet cidrs;
  std::vector<Cidr> cidr_list;  // the same prefixes, for building the index
  std::vector<PortRange> ports;
  std::bitset<256> protos;
};

struct TimeRange {
  int start = 0;  // minutes after local midnight
  int end = 0;    // exclusive; end < start means the range crosses midnight
};

struct Rule {
  RuleInfo info;
  std::vector<Cond> conds;  // all must hold (negation already inside)
  bool has_schedule = false;
  uint8_t days = 0x7f;      // bit 0 = Monday .. bit 6 = Sunday (not_days applied)
  std::vector<TimeRange> times;
  bool times_negated = false;
  CidrSet exempt;
  int cls = -1;    // index into classes
  int route = -1;  // index into routes
  std::vector<uint32_t> sets;
  bool log = false;
  uint32_t mark = 0;
  uint32_t mark_mask = 0;
  uint8_t pending_groups = 0;  // PendingFlags read by any cond
};

using RuleList = std::vector<uint32_t>;  // ascending rule ids

struct PolicyData {
  uint64_t generation = 0;
  size_t files = 0;
  std::vector<Rule> rules;
  std::vector<ClassInfo> classes;
  std::vector<RouteInfo> routes;
  std::vector<SetInfo> sets;
  size_t address_groups = 0;
  Verdict default_verdict = Verdict::Accept;
  bool default_log = false;
  CidrSet global_exempt;
  CiMap<CidrSet> verified_ranges;  // [verified_ranges]: application -> its addresses
  TimeZone tz = TimeZone::utc();
  uint32_t mark_mask = 0xff;
  uint32_t mark_shift = 0;
  bool any_schedule = false;

  // indices (enabled rules only)
  CiMap<RuleList> by_application, by_l7_protocol, by_category;
  CiMap<RuleList> host_exact, host_suffix;
  size_t max_suffix_labels = 0;  // longest "*.suffix" in labels
  PrefixMap<RuleList> by_dst, by_src;
  std::unordered_map<uint16_t, RuleList> by_dst_port;
  RuleList generic;
  size_t indexed = 0;
  // enabled enforcing rules that read each pending group (bit 0, bit 1);
  // a rule requiring a verified name reads both (the certificate that may
  // verify the name comes with the TLS server hello)
  RuleList pending_readers[2];

  std::unique_ptr<std::atomic<uint64_t>[]> hits;
  // Per route: flows routed, IPv4, IPv6, uncovered family (3 per route).
  std::unique_ptr<std::atomic<uint64_t>[]> route_flows;
  LoadErrors warnings;
  std::unique_ptr<std::atomic<uint64_t>[]> unverified;  // per rule: matches set aside (unverified name)
};

// Builds the indices and counters from `rules`; called by the loader.
void buildIndex(PolicyData& data);

}  // namespace fg::policy
