// pipeline_fuzz: arbitrary packets through the whole offline/inline engine.
//
// Input (fuzz_common.h framing): header byte, then frames whose tag is the
// time step before the packet (tag < 0xf0: tag ms; else (tag - 0xef) minutes,
// so idle expiry and the FIN/RST linger run too).
//
//   header bit 7 clear: core::Pipeline over link type (header & 7) % 6, with
//     the real nDPI classifier; every classified flow is turned into
//     FlowFacts and evaluated against the fixed policy (index and linear
//     scan must agree), its decision and flow_end records are encoded.
//   header bit 7 set: core::Engine (the inline verdict engine) fed the frames
//     as raw IP packets, as NFQUEUE delivers them; every packet also goes
//     through rewriteAsTcpReset (which may refuse, but must not crash).
//
// A small flow table (16 flows) and fragment table make eviction and the
// fragment limits reachable. One nDPI module per process (creating one costs
// ~16 ms); see docs/fuzzing.md for what that means for determinism.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "fuzz/fuzz_common.h"
#include "fuzz/fuzz_policy.h"
#include "gateway/core/engine.h"
#include "gateway/core/pipeline.h"
#include "gateway/core/tcp_reset.h"
#include "gateway/dpi/ndpi_catalog.h"
#include "gateway/dissect/dissecting_classifier.h"
#include "gateway/dpi/ndpi_classifier.h"
#include "gateway/output/record_json.h"

namespace fg::fuzz {
namespace {

constexpr core::Timestamp kStart = 1705320000LL * core::kSecond;

core::Timestamp stepOf(uint8_t tag) {
  if (tag < 0xf0) return tag * core::kSecond / 1000;
  return (tag - 0xef) * 60 * core::kSecond;
}

// Small tables so eviction paths run; the hints are shared like the
// daemon's (each input gets fresh ones: no state across inputs).
core::PipelineConfig smallPipeline(core::Hints* hints) {
  core::PipelineConfig c;
  c.table.max_flows = 16;
  c.packet_budget = 24;
  c.max_fragment_entries = 8;
  c.hints = hints;
  return c;
}

core::HintsConfig smallHints() {
  core::HintsConfig h;
  h.dns.max_entries = 8;
  h.learned_entries = 8;
  return h;
}

struct Shared {
  Shared() : catalog(dpi::ndpiNameCatalog()), holder(policy::LoadOptions{.catalog = &catalog}) {
    loadFixedPolicy(holder);
  }
  policy::NameCatalog catalog;
  policy::PolicyHolder holder;
  dissect::DissectingClassifier classifier{std::make_unique<dpi::NdpiClassifier>()};
};

Shared& shared() {
  static Shared s;
  return s;
}

const core::PacketContext kContext{.mark = 0x00000001u, .in_ifindex = 2,
                                   .in_interface = "lan0", .out_interface = "wan0"};

// Pipeline mode: evaluates the policy where the engine would (classification
// final or given up) and encodes every record a flow produces.
class EvaluatingSink final : public core::FlowEventSink {
 public:
  explicit EvaluatingSink(const policy::PolicySet& p) : policy_(p) {}

  // core::FlowEventSink
  void onClassified(const core::Flow& flow) override {
    const policy::FlowFacts facts = core::Engine::factsOf(flow, kContext);
    checkSameDecision(policy_, facts, fixedNow());
    const policy::Decision d = policy_.evaluate(facts, fixedNow());
    sink(output::encodeLine(output::decisionRecord(flow, d, policy_, flow.last_seen,
                                                   kContext.in_interface, kContext.out_interface)));
  }
  void onFlowEnd(const core::Flow& flow, core::EndReason reason) override {
    sink(output::encodeLine(output::flowRecord(flow, "flow_end", flow.last_seen, reason)));
  }

 private:
  static void sink(const std::string& line) {
    if (line.empty()) __builtin_trap();  // a record is never empty
  }
  const policy::PolicySet& policy_;
};

// What the worker does with a decision: encode its record.
void encodeDecision(const core::DecisionEvent& e) {
  (void)output::encodeLine(output::decisionRecord(*e.flow, e.decision, *e.policy, e.flow->last_seen,
                                                  kContext.in_interface, kContext.out_interface));
}

void runPipeline(core::LinkType link, FrameReader frames) {
  Shared& s = shared();
  const auto policy = s.holder.current();
  core::ManualClock clock;
  clock.advanceTo(kStart);
  EvaluatingSink sink(*policy);
  core::Hints hints(smallHints());
  core::Pipeline pipeline(smallPipeline(&hints), s.classifier, clock, sink);
  Frame f;
  while (frames.next(f)) {
    clock.advanceTo(clock.now() + stepOf(f.tag));
    (void)pipeline.step(link, f.bytes, clock.now());
  }
  pipeline.finish();
  (void)output::encodeLine(output::statsRecord(pipeline.counters(), pipeline.table().counters(),
                                               clock.now()));
}

void runEngine(FrameReader frames) {
  Shared& s = shared();
  core::ManualClock clock;
  clock.advanceTo(kStart);
  core::Hints hints(smallHints());
  core::Engine engine(core::EngineConfig{.pipeline = smallPipeline(&hints), .marks = {}}, s.classifier,
                      clock, s.holder);
  std::vector<uint8_t> reset;
  Frame f;
  while (frames.next(f)) {
    clock.advanceTo(clock.now() + stepOf(f.tag));
    // Odd tags: a packet the kernel queued with the decided bit (the DNS
    // observation rule): only observed.
    core::PacketContext ctx = kContext;
    if (f.tag & 1) ctx.mark = 0x80000000u;
    const core::ProcessResult r = engine.process(f.bytes, clock.now(), ctx);
    if (r.decided) encodeDecision(*r.decided);
    // The rewrite must cope with any packet, not only the deciding one (it
    // may refuse: the worker then drops the payload, see nfq/worker.cc).
    (void)core::rewriteAsTcpReset(f.bytes, reset);
  }
  (void)engine.finish(core::EndReason::Shutdown);
}

}  // namespace
}  // namespace fg::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fg;
  if (size < 1) return 0;
  const uint8_t header = data[0];
  fuzz::FrameReader frames(std::span<const uint8_t>(data + 1, size - 1));
  if (header & 0x80) {
    fuzz::runEngine(frames);
  } else {
    fuzz::runPipeline(static_cast<core::LinkType>((header & 7) % 6), frames);
  }
  return 0;
}
