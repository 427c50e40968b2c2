// fg::policy — the policy engine: TOML policy files -> validated, immutable
// PolicySet snapshot; evaluate(FlowFacts, time) -> Decision.
//
// Pure library. It never includes kernel, socket, nDPI or Asio headers, never
// makes syscalls on the evaluation path, and is fully testable without root.
// The only I/O is at load time: reading the policy files and the TZif file of
// the policy's time zone.
//
// Match keys (all optional inside a rule's `match` table; every key can be
// negated as `not_<key>`; a list means "any of"; all keys of a rule must hold):
//   application, l7_protocol, category   nDPI names, case-insensitive, checked
//                                        against a NameCatalog at load
//   hostname       exact, "*.example.com" (subdomains), "~regex" (whole name)
//   tls_version    "TLSv1.2" or a comparison "< TLSv1.2" (<, <=, >, >=, =)
//   cipher         IANA cipher suite names (or "0xC02F")
//   cipher_strength  "insecure" | "weak" | "strong" | "unknown"
//   ja3c, ja3s, alpn
//   src, dst       addresses, CIDRs, names of [address_group] entries
//   src_port, dst_port  numbers and "lo-hi" ranges
//   proto          "tcp", "udp", "icmp", "ipv6-icmp", "sctp", ... or 0-255
//   in_interface, out_interface  exact names or "prefix*"
//   confidence     "dpi" | "guessed" | "unknown" | "dns" | "cache"
//   days, time     schedule in the policy's `timezone`; a time range may cross
//                  midnight and then belongs to the day it starts on
// A negated key holds whenever the positive key does not, including when the
// fact is absent (no TLS => not_cipher_strength = "weak" holds).
//
// Precedence: global exemptions first (an exempt flow is accepted untouched);
// then rules in file order (files in name order), first matching enforcing
// rule decides; shadow rules (`mode = "shadow"`) that match before it are
// reported in Decision::shadowRules() but change nothing; rules after the
// deciding rule are not evaluated. A rule's own `exempt` list makes it skip
// flows whose src or dst is listed. No match: the policy's default action.
//
// Verified names: a rule that matches on application, category or hostname
// and routes, classes or adds to sets requires the flow's name to be verified
// (FlowFacts::name_check; `require_verified_name = false` turns it off, and
// `= true` turns it on for verdict-only rules). With an unverified name such
// a rule does not match (listed in Decision::unverifiedRules(), counted) and
// evaluation goes on. A rule matching on a name never adds an unverified
// flow's address to a set. [verified_ranges] maps applications to address
// ranges whose names count as verified (inVerifiedRanges()).
//
// Actions: verdict accept | drop | reject (reject = TCP reset or ICMP
// unreachable, chosen by the adapter); `class` sets a conntrack mark value
// from [class]; `route` selects [route.NAME] (table, fwmark); `add_to_set`
// adds the src or dst address to nft sets from [set.NAME]; `log = true`.
// A dst set may be bound (`route`, `class`, `verdict` in [set.NAME], see
// SetInfo): the kernel applies the binding to the first packet of later flows
// to an address in the set; evaluate() itself never reads set contents.
//
// Evaluation cost: rules are indexed by their most selective positive key
// (application / l7_protocol / category hash maps, a hash of hostname
// suffixes, per-prefix-length CIDR maps); rules with none of those are
// "generic". Candidate lists are merged in rule order, so cost grows with the
// number of rules that could match, not with the policy size.
// evaluateLinearScan() is the reference semantics the index must equal.
//
// Threading: a PolicySet is immutable after load and shared read-only by all
// worker threads through PolicyHolder (an atomically swapped shared_ptr).
// evaluate() is const, lock-free and does not allocate, except for rules with
// a hostname regex (std::regex). Loading runs on the control thread.
//
// Errors: loading never throws; it returns every error found (file, line,
// column, key, message). Reload is all-or-nothing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>


#include "policy/flow_facts.h"
#include "policy/ip_address.h"
#include "policy/load_error.h"
#include "policy/name_catalog.h"

namespace fg::policy {

// ---- Decision --------------------------------------------------------------

enum class Verdict : uint8_t { Accept, Drop, Reject };
std::string_view toString(Verdict v);

struct SetAddition {
  uint32_t set = 0;  // index into PolicySet::sets()
  IpAddress address;
};

struct Decision {
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  static constexpr size_t kMaxSets = 8;    // per rule, enforced at load
  static constexpr size_t kMaxShadow = 8;  // listed; shadow_matches counts all
  static constexpr size_t kMaxUnverified = 4;  // listed; unverified_matches counts all

  Verdict verdict = Verdict::Accept;
  uint32_t rule = kNone;    // deciding rule id (PolicySet::ruleName); kNone = default
  uint32_t mark = 0;        // conntrack mark bits to set (class | route fwmark)
  uint32_t mark_mask = 0;   // which bits `mark` owns; 0 = leave the mark alone
  uint32_t route = kNone;   // index into PolicySet::routes(); kNone = main table
  uint32_t route_table = 0;
  uint32_t route_fwmark = 0;
  bool log = false;
  bool exempt = false;      // matched the global exemption list
  // False while pending metadata (FlowFacts::pending) could still change the
  // outcome: the engine must keep inspecting and evaluate again. A rule that
  // could still match but would enforce exactly the same (verdict, mark,
  // route, sets, log) does not keep the decision open; the deciding rule
  // named may then differ from the one that would match later.
  bool final = true;
  uint8_t set_count = 0;
  uint8_t shadow_count = 0;
  uint32_t shadow_matches = 0;  // all shadow matches, even beyond kMaxShadow
  uint64_t generation = 0;      // of the PolicySet that decided
  // Rules (enforcing or shadow) whose match was set aside because they
  // require a verified name and the flow's name is unverified
  // (FlowFacts::name_check); evaluation went on past them.
  uint8_t unverified_count = 0;
  uint32_t unverified_matches = 0;
  std::array<SetAddition, kMaxSets> sets{};
  std::array<uint32_t, kMaxShadow> shadow_rules{};
  std::array<uint32_t, kMaxUnverified> unverified_rules{};

  std::span<const SetAddition> setAdditions() const { return {sets.data(), set_count}; }
  std::span<const uint32_t> shadowRules() const { return {shadow_rules.data(), shadow_count}; }
  std::span<const uint32_t> unverifiedRules() const { return {unverified_rules.data(), unverified_count}; }
};

// ---- Snapshot ---------------------------------------------------------------

enum class SetEndpoint : uint8_t { Src, Dst };

struct ClassInfo {
  std::string name;
  uint32_t value = 0;  // as written in [class]
  uint32_t mark = 0;   // value << mark_shift
};

// A route class: `fwmark & fwmark_mask -> table`, and the table's default
// route. The next hops (`via`, one per address family at most) and `dev` say
// which families the class carries (covers()):
//   via only        the families of the next hops;
//   dev only        both (a point-to-point uplink: ppp, wg, tun);
//   via and dev     the families of the next hops, through that device;
//   neither         both: the table is managed outside flowgate.
// A flow of a family its route class does not cover finds no route in the
// table and leaves by the main table's default route: `policy check` warns
// about rules and sets that would route such flows (PolicySet::warnings())
// and the daemon counts them (countRoutedFlow()).
struct RouteInfo {
  std::string name;
  uint32_t table = 0;
  std::vector<IpAddress> via;  // at most one per family, in file order
  std::string dev;
  uint32_t fwmark = 0;       // shifted into the policy's mark field
  uint32_t fwmark_mask = 0;  // shifted; the bits the fwmark rule compares

  // The next hop of `family`, nullptr when none.
  const IpAddress* viaFor(IpFamily family) const {
    for (const auto& a : via)
      if (a.family == family) return &a;
    return nullptr;
  }
  bool managed() const { return !via.empty() || !dev.empty(); }  // false: admin's table
  bool covers(IpFamily family) const {
    if (family != IpFamily::V4 && family != IpFamily::V6) return false;
    return via.empty() || viaFor(family) != nullptr;
  }
};

// "ipv4", "ipv6", "ipv4+ipv6" or "none": the families a route covers.
std::string_view familiesName(const RouteInfo& r);

// A set with a kernel binding (`route`, `class`, `verdict` in [set.NAME];
// only on `address = "dst"` sets): the kernel itself handles the first packet
// of every new flow whose destination address is in the set, before userspace
// sees it. Accept bindings set bind_mark (within the policy's mark_mask) and
// the flow is still inspected and decided by the rules, except that its route
// bits stay as the kernel set them (routeMarkMask()): an established, NATed
// flow cannot change uplink. Drop/reject bindings block the flow in the
// kernel (they never carry a route or class). Entries expire with timeout_s.
struct SetInfo {
  std::string name;
  IpFamily family = IpFamily::V4;
  SetEndpoint endpoint = SetEndpoint::Dst;
  uint32_t timeout_s = 0;  // 0 = no timeout
  // Kernel binding; all defaults = unbound.
  uint32_t bind_mark = 0;                  // route fwmark | class mark, shifted (as Decision::mark)
  uint32_t bind_route = Decision::kNone;   // index into PolicySet::routes(); kNone = no route
  uint32_t bind_class = Decision::kNone;   // index into PolicySet::classes(); kNone = no class
  Verdict bind_verdict = Verdict::Accept;  // drop/reject: bind_mark is 0

  bool bound() const { return bind_mark != 0 || bind_verdict != Verdict::Accept; }
};

struct RuleInfo {
  std::string name;
  std::string file;
  int line = 0;
  bool enabled = true;
  bool shadow = false;
  Verdict verdict = Verdict::Accept;
  // The rule matches on a name (application, category or hostname) ...
  bool reads_name = false;
  // ... and acts only on verified names (`require_verified_name`; default:
  // true for rules that route, class or add to sets).
  bool require_verified_name = false;
};

struct PolicySummary {
  size_t files = 0;
  size_t rules = 0;
  size_t enabled_rules = 0;
  size_t shadow_rules = 0;
  size_t classes = 0;
  size_t routes = 0;
  size_t sets = 0;
  size_t address_groups = 0;
  size_t indexed_rules = 0;  // rules reachable through an index
  size_t generic_rules = 0;  // rules checked for every flow
  Verdict default_verdict = Verdict::Accept;
  std::string timezone;
  uint32_t mark_mask = 0;
  uint32_t mark_shift = 0;
};

struct PolicyData;  // compiled rules and indices (policy_internal.h)

class PolicySet {
 public:
  explicit PolicySet(std::unique_ptr<PolicyData> data);
  ~PolicySet();
  PolicySet(const PolicySet&) = delete;
  PolicySet& operator=(const PolicySet&) = delete;

  // An accept-everything policy (no rules), generation 0.
  static std::shared_ptr<const PolicySet> empty();

  uint64_t generation() const;

  // Thread-safe, const, no allocation (except hostname regex rules).
  // `now` is only used by rules with days/time.
  Decision evaluate(const FlowFacts& facts, std::chrono::system_clock::time_point now) const;
  // Same result by checking every rule in order: the reference semantics for
  // tests and the benchmark baseline.
  Decision evaluateLinearScan(const FlowFacts& facts,
                              std::chrono::system_clock::time_point now) const;

  // Per-rule hit counters (relaxed atomics): count() adds one hit for the
  // deciding rule and every listed shadow rule, and one unverified match
  // for every rule in Decision::unverifiedRules(). Call once per flow, when
  // the decision is applied, not for every provisional evaluation.
  void count(const Decision& d) const;
  uint64_t ruleHits(uint32_t rule) const;
  uint64_t ruleUnverified(uint32_t rule) const;

  // Whether `address` lies in the ranges the policy's [verified_ranges]
  // assigns to `application` (case-insensitive nDPI name): a name of that
  // application on such an address counts as verified. Thread-safe.
  bool inVerifiedRanges(std::string_view application, const IpAddress& address) const;

  size_t ruleCount() const;
  const RuleInfo& rule(uint32_t id) const;
  std::string_view ruleName(uint32_t id) const;  // "" for Decision::kNone
  std::span<const ClassInfo> classes() const;
  std::span<const RouteInfo> routes() const;
  std::span<const SetInfo> sets() const;
  // OR of every route's fwmark_mask: the mark bits that select a route (0
  // without routes). A flow's route bits are fixed once set — by a set's
  // kernel binding before userspace sees the flow — since an established,
  // NATed flow cannot change uplink; later marks must keep these bits.
  uint32_t routeMarkMask() const;
  // The route a conntrack mark selects: the first route whose fwmark rule
  // matches it ((mark & fwmark_mask) == fwmark), as the kernel's `ip rule`
  // order does; Decision::kNone when none.
  uint32_t routeForMark(uint32_t mark) const;
  // `bits` (a decision's mark bits) with the route that `pinned` selects
  // instead of their own: route bits swapped where routes have bits of their
  // own; where routes and classes share the field, the pinned value wins
  // (the route matters more than the class for a NATed flow). `value_mask`
  // is the whole policy-owned field.
  uint32_t keepRoute(uint32_t bits, uint32_t pinned, uint32_t value_mask) const;
  PolicySummary summary() const;

  // Findings that are not errors: the policy loads and runs, but does
  // something an operator would not want (a rule routing IPv6 flows through a
  // route class with only an IPv4 next hop). `policy check` prints them, the
  // daemon logs them at start and reload. line/column point at the rule's or
  // set's `route` key.
  std::span<const LoadError> warnings() const;

  // Counts one flow of `family` routed by route class `route` (an index into
  // routes(); kNone is ignored), per route and family. Returns false when the
  // route does not cover the family: that flow leaves by the main table, and
  // the route's `uncovered` counter grows. Thread-safe (relaxed atomics).
  bool countRoutedFlow(uint32_t route, IpFamily family) const;
  struct RouteCounters {
    uint64_t flows_v4 = 0;
    uint64_t flows_v6 = 0;
    uint64_t uncovered = 0;  // flows of a family the route does not cover
  };
  RouteCounters routeCounters(uint32_t route) const;

 private:
  template <bool kIndexed>
  Decision evaluateImpl(const FlowFacts& facts, std::chrono::system_clock::time_point now) const;

  std::unique_ptr<const PolicyData> data_;
};

// ---- Loading ----------------------------------------------------------------

struct PolicySource {
  std::string name;  // used as the file name in errors
  std::string text;
};

struct LoadOptions {
  // Names for application/l7_protocol/category validation. nullptr (or an
  // empty catalog) skips that check; flowgate always passes nDPI's catalog.
  const NameCatalog* catalog = nullptr;
  std::string zoneinfo_dir = "/usr/share/zoneinfo";
};

// Expands each path: a file is read as is; a directory contributes its
// `*.toml` files in name order. Errors: unreadable paths, empty directories.
LoadResult<std::vector<PolicySource>> readPolicyPaths(std::span<const std::string> paths);

// Validates and compiles. Every error of every source is returned.
LoadResult<std::shared_ptr<const PolicySet>> compilePolicy(std::span<const PolicySource> sources,
                                                           const LoadOptions& options,
                                                           uint64_t generation);

// readPolicyPaths + compilePolicy.
LoadResult<std::shared_ptr<const PolicySet>> loadPolicy(std::span<const std::string> paths,
                                                        const LoadOptions& options,
                                                        uint64_t generation);

// ---- Holder -------------------------------------------------------------------

// Owns the active snapshot. current() is lock-free for readers (workers);
// reload() is serialized and all-or-nothing: on any error the previous
// snapshot stays active and the full error list is returned.
class PolicyHolder {
 public:
  explicit PolicyHolder(LoadOptions options);

  std::shared_ptr<const PolicySet> current() const { return current_.load(std::memory_order_acquire); }

  // Returns the new generation (previous + 1) on success.
  LoadResult<uint64_t> reload(std::span<const std::string> paths);
  LoadResult<uint64_t> reloadSources(std::span<const PolicySource> sources);
  // The generation the next load should carry.
  uint64_t nextGeneration() const;
  // Makes `set`, loaded and validated by the caller, the snapshot in force
  // (a reload pipeline that has more to check than the policy itself).
  // Precondition: set->generation() == nextGeneration().
  void publish(std::shared_ptr<const PolicySet> set);

 private:
  LoadResult<uint64_t> install(LoadResult<std::shared_ptr<const PolicySet>> loaded);

  LoadOptions options_;
  mutable std::mutex reload_mu_;  // serializes reloads, never taken by readers
  uint64_t last_generation_ = 0;
  std::atomic<std::shared_ptr<const PolicySet>> current_;
};

}  // namespace fg::policy
