#include "netlink/conntrack.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace fg::nl {
namespace {

// Walks the attributes in [payload, payload+len). Returns false when the
// framing is broken: an attribute shorter than its header or running past
// the end (truncation). libmnl's mnl_attr_parse() simply stops there, which
// would turn a truncated message into a plausible but incomplete entry.
template <typename F>
bool forEachAttr(const void* payload, std::size_t len, F&& f) {
  if (len > static_cast<std::size_t>(INT32_MAX)) return false;
  const auto* base = static_cast<const char*>(payload);
  const int total = static_cast<int>(len);
  int remaining = total;
  const auto* a = reinterpret_cast<const nlattr*>(base);
  while (remaining > 0) {
    // Also rejects 1..3 trailing bytes: too short for a header, so a cut.
    if (!mnl_attr_ok(a, remaining)) return false;
    if (!f(a)) return false;
    a = mnl_attr_next(a);
    remaining = total - static_cast<int>(reinterpret_cast<const char*>(a) - base);
  }
  // remaining < 0: the last attribute's alignment padding was omitted; fine.
  return true;
}

template <typename F>
bool forEachNested(const nlattr* nest, F&& f) {
  if (mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0) return false;
  return forEachAttr(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), std::forward<F>(f));
}

bool getBe16(const nlattr* a, uint16_t& out) {
  if (mnl_attr_validate(a, MNL_TYPE_U16) < 0) return false;
  out = ntohs(mnl_attr_get_u16(a));
  return true;
}
bool getBe32(const nlattr* a, uint32_t& out) {
  if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return false;
  out = ntohl(mnl_attr_get_u32(a));
  return true;
}
bool getBe64(const nlattr* a, uint64_t& out) {
  if (mnl_attr_validate(a, MNL_TYPE_U64) < 0) return false;
  uint64_t v;
  std::memcpy(&v, mnl_attr_get_payload(a), sizeof v);  // payload may be only 4-byte aligned
  out = be64toh(v);
  return true;
}

struct TupleParts {
  std::optional<IpFamily> src_family, dst_family;
  bool have_proto = false;
  CtTuple t;
};

bool parseTupleIp(const nlattr* nest, TupleParts& p) {
  return forEachNested(nest, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case CTA_IP_V4_SRC:
      case CTA_IP_V4_DST: {
        if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return false;
        auto& dst = mnl_attr_get_type(a) == CTA_IP_V4_SRC ? p.t.src : p.t.dst;
        auto& fam = mnl_attr_get_type(a) == CTA_IP_V4_SRC ? p.src_family : p.dst_family;
        dst.fill(0);
        std::memcpy(dst.data(), mnl_attr_get_payload(a), 4);
        fam = IpFamily::V4;
        return true;
      }
      case CTA_IP_V6_SRC:
      case CTA_IP_V6_DST: {
        if (mnl_attr_validate2(a, MNL_TYPE_BINARY, 16) < 0) return false;
        auto& dst = mnl_attr_get_type(a) == CTA_IP_V6_SRC ? p.t.src : p.t.dst;
        auto& fam = mnl_attr_get_type(a) == CTA_IP_V6_SRC ? p.src_family : p.dst_family;
        std::memcpy(dst.data(), mnl_attr_get_payload(a), 16);
        fam = IpFamily::V6;
        return true;
      }
      default: return true;
    }
  });
}

bool parseTupleProto(const nlattr* nest, TupleParts& p) {
  return forEachNested(nest, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case CTA_PROTO_NUM:
        if (mnl_attr_validate(a, MNL_TYPE_U8) < 0) return false;
        p.t.l4proto = mnl_attr_get_u8(a);
        p.have_proto = true;
        return true;
      case CTA_PROTO_SRC_PORT: return getBe16(a, p.t.src_port);
      case CTA_PROTO_DST_PORT: return getBe16(a, p.t.dst_port);
      default: return true;  // ICMP id/type/code: not part of flowgate's key
    }
  });
}

std::optional<CtTuple> parseTuple(const nlattr* nest) {
  TupleParts p;
  const bool ok = forEachNested(nest, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case CTA_TUPLE_IP: return parseTupleIp(a, p);
      case CTA_TUPLE_PROTO: return parseTupleProto(a, p);
      default: return true;  // CTA_TUPLE_ZONE
    }
  });
  if (!ok || !p.src_family || !p.dst_family || *p.src_family != *p.dst_family || !p.have_proto)
    return std::nullopt;
  p.t.family = *p.src_family;
  return p.t;
}

struct Counters {
  std::optional<uint64_t> packets, bytes;
};

bool parseCounters(const nlattr* nest, Counters& c) {
  std::optional<uint64_t> p64, b64, p32, b32;
  const bool ok = forEachNested(nest, [&](const nlattr* a) {
    uint64_t v64 = 0;
    uint32_t v32 = 0;
    switch (mnl_attr_get_type(a)) {
      case CTA_COUNTERS_PACKETS: if (!getBe64(a, v64)) return false; p64 = v64; return true;
      case CTA_COUNTERS_BYTES: if (!getBe64(a, v64)) return false; b64 = v64; return true;
      case CTA_COUNTERS32_PACKETS: if (!getBe32(a, v32)) return false; p32 = v32; return true;
      case CTA_COUNTERS32_BYTES: if (!getBe32(a, v32)) return false; b32 = v32; return true;
      default: return true;  // CTA_COUNTERS_PAD
    }
  });
  if (!ok) return false;
  c.packets = p64 ? p64 : p32;
  c.bytes = b64 ? b64 : b32;
  // Half a counter pair is a malformed nest, not "no counters".
  return c.packets.has_value() == c.bytes.has_value();
}

bool parseTimestamp(const nlattr* nest, CtEntry& e) {
  return forEachNested(nest, [&](const nlattr* a) {
    uint64_t v = 0;
    switch (mnl_attr_get_type(a)) {
      case CTA_TIMESTAMP_START: if (!getBe64(a, v)) return false; e.start_ns = v; return true;
      case CTA_TIMESTAMP_STOP: if (!getBe64(a, v)) return false; e.stop_ns = v; return true;
      default: return true;  // CTA_TIMESTAMP_PAD
    }
  });
}

bool parseProtoInfo(const nlattr* nest, CtEntry& e) {
  return forEachNested(nest, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) != CTA_PROTOINFO_TCP) return true;  // DCCP, SCTP
    return forEachNested(a, [&](const nlattr* t) {
      if (mnl_attr_get_type(t) != CTA_PROTOINFO_TCP_STATE) return true;  // window scale, flags
      if (mnl_attr_validate(t, MNL_TYPE_U8) < 0) return false;
      e.tcp_state = mnl_attr_get_u8(t);
      return true;
    });
  });
}

uint8_t afOf(std::optional<IpFamily> f) {
  if (!f) return AF_UNSPEC;
  return *f == IpFamily::V4 ? AF_INET : AF_INET6;
}

void setBuffer(int fd, int opt_force, int opt, int bytes) {
  // *FORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; fall back.
  if (setsockopt(fd, SOL_SOCKET, opt_force, &bytes, sizeof bytes) < 0)
    (void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

}  // namespace

std::optional<CtEntry> parseConntrackMessage(const nlmsghdr* nlh) {
  if (nlh == nullptr || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return std::nullopt;
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK) return std::nullopt;
  CtEntry e;
  switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case IPCTNL_MSG_CT_DELETE: e.kind = CtEntry::Kind::Destroy; break;
    case IPCTNL_MSG_CT_NEW:
      // ctnetlink_fill_info() sets NLM_F_MULTI on every reply to a request
      // (portid != 0); events come from ctnetlink_conntrack_event(), which
      // sets NLM_F_CREATE|NLM_F_EXCL for IPCT_NEW and no flags for updates.
      if (nlh->nlmsg_flags & NLM_F_MULTI) e.kind = CtEntry::Kind::Dump;
      else if (nlh->nlmsg_flags & NLM_F_CREATE) e.kind = CtEntry::Kind::New;
      else e.kind = CtEntry::Kind::Update;
      break;
    default: return std::nullopt;
  }

  std::optional<CtTuple> orig;
  bool orig_seen = false;
  Counters co, cr;
  bool co_seen = false, cr_seen = false;
  const auto* payload = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + MNL_ALIGN(sizeof(nfgenmsg));
  const std::size_t len = nlh->nlmsg_len - mnl_nlmsg_size(sizeof(nfgenmsg));
  const bool ok = forEachAttr(payload, len, [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case CTA_TUPLE_ORIG:
        if (orig_seen) return false;  // duplicate: ambiguous
        orig_seen = true;
        orig = parseTuple(a);
        return orig.has_value();
      case CTA_ID: return getBe32(a, e.id);
      case CTA_MARK: return getBe32(a, e.mark);
      case CTA_COUNTERS_ORIG: co_seen = true; return parseCounters(a, co);
      case CTA_COUNTERS_REPLY: cr_seen = true; return parseCounters(a, cr);
      case CTA_TIMESTAMP: return parseTimestamp(a, e);
      case CTA_PROTOINFO: return parseProtoInfo(a, e);
      default: return true;
    }
  });
  if (!ok || !orig) return std::nullopt;
  e.orig = *orig;
  if ((co_seen && co.packets) || (cr_seen && cr.packets)) {
    e.has_counters = true;
    e.orig_packets = co.packets.value_or(0);
    e.orig_bytes = co.bytes.value_or(0);
    e.reply_packets = cr.packets.value_or(0);
    e.reply_bytes = cr.bytes.value_or(0);
  }
  return e;
}

std::vector<uint8_t> buildDumpRequest(std::optional<IpFamily> family, uint32_t seq,
                                      std::optional<CtMarkFilter> mark) {
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  nlh->nlmsg_pid = 0;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = afOf(family);
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  if (mark) {
    // Both big-endian (ctnetlink_filter_parse_mark() uses nla_get_be32).
    mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark->value));
    mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mark->mask));
  }
  buf.resize(nlh->nlmsg_len);
  return buf;
}

Result<std::size_t> dumpConntrack(std::optional<IpFamily> family, std::optional<CtMarkFilter> mark,
                                  const CtCallback& cb) {
  return dumpConntrack(CtDumpOptions{.family = family, .mark = mark}, cb);
}

Result<std::size_t> dumpConntrack(const CtDumpOptions& options, const CtCallback& cb) {
  // NlSocket gives us the bound socket with CAP_ACK/EXT_ACK and large
  // buffers; its request() expects ACKs, so the dump exchange is done here.
  auto sock = NlSocket::open(NETLINK_NETFILTER);
  if (!sock.ok()) return sock.error();
  const uint32_t seq = static_cast<uint32_t>(
      std::chrono::steady_clock::now().time_since_epoch().count() & 0x7fffffff) | 1u;
  const auto req = buildDumpRequest(options.family, seq, options.mark);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(sock->fd(), req.data(), req.size(), 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0)
    return errnoError("conntrack dump request", errno);

  const uint32_t portid = sock->portid();
  // Dump parts are at most 32 KiB (netlink_dump() caps its skb size); a
  // larger buffer never truncates.
  std::vector<uint8_t> rx(1 << 17);
  std::size_t delivered = 0;
  for (;;) {
    pollfd p{sock->fd(), POLLIN, 0};
    const int pr = ::poll(&p, 1, options.timeout_ms);
    if (pr < 0) {
      if (errno == EINTR) continue;
      return errnoError("conntrack dump poll", errno);
    }
    if (pr == 0)
      return makeError("conntrack dump: no reply within " + std::to_string(options.timeout_ms) + " ms after " +
                           std::to_string(delivered) + " entries",
                       std::errc::timed_out);
    const ssize_t n = recv(sock->fd(), rx.data(), rx.size(), MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR || err == EAGAIN || err == EWOULDBLOCK) continue;
      // ENOBUFS cannot happen for a dump (the kernel fills the next part
      // only when we read), so every errno here is a real failure.
      return errnoError("conntrack dump recv", err);
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      // Stray multicast or a reply to someone else's request cannot reach a
      // fresh unsubscribed socket, but the check is cheap.
      if (nlh->nlmsg_seq != seq || (nlh->nlmsg_pid != 0 && nlh->nlmsg_pid != portid)) continue;
      if (nlh->nlmsg_type == NLMSG_DONE) {
        // NLMSG_DONE carries the dump's final status (an int, 0 on success).
        if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
          int status = 0;
          std::memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof status);
          if (status < 0) return errnoError("conntrack dump (NLMSG_DONE status)", -status);
        }
        return delivered;
      }
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) return makeError("conntrack dump: short NLMSG_ERROR");
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) continue;  // an ACK: not expected, harmless
        return errnoError("conntrack dump refused by the kernel", -err->error);
      }
      if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_OVERRUN) continue;
      if (auto e = parseConntrackMessage(nlh)) {
        ++delivered;
        cb(*e);
      }
    }
  }
}

std::vector<uint8_t> buildGetRequest(const CtTuple& t, uint32_t seq) {
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = afOf(t.family);
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
  nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
  if (t.family == IpFamily::V4) {
    mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, t.src.data());
    mnl_attr_put(nlh, CTA_IP_V4_DST, 4, t.dst.data());
  } else {
    mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, t.src.data());
    mnl_attr_put(nlh, CTA_IP_V6_DST, 16, t.dst.data());
  }
  mnl_attr_nest_end(nlh, ip);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t.l4proto);
  mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t.src_port));
  mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t.dst_port));
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
  buf.resize(nlh->nlmsg_len);
  return buf;
}

Result<std::size_t> getConntracks(const std::vector<CtTuple>& tuples, const CtCallback& cb, int timeout_ms) {
  if (tuples.empty()) return std::size_t{0};
  auto sock = NlSocket::open(NETLINK_NETFILTER);
  if (!sock.ok()) return sock.error();
  const uint32_t base = static_cast<uint32_t>(
      std::chrono::steady_clock::now().time_since_epoch().count() & 0x3fffffff) | 1u;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  const uint32_t portid = sock->portid();
  std::vector<uint8_t> rx(1 << 16);
  std::size_t delivered = 0;
  // One request at a time: each gets exactly one answer (the entry, or an
  // error such as ENOENT), so nothing can pile up in the receive buffer.
  for (size_t i = 0; i < tuples.size(); ++i) {
    const uint32_t seq = base + static_cast<uint32_t>(i);
    const auto req = buildGetRequest(tuples[i], seq);
    if (sendto(sock->fd(), req.data(), req.size(), 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0)
      return errnoError("conntrack get request", errno);
    bool answered = false;
    while (!answered) {
      pollfd p{sock->fd(), POLLIN, 0};
      const int pr = ::poll(&p, 1, timeout_ms);
      if (pr < 0) {
        if (errno == EINTR) continue;
        return errnoError("conntrack get poll", errno);
      }
      if (pr == 0) return makeError("conntrack get: no answer within " + std::to_string(timeout_ms) + " ms",
                                    std::errc::timed_out);
      const ssize_t n = recv(sock->fd(), rx.data(), rx.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return errnoError("conntrack get recv", errno);
      }
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_seq != seq || (nlh->nlmsg_pid != 0 && nlh->nlmsg_pid != portid)) continue;
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) return makeError("conntrack get: short NLMSG_ERROR");
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
          if (err->error != 0 && err->error != -ENOENT)
            return errnoError("conntrack get refused by the kernel", -err->error);
          answered = true;  // ENOENT: the conntrack is gone already (its destroy event ends the flow)
          continue;
        }
        if (auto e = parseConntrackMessage(nlh)) {
          ++delivered;
          cb(*e);
        }
        answered = true;
      }
    }
  }
  return delivered;
}

Result<ConntrackEvents> ConntrackEvents::open(Options options) {
  if ((options.groups & (kNew | kUpdate | kDestroy)) == 0 || (options.groups & ~(kNew | kUpdate | kDestroy)) != 0)
    return makeError("ConntrackEvents: groups must be a non-empty subset of kNew|kUpdate|kDestroy");
  auto sock = NlSocket::open(NETLINK_NETFILTER);
  if (!sock.ok()) return sock.error();
  const int fd = sock->fd();
  const std::pair<unsigned, int> groups[] = {
      {kNew, NFNLGRP_CONNTRACK_NEW}, {kUpdate, NFNLGRP_CONNTRACK_UPDATE}, {kDestroy, NFNLGRP_CONNTRACK_DESTROY}};
  for (const auto& [bit, group] : groups) {
    if (!(options.groups & bit)) continue;
    // Conntrack groups need CAP_NET_ADMIN in the socket's netns: EPERM otherwise.
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
      return errnoError("conntrack event subscription (group " + std::to_string(group) + ")", errno);
  }
  // NlSocket sized the buffer already; apply the caller's size (which may be
  // smaller: tests provoke ENOBUFS that way). The kernel doubles the value.
  setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.rcvbuf);
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  return ConntrackEvents(std::move(*sock));
}

int ConntrackEvents::rcvbuf() const {
  int v = 0;
  socklen_t l = sizeof v;
  if (getsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &v, &l) < 0) return -1;
  return v;
}

Result<std::size_t> ConntrackEvents::poll(int timeout_ms, const CtCallback& cb) {
  if (timeout_ms != 0) {
    pollfd p{fd(), POLLIN, 0};
    for (;;) {
      const int pr = ::poll(&p, 1, timeout_ms);
      if (pr >= 0) break;
      if (errno != EINTR) return errnoError("conntrack events poll", errno);
      // EINTR: retry with the full timeout; callers bound their own loops.
    }
  }
  std::size_t delivered = 0;
  // Drain at most a bounded number of datagrams so a flood cannot pin the
  // caller here forever; the rest waits for the next poll().
  for (int reads = 0; reads < 4096; ++reads) {
    const ssize_t n = recv(fd(), rx_.data(), rx_.size(), MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (err == ENOBUFS) {
        // The kernel dropped events because our queue was full. The error
        // is reported once per overrun; queued events are still readable.
        ++enobufs_;
        overflow_ = true;
        continue;
      }
      return errnoError("conntrack events recv", err);
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) continue;
      auto e = parseConntrackMessage(nlh);
      if (!e) {
        ++malformed_;
        continue;
      }
      ++delivered;
      cb(*e);
    }
  }
  return delivered;
}

namespace {

Result<bool> ensureSysctlOn(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return errnoError(path + (err == ENOENT ? " (is nf_conntrack loaded?)" : ""), err);
  }
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n < 0) {
    const int err = errno;
    close(fd);
    return errnoError("read " + path, err);
  }
  std::string text(buf, static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    close(fd);
    return makeError(path + ": unexpected content '" + text + "'");
  }
  if (text != "0" && text.find_first_not_of('0') != std::string::npos) {
    close(fd);
    return false;  // already on
  }
  const ssize_t w = pwrite(fd, "1\n", 2, 0);
  const int err = errno;
  close(fd);
  if (w != 2) return errnoError("write " + path, w < 0 ? err : EIO);
  return true;
}

}  // namespace

Result<bool> ensureAccounting(const std::string& path) { return ensureSysctlOn(path); }
Result<bool> ensureTimestamps(const std::string& path) { return ensureSysctlOn(path); }

}  // namespace fg::nl
