#include "policy/policy.h"

#include <algorithm>

#include "common/tls_version.h"
#include "policy/policy_internal.h"

namespace fg::policy {

// ---- helpers -----------------------------------------------------------------

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerAscii(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return iequalsAscii(a, b); }

uint8_t pendingGroupOf(Key k) {
  switch (k) {
    case Key::Application:
    case Key::L7Protocol:
    case Key::Category:
    case Key::Hostname:
    case Key::Ja3c:
    case Key::Alpn:
    case Key::Confidence:
      return kPendingClassification;
    case Key::TlsVersion:
    case Key::Cipher:
    case Key::CipherStrength:
    case Key::Ja3s:
      return kPendingTlsServerHello;
    default:
      return 0;
  }
}

std::string_view toString(Verdict v) {
  switch (v) {
    case Verdict::Accept:
      return "accept";
    case Verdict::Drop:
      return "drop";
    case Verdict::Reject:
      return "reject";
  }
  return "accept";
}

std::string_view toString(NameCheck c) {
  switch (c) {
    case NameCheck::None:
      return "none";
    case NameCheck::Verified:
      return "verified";
    case NameCheck::Unverified:
      return "unverified";
  }
  return "none";
}

std::string formatError(const LoadError& e) {
  std::string out = e.file;
  if (e.line > 0) {
    out += ":" + std::to_string(e.line);
    if (e.column > 0) out += ":" + std::to_string(e.column);
  }
  out += ": ";
  if (!e.key.empty()) out += e.key + ": ";
  out += e.message;
  return out;
}

bool HostMatcher::matches(std::string_view host) const {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return false;
  for (const auto& e : exact)
    if (iequals(e, host)) return true;
  for (const auto& s : suffixes)
    if (host.size() > s.size() + 1 && host[host.size() - s.size() - 1] == '.' &&
        iequals(host.substr(host.size() - s.size()), s))
      return true;
  for (const auto& r : regexes)
    if (std::regex_match(host.begin(), host.end(), r)) return true;
  return false;
}

namespace {

struct LocalClock {
  int weekday = 0;  // 0 = Monday
  int minute = 0;   // minutes after local midnight
};

class EvalContext {
 public:
  EvalContext(const PolicyData& d, const FlowFacts& f, std::chrono::system_clock::time_point now)
      : data(d), facts(f), now_(now) {}

  const LocalClock& local() const {
    if (!have_local_) {
      const int64_t t =
          std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count();
      const int64_t lt = t + data.tz.offsetAt(t);
      int64_t days = lt / 86400;
      int64_t secs = lt % 86400;
      if (secs < 0) {
        secs += 86400;
        --days;
      }
      // 1970-01-01 was a Thursday (3 when Monday = 0).
      local_.weekday = static_cast<int>(((days % 7) + 7 + 3) % 7);
      local_.minute = static_cast<int>(secs / 60);
      have_local_ = true;
    }
    return local_;
  }

  const PolicyData& data;
  const FlowFacts& facts;

 private:
  std::chrono::system_clock::time_point now_;
  mutable bool have_local_ = false;
  mutable LocalClock local_;
};

bool anyIequal(const std::vector<std::string>& list, std::string_view v) {
  if (v.empty()) return false;
  for (const auto& s : list)
    if (iequals(s, v)) return true;
  return false;
}

uint16_t effectiveCipher(const FlowFacts& f) {
  if (f.cipher_id != 0) return f.cipher_id;
  if (!f.cipher_name.empty())
    if (const CipherSuite* s = findCipherSuite(f.cipher_name)) return s->id;
  return 0;
}

CipherStrength effectiveStrength(const FlowFacts& f) {
  if (f.cipher_strength != CipherStrength::Unknown) return f.cipher_strength;
  if (const uint16_t id = effectiveCipher(f))
    if (const CipherSuite* s = findCipherSuite(id)) return s->strength;
  return CipherStrength::Unknown;
}

bool interfaceMatches(const Cond& c, const std::string& name) {
  if (name.empty()) return false;
  for (const auto& s : c.strings)
    if (s == name) return true;
  for (const auto& p : c.prefixes)
    if (name.size() >= p.size() && name.compare(0, p.size(), p) == 0) return true;
  return false;
}

bool portMatches(const std::vector<PortRange>& ranges, uint16_t port) {
  for (const auto& r : ranges)
    if (port >= r.lo && port <= r.hi) return true;
  return false;
}

// The positive reading of a condition (negation applied by the caller).
bool condHolds(const Cond& c, const FlowFacts& f) {
  switch (c.key) {
    case Key::Application:
      return anyIequal(c.strings, f.application);
    case Key::L7Protocol:
      return anyIequal(c.strings, f.l7_protocol);
    case Key::Category:
      return anyIequal(c.strings, f.category);
    case Key::Hostname:
      return c.host.matches(f.hostname);
    case Key::TlsVersion: {
      if (f.tls_version == 0) return false;
      const int rank = tlsVersionRank(f.tls_version);
      for (const auto& v : c.versions) {
        switch (v.op) {
          case CmpOp::Eq:
            if (f.tls_version == v.wire) return true;
            break;
          case CmpOp::Lt:
            if (rank != 0 && rank < v.rank) return true;
            break;
          case CmpOp::Le:
            if (rank != 0 && rank <= v.rank) return true;
            break;
          case CmpOp::Gt:
            if (rank != 0 && rank > v.rank) return true;
            break;
          case CmpOp::Ge:
            if (rank != 0 && rank >= v.rank) return true;
            break;
        }
      }
      return false;
    }
    case Key::Cipher: {
      const uint16_t id = effectiveCipher(f);
      return id != 0 && std::find(c.ciphers.begin(), c.ciphers.end(), id) != c.ciphers.end();
    }
    case Key::CipherStrength:
      return (c.strengths >> static_cast<unsigned>(effectiveStrength(f))) & 1u;
    case Key::Ja3c:
      return anyIequal(c.strings, f.ja3c);
    case Key::Ja3s:
      return anyIequal(c.strings, f.ja3s);
    case Key::Alpn:
      for (const auto& a : f.alpn)
        if (anyIequal(c.strings, a)) return true;
      return false;
    case Key::Src:
      return f.src.valid() && c.cidrs.contains(f.src);
    case Key::Dst:
      return f.dst.valid() && c.cidrs.contains(f.dst);
    case Key::SrcPort:
      return portMatches(c.ports, f.src_port);
    case Key::DstPort:
      return portMatches(c.ports, f.dst_port);
    case Key::Proto:
      return c.protos.test(f.ip_proto);
    case Key::InInterface:
      return interfaceMatches(c, f.in_interface);
    case Key::OutInterface:
      return interfaceMatches(c, f.out_interface);
    case Key::Confidence:
      return anyIequal(c.strings, f.confidence);
    case Key::Days:
    case Key::Time:
      return true;  // compiled into Rule::days / Rule::times
  }
  return false;
}

bool scheduleHolds(const Rule& r, const LocalClock& lc) {
  auto dayOk = [&](int wd) { return ((r.days >> wd) & 1u) != 0; };
  const int m = lc.minute;
  if (r.times.empty()) return dayOk(lc.weekday);
  if (r.times_negated) {
    if (!dayOk(lc.weekday)) return false;
    for (const auto& t : r.times) {
      const bool in = t.start < t.end ? (m >= t.start && m < t.end) : (m >= t.start || m < t.end);
      if (in) return false;
    }
    return true;
  }
  for (const auto& t : r.times) {
    if (t.start < t.end) {
      if (m >= t.start && m < t.end && dayOk(lc.weekday)) return true;
    } else {
      // Crosses midnight: the part after midnight belongs to the previous day.
      if (m >= t.start && dayOk(lc.weekday)) return true;
      if (m < t.end && dayOk((lc.weekday + 6) % 7)) return true;
    }
  }
  return false;
}

// Whether `r` applies to the flow, treating conditions that read a group in
// `assume_groups` as holding (used to ask "could it still match?").
bool ruleApplies(const Rule& r, const EvalContext& ctx, uint8_t assume_groups) {
  const FlowFacts& f = ctx.facts;
  if (!r.exempt.empty() &&
      ((f.src.valid() && r.exempt.contains(f.src)) || (f.dst.valid() && r.exempt.contains(f.dst))))
    return false;
  for (const Cond& c : r.conds) {
    if ((c.group & assume_groups) != 0) continue;
    if (condHolds(c, f) == c.negate) return false;
  }
  if (r.has_schedule && !scheduleHolds(r, ctx.local())) return false;
  return true;
}

// A rule that needs a verified name, on a flow whose name is unverified.
bool unverifiedFor(const Rule& r, const FlowFacts& f) {
  return r.info.require_verified_name && f.name_check == NameCheck::Unverified;
}

void applyRule(const PolicyData& d, uint32_t id, const FlowFacts& f, Decision& out) {
  const Rule& r = d.rules[id];
  out.rule = id;
  out.verdict = r.info.verdict;
  out.log = r.log;
  out.mark = r.mark;
  out.mark_mask = r.mark_mask;
  if (r.route >= 0) {
    const RouteInfo& ri = d.routes[static_cast<size_t>(r.route)];
    out.route = static_cast<uint32_t>(r.route);
    out.route_table = ri.table;
    out.route_fwmark = ri.fwmark;
  }
  // Sets teach every later flow to the address: never from a name only the
  // client vouches for (even when the rule itself accepts unverified names).
  const bool learn = !(r.info.reads_name && f.name_check == NameCheck::Unverified);
  for (uint32_t s : r.sets) {
    if (!learn) break;
    const SetInfo& si = d.sets[s];
    const IpAddress& a = si.endpoint == SetEndpoint::Src ? f.src : f.dst;
    if (a.family != si.family || out.set_count >= Decision::kMaxSets) continue;
    out.sets[out.set_count++] = SetAddition{s, a};
  }
}

// Whether deciding by rule `id` would enforce exactly what `out` enforces:
// the same verdict, mark, route and set additions, and the same log flag.
// Then the rule matching later cannot change the outcome in the kernel.
bool sameEffect(const PolicyData& d, uint32_t id, const FlowFacts& f, const Decision& out) {
  Decision alt;
  alt.verdict = d.default_verdict;
  alt.log = d.default_log;
  applyRule(d, id, f, alt);
  if (alt.verdict != out.verdict || alt.log != out.log || alt.mark != out.mark ||
      alt.mark_mask != out.mark_mask || alt.route != out.route || alt.set_count != out.set_count)
    return false;
  for (uint8_t i = 0; i < alt.set_count; ++i)
    if (alt.sets[i].set != out.sets[i].set || !(alt.sets[i].address == out.sets[i].address)) return false;
  return true;
}

// Visits candidate lists of the indices, in any order; each list ascending.
constexpr size_t kMaxLists = 400;  // 3 names + host + 127 suffixes + port + 2*129 prefixes + generic

struct Cursor {
  const uint32_t* it;
  const uint32_t* end;
};

}  // namespace

// ---- PolicySet -------------------------------------------------------------------

PolicySet::PolicySet(std::unique_ptr<PolicyData> data) : data_(std::move(data)) {}
PolicySet::~PolicySet() = default;

std::shared_ptr<const PolicySet> PolicySet::empty() {
  static const std::shared_ptr<const PolicySet> kEmpty = [] {
    auto d = std::make_unique<PolicyData>();
    buildIndex(*d);
    return std::make_shared<const PolicySet>(std::move(d));
  }();
  return kEmpty;
}

uint64_t PolicySet::generation() const { return data_->generation; }

Decision PolicySet::evaluate(const FlowFacts& facts,
                             std::chrono::system_clock::time_point now) const {
  return evaluateImpl<true>(facts, now);
}

Decision PolicySet::evaluateLinearScan(const FlowFacts& facts,
                                       std::chrono::system_clock::time_point now) const {
  return evaluateImpl<false>(facts, now);
}

template <bool kIndexed>
Decision PolicySet::evaluateImpl(const FlowFacts& facts,
                                 std::chrono::system_clock::time_point now) const {
  const PolicyData& d = *data_;
  Decision out;
  out.generation = d.generation;
  out.verdict = d.default_verdict;
  out.log = d.default_log;
  if (!d.global_exempt.empty() && ((facts.src.valid() && d.global_exempt.contains(facts.src)) ||
                                   (facts.dst.valid() && d.global_exempt.contains(facts.dst)))) {
    out.verdict = Verdict::Accept;
    out.log = false;
    out.exempt = true;
    return out;
  }
  const EvalContext ctx(d, facts, now);

  // Returns true when `id` decided (enforcing match).
  auto visit = [&](uint32_t id) {
    const Rule& r = d.rules[id];
    if (!ruleApplies(r, ctx, 0)) return false;
    if (unverifiedFor(r, facts)) {
      // As if the rule did not match: the policy's "no match" for it.
      ++out.unverified_matches;
      if (out.unverified_count < Decision::kMaxUnverified) out.unverified_rules[out.unverified_count++] = id;
      return false;
    }
    if (r.info.shadow) {
      ++out.shadow_matches;
      if (out.shadow_count < Decision::kMaxShadow) out.shadow_rules[out.shadow_count++] = id;
      return false;
    }
    applyRule(d, id, facts, out);
    return true;
  };

  bool linear = !kIndexed;
  if constexpr (kIndexed) {
    std::array<Cursor, kMaxLists> cur;
    size_t n = 0;
    bool overflow = false;
    auto push = [&](const RuleList& l) {
      if (l.empty()) return;
      if (n == kMaxLists) {
        overflow = true;
        return;
      }
      cur[n++] = Cursor{l.data(), l.data() + l.size()};
    };
    auto lookup = [&](const CiMap<RuleList>& m, std::string_view key) {
      if (m.empty() || key.empty()) return;
      auto it = m.find(key);
      if (it != m.end()) push(it->second);
    };
    lookup(d.by_application, facts.application);
    lookup(d.by_l7_protocol, facts.l7_protocol);
    lookup(d.by_category, facts.category);
    std::string_view host = facts.hostname;
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (!host.empty()) {
      lookup(d.host_exact, host);
      if (!d.host_suffix.empty()) {
        // Probe "*.suffix" entries from the right, one label at a time.
        size_t labels = 0;
        size_t pos = host.size();
        while (labels < d.max_suffix_labels) {
          const size_t dot = host.rfind('.', pos == 0 ? 0 : pos - 1);
          if (dot == std::string_view::npos || pos == 0) break;
          ++labels;
          lookup(d.host_suffix, host.substr(dot + 1));
          pos = dot;
        }
      }
    }
    if (!d.by_dst_port.empty()) {
      auto it = d.by_dst_port.find(facts.dst_port);
      if (it != d.by_dst_port.end()) push(it->second);
    }
    if (facts.dst.valid()) d.by_dst.forEachMatch(facts.dst, push);
    if (facts.src.valid()) d.by_src.forEachMatch(facts.src, push);
    push(d.generic);

    if (overflow) {
      linear = true;  // cannot happen with validated policies; stay correct anyway
    } else {
      // k-way merge in rule order; a rule may sit in several lists.
      while (true) {
        uint32_t best = Decision::kNone;
        for (size_t i = 0; i < n; ++i)
          if (cur[i].it != cur[i].end && *cur[i].it < best) best = *cur[i].it;
        if (best == Decision::kNone) break;
        for (size_t i = 0; i < n; ++i)
          if (cur[i].it != cur[i].end && *cur[i].it == best) ++cur[i].it;
        if (visit(best)) break;
      }
    }
  }
  if (linear) {
    out.shadow_count = 0;
    out.shadow_matches = 0;
    out.unverified_count = 0;
    out.unverified_matches = 0;
    for (uint32_t id = 0; id < d.rules.size(); ++id) {
      if (!d.rules[id].info.enabled) continue;
      if (visit(id)) break;
    }
  }

  if (facts.pending != 0) {
    const uint32_t limit = out.rule;  // kNone: the default decided, every rule counts
    for (int g = 0; g < 2 && out.final; ++g) {
      if ((facts.pending & (1u << g)) == 0) continue;
      for (uint32_t id : d.pending_readers[g]) {
        if (id > limit) break;
        // A rule that could still match once the metadata arrives keeps the
        // decision open, unless it would enforce the same thing anyway (an
        // accept-all policy is then final at the first packet).
        // The deciding rule itself is different: its own match could vanish.
        // A rule set aside for an unverified name could still match: the
        // name may yet be verified (ruleApplies ignores verification).
        if (ruleApplies(d.rules[id], ctx, facts.pending) &&
            (id == limit || !sameEffect(d, id, facts, out))) {
          out.final = false;
          break;
        }
      }
    }
  }
  return out;
}

void PolicySet::count(const Decision& d) const {
  if (d.generation != data_->generation) return;  // decided by another snapshot
  if (d.rule != Decision::kNone) data_->hits[d.rule].fetch_add(1, std::memory_order_relaxed);
  for (uint32_t id : d.shadowRules()) data_->hits[id].fetch_add(1, std::memory_order_relaxed);
  for (uint32_t id : d.unverifiedRules()) data_->unverified[id].fetch_add(1, std::memory_order_relaxed);
}

uint64_t PolicySet::ruleUnverified(uint32_t rule) const {
  return rule < data_->rules.size() ? data_->unverified[rule].load(std::memory_order_relaxed) : 0;
}

bool PolicySet::inVerifiedRanges(std::string_view application, const IpAddress& address) const {
  if (data_->verified_ranges.empty() || application.empty() || !address.valid()) return false;
  const auto it = data_->verified_ranges.find(application);
  return it != data_->verified_ranges.end() && it->second.contains(address);
}

uint64_t PolicySet::ruleHits(uint32_t rule) const {
  return rule < data_->rules.size() ? data_->hits[rule].load(std::memory_order_relaxed) : 0;
}

bool PolicySet::countRoutedFlow(uint32_t route, IpFamily family) const {
  if (route >= data_->routes.size()) return true;
  std::atomic<uint64_t>* c = &data_->route_flows[3 * route];
  if (family == IpFamily::V4) c[0].fetch_add(1, std::memory_order_relaxed);
  if (family == IpFamily::V6) c[1].fetch_add(1, std::memory_order_relaxed);
  if (data_->routes[route].covers(family)) return true;
  c[2].fetch_add(1, std::memory_order_relaxed);
  return false;
}

PolicySet::RouteCounters PolicySet::routeCounters(uint32_t route) const {
  if (route >= data_->routes.size()) return {};
  const std::atomic<uint64_t>* c = &data_->route_flows[3 * route];
  return {.flows_v4 = c[0].load(std::memory_order_relaxed),
          .flows_v6 = c[1].load(std::memory_order_relaxed),
          .uncovered = c[2].load(std::memory_order_relaxed)};
}

std::span<const LoadError> PolicySet::warnings() const { return data_->warnings; }

std::string_view familiesName(const RouteInfo& r) {
  const bool v4 = r.covers(IpFamily::V4), v6 = r.covers(IpFamily::V6);
  return v4 && v6 ? "ipv4+ipv6" : v4 ? "ipv4" : v6 ? "ipv6" : "none";
}

size_t PolicySet::ruleCount() const { return data_->rules.size(); }
const RuleInfo& PolicySet::rule(uint32_t id) const { return data_->rules.at(id).info; }
std::string_view PolicySet::ruleName(uint32_t id) const {
  return id < data_->rules.size() ? std::string_view(data_->rules[id].info.name) : std::string_view();
}
std::span<const ClassInfo> PolicySet::classes() const { return data_->classes; }
std::span<const RouteInfo> PolicySet::routes() const { return data_->routes; }
std::span<const SetInfo> PolicySet::sets() const { return data_->sets; }
uint32_t PolicySet::routeMarkMask() const {
  uint32_t mask = 0;
  for (const auto& r : data_->routes) mask |= r.fwmark_mask;
  return mask;
}

uint32_t PolicySet::routeForMark(uint32_t mark) const {
  for (uint32_t i = 0; i < data_->routes.size(); ++i) {
    const RouteInfo& r = data_->routes[i];
    if (r.fwmark != 0 && (mark & r.fwmark_mask) == r.fwmark) return i;
  }
  return Decision::kNone;
}

uint32_t PolicySet::keepRoute(uint32_t bits, uint32_t pinned, uint32_t value_mask) const {
  const uint32_t want = routeForMark(pinned);
  if (routeForMark(bits) == want) return bits;
  const uint32_t route_mask = routeMarkMask() & value_mask;
  uint32_t out = (bits & ~route_mask) | (pinned & route_mask);
  if (routeForMark(out) != want) out = (bits & ~value_mask) | (pinned & value_mask);
  return out;
}

PolicySummary PolicySet::summary() const {
  const PolicyData& d = *data_;
  PolicySummary s;
  s.files = d.files;
  s.rules = d.rules.size();
  for (const auto& r : d.rules) {
    s.enabled_rules += r.info.enabled;
    s.shadow_rules += r.info.enabled && r.info.shadow;
  }
  s.classes = d.classes.size();
  s.routes = d.routes.size();
  s.sets = d.sets.size();
  s.address_groups = d.address_groups;
  s.indexed_rules = d.indexed;
  s.generic_rules = d.generic.size();
  s.default_verdict = d.default_verdict;
  s.timezone = d.tz.name();
  s.mark_mask = d.mark_mask;
  s.mark_shift = d.mark_shift;
  return s;
}

// ---- index ---------------------------------------------------------------------

void buildIndex(PolicyData& d) {
  auto add = [](RuleList& l, uint32_t id) {
    if (l.empty() || l.back() != id) l.push_back(id);
  };
  for (uint32_t id = 0; id < d.rules.size(); ++id) {
    Rule& r = d.rules[id];
    r.pending_groups = 0;
    for (Cond& c : r.conds) {
      c.group = pendingGroupOf(c.key);
      r.pending_groups |= c.group;
    }
    if (r.has_schedule) d.any_schedule = true;
    if (!r.info.enabled) continue;
    if (!r.info.shadow) {
      if (r.pending_groups & kPendingClassification) d.pending_readers[0].push_back(id);
      if (r.pending_groups & kPendingTlsServerHello || r.info.require_verified_name)
        d.pending_readers[1].push_back(id);
    }
    // Index by the most selective positive key the rule has: application,
    // hostname, dst, src and dst_port have many distinct values; l7_protocol
    // and category only a few dozen, so they come last.
    auto positive = [&](Key k) -> const Cond* {
      for (const Cond& c : r.conds)
        if (c.key == k && !c.negate) return &c;
      return nullptr;
    };
    bool indexed = false;
    auto byName = [&](Key key, CiMap<RuleList>& map) {
      if (indexed) return;
      if (const Cond* c = positive(key)) {
        for (const auto& s : c->strings) add(map[s], id);
        indexed = true;
      }
    };
    byName(Key::Application, d.by_application);
    if (!indexed) {
      const Cond* c = positive(Key::Hostname);
      if (c != nullptr && c->host.regexes.empty()) {
        for (const auto& h : c->host.exact) add(d.host_exact[h], id);
        for (const auto& s : c->host.suffixes) {
          add(d.host_suffix[s], id);
          d.max_suffix_labels =
              std::max<size_t>(d.max_suffix_labels, 1 + static_cast<size_t>(std::count(s.begin(), s.end(), '.')));
        }
        indexed = true;
      }
    }
    for (const auto& [key, map] : {std::pair{Key::Dst, &d.by_dst}, std::pair{Key::Src, &d.by_src}}) {
      if (indexed) break;
      if (const Cond* c = positive(key)) {
        for (const auto& cidr : c->cidr_list) add(map->slot(cidr), id);
        indexed = true;
      }
    }
    if (!indexed) {
      // Exact ports and short ranges only: a rule on "1024-65535" stays generic.
      constexpr size_t kMaxPortsIndexed = 64;
      const Cond* c = positive(Key::DstPort);
      size_t span = 0;
      if (c != nullptr)
        for (const auto& pr : c->ports) span += static_cast<size_t>(pr.hi - pr.lo) + 1;
      if (c != nullptr && span <= kMaxPortsIndexed) {
        for (const auto& pr : c->ports)
          for (uint32_t port = pr.lo; port <= pr.hi; ++port) add(d.by_dst_port[static_cast<uint16_t>(port)], id);
        indexed = true;
      }
    }
    byName(Key::L7Protocol, d.by_l7_protocol);
    byName(Key::Category, d.by_category);
    if (indexed) {
      ++d.indexed;
    } else {
      d.generic.push_back(id);
    }
  }
  d.hits = std::make_unique<std::atomic<uint64_t>[]>(std::max<size_t>(1, d.rules.size()));
  d.route_flows = std::make_unique<std::atomic<uint64_t>[]>(std::max<size_t>(1, 3 * d.routes.size()));
  d.unverified = std::make_unique<std::atomic<uint64_t>[]>(std::max<size_t>(1, d.rules.size()));
}

// ---- holder --------------------------------------------------------------------

PolicyHolder::PolicyHolder(LoadOptions options)
    : options_(std::move(options)), current_(PolicySet::empty()) {}

LoadResult<uint64_t> PolicyHolder::reload(std::span<const std::string> paths) {
  std::lock_guard lock(reload_mu_);
  return install(loadPolicy(paths, options_, last_generation_ + 1));
}

LoadResult<uint64_t> PolicyHolder::reloadSources(std::span<const PolicySource> sources) {
  std::lock_guard lock(reload_mu_);
  return install(compilePolicy(sources, options_, last_generation_ + 1));
}

uint64_t PolicyHolder::nextGeneration() const {
  std::lock_guard lock(reload_mu_);
  return last_generation_ + 1;
}

void PolicyHolder::publish(std::shared_ptr<const PolicySet> set) {
  std::lock_guard lock(reload_mu_);
  last_generation_ = set->generation();
  current_.store(std::move(set), std::memory_order_release);
}

LoadResult<uint64_t> PolicyHolder::install(LoadResult<std::shared_ptr<const PolicySet>> loaded) {
  if (!loaded.ok()) return loaded.errors();  // the old snapshot stays in force
  ++last_generation_;
  current_.store(std::move(loaded).value(), std::memory_order_release);
  return last_generation_;
}

}  // namespace fg::policy
