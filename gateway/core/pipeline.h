// Pipeline: one step per packet, whatever the input (capture file, NFQUEUE).
//
//   decode -> flow lookup/create -> counters + TCP state -> classify -> events
//
// The pipeline owns a FlowTable and borrows a Classifier, a Clock and a
// FlowEventSink. Events go to the sink synchronously: onClassified() once per
// flow when its classification becomes final (or is given up), onFlowEnd()
// when the flow ends (FIN/RST linger elapsed, idle, evicted, end of input).
// Expiry runs from step() at most once per clock second, using clock.now().
// Not thread-safe: one pipeline per worker. Never throws on packet data.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>

#include "catalog/catalog.h"
#include "gateway/core/classifier.h"
#include "gateway/core/clock.h"
#include "gateway/core/flow_table.h"
#include "gateway/core/hints.h"
#include "gateway/core/packet.h"

namespace fg::core {

class AppRanges;  // core/name_check.h

class FlowEventSink {
 public:
  virtual ~FlowEventSink() = default;
  virtual void onClassified(const Flow& flow) = 0;
  virtual void onFlowEnd(const Flow& flow, EndReason reason) = 0;
};

struct PipelineConfig {
  FlowTableConfig table;
  uint16_t packet_budget = 32;      // packets inspected per flow at most
  size_t max_fragment_entries = 4096;
  Timestamp fragment_timeout = 30 * kSecond;
  // Shared hint store (DNS answers, learned servers), or nullptr. With it,
  // the pipeline feeds DNS responses in, gives each new flow's opening
  // packet its early answer (Flow::early) and teaches it the servers DPI
  // classified. Not owned; must outlive the pipeline.
  Hints* hints = nullptr;
  // Application address ranges for name verification (core/name_check.h),
  // or nullptr (no ranges). Not owned; must outlive the pipeline.
  const AppRanges* app_ranges = nullptr;
  // The application catalog (docs/catalog.md), or nullptr for the
  // classifier's answers alone. The pipeline refines each flow's answer with
  // it (core/app_refine.h) once, when inspection ends, and the early answers
  // from a resolved name. Its
  // snapshot is taken anew when the holder's generation changes (reload).
  // Not owned; must outlive the pipeline.
  const catalog::CatalogHolder* catalog = nullptr;
};

struct PipelineCounters {
  uint64_t packets = 0;             // every packet given to step()
  uint64_t bytes = 0;
  uint64_t decoded = 0;
  DecodeCounters decode_errors;
  uint64_t fragments = 0;
  uint64_t fragments_unmatched = 0;  // later fragments whose first never came
  uint64_t inspected_packets = 0;    // packets handed to the classifier
  uint64_t classified_final = 0;     // flows that reached a final answer
  uint64_t classified_giveup = 0;    // flows that hit the budget or ended first
  uint64_t flows_ended = 0;
  uint64_t early_answers = 0;        // new flows with an answer from the hints
  uint64_t detection_updated = 0;    // ... that DPI later contradicted
  uint64_t catalog_refined = 0;      // flows whose final application came from the catalog
};

struct StepResult {
  DecodeError error = DecodeError::None;
  Flow* flow = nullptr;              // nullptr when the packet was not decoded or matched
  Direction direction = Direction::SrcToDst;
  bool new_flow = false;
  bool classified_now = false;       // this packet completed classification
  bool icmp_error = false;           // an ICMP/ICMPv6 error (see isIcmpError)
  bool opening = false;              // new flow, and this packet opens the connection (client SYN, first datagram)
};

class Pipeline {
 public:
  Pipeline(PipelineConfig config, Classifier& classifier, const Clock& clock,
           FlowEventSink& sink);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Decodes and processes one frame captured on a `link` interface.
  // `create` false: a packet of no tracked flow is only observed (DNS
  // answers learned) and creates no flow (r.flow is nullptr).
  StepResult step(LinkType link, std::span<const uint8_t> frame, Timestamp ts, bool create = true);
  // Processes an already decoded packet.
  StepResult step(const Packet& packet, bool create = true);

  // Ends inspection of `flow` now (e.g. the policy decided early): frees the
  // classifier state and reports the flow classified with what it has.
  void stopInspection(Flow& flow);

  // Re-files `flow` under its current timeout class (e.g. once decided).
  void touch(Flow& flow) { table_.touch(flow, flow.last_seen); }

  // Expires idle flows at clock.now() now (step() also does this each second).
  void expireIdle();
  // Ends every flow (gives up inspection where needed) with `reason`.
  void finish(EndReason reason = EndReason::EndOfInput);

  const PipelineCounters& counters() const { return counters_; }
  const FlowTable& table() const { return table_; }

 private:
  struct FragKey {
    IpAddress src, dst;
    uint32_t id;
    uint8_t proto;
    friend bool operator==(const FragKey&, const FragKey&) = default;
  };
  struct FragKeyHash {
    size_t operator()(const FragKey& k) const noexcept;
  };
  struct FragEntry {
    FlowKey flow;
    Timestamp seen;
  };

  Flow* flowFor(const Packet& p, StepResult& r, bool create);
  void learnDns(const Packet& p, const Flow* f);
  static bool isOpening(const Flow& f, const Packet& p);
  void earlyAnswer(Flow& f, const Packet& p);
  void applyEarly(Flow& f);
  void checkName(Flow& f, Timestamp now);
  void updateTcp(Flow& f, const Packet& p, Direction dir);
  void classify(Flow& f, const Packet& p, Direction dir, StepResult& r);
  void endInspection(Flow& f, bool final_answer);
  // The catalog snapshot to use now (nullptr: none configured or loaded).
  const catalog::Catalog* currentCatalog();
  // Applies the catalog to f.cls (see core/app_refine.h); `final` also
  // consults the server address.
  void refine(Flow& f, bool final);
  void onEnd(Flow& f, EndReason reason);
  void unreachable(const Packet& icmp_error);
  void maybeExpire();

  PipelineConfig config_;
  Classifier& classifier_;
  const Clock& clock_;
  FlowEventSink& sink_;
  FlowTable table_;
  std::unordered_map<FragKey, FragEntry, FragKeyHash> fragments_;
  Timestamp next_expiry_ = 0;
  PipelineCounters counters_;
  std::shared_ptr<const catalog::Catalog> catalog_;
  uint64_t catalog_generation_ = UINT64_MAX;
};

}  // namespace fg::core
