#include "gateway/nfq/queue.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern "C" {
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
}

namespace fg::nfq {
namespace {

constexpr size_t kRxBuffer = 128 * 1024;  // one datagram: 64 KiB packet + attributes

// Appends one message built by `fill` (which receives a zeroed buffer large
// enough for a small control message) to `out`.
template <typename Fill>
void appendMessage(std::vector<uint8_t>& out, Fill&& fill) {
  const size_t off = out.size();
  out.resize(off + MNL_SOCKET_BUFFER_SIZE, 0);
  auto* nlh = fill(reinterpret_cast<char*>(out.data() + off));
  out.resize(off + nlh->nlmsg_len);
}

}  // namespace

std::optional<QueuedPacket> parsePacket(const nlmsghdr* nlh) {
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) return std::nullopt;
  if (mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(nfqnl_msg_packet_hdr))
    return std::nullopt;
  QueuedPacket p;
  const auto* ph = static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  p.id = ntohl(ph->packet_id);
  p.hw_protocol = ntohs(ph->hw_protocol);
  p.hook = ph->hook;
  auto u32 = [&](int type) -> uint32_t {
    return attr[type] && mnl_attr_get_payload_len(attr[type]) >= 4 ? ntohl(mnl_attr_get_u32(attr[type])) : 0;
  };
  p.mark = u32(NFQA_MARK);
  p.in_ifindex = u32(NFQA_IFINDEX_INDEV);
  p.out_ifindex = u32(NFQA_IFINDEX_OUTDEV);
  if (attr[NFQA_TIMESTAMP] &&
      mnl_attr_get_payload_len(attr[NFQA_TIMESTAMP]) >= sizeof(nfqnl_msg_packet_timestamp)) {
    nfqnl_msg_packet_timestamp ts;
    std::memcpy(&ts, mnl_attr_get_payload(attr[NFQA_TIMESTAMP]), sizeof ts);
    p.ts = static_cast<core::Timestamp>(be64toh(ts.sec)) * 1'000'000 +
           static_cast<core::Timestamp>(be64toh(ts.usec));
  }
  if (attr[NFQA_PAYLOAD]) {
    p.payload = {static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
                 mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
  }
  return p;
}

std::vector<uint8_t> buildBindMessages(const QueueConfig& c, uint32_t seq) {
  std::vector<uint8_t> out;
  appendMessage(out, [&](char* buf) {
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, c.queue_num);
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    return nlh;
  });
  appendMessage(out, [&](char* buf) {
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, c.queue_num);
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = seq + 1;
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(c.copy_range));
    nfq_nlmsg_cfg_put_qmaxlen(nlh, c.max_len);
    uint32_t flags = 0;
    if (c.fail_open) flags |= NFQA_CFG_F_FAIL_OPEN;
    if (c.gso) flags |= NFQA_CFG_F_GSO;
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
    return nlh;
  });
  return out;
}

std::vector<uint8_t> buildUnbindMessage(uint16_t queue_num, uint32_t seq) {
  std::vector<uint8_t> out;
  appendMessage(out, [&](char* buf) {
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_num);
    nlh->nlmsg_seq = seq;
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
    return nlh;
  });
  return out;
}

size_t VerdictBatch::encode(std::vector<uint8_t>& out, uint32_t seq) const {
  size_t messages = 0;
  for (size_t i = 0; i < entries_.size();) {
    size_t j = i;
    while (entries_[i].payload.empty() && j + 1 < entries_.size() &&
           entries_[j + 1].verdict == entries_[i].verdict &&
           entries_[j + 1].mark == entries_[i].mark && entries_[j + 1].payload.empty())
      ++j;
    const VerdictEntry& last = entries_[j];
    const int type = j > i ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT;
    appendMessage(out, [&](char* buf) {
      nlmsghdr* nlh = nfq_nlmsg_put(buf, type, queue_);
      nlh->nlmsg_seq = seq + static_cast<uint32_t>(messages);
      nfq_nlmsg_verdict_put(nlh, static_cast<int>(last.id), static_cast<int>(last.verdict));
      if (last.mark) nfq_nlmsg_verdict_put_mark(nlh, *last.mark);
      if (!last.payload.empty())
        nfq_nlmsg_verdict_put_pkt(nlh, last.payload.data(), static_cast<uint32_t>(last.payload.size()));
      return nlh;
    });
    ++messages;
    i = j + 1;
  }
  return messages;
}

QueueSocket::QueueSocket(mnl_socket* nl, QueueConfig config)
    : nl_(nl), config_(config), rx_(kRxBuffer) {}

QueueSocket::~QueueSocket() {
  if (nl_) mnl_socket_close(nl_);
  if (stamp_fd_ >= 0) ::close(stamp_fd_);
}

Result<std::unique_ptr<QueueSocket>> QueueSocket::open(const QueueConfig& config) {
  const std::string what = "NFQUEUE " + std::to_string(config.queue_num);
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (!nl) return errnoError(what + ": netlink socket", errno);
  std::unique_ptr<QueueSocket> s(new QueueSocket(nl, config));
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) return errnoError(what + ": bind", errno);
  s->portid_ = mnl_socket_get_portid(nl);
  const int fd = mnl_socket_get_fd(nl);
  // Root may exceed rmem_max with SO_RCVBUFFORCE; fall back to SO_RCVBUF.
  int size = static_cast<int>(config.rcvbuf_bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (config.timestamps) {
    // Any socket with SO_TIMESTAMP switches the kernel's receive timestamps
    // on (net_enable_timestamp) for as long as it is open. Without them the
    // latency histogram stays empty; nothing else depends on it.
    s->stamp_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    if (s->stamp_fd_ >= 0 && setsockopt(s->stamp_fd_, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof on) < 0) {
      ::close(s->stamp_fd_);
      s->stamp_fd_ = -1;
    }
  }

  const uint32_t seq = s->seq_;
  s->seq_ += 2;
  auto msgs = buildBindMessages(config, seq);
  if (auto r = s->sendAll(msgs); !r) return Error{r.error().code, what + ": " + r.error().context};
  // Read both ACKs; an error names the step.
  for (int acks = 0; acks < 2;) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 2000) <= 0) return makeError(what + ": no answer from the kernel", std::errc::timed_out);
    ssize_t n = mnl_socket_recvfrom(nl, s->rx_.data(), s->rx_.size());
    if (n < 0) return errnoError(what + ": configure", errno);
    int rc = mnl_cb_run(s->rx_.data(), static_cast<size_t>(n), 0, s->portid_, nullptr, nullptr);
    if (rc < 0) {
      const int err = errno;
      if (err == EBUSY) return errnoError(what + ": the queue is already bound by another program", err);
      // The kernel answers EPERM both without CAP_NET_ADMIN and when another
      // socket holds the queue; as root, only the second can be the cause.
      if (err == EPERM)
        return errnoError(what + (geteuid() == 0 ? ": the queue is already bound by another program"
                                                 : ": needs CAP_NET_ADMIN (or the queue is bound by another program)"),
                          err);
      return errnoError(what + ": configure", err);
    }
    ++acks;
  }
  return s;
}

Result<void> QueueSocket::sendAll(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return {};
  if (mnl_socket_sendto(nl_, bytes.data(), bytes.size()) < 0) return errnoError("netlink send", errno);
  return {};
}

Result<size_t> QueueSocket::receive(int timeout_ms, size_t max_packets,
                                    const std::function<void(const QueuedPacket&)>& on_packet) {
  const int fd = mnl_socket_get_fd(nl_);
  pollfd pfd{fd, POLLIN, 0};
  int pr = poll(&pfd, 1, timeout_ms);
  if (pr < 0) return errno == EINTR ? Result<size_t>(size_t{0}) : errnoError("poll", errno);
  if (pr == 0) return size_t{0};
  size_t delivered = 0;
  while (delivered < max_packets) {
    ssize_t n = recv(fd, rx_.data(), rx_.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // we fell behind; the kernel failed those packets open
        counters_.enobufs.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      return errnoError("NFQUEUE receive", errno);
    }
    if (static_cast<size_t>(n) > rx_.size()) {
      counters_.malformed.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data());
    int len = static_cast<int>(n);
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (nlh->nlmsg_type == NLMSG_ERROR && err->error != 0)
          counters_.send_errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      auto p = parsePacket(nlh);
      if (!p) {
        counters_.malformed.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      counters_.received.fetch_add(1, std::memory_order_relaxed);
      ++delivered;
      on_packet(*p);
    }
  }
  return delivered;
}

VerdictScope::~VerdictScope() { (void)socket_.sendVerdicts(batch_); }

Result<void> QueueSocket::sendVerdicts(VerdictBatch& batch) {
  if (batch.empty()) return {};
  tx_.clear();
  const size_t msgs = batch.encode(tx_, seq_);
  seq_ += static_cast<uint32_t>(msgs);
  batch.clear();
  counters_.verdict_messages.fetch_add(msgs, std::memory_order_relaxed);
  auto r = sendAll(tx_);
  if (!r) counters_.send_errors.fetch_add(1, std::memory_order_relaxed);
  return r;
}

}  // namespace fg::nfq
