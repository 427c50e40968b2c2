// Engine: the inline verdict engine of one worker. Pure (no kernel headers):
// raw IP packet + context in, PacketVerdict out, so it is tested without root.
//
//   packet -> Pipeline::step (decode, flow, classify)
//          -> while the flow is undecided: FlowFacts -> PolicySet::evaluate
//          -> once the decision is final (the policy says no pending
//             metadata can change it, or classification ended: final answer,
//             packet budget, flow end): the flow is decided, inspection stops,
//             the decision is returned (ProcessResult::decided: the worker
//             turns it into set additions and an event)
//          -> PacketVerdict: accept, with the flow's mark bits once decided.
//
// Every verdict is "accept": a blocked flow is marked (decided + drop or
// reject bit) and flowgate's nft table drops or rejects the packet in the
// kernel (the reject statement is only valid in forward/input chains, and
// the conntrack mark then blocks the rest of the flow without userspace).
// The kernel's reject answers the packet's sender; when the deciding packet
// of a rejected TCP flow comes from the server, the engine also asks for it
// to be delivered as a reset to the client (PacketVerdict::rewrite_as_reset),
// so both ends are reset and the client learns it at once.
// A packet that cannot be decoded is accepted unmarked (fail-open).
//
// First-packet decisions (docs/first-packet.md): when the pipeline gives a
// new flow an early answer (DNS hint or learned server, Flow::early), the
// policy is evaluated on it at the opening packet with only the TLS
// handshake facts pending. A final drop/reject decides the flow there and
// then. A final accept marks the packet with the decision's route/class
// value bits *without* the decided bit ("provisional"): the flow stays in
// userspace, DPI confirms or corrects, and the final decision keeps the
// route the first packet took (FlowDecision::provisional_bits, route_pinned). A first packet
// that a kernel-bound set already marked (value bits in the queued mark)
// is pinned the same way. Packets queued with the decided bit (DNS answers
// of kernel-decided connections) are only observed: mark unchanged, no new
// flow.
//
// Mark layout (MarkLayout, all configurable, must not overlap): `decided`,
// `drop`, `reject` bits and `value_mask` for the policy's class/route mark
// values. Bits outside MarkLayout::all() are never changed, so flowgate
// shares the mark with other software.
//
// Threading: one Engine per worker thread. The PolicySet snapshot is read
// through PolicyHolder::current() (lock-free) once per packet.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/core/pipeline.h"
#include "policy/policy.h"

namespace fg::core {

struct MarkLayout {
  uint32_t decided = 0x80000000u;
  uint32_t drop = 0x40000000u;
  uint32_t reject = 0x20000000u;
  uint32_t value_mask = 0x0000ffffu;

  uint32_t all() const { return decided | drop | reject | value_mask; }
  // "" when the layout is usable, else what is wrong.
  std::string validate() const;
};

// What a packet gets when flowgate cannot decide it: one action per
// condition, configuration ([failure], docs/config.md), accept by default.
enum class FailureAction : uint8_t { Accept, Drop };

struct FailurePolicy {
  FailureAction queue_full = FailureAction::Accept;      // the kernel's queue is full (NFQA_CFG_F_FAIL_OPEN)
  FailureAction not_running = FailureAction::Accept;     // nothing reads the queue (the queue rule's bypass flag)
  FailureAction undecodable = FailureAction::Accept;     // the engine cannot decode the packet
  FailureAction internal_error = FailureAction::Accept;  // processing the packet failed (an exception)
};

struct EngineConfig {
  PipelineConfig pipeline;
  // The verdict of a packet the engine cannot decode (FailurePolicy::undecodable).
  FailureAction undecodable = FailureAction::Accept;
  MarkLayout marks;
  // A flow keeps the route its first packet took: a decision made later
  // changes its class and verdict but not its route bits. Required when the
  // uplinks masquerade (a translated connection cannot move to another
  // uplink); false lets a flow switch uplinks mid-flow (routed uplinks).
  bool keep_first_route = true;
};

struct PacketContext {
  uint32_t mark = 0;            // the packet's mark as queued
  uint32_t in_ifindex = 0;
  std::string_view in_interface{};   // name, "" when unknown
  std::string_view out_interface{};  // "" at prerouting (not routed yet)
};

struct PacketVerdict {
  bool accept = true;
  std::optional<uint32_t> mark;  // new packet mark; nullopt = unchanged
  // Deliver a TCP reset in place of this packet (rewriteAsTcpReset): set for
  // the server's packet that decides a `reject`, so the client is reset at
  // once; the server is reset by the kernel's reject rule at its next packet.
  bool rewrite_as_reset = false;
};

struct EngineCounters {
  uint64_t packets = 0;
  uint64_t undecodable = 0;      // given EngineConfig::undecodable, unmarked
  uint64_t evaluations = 0;
  uint64_t decided = 0;
  uint64_t decided_early = 0;    // before classification was final
  uint64_t decided_accept = 0, decided_drop = 0, decided_reject = 0;
  uint64_t after_decision = 0;   // packets of decided flows still in flight
  uint64_t resets_to_client = 0; // deciding server packets turned into resets
  uint64_t icmp_errors = 0;      // ICMP errors: accepted, never marked
  uint64_t observed = 0;         // packets of kernel-decided connections (DNS answers)
  // First-packet decisions (docs/first-packet.md)
  uint64_t early_answers = 0;        // new flows with an early answer (DNS, cache)
  uint64_t first_packet_blocked = 0; // dropped/rejected at their first packet
  uint64_t first_packet_marked = 0;  // routed/classed from their first packet
  uint64_t kernel_bound = 0;         // first packets a kernel-bound set had marked
};

// A flow decided by the packet just processed.
struct DecisionEvent {
  const Flow* flow = nullptr;  // valid until the next call into the engine
  policy::Decision decision;   // its set additions: decision.setAdditions()
  std::shared_ptr<const policy::PolicySet> policy;  // the snapshot that decided
};

// A flow that left the table (reused, evicted, expired, or at finish()).
struct EndedFlow {
  uint64_t id = 0;
  EndReason reason = EndReason::Idle;
  uint64_t packets = 0, bytes = 0;
};

// What one packet led to: its verdict, the decision it made (if any), and
// the flows the table ended on the way. A value; no callbacks.
struct ProcessResult {
  PacketVerdict verdict;
  std::optional<DecisionEvent> decided;
  std::vector<EndedFlow> ended;
};

class Engine final : private FlowEventSink {
 public:
  Engine(EngineConfig config, Classifier& classifier, const Clock& clock,
         const policy::PolicyHolder& policy);

  // One queued IP packet (starting at the IP header).
  ProcessResult process(std::span<const uint8_t> ip_packet, Timestamp ts, const PacketContext& ctx);
  // Expiry at clock time (call periodically when idle); returns the flows ended.
  std::vector<EndedFlow> expireIdle();
  std::vector<EndedFlow> finish(EndReason reason);

  const EngineCounters& counters() const { return counters_; }
  const Pipeline& pipeline() const { return pipeline_; }

  // The facts the policy sees for `flow` (exposed for tests and `flowgate
  // policy eval`-like tooling).
  static policy::FlowFacts factsOf(const Flow& flow, const PacketContext& ctx);
  // flowgate's mark bits for a decision.
  uint32_t markBits(const policy::Decision& d) const;

 private:
  // core::FlowEventSink (from the pipeline)
  void onClassified(const Flow&) override {}
  void onFlowEnd(const Flow& flow, EndReason reason) override;

  PacketVerdict step(std::span<const uint8_t> ip_packet, Timestamp ts, const PacketContext& ctx);
  void decide(Flow& flow, const policy::Decision& d, const policy::PolicySet& policy);
  // The first packet of a flow with an early answer: a verdict when the
  // policy can act on it now, nullopt to carry on as usual.
  std::optional<PacketVerdict> firstPacket(Flow& flow, const PacketContext& ctx,
                                           const policy::PolicySet& policy);
  bool pinRoute(const Flow& flow, const policy::PolicySet& policy) const;
  PacketVerdict verdictFor(const Flow& flow, const PacketContext& ctx) const;

  EngineConfig config_;
  const Clock& clock_;
  const policy::PolicyHolder& policy_;
  Pipeline pipeline_;
  EngineCounters counters_;
  // Filled during one call, returned by it.
  std::optional<DecisionEvent> decided_;
  std::shared_ptr<const policy::PolicySet> snapshot_;  // of the packet in process()
  std::vector<EndedFlow> ended_;
};

}  // namespace fg::core
