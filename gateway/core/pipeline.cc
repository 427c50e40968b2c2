#include "gateway/core/pipeline.h"

#include "common/ascii.h"
#include "gateway/core/name_check.h"
#include "gateway/core/app_refine.h"

namespace fg::core {

Pipeline::Pipeline(PipelineConfig config, Classifier& classifier, const Clock& clock,
                   FlowEventSink& sink)
    : config_(config), classifier_(classifier), clock_(clock), sink_(sink),
      table_(config.table) {}

Pipeline::~Pipeline() = default;

StepResult Pipeline::step(LinkType link, std::span<const uint8_t> frame, Timestamp ts, bool create) {
  DecodeResult d = decode(link, frame, ts);
  if (!d.ok()) {
    ++counters_.packets;
    counters_.bytes += frame.size();
    counters_.decode_errors.count(d.error);
    maybeExpire();
    return StepResult{.error = d.error};
  }
  return step(d.packet, create);
}

StepResult Pipeline::step(const Packet& p, bool create) {
  ++counters_.packets;
  counters_.bytes += p.ip_bytes;
  ++counters_.decoded;
  maybeExpire();

  StepResult r;
  r.icmp_error = isIcmpError(p);
  Flow* f = flowFor(p, r, create);
  if (config_.hints && !r.icmp_error) learnDns(p, f);
  if (!f) return r;
  const Direction dir = f->directionOf(p);
  r.flow = f;
  r.direction = dir;
  const auto d = static_cast<size_t>(dir);
  ++f->packets[d];
  f->bytes[d] += p.ip_bytes;
  if (p.proto == kProtoTcp && !(p.fragment && !p.first_fragment)) updateTcp(*f, p, dir);
  if (f->client_opening == ClientOpening::Unseen && dir == Direction::SrcToDst && p.payload_len > 0 &&
      !(p.fragment && !p.first_fragment))
    f->client_opening = clientOpeningOf(p.proto, p.payload, p.payload_len);
  table_.touch(*f, p.ts);
  if (r.new_flow) {
    r.opening = isOpening(*f, p);
    if (r.opening && config_.hints) earlyAnswer(*f, p);
  }
  // Later fragments carry no L4 header: counted, never inspected.
  if (!f->classified && !(p.fragment && !p.first_fragment)) classify(*f, p, dir, r);
  return r;
}

Flow* Pipeline::flowFor(const Packet& p, StepResult& r, bool create) {
  if (p.fragment) {
    ++counters_.fragments;
    FragKey fk{p.src, p.dst, p.frag_id, p.proto};
    if (!p.first_fragment) {
      auto it = fragments_.find(fk);
      Flow* f = it == fragments_.end() ? nullptr : table_.find(it->second.flow);
      if (!f) ++counters_.fragments_unmatched;
      return f;
    }
    if (fragments_.size() >= config_.max_fragment_entries) {
      std::erase_if(fragments_, [&](const auto& e) {
        return p.ts - e.second.seen > config_.fragment_timeout;
      });
    }
    if (fragments_.size() < config_.max_fragment_entries)
      fragments_[fk] = FragEntry{FlowKey::fromPacket(p), p.ts};
  }

  const FlowKey key = FlowKey::fromPacket(p);
  Flow* f = table_.find(key);
  const bool syn_only = p.proto == kProtoTcp && (p.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
  // A client SYN is a new connection on this tuple once the old one got past
  // its handshake (a SYN during the handshake is a retransmission). This
  // covers port reuse after FIN/RST, and also flows decided inline: their
  // later packets (FINs included) bypass userspace, so a SYN that reaches us
  // on such a tuple belongs to a new conntrack and must be inspected anew.
  const bool progressed = f && (f->tcp == TcpState::Established || f->tcp == TcpState::Closing ||
                                f->tcp == TcpState::Closed);
  if (f && syn_only && (progressed || f->decision.decided)) {
    onEnd(*f, f->tcp == TcpState::Closed ? (f->fin_seen == 3 ? EndReason::Fin : EndReason::Rst)
                                         : EndReason::Reused);
    table_.remove(*f);
    f = nullptr;
  }
  if (f || !create) return f;

  f = &table_.create(key, p.ts, [this](Flow& victim, EndReason why) { onEnd(victim, why); });
  r.new_flow = true;
  // src is the opener: the SYN's sender when the capture starts at a SYN-ACK.
  const bool reply_first =
      p.proto == kProtoTcp && (p.tcp_flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck);
  if (reply_first) {
    f->src = p.dst; f->src_port = p.dst_port; f->dst = p.src; f->dst_port = p.src_port;
  } else {
    f->src = p.src; f->src_port = p.src_port; f->dst = p.dst; f->dst_port = p.dst_port;
  }
  f->proto = p.proto;
  f->ip_version = p.ip_version;
  f->tunnel = p.tunnel;
  return f;
}

void Pipeline::updateTcp(Flow& f, const Packet& p, Direction dir) {
  const uint8_t fl = p.tcp_flags;
  if (f.tcp == TcpState::Closed) return;  // e.g. a FIN that crossed the RST
  if (fl & kTcpRst) {
    f.tcp = TcpState::Closed;
    return;
  }
  if (fl & kTcpFin) {
    f.fin_seen |= dir == Direction::SrcToDst ? 1 : 2;
    f.tcp = f.fin_seen == 3 ? TcpState::Closed : TcpState::Closing;
    return;
  }
  switch (f.tcp) {
    case TcpState::None:
      if ((fl & (kTcpSyn | kTcpAck)) == kTcpSyn) f.tcp = TcpState::SynSent;
      else if (fl & kTcpSyn) f.tcp = TcpState::SynReceived;
      else if (f.packets[0] > 0 && f.packets[1] > 0) f.tcp = TcpState::Established;
      break;
    case TcpState::SynSent:
      if ((fl & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck) && dir == Direction::DstToSrc)
        f.tcp = TcpState::SynReceived;
      break;
    case TcpState::SynReceived:
      if ((fl & kTcpAck) && !(fl & kTcpSyn) && dir == Direction::SrcToDst)
        f.tcp = TcpState::Established;
      break;
    case TcpState::Established:
    case TcpState::Closing:
    case TcpState::Closed:
      break;
  }
}

void Pipeline::classify(Flow& f, const Packet& p, Direction dir, StepResult& r) {
  if (!f.inspection && f.dpi_packets == 0) f.inspection = classifier_.begin(f);
  if (!f.inspection) {
    // The classifier could not take the flow: settle for a guess now.
    classifier_.giveUp(f);
    endInspection(f, false);
    r.classified_now = true;
    return;
  }
  ++f.dpi_packets;
  ++counters_.inspected_packets;
  const bool final_answer = classifier_.inspect(f, p, dir);
  applyEarly(f);
  // A settled classification is what the policy reads from now on
  // (core/engine.cc): it gets the catalog's name now, not only at the end.
  if (!final_answer && f.cls.settled) refine(f, true);
  checkName(f, p.ts);
  if (final_answer) {
    endInspection(f, true);
    r.classified_now = true;
  } else if (f.dpi_packets >= config_.packet_budget) {
    classifier_.giveUp(f);
    endInspection(f, false);
    r.classified_now = true;
  }
}

// DNS answers teach the client's hints: only the server side of a flow the
// client opened to port 53 (UDP or TCP), or of a flow DPI recognised as DNS
// on another port. Anything else from port 53 (a packet a client or an
// outside host sends from that port, unasked) is never read.
void Pipeline::learnDns(const Packet& p, const Flow* f) {
  if (!f || p.payload_len == 0 || (p.fragment && !p.first_fragment)) return;
  if (p.proto != kProtoUdp && p.proto != kProtoTcp) return;
  if (f->directionOf(p) != Direction::DstToSrc) return;
  const bool dns_port = f->dst_port == 53;
  const bool dns_flow = f->cls.l7_protocol == "DNS" && f->cls.confidence == Confidence::Dpi;
  if (!dns_port && !dns_flow) return;
  config_.hints->learnDns(f->src, {p.payload, p.payload_len}, p.proto == kProtoTcp, p.ts);
}

// The packet that opens a connection: a client SYN, the first datagram.
bool Pipeline::isOpening(const Flow& f, const Packet& p) {
  if (f.directionOf(p) != Direction::SrcToDst) return false;  // the capture began mid-handshake
  if (p.proto == kProtoTcp) return (p.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
  return p.proto == kProtoUdp || p.proto == kProtoSctp;
}

// The opening packet of a new flow: what do the hints know about its server?
void Pipeline::earlyAnswer(Flow& f, const Packet& p) {
  std::optional<EarlyAnswer> a = config_.hints->lookup(f.src, ServerKey{f.dst, f.dst_port, f.proto}, p.ts);
  if (!a) return;
  if (a->application.empty() && !a->hostname.empty()) {
    // The classifier's host rules, then the catalog (same precedence as for
    // a name DPI reads: core/app_refine.h).
    Classification c;
    classifier_.matchHostname(a->hostname, c);
    if (const catalog::Catalog* cat = currentCatalog())
      refineWithCatalog(*cat, c, RefineInput{.name = a->hostname, .server = nullptr, .server_port = 0,
                                             .classifier = &classifier_});
    if (!c.application.empty() && !isGenericApplication(c)) {
      a->application = std::move(c.application);
      a->category = std::move(c.category);
    }
  }
  f.early = std::make_unique<EarlyAnswer>(std::move(*a));
  ++counters_.early_answers;
  applyEarly(f);
}

// Until DPI recognises the flow itself, the early answer is the flow's
// classification (a port guess is worth less than the name the client
// resolved).
void Pipeline::applyEarly(Flow& f) {
  if (!f.early || f.cls.confidence == Confidence::Dpi) return;
  const EarlyAnswer& e = *f.early;
  if (!e.application.empty()) f.cls.application = e.application;
  if (!e.l7_protocol.empty()) f.cls.l7_protocol = e.l7_protocol;
  if (!e.category.empty()) f.cls.category = e.category;
  f.cls.confidence = e.source;
  f.cls.app_source = e.source == Confidence::Cache ? AppSource::Cache : AppSource::Dns;
}

const catalog::Catalog* Pipeline::currentCatalog() {
  if (!config_.catalog) return nullptr;
  const uint64_t g = config_.catalog->generation();
  if (g != catalog_generation_) {
    catalog_ = config_.catalog->get();
    catalog_generation_ = g;
  }
  return catalog_.get();
}

// When inspection ends (endInspection), and on each inspected packet once the
// classification is settled: the policy reads an application only then
// (policy/flow_facts.h, kPendingClassification), so refining earlier would
// only cost. Idempotent.
void Pipeline::refine(Flow& f, bool final) {
  // An early answer went through the catalog already (earlyAnswer()).
  if (f.cls.confidence == Confidence::Dns || f.cls.confidence == Confidence::Cache) return;
  const catalog::Catalog* cat = currentCatalog();
  if (!cat) return;
  std::string_view name = f.cls.hostname;
  if (name.empty() && f.early) name = f.early->hostname;
  refineWithCatalog(*cat, f.cls, RefineInput{.name = name, .server = final ? &f.dst : nullptr,
                                             .server_port = f.dst_port, .classifier = &classifier_});
}

// The name DPI read for the server, verified or not (core/name_check.h). A
// verified name stays verified; an unverified one is checked again as more
// arrives (the certificate, the DNS answer of a slow resolver).
void Pipeline::checkName(Flow& f, Timestamp now) {
  NameProof& proof = f.cls.name_proof;
  if (proof != NameProof::None && proof != NameProof::Unverified) return;
  proof = verifyName(f, config_.hints, config_.app_ranges, now);
}

void Pipeline::endInspection(Flow& f, bool final_answer) {
  refine(f, true);
  if (f.cls.app_source == AppSource::Catalog) ++counters_.catalog_refined;
  checkName(f, f.last_seen);
  if (f.early) {
    EarlyAnswer& e = *f.early;
    if (f.cls.confidence == Confidence::Dpi) {
      // The application is what the early answer claimed; a different
      // hostname alone is no contradiction (the name a client resolved and
      // the SNI it sends often differ: CNAMEs, shared front ends), and the
      // record shows both (dns_hostname, hostname).
      e.detection_updated = !e.application.empty() && !iequalsAscii(e.application, f.cls.application);
      if (e.detection_updated) ++counters_.detection_updated;
    } else if (e.source == Confidence::Dns) {
      applyEarly(f);  // the name this client resolved beats a port guess
    } else if (f.cls.confidence == e.source) {
      // A learned server's answer is not this flow's final classification:
      // it may have routed the flow from its first packet, it never blocks
      // it. Still standing in (the classifier left it): withdraw it.
      f.cls.application = f.cls.l7_protocol = "Unknown";
      f.cls.category.clear();
      f.cls.confidence = Confidence::Unknown;
    }
  }
  if (config_.hints && f.cls.confidence == Confidence::Dpi) config_.hints->learnFlow(f, f.last_seen);
  f.classified = true;
  f.inspection.reset();  // free the DPI state as soon as the answer is in
  ++(final_answer ? counters_.classified_final : counters_.classified_giveup);
  sink_.onClassified(f);
}

void Pipeline::stopInspection(Flow& f) {
  if (!f.classified) endInspection(f, f.cls.confidence == Confidence::Dpi);
}

void Pipeline::onEnd(Flow& f, EndReason reason) {
  if (!f.classified) {
    classifier_.giveUp(f);
    endInspection(f, false);
  }
  ++counters_.flows_ended;
  sink_.onFlowEnd(f, reason);
}

void Pipeline::maybeExpire() {
  const Timestamp now = clock_.now();
  if (now < next_expiry_) return;
  next_expiry_ = now + kSecond;
  expireIdle();
}

void Pipeline::expireIdle() {
  const Timestamp now = clock_.now();
  table_.expire(now, [this](Flow& f, EndReason why) { onEnd(f, why); });
  std::erase_if(fragments_,
                [&](const auto& e) { return now - e.second.seen > config_.fragment_timeout; });
}

void Pipeline::finish(EndReason reason) {
  table_.drain(reason, [this](Flow& f, EndReason why) { onEnd(f, why); });
  fragments_.clear();
}

size_t Pipeline::FragKeyHash::operator()(const FragKey& k) const noexcept {
  FlowKey fk{.a = k.src, .b = k.dst, .a_port = static_cast<uint16_t>(k.id >> 16),
             .b_port = static_cast<uint16_t>(k.id), .proto = k.proto, .vlan = 0};
  return FlowKeyHash{}(fk);
}

}  // namespace fg::core
