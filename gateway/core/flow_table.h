// FlowTable: bidirectional flow lookup, idle expiry and a hard size cap.
//
// Flows live in one hash map (node-based, so Flow* stay valid until the flow
// is removed). Each flow is also on one of a few intrusive LRU lists, one per
// timeout class; each list is ordered by last activity, so expiry only looks
// at list heads (O(1) per expired flow) and the least recently used flow
// overall is the oldest of the heads. Time comes from the caller (packet
// timestamps offline, the kernel's clock inline); the table never reads a
// clock itself. Not thread-safe: one table per worker.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>

#include "gateway/core/flow.h"

namespace fg::core {

inline constexpr Timestamp kSecond = 1'000'000;

struct FlowTimeouts {
  Timestamp tcp_opening = 30 * kSecond;       // SYN seen, no reply yet
  Timestamp tcp_established = 300 * kSecond;
  Timestamp tcp_closed = 10 * kSecond;        // after FIN both ways or RST
  Timestamp udp = 60 * kSecond;
  Timestamp other = 30 * kSecond;             // ICMP and other protocols
  // Inline: a decided flow's packets bypass userspace, so its entry only
  // has to outlive the packets already queued when it was decided.
  Timestamp decided = 10 * kSecond;
};

struct FlowTableConfig {
  size_t max_flows = 1'000'000;
  FlowTimeouts timeouts;
  // Flow ids are first_id, first_id + id_step, ...: workers use
  // (first_id = index + 1, id_step = workers) so ids are unique daemon-wide.
  uint64_t first_id = 1;
  uint64_t id_step = 1;
};

struct FlowTableCounters {
  uint64_t created = 0;
  uint64_t expired = 0;  // idle timeout or closed linger elapsed
  uint64_t evicted = 0;  // removed to make room under max_flows
};

class FlowTable {
 public:
  explicit FlowTable(FlowTableConfig config);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  Flow* find(const FlowKey& key);

  // Creates a flow for `key`; when the table is full the least recently used
  // flow is first handed to `on_end(flow, EndReason::Evicted)` and removed.
  // Precondition: no flow with this key exists.
  template <typename OnEnd>
  Flow& create(const FlowKey& key, Timestamp now, OnEnd&& on_end) {
    if (map_.size() >= config_.max_flows && config_.max_flows > 0) {
      if (Flow* victim = oldest()) {
        ++counters_.evicted;
        on_end(*victim, EndReason::Evicted);
        remove(*victim);
      }
    }
    return insert(key, now);
  }

  // Marks activity: moves the flow to the tail of the list for its current
  // timeout class (call after updating TCP state).
  void touch(Flow& flow, Timestamp now);

  // Hands every flow idle past its timeout at `now` to on_end and removes it.
  template <typename OnEnd>
  void expire(Timestamp now, OnEnd&& on_end) {
    for (uint8_t l = 0; l < kLists; ++l) {
      const Timestamp timeout = timeoutOf(l);
      while (Flow* f = heads_[l]) {
        if (now - f->last_seen < timeout) break;
        ++counters_.expired;
        on_end(*f, f->tcp == TcpState::Closed ? endReasonOfClosed(*f) : EndReason::Idle);
        remove(*f);
      }
    }
  }

  // Hands every flow to on_end (e.g. at end of input) and empties the table.
  template <typename OnEnd>
  void drain(EndReason reason, OnEnd&& on_end) {
    for (uint8_t l = 0; l < kLists; ++l)
      while (Flow* f = heads_[l]) {
        on_end(*f, f->tcp == TcpState::Closed ? endReasonOfClosed(*f) : reason);
        remove(*f);
      }
  }

  void remove(Flow& flow);

  // Calls fn(const Flow&) for every flow, in no particular order.
  template <typename Fn>
  void forEach(Fn&& fn) const {
    for (const auto& [key, flow] : map_) fn(flow);
  }

  size_t size() const { return map_.size(); }
  const FlowTableCounters& counters() const { return counters_; }
  const FlowTableConfig& config() const { return config_; }

  // Approximate heap bytes per tracked flow (map node + Flow), for reports.
  static size_t bytesPerFlowEstimate();

 private:
  static constexpr uint8_t kLists = 6;
  enum List : uint8_t { TcpOpening, TcpEstablished, TcpClosed, Udp, Other, Decided };

  Flow& insert(const FlowKey& key, Timestamp now);
  uint8_t listFor(const Flow& f) const;
  Timestamp timeoutOf(uint8_t list) const;
  static EndReason endReasonOfClosed(const Flow& f) {
    return f.fin_seen == 3 ? EndReason::Fin : EndReason::Rst;
  }
  void unlink(Flow& f);
  void append(Flow& f, uint8_t list);
  Flow* oldest() const;

  FlowTableConfig config_;
  std::unordered_map<FlowKey, Flow, FlowKeyHash> map_;
  std::array<Flow*, kLists> heads_{};
  std::array<Flow*, kLists> tails_{};
  uint64_t next_id_;
  FlowTableCounters counters_;
};

}  // namespace fg::core
