#include "gateway/dissect/dissecting_classifier.h"

#include <array>
#include <new>
#include <utility>

namespace fg::dissect {
namespace {

class DissectInspection final : public core::FlowInspection {
 public:
  std::unique_ptr<core::FlowInspection> inner;
  FlowState st;
  Answer answer;  // a dissector's Match (have_answer), else the latest tentative answer
  Id who = Id::Count;
  bool have_answer = false;
  bool inner_final = false;
  bool done = false;  // the dissectors have nothing more to say
  bool counted = false;
};

DissectInspection& stateOf(core::Flow& flow) {
  return static_cast<DissectInspection&>(*flow.inspection);
}

// Runs `f` with the inner classifier's own state in flow.inspection.
template <class F>
auto withInner(core::Flow& flow, DissectInspection& w, F&& f) {
  std::unique_ptr<core::FlowInspection> outer = std::move(flow.inspection);
  flow.inspection = std::move(w.inner);
  auto r = f();
  w.inner = std::move(flow.inspection);
  flow.inspection = std::move(outer);
  return r;
}

// Whether the dissectors can still add to what the inner classifier said.
// Checked on every packet while the inner answer is not final: an nDPI
// application inside a generic protocol (QUIC/YouTube) stops the dissectors
// (no second QUIC decryption), unless a dissector can name the application
// inside that protocol from the messages themselves (rule 3).
bool dissectionWanted(const core::Classification& c) {
  if (c.confidence != core::Confidence::Dpi || c.app_source == core::AppSource::Port) return true;
  if (!isGenericProtocol(c.l7_protocol)) return false;
  return c.application == c.l7_protocol || isGenericProtocol(c.application) ||
         refinesApplications(c.l7_protocol);
}

}  // namespace

bool refinesApplications(std::string_view master) { return master == "STUN"; }

bool isGenericProtocol(std::string_view name) {
  // MDNS and LLMNR: nDPI 4.2 says so of any datagram to their ports.
  static constexpr std::array<std::string_view, 14> kGeneric{
      "", "Unknown", "TLS", "DTLS", "QUIC", "HTTP", "DNS", "MDNS", "LLMNR", "STUN", "RTP", "RTCP", "SRTP", "HTTP2"};
  for (auto g : kGeneric)
    if (g == name) return true;
  return false;
}

DissectingClassifier::DissectingClassifier(std::unique_ptr<core::Classifier> inner)
    : inner_(std::move(inner)) {}

std::unique_ptr<core::FlowInspection> DissectingClassifier::begin(const core::Flow& flow) {
  auto inner = inner_->begin(flow);
  if (!inner) return nullptr;
  auto* w = new (std::nothrow) DissectInspection;
  if (!w) return nullptr;
  w->inner = std::move(inner);
  w->done = flow.proto != core::kProtoTcp && flow.proto != core::kProtoUdp;
  return std::unique_ptr<core::FlowInspection>(w);
}

void DissectingClassifier::apply(core::Flow& flow, const Answer& a, bool tentative) {
  core::Classification& c = flow.cls;
  const bool unknown = c.l7_protocol.empty() || c.l7_protocol == "Unknown";
  const bool guessed = unknown || c.confidence != core::Confidence::Dpi || c.app_source == core::AppSource::Port;
  bool take = false;
  if (tentative) {
    take = guessed;  // rule 5
  } else if (guessed) {
    take = true;  // rule 1
  } else if (isGenericProtocol(c.l7_protocol) &&
             (c.application == c.l7_protocol || isGenericProtocol(c.application))) {
    take = true;  // rule 2
  } else {
    take = c.l7_protocol == a.l7_protocol && a.application != a.l7_protocol;  // rule 3
  }
  if (!take) return;
  c.l7_protocol.assign(a.l7_protocol);
  c.application.assign(a.application);
  c.category.assign(a.category);
  c.confidence = core::Confidence::Dpi;
  c.app_source = core::AppSource::Dissector;
  if (c.hostname.empty() && !a.hostname.empty()) c.hostname = a.hostname;
  // Rule 4: the protocol's name alone; the inner host rules may know the server.
  if (a.application == a.l7_protocol && !c.hostname.empty()) {
    core::Classification named;
    if (inner_->matchHostname(c.hostname, named) && !named.application.empty()) {
      c.application = std::move(named.application);
      if (!named.category.empty()) c.category = std::move(named.category);
    }
  }
  auto& w = stateOf(flow);
  if (!w.counted && w.who != Id::Count) {
    w.counted = true;
    ++answers_[static_cast<size_t>(w.who)];
  }
}

bool DissectingClassifier::inspect(core::Flow& flow, const core::Packet& packet, core::Direction dir) {
  DissectInspection& w = stateOf(flow);
  if (!w.inner_final)
    w.inner_final = withInner(flow, w, [&] { return inner_->inspect(flow, packet, dir); });
  if (!w.done) {
    if (!dissectionWanted(flow.cls)) {
      w.done = true;  // a specific answer: nothing for the dissectors to add
    } else {
      const PacketInfo pi{
          .payload = {packet.payload, packet.payload_len},
          .dir = dir,
          .transport = flow.proto == core::kProtoTcp ? Transport::Tcp : Transport::Udp,
          .src_port = flow.src_port,
          .dst_port = flow.dst_port,
          .payload_index = w.st.payloads,
      };
      Answer a;
      Id who = Id::Count;
      switch (dissect(pi, w.st, a, &who)) {
        case Outcome::Match:
          w.answer = std::move(a);
          w.who = who;
          w.have_answer = true;
          w.done = true;
          break;
        case Outcome::NoMatch:
          w.done = true;
          break;
        case Outcome::NeedMore:
          if (!a.l7_protocol.empty()) w.answer = std::move(a);  // tentative
          if (w.st.payloads >= kDissectWindow) w.done = true;
          break;
      }
      if (w.done) w.st.quic.reset();  // free the reassembly buffer early
    }
  }
  // The inner classifier's answer as it stands, before a dissector's goes over it.
  const bool inner_knows = flow.cls.confidence == core::Confidence::Dpi &&
                           !flow.cls.l7_protocol.empty() && flow.cls.l7_protocol != "Unknown";
  if (w.have_answer) {
    apply(flow, w.answer, false);
  } else if (w.done && !w.answer.l7_protocol.empty()) {
    apply(flow, w.answer, true);
  }
  // A dissector's answer ends inspection only where the inner classifier
  // knew nothing: one that recognised the protocol itself keeps reading its
  // metadata (a DTLS or TLS server hello) until it is final.
  return w.done && (w.inner_final || (w.have_answer && !inner_knows));
}

void DissectingClassifier::giveUp(core::Flow& flow) {
  if (!flow.inspection) {
    inner_->giveUp(flow);
    return;
  }
  DissectInspection& w = stateOf(flow);
  if (!w.inner_final)
    withInner(flow, w, [&] {
      inner_->giveUp(flow);
      return true;
    });
  if (w.have_answer) apply(flow, w.answer, false);
  else if (!w.answer.l7_protocol.empty()) apply(flow, w.answer, true);
}

bool DissectingClassifier::matchHostname(std::string_view hostname, core::Classification& out) {
  return inner_->matchHostname(hostname, out);
}

}  // namespace fg::dissect
