// Classifier: the seam between the flow core and a DPI engine.
//
// The pipeline calls begin() once for a new flow, inspect() for each of its
// packets until inspect() says the classification is final or the packet
// budget is reached, then giveUp() if it never became final. The classifier
// writes its findings into flow.cls and keeps its per-flow working state in
// flow.inspection, which the pipeline destroys as soon as inspection ends.
// One Classifier instance per worker thread; implementations need not be
// thread-safe. Implementations must never throw on packet data.
#pragma once

#include <memory>
#include <string_view>

#include "gateway/core/flow.h"

namespace fg::core {

class Classifier {
 public:
  virtual ~Classifier() = default;

  // Allocates the per-flow working state for a new flow. May return nullptr
  // (e.g. allocation failure): the flow is then left unclassified.
  virtual std::unique_ptr<FlowInspection> begin(const Flow& flow) = 0;

  // Feeds one packet of `flow` (flow.inspection is the state from begin()).
  // Returns true once flow.cls is final and no further packet would add to it.
  virtual bool inspect(Flow& flow, const Packet& packet, Direction dir) = 0;

  // Inspection stops without a final answer (budget reached, flow ended):
  // fill flow.cls with the best guess and set its confidence.
  virtual void giveUp(Flow& flow) = 0;

  // What the classifier's own host rules say about `hostname` alone (no
  // traffic seen): fills out.application, l7_protocol and category and
  // returns true when a rule matches. Used for first-packet answers from
  // the DNS hint cache. Classifiers without host rules know nothing.
  virtual bool matchHostname(std::string_view hostname, Classification& out) {
    (void)hostname;
    (void)out;
    return false;
  }
};

}  // namespace fg::core
