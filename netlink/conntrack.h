// fg::nl conntrack accounting: per-flow byte/packet totals from ctnetlink.
//
// What it does: flowgate sees only the packets it queues; once a flow is
// decided, the kernel forwards the rest on the fast path (ct mark
// "decided" bit, docs/kernel.md) and flowgate never sees them. The kernel's
// conntrack accounting (nf_conntrack_acct) still counts every packet of the
// flow, in both directions. This module reads those counters:
//   * parseConntrackMessage(): one ctnetlink message (event or dump part) ->
//     CtEntry value (original tuple, CTA_ID, CTA_MARK, counters, start
//     timestamp). Pure; attributes are walked with libmnl and every known
//     attribute is length-checked, so hostile or truncated input yields
//     std::nullopt, never a crash or a half-filled entry.
//   * buildDumpRequest(): IPCTNL_MSG_CT_GET | NLM_F_DUMP as a value,
//     optionally with CTA_MARK/CTA_MARK_MASK so the kernel filters by the
//     "decided" bit itself.
//   * dumpConntrack(): sends that request on its own short-lived socket and
//     delivers every entry (multi-part reply until NLMSG_DONE).
//   * ConntrackEvents: a NETLINK_NETFILTER socket subscribed to the
//     conntrack multicast groups (DESTROY, optionally NEW/UPDATE) whose
//     poll() delivers parsed events. A DESTROY event carries the flow's final
//     counters (when accounting was on at the flow's creation).
//   * ensureAccounting()/ensureTimestamps(): switch the per-netns sysctls on.
//
// Matching: flowgate's FlowKey corresponds to the conntrack *original*
// tuple (the direction of the first packet, before NAT). CTA_ID identifies
// one conntrack entry for its lifetime; it is not reused while the entry lives.
//
// Events vs dumps: events are lossy. A full receive buffer makes the kernel
// drop events and report ENOBUFS on the socket; ConntrackEvents counts that
// (enobufs(), takeOverflow()) and the caller then resyncs with a dump. With
// nf_conntrack_events=2 (the default since Linux 6.0: "auto") the kernel
// allocates the event extension only for conntracks created while *some*
// listener is subscribed, so open ConntrackEvents before traffic starts.
//
// What it never does: touch the packet path, modify or delete conntrack
// entries, block without bound (every wait has a timeout), or link
// libnetfilter_conntrack (libmnl only).
//
// Threading: builders and the parser are pure and reentrant. A
// ConntrackEvents object is not thread-safe (one reader thread; fd() may be
// handed to an event loop that calls poll(0, ...) when readable).
// dumpConntrack() opens its own socket per call and may run on any thread.
//
// Error convention: fg::Result (common/result.h); errno kept in
// error().code. The parser returns std::optional (nullopt: not a conntrack
// message or malformed).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "netlink/rtnl.h"    // IpFamily
#include "netlink/socket.h"

struct nlmsghdr;

namespace fg::nl {

// Original-direction tuple. Addresses in network order; IPv4 uses the first
// 4 bytes, the rest is zero. Ports in host order; 0 for protocols without
// ports (ICMP, GRE, ...).
struct CtTuple {
  IpFamily family = IpFamily::V4;
  std::array<uint8_t, 16> src{};
  std::array<uint8_t, 16> dst{};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t l4proto = 0;  // IPPROTO_*
  bool operator==(const CtTuple&) const = default;
};

struct CtEntry {
  enum class Kind {
    New,      // event, NFNLGRP_CONNTRACK_NEW (IPCTNL_MSG_CT_NEW + NLM_F_CREATE)
    Update,   // event, NFNLGRP_CONNTRACK_UPDATE (IPCTNL_MSG_CT_NEW, no NLM_F_CREATE)
    Destroy,  // event, NFNLGRP_CONNTRACK_DESTROY (IPCTNL_MSG_CT_DELETE)
    Dump,     // reply to a GET/dump request (IPCTNL_MSG_CT_NEW + NLM_F_MULTI)
  };
  Kind kind = Kind::Dump;
  CtTuple orig{};
  uint32_t id = 0;    // CTA_ID (0 if absent)
  uint32_t mark = 0;  // CTA_MARK; events omit a zero mark, so absent = 0
  // CTA_COUNTERS_ORIG / CTA_COUNTERS_REPLY. 64-bit attributes preferred, the
  // legacy 32-bit ones accepted. has_counters is false when neither
  // direction had counters (accounting off when the flow was created).
  bool has_counters = false;
  uint64_t orig_packets = 0;
  uint64_t orig_bytes = 0;
  uint64_t reply_packets = 0;
  uint64_t reply_bytes = 0;
  // CTA_TIMESTAMP (nf_conntrack_timestamp=1 at creation): CLOCK_REALTIME ns.
  std::optional<uint64_t> start_ns{};
  std::optional<uint64_t> stop_ns{};  // destroy events only
  // CTA_PROTOINFO_TCP_STATE (TCP only; enum tcp_conntrack: 5 FIN_WAIT,
  // 6 CLOSE_WAIT, 7 LAST_ACK, 8 TIME_WAIT, 9 CLOSE). Absent in other protocols.
  std::optional<uint8_t> tcp_state{};
};

// The TCP conntrack states (enum tcp_conntrack in the kernel's uapi).
inline constexpr uint8_t kTcpStateEstablished = 3;
inline constexpr uint8_t kTcpStateLastAck = 7;
inline constexpr uint8_t kTcpStateTimeWait = 8;
inline constexpr uint8_t kTcpStateClose = 9;
// True for the states in which the connection has ended for both sides
// (LAST_ACK: both FINs sent; TIME_WAIT; CLOSE: reset or closed): no more
// payload will pass, only the kernel keeps the entry a while.
inline bool tcpConnectionOver(uint8_t state) {
  return state == kTcpStateLastAck || state == kTcpStateTimeWait || state == kTcpStateClose;
}

// Parses one ctnetlink conntrack message (NFNL_SUBSYS_CTNETLINK,
// IPCTNL_MSG_CT_NEW or IPCTNL_MSG_CT_DELETE). Precondition: `nlh` points to
// at least nlh->nlmsg_len readable bytes (as mnl_nlmsg_ok() guarantees).
// nullopt for other message types, a missing/incomplete original tuple, a
// known attribute of the wrong size, or attributes overrunning the message.
// Unknown attributes are ignored (newer kernels add some).
[[nodiscard]] std::optional<CtEntry> parseConntrackMessage(const nlmsghdr* nlh);

// Kernel-side dump filter: entries with (ct mark & mask) == value.
struct CtMarkFilter {
  uint32_t value = 0;
  uint32_t mask = 0xffffffff;
};

// IPCTNL_MSG_CT_GET with NLM_F_REQUEST | NLM_F_DUMP. family nullopt dumps
// both (AF_UNSPEC). With `mark`, CTA_MARK + CTA_MARK_MASK (the kernel
// filters in ctnetlink_dump_table(); value bits outside mask never match).
// nlmsg_pid 0, nlmsg_seq = seq.
[[nodiscard]] std::vector<uint8_t> buildDumpRequest(std::optional<IpFamily> family, uint32_t seq,
                                                    std::optional<CtMarkFilter> mark = std::nullopt);

using CtCallback = std::function<void(const CtEntry&)>;

struct CtDumpOptions {
  std::optional<IpFamily> family{};       // nullopt: IPv4 and IPv6
  std::optional<CtMarkFilter> mark{};     // nullopt: every entry
  int timeout_ms = 5000;                  // bound on each wait for the next reply part
};

// Dumps the conntrack table of the caller's network namespace on a fresh
// socket and calls `cb` for every entry (Kind::Dump), in kernel order.
// Returns the number of entries delivered; entries the parser rejects are
// skipped (not counted). Error: the socket errno, the kernel's NLMSG_ERROR
// errno (e.g. EPERM without CAP_NET_ADMIN), ETIMEDOUT when the kernel stops
// answering before NLMSG_DONE. `cb` runs on the calling thread and must not
// throw.
[[nodiscard]] Result<std::size_t> dumpConntrack(const CtDumpOptions& options, const CtCallback& cb);
// The brief's positional form.
[[nodiscard]] Result<std::size_t> dumpConntrack(std::optional<IpFamily> family, std::optional<CtMarkFilter> mark,
                                                const CtCallback& cb);

// Looks up each tuple's conntrack (IPCTNL_MSG_CT_GET by original tuple: a
// hash lookup in the kernel, not a table walk) on one fresh socket and calls
// `cb` for every entry found (Kind::Dump, with counters and TCP state).
// Tuples without a conntrack (ENOENT: already gone) are skipped. Returns the
// number of entries delivered. Error: the socket errno, ETIMEDOUT when an
// answer does not come within timeout_ms, any other kernel error.
[[nodiscard]] Result<std::size_t> getConntracks(const std::vector<CtTuple>& tuples, const CtCallback& cb,
                                                int timeout_ms = 2000);
// IPCTNL_MSG_CT_GET for one original tuple (NLM_F_REQUEST), as a value.
[[nodiscard]] std::vector<uint8_t> buildGetRequest(const CtTuple& tuple, uint32_t seq);

class ConntrackEvents {
 public:
  // Multicast groups, as a bit set.
  static constexpr unsigned kNew = 1u << 0;
  static constexpr unsigned kUpdate = 1u << 1;
  static constexpr unsigned kDestroy = 1u << 2;
  static constexpr int kDefaultRcvbuf = 16 << 20;

  struct Options {
    unsigned groups = kDestroy;
    int rcvbuf = kDefaultRcvbuf;  // SO_RCVBUFFORCE (needs CAP_NET_ADMIN), else SO_RCVBUF
  };

  // Opens a NETLINK_NETFILTER socket, joins the groups (needs CAP_NET_ADMIN:
  // EPERM otherwise) and sizes the receive buffer. Subscribing makes the
  // kernel (nf_conntrack_events=2) generate events for conntracks created
  // from now on.
  [[nodiscard]] static Result<ConntrackEvents> open(Options options);
  [[nodiscard]] static Result<ConntrackEvents> open() { return open(Options{}); }

  ConntrackEvents(ConntrackEvents&&) noexcept = default;
  ConntrackEvents& operator=(ConntrackEvents&&) noexcept = default;
  ConntrackEvents(const ConntrackEvents&) = delete;
  ConntrackEvents& operator=(const ConntrackEvents&) = delete;
  ~ConntrackEvents() = default;

  // Waits up to timeout_ms (0: do not wait, <0: forever) for the socket to
  // become readable, then drains what is queued (non-blocking) and calls `cb`
  // for each parsed event. Returns the number delivered (0 on timeout).
  // ENOBUFS from the socket is not an error: it is counted (enobufs(),
  // takeOverflow()) and draining continues; the events lost are gone, so
  // the caller must resync with dumpConntrack(). Messages the parser rejects
  // are counted in malformed(). Error: any other recv/poll errno.
  [[nodiscard]] Result<std::size_t> poll(int timeout_ms, const CtCallback& cb);

  int fd() const { return sock_.fd(); }
  // Receive buffer the kernel actually granted (getsockopt SO_RCVBUF).
  int rcvbuf() const;
  uint64_t enobufs() const { return enobufs_; }
  uint64_t malformed() const { return malformed_; }
  // True once after one or more ENOBUFS since the last call: resync now.
  bool takeOverflow() {
    const bool o = overflow_;
    overflow_ = false;
    return o;
  }

 private:
  explicit ConntrackEvents(NlSocket sock) : sock_(std::move(sock)), rx_(kRxBytes) {}
  static constexpr std::size_t kRxBytes = 1 << 16;

  NlSocket sock_;
  std::vector<uint8_t> rx_;
  uint64_t enobufs_ = 0;
  uint64_t malformed_ = 0;
  bool overflow_ = false;
};

inline constexpr const char* kConntrackAcctSysctl = "/proc/sys/net/netfilter/nf_conntrack_acct";
inline constexpr const char* kConntrackTimestampSysctl = "/proc/sys/net/netfilter/nf_conntrack_timestamp";

// Sets nf_conntrack_acct to 1 if it is 0; true if it changed it. The sysctl
// is per network namespace (resolved through the caller's /proc/sys view)
// and is read when a conntrack is *created*: flows that already exist stay
// uncounted (no counters in dumps or destroy events) until they end.
// Error: ENOENT (nf_conntrack not loaded), EACCES/EROFS (not privileged),
// EINVAL (content not a number). `path` is a seam for tests.
[[nodiscard]] Result<bool> ensureAccounting(const std::string& path = kConntrackAcctSysctl);
// Same for nf_conntrack_timestamp (CTA_TIMESTAMP start/stop times).
[[nodiscard]] Result<bool> ensureTimestamps(const std::string& path = kConntrackTimestampSysctl);

}  // namespace fg::nl
