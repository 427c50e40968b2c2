// NdpiClassifier: core::Classifier on nDPI 4.2 (Debian's libndpi).
//
// One instance (one nDPI detection module) per worker thread; not
// thread-safe. Per flow it allocates nDPI's flow struct in begin() and frees
// it with the FlowInspection as soon as the pipeline ends inspection.
// inspect() feeds the innermost IP packet to nDPI and reports "final" once
// nDPI has detected a protocol and has no further metadata to dissect (e.g.
// the TLS server hello with the cipher and JA3S). Metadata is copied into
// flow.cls after every packet, so a flow whose inspection is cut short still
// carries everything seen so far.
#pragma once

#include <memory>
#include <string>

#include "gateway/core/classifier.h"

struct ndpi_detection_module_struct;

namespace fg::dpi {

class NdpiClassifier final : public core::Classifier {
 public:
  NdpiClassifier();
  ~NdpiClassifier() override;
  NdpiClassifier(const NdpiClassifier&) = delete;
  NdpiClassifier& operator=(const NdpiClassifier&) = delete;

  // core::Classifier
  std::unique_ptr<core::FlowInspection> begin(const core::Flow& flow) override;
  bool inspect(core::Flow& flow, const core::Packet& packet, core::Direction dir) override;
  void giveUp(core::Flow& flow) override;
  // nDPI's host-name rules (the same ones it applies to SNI and HTTP Host).
  bool matchHostname(std::string_view hostname, core::Classification& out) override;

  // Size of nDPI's per-flow state, for memory reports.
  static size_t flowStateBytes();

 private:
  ndpi_detection_module_struct* module_;
};

}  // namespace fg::dpi
