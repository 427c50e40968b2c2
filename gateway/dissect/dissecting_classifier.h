// DissectingClassifier: flowgate's own dissectors (dissect.h) around another
// core::Classifier (in production nDPI 4.2's).
//
// It forwards begin/inspect/giveUp/matchHostname to the inner classifier
// and runs the dissectors over the same packets, for the first
// kDissectWindow packets with payload, while the inner answer is none or
// generic. A dissector's answer meets the inner one by these rules
// (docs/dissectors.md, "Precedence"):
//   1. inner has no answer, or only a guess (port, address): the dissector's
//      answer stands (master, application, category);
//   2. inner recognised a generic protocol from the traffic (TLS, DTLS,
//      QUIC, HTTP, DNS, STUN, RTP, ...) with no application of its own: the
//      dissector's answer stands;
//   3. inner recognised a specific application from the traffic: it stays,
//      unless the dissector names an application inside the same master
//      protocol from the message itself (a STUN realm, Microsoft's STUN
//      attributes): then that application replaces the inner one;
//   4. a hostname from a dissector (QUIC SNI, STUN realm) fills an empty
//      hostname only; when the answer names no application, the inner
//      classifier's host rules (matchHostname) may name it;
//   5. a tentative answer (the protocol recognised, its application maybe
//      still to come) counts only under rule 1, when the window closes.
// While a dissector still waits for a packet, a final inner answer that is
// generic does not end inspection; the window bounds the wait.
//
// Not thread-safe (one per worker, like the inner classifier). Never throws
// on packet data.
#pragma once

#include <memory>

#include "gateway/core/classifier.h"
#include "gateway/dissect/dissect.h"

namespace fg::dissect {

class DissectingClassifier final : public core::Classifier {
 public:
  // Packets with payload the dissectors look at per flow, at most.
  static constexpr uint16_t kDissectWindow = 12;

  explicit DissectingClassifier(std::unique_ptr<core::Classifier> inner);

  // core::Classifier
  std::unique_ptr<core::FlowInspection> begin(const core::Flow& flow) override;
  bool inspect(core::Flow& flow, const core::Packet& packet, core::Direction dir) override;
  void giveUp(core::Flow& flow) override;
  bool matchHostname(std::string_view hostname, core::Classification& out) override;

  // Flows whose label a dissector set (or refined), per dissector.
  const uint64_t* answers() const { return answers_; }

 private:
  void apply(core::Flow& flow, const Answer& a, bool tentative);

  std::unique_ptr<core::Classifier> inner_;
  uint64_t answers_[static_cast<size_t>(Id::Count)] = {};
};

// Whether `name` (an nDPI protocol name) says only how the bytes travel,
// not which application sent them (rule 2 above).
bool isGenericProtocol(std::string_view name);
// Whether a dissector names applications inside protocol `master` from its
// messages (rule 3): STUN (realms, Microsoft's attributes).
bool refinesApplications(std::string_view master);

}  // namespace fg::dissect
