#include "gateway/core/engine.h"

#include <bit>
#include <utility>

namespace fg::core {
namespace {

policy::IpAddress toPolicy(const IpAddress& a) {
  policy::IpAddress p;
  p.family = a.version == 4 ? policy::IpFamily::V4
             : a.version == 6 ? policy::IpFamily::V6
                              : policy::IpFamily::None;
  p.bytes = a.bytes;
  return p;
}

std::chrono::system_clock::time_point toTimePoint(Timestamp ts) {
  return std::chrono::system_clock::time_point(std::chrono::microseconds(ts));
}

// The name the policy sees: the one DPI read (verified or not), else the
// one of the early answer -- a DNS name this client resolved, or a server
// learned from a verified flow.
policy::NameCheck nameCheckOf(const Flow& f) {
  switch (f.cls.name_proof) {
    case NameProof::Unverified:
      return policy::NameCheck::Unverified;
    case NameProof::Dns:
    case NameProof::Range:
    case NameProof::Certificate:
      return policy::NameCheck::Verified;
    case NameProof::None:
      break;
  }
  return f.cls.hostname.empty() && f.early ? policy::NameCheck::Verified : policy::NameCheck::None;
}

// Protocols that start in clear and may switch to TLS on the same connection
// (STARTTLS and its kin), by nDPI 4.2's names.
bool upgradesToTls(std::string_view l7) {
  for (std::string_view p : {"SMTP", "IMAP", "POP3", "FTP_CONTROL", "Jabber", "LDAP", "PostgreSQL", "MySQL",
                             "IRC", "Usenet", "Telnet", "Unknown"})
    if (l7 == p) return true;
  return false;
}

// Whether the classifier's answer can still change what a rule sees. A
// settled classification (every field a rule reads is known) is done, but
// an unverified SNI stays open while a certificate that would verify it can
// still come (TLS <= 1.2 shows it in clear, right after the server hello).
bool classificationPending(const Flow& f, policy::NameCheck name_check) {
  if (f.classified) return false;
  const Classification& c = f.cls;
  if (!c.settled) return true;
  return name_check == policy::NameCheck::Unverified && c.cert_names.empty() && c.l7_protocol == "TLS" &&
         c.tls_version != 0x0304;
}

// Whether a TLS server hello can still come: not once the client opened
// with anything but a handshake, unless its protocol upgrades to TLS.
bool serverHelloPending(const Flow& f) {
  if (f.classified || f.cls.cipher != 0) return false;
  return f.client_opening != ClientOpening::Other || upgradesToTls(f.cls.l7_protocol);
}

}  // namespace

std::string MarkLayout::validate() const {
  const uint32_t parts[] = {decided, drop, reject, value_mask};
  for (int i = 0; i < 3; ++i)
    if (std::popcount(parts[i]) != 1) return "the decided, drop and reject marks must be single bits";
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j)
      if (parts[i] & parts[j]) return "the decided, drop, reject bits and the value mask must not overlap";
  return "";
}

Engine::Engine(EngineConfig config, Classifier& classifier, const Clock& clock,
               const policy::PolicyHolder& policy)
    : config_(config), clock_(clock), policy_(policy), pipeline_(config.pipeline, classifier, clock, *this) {}

void Engine::onFlowEnd(const Flow& flow, EndReason reason) {
  ended_.push_back(
      EndedFlow{.id = flow.id, .reason = reason, .packets = flow.totalPackets(), .bytes = flow.totalBytes()});
}

std::vector<EndedFlow> Engine::expireIdle() {
  pipeline_.expireIdle();
  return std::exchange(ended_, {});
}

std::vector<EndedFlow> Engine::finish(EndReason reason) {
  pipeline_.finish(reason);
  return std::exchange(ended_, {});
}

ProcessResult Engine::process(std::span<const uint8_t> ip_packet, Timestamp ts, const PacketContext& ctx) {
  ProcessResult out{.verdict = step(ip_packet, ts, ctx), .decided = std::nullopt, .ended = {}};
  if (decided_) {
    decided_->policy = std::move(snapshot_);
    out.decided = std::move(decided_);
    decided_.reset();
  }
  snapshot_.reset();
  if (!ended_.empty()) out.ended = std::exchange(ended_, {});
  return out;
}

policy::FlowFacts Engine::factsOf(const Flow& f, const PacketContext& ctx) {
  policy::FlowFacts x;
  const Classification& c = f.cls;
  x.application = c.application;
  x.l7_protocol = c.l7_protocol;
  x.category = c.category;
  // Before DPI has read a name, the name the client resolved stands in.
  x.hostname = c.hostname.empty() && f.early ? f.early->hostname : c.hostname;
  x.tls_version = c.tls_version;
  x.cipher_id = c.cipher;
  if (c.cipher) {
    const CipherSuite* cs = findCipherSuite(c.cipher);
    x.cipher_strength = cs ? cs->strength : CipherStrength::Unknown;
  }
  x.ja3c = c.ja3c;
  x.ja3s = c.ja3s;
  x.alpn = c.alpn;
  x.src = toPolicy(f.src);
  x.dst = toPolicy(f.dst);
  x.src_port = f.src_port;
  x.dst_port = f.dst_port;
  x.ip_proto = f.proto;
  x.in_interface = ctx.in_interface;
  x.out_interface = ctx.out_interface;
  x.confidence = toString(c.confidence);
  x.name_check = nameCheckOf(f);
  if (classificationPending(f, x.name_check)) x.pending |= policy::kPendingClassification;
  // The cipher and JA3S arrive with the server's hello, a round trip after
  // the SNI; until then a TLS rule could still change its answer.
  if (serverHelloPending(f)) x.pending |= policy::kPendingTlsServerHello;
  return x;
}

uint32_t Engine::markBits(const policy::Decision& d) const {
  const MarkLayout& m = config_.marks;
  uint32_t bits = m.decided | (d.mark & d.mark_mask & m.value_mask);
  if (d.verdict == policy::Verdict::Drop) bits |= m.drop;
  if (d.verdict == policy::Verdict::Reject) bits |= m.reject;
  return bits;
}

PacketVerdict Engine::verdictFor(const Flow& f, const PacketContext& ctx) const {
  const uint32_t bits = f.decision.decided ? f.decision.mark_bits : f.decision.provisional_bits;
  if (!f.decision.decided && bits == 0) return {};
  return PacketVerdict{.accept = true, .mark = (ctx.mark & ~config_.marks.all()) | bits};
}

void Engine::decide(Flow& f, const policy::Decision& d, const policy::PolicySet& policy) {
  uint32_t bits = markBits(d);
  // The route the flow's first packet took stays: its source address was
  // translated for that uplink (docs/first-packet.md).
  if (f.decision.route_pinned) bits = policy.keepRoute(bits, f.decision.provisional_bits, config_.marks.value_mask);
  const FlowDecision before = f.decision;
  f.decision = FlowDecision{.decided = true,
                            .verdict = static_cast<uint8_t>(d.verdict),
                            .early = !f.classified,
                            .mark_bits = bits,
                            .rule = d.rule,
                            .generation = d.generation,
                            .first_packet = before.first_packet,
                            .route_pinned = before.route_pinned,
                            .provisional_bits = before.provisional_bits};
  ++counters_.decided;
  if (!f.classified) ++counters_.decided_early;
  switch (d.verdict) {
    case policy::Verdict::Accept: ++counters_.decided_accept; break;
    case policy::Verdict::Drop: ++counters_.decided_drop; break;
    case policy::Verdict::Reject: ++counters_.decided_reject; break;
  }
  policy.count(d);
  // The route the kernel will use for the flow (its mark's route bits). A
  // route class without a next hop of the flow's family sends it out by the
  // main table: counted per route, never silent (docs/policy.md).
  if (d.verdict == policy::Verdict::Accept)
    (void)policy.countRoutedFlow(policy.routeForMark(bits & config_.marks.value_mask), toPolicy(f.src).family);
  // Later packets bypass userspace: no further inspection is possible, and
  // the entry only has to outlive the packets already queued.
  pipeline_.stopInspection(f);
  pipeline_.touch(f);
  decided_ = DecisionEvent{.flow = &f, .decision = d, .policy = nullptr};
}

// Whether the flow keeps the route its first packet took: always with
// keep_first_route (NAT), else only when that packet had a route.
bool Engine::pinRoute(const Flow& f, const policy::PolicySet& policy) const {
  return config_.keep_first_route || policy.routeForMark(f.decision.provisional_bits) != policy::Decision::kNone;
}

std::optional<PacketVerdict> Engine::firstPacket(Flow& f, const PacketContext& ctx,
                                                 const policy::PolicySet& policy) {
  ++counters_.early_answers;
  // The early answer stands for the classification; only what the TLS
  // handshake will tell is still pending.
  policy::FlowFacts facts = factsOf(f, ctx);
  facts.pending &= static_cast<uint8_t>(~policy::kPendingClassification);
  const policy::Decision d = policy.evaluate(facts, toTimePoint(clock_.now()));
  ++counters_.evaluations;
  if (d.verdict != policy::Verdict::Accept) {
    // Blocking needs a final answer (no TLS rule still to hear from), and a
    // DNS answer: a learned server stands for the address, not for this
    // client's intent (one address serves many names), so it may route but
    // never block.
    if (!d.final || f.early->source != Confidence::Dns) return std::nullopt;
    f.decision.first_packet = true;
    // Blocked at the first packet: nothing of the connection gets through.
    ++counters_.first_packet_blocked;
    decide(f, d, policy);
    return verdictFor(f, ctx);
  }
  // Accepted (for now: a rule on the TLS handshake may still block it):
  // route and class apply from this packet on -- a NATed connection's route
  // is chosen now or never -- and the flow stays in userspace so DPI can
  // confirm (or correct) the early answer.
  uint32_t value = markBits(d) & config_.marks.value_mask;
  if (value == 0) return std::nullopt;  // nothing to apply early
  f.decision.first_packet = true;
  // A kernel-bound set's route on this packet stands.
  if (f.decision.provisional_bits != 0)
    value = policy.keepRoute(value, f.decision.provisional_bits, config_.marks.value_mask);
  f.decision.provisional_bits = value;
  ++counters_.first_packet_marked;
  return verdictFor(f, ctx);
}

PacketVerdict Engine::step(std::span<const uint8_t> ip_packet, Timestamp ts, const PacketContext& ctx) {
  ++counters_.packets;
  // A packet of a connection the kernel already decided (the DNS-response
  // observation rule, or a table without the fast path): observe it, never
  // start a flow for it, never change its mark.
  const bool kernel_decided = (ctx.mark & config_.marks.decided) != 0;
  StepResult r = pipeline_.step(LinkType::Raw, ip_packet, ts, /*create=*/!kernel_decided);
  if (kernel_decided) {
    ++counters_.observed;
    if (r.flow && r.flow->decision.decided) ++counters_.after_decision;
    return {};
  }
  if (!r.flow) {
    ++counters_.undecodable;
    return {.accept = config_.undecodable == FailureAction::Accept, .mark = std::nullopt, .rewrite_as_reset = false};
  }
  // An ICMP error belongs, for conntrack, to the connection it quotes: a
  // mark on it could decide that connection (the kernel table refuses to
  // copy marks from related packets too). Count it, never mark it.
  if (r.icmp_error) {
    ++counters_.icmp_errors;
    return {};
  }
  Flow& f = *r.flow;
  if (f.decision.decided) {
    ++counters_.after_decision;
    return verdictFor(f, ctx);
  }
  snapshot_ = policy_.current();
  const std::shared_ptr<const policy::PolicySet>& policy = snapshot_;
  if (r.new_flow) {
    f.in_ifindex = ctx.in_ifindex;
    // A kernel-bound set already gave this flow's first packet a route
    // (and maybe a class): keep them until the engine decides.
    const uint32_t kernel_bits = ctx.mark & config_.marks.value_mask;
    if (kernel_bits != 0) {  // (packets with the decided bit were only observed, above)
      f.decision.provisional_bits = kernel_bits;
      ++counters_.kernel_bound;
    }
    // A connection whose route is already fixed: the kernel gave it route
    // bits, or flowgate meets it mid-way (after a restart, an eviction), so
    // earlier packets already left by the route its ct mark says.
    if (kernel_bits != 0 || !r.opening) f.decision.route_pinned = pinRoute(f, *policy);
    if (f.early && !f.classified) {
      if (auto v = firstPacket(f, ctx, *policy)) {
        f.decision.route_pinned = pinRoute(f, *policy);
        return *v;
      }
    }
  }
  const policy::FlowFacts facts = factsOf(f, ctx);
  const policy::Decision d = policy->evaluate(facts, toTimePoint(clock_.now()));
  ++counters_.evaluations;
  if (!(d.final || f.classified)) {
    // The first packet leaves with whatever route it has now (maybe none);
    // with NAT on the uplinks that is where the connection lives.
    if (r.new_flow) f.decision.route_pinned = pinRoute(f, *policy);
    return verdictFor(f, ctx);
  }
  decide(f, d, *policy);
  PacketVerdict v = verdictFor(f, ctx);
  if (d.verdict == policy::Verdict::Reject && f.proto == kProtoTcp &&
      r.direction == Direction::DstToSrc) {
    v.rewrite_as_reset = true;
    ++counters_.resets_to_client;
  }
  return v;
}

}  // namespace fg::core
