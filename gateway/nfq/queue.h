// gateway/nfq: NFQUEUE receive and verdict (libmnl + libnetfilter_queue's
// nlmsg API; no libnetfilter_queue handle API).
//
// - Messages are built as values (buildBindMessages, VerdictBatch::encode)
//   and sent by QueueSocket, so they are golden-tested without a kernel.
// - Every queued packet gets exactly one verdict, by construction: a packet is
//   entered into the worker's VerdictBatch, with the configured failure
//   verdict, before anything else looks at it; processing only overwrites
//   that entry; the batch is flushed after each receive round and from its
//   destructor. Consecutive packets with the same verdict and mark share one
//   NFQNL_MSG_VERDICT_BATCH message.
// - Queue flags: NFQA_CFG_F_FAIL_OPEN (the kernel accepts instead of dropping
//   when the queue is full) and NFQA_CFG_F_GSO (without it the kernel
//   segments every GSO superpacket for us and bulk throughput collapses).
//   NFQA_CFG_F_CONNTRACK is never requested: it needs
//   CONFIG_NETFILTER_NETLINK_GLUE_CT, which many kernels lack; decisions
//   travel in the packet mark instead (see docs/kernel.md).
// - ENOBUFS (the socket buffer overflowed; the kernel already failed those
//   packets open) is counted and receiving continues: never a stall.
// Threading: one QueueSocket per worker thread, used only by that thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "gateway/core/packet.h"

struct mnl_socket;
struct nlmsghdr;

namespace fg::nfq {

struct QueueConfig {
  uint16_t queue_num = 0;
  uint32_t max_len = 8192;             // packets the kernel holds for us
  uint32_t rcvbuf_bytes = 8u << 20;    // 8 MiB: the default drops under load
  uint32_t copy_range = 0xffff;        // bytes of each packet copied to us
  bool fail_open = true;
  bool gso = true;
  // Ask the kernel to timestamp received packets (NFQA_TIMESTAMP on every
  // queued packet, for the enqueue-to-verdict latency). The kernel stamps
  // packets only while some socket wants timestamps: the queue socket holds
  // such a socket open (one clock read per received packet, system-wide).
  bool timestamps = true;
};

enum class Verdict : uint32_t { Drop = 0, Accept = 1 };  // NF_DROP, NF_ACCEPT

// One packet as the kernel queued it. `payload` starts at the IP header and
// is valid only during the receive callback.
struct QueuedPacket {
  uint32_t id = 0;
  uint16_t hw_protocol = 0;   // ETH_P_IP / ETH_P_IPV6 (network byte order decoded)
  uint8_t hook = 0;
  uint32_t mark = 0;
  uint32_t in_ifindex = 0;
  uint32_t out_ifindex = 0;
  core::Timestamp ts = 0;     // 0 when the kernel sent no timestamp
  std::span<const uint8_t> payload;
};

// Parses one NFQNL_MSG_PACKET message; nullopt when it lacks a packet header.
std::optional<QueuedPacket> parsePacket(const nlmsghdr* nlh);

// NFQNL_MSG_CONFIG messages that bind `config.queue_num` with copy-packet
// mode, the queue length and the flags above, as one buffer of messages.
std::vector<uint8_t> buildBindMessages(const QueueConfig& config, uint32_t seq);
std::vector<uint8_t> buildUnbindMessage(uint16_t queue_num, uint32_t seq);

struct VerdictEntry {
  uint32_t id = 0;
  Verdict verdict = Verdict::Accept;
  std::optional<uint32_t> mark;  // new packet mark; nullopt = leave it
  std::vector<uint8_t> payload;  // replacement packet; empty = unchanged (never batched)
};

// The verdicts of one receive round, in packet-id order.
class VerdictBatch {
 public:
  VerdictBatch(uint16_t queue_num, VerdictEntry failure) : queue_(queue_num), failure_(failure) {}

  // Enters a packet with the failure verdict; returns the entry to overwrite.
  VerdictEntry& add(uint32_t id) {
    VerdictEntry e = failure_;
    e.id = id;
    entries_.push_back(e);
    return entries_.back();
  }
  const VerdictEntry& failure() const { return failure_; }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  std::span<const VerdictEntry> entries() const { return entries_; }

  // Encodes the entries: one VERDICT_BATCH message per run of consecutive
  // entries with equal verdict and mark (a batch verdict covers every queued
  // id up to its own, and all earlier ids already have theirs), or a plain
  // VERDICT for a run of one. Returns the number of messages.
  size_t encode(std::vector<uint8_t>& out, uint32_t seq) const;
  void clear() { entries_.clear(); }

 private:
  uint16_t queue_;
  VerdictEntry failure_;
  std::vector<VerdictEntry> entries_;
};

class QueueSocket;

// RAII for one receive round: every packet entered into batch() is sent its
// verdict when the scope ends, whatever happened in between.
class VerdictScope {
 public:
  VerdictScope(QueueSocket& socket, VerdictBatch& batch) : socket_(socket), batch_(batch) {}
  ~VerdictScope();
  VerdictScope(const VerdictScope&) = delete;
  VerdictScope& operator=(const VerdictScope&) = delete;
  VerdictBatch& batch() { return batch_; }

 private:
  QueueSocket& socket_;
  VerdictBatch& batch_;
};

struct QueueCounters {
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> verdict_messages{0};
  std::atomic<uint64_t> enobufs{0};
  std::atomic<uint64_t> send_errors{0};
  std::atomic<uint64_t> malformed{0};
};

class QueueSocket {
 public:
  // Opens a netlink socket, binds the queue with `config`. Errors name the
  // queue and the failing step (e.g. EBUSY: another program holds the queue).
  static Result<std::unique_ptr<QueueSocket>> open(const QueueConfig& config);
  ~QueueSocket();
  QueueSocket(const QueueSocket&) = delete;
  QueueSocket& operator=(const QueueSocket&) = delete;

  // Waits up to timeout_ms for packets, then takes every packet already
  // waiting (at most max_packets) without blocking again; calls on_packet for
  // each, in order. Returns the number of packets delivered. ENOBUFS is
  // counted, not returned.
  Result<size_t> receive(int timeout_ms, size_t max_packets,
                         const std::function<void(const QueuedPacket&)>& on_packet);

  // Sends the batch's verdicts (one sendmsg) and clears it.
  Result<void> sendVerdicts(VerdictBatch& batch);

  const QueueConfig& config() const { return config_; }
  QueueCounters& counters() { return counters_; }

 private:
  QueueSocket(mnl_socket* nl, QueueConfig config);
  Result<void> sendAll(std::span<const uint8_t> bytes);

  mnl_socket* nl_;
  int stamp_fd_ = -1;  // keeps the kernel's packet timestamps on (QueueConfig::timestamps)
  QueueConfig config_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1;
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> tx_;
  QueueCounters counters_;
};

}  // namespace fg::nfq
