#include "netlink/socket.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace fg::nl {
namespace {

std::string describeType(int bus, uint16_t type) {
  char buf[64];
  if (bus == NETLINK_NETFILTER) {
    if (type == NFNL_MSG_BATCH_BEGIN) return "batch begin";
    if (type == NFNL_MSG_BATCH_END) return "batch end";
    if ((type >> 8) == NFNL_SUBSYS_NFTABLES) {
      static constexpr const char* kNames[] = {
          "newtable", "gettable", "deltable", "newchain", "getchain", "delchain",
          "newrule",  "getrule",  "delrule",  "newset",   "getset",   "delset",
          "newsetelem", "getsetelem", "delsetelem"};
      const unsigned msg = type & 0xff;
      if (msg < std::size(kNames)) return std::string("nft ") + kNames[msg];
    }
  } else if (bus == NETLINK_ROUTE) {
    switch (type) {
      case RTM_NEWRULE: return "RTM_NEWRULE";
      case RTM_DELRULE: return "RTM_DELRULE";
      case RTM_NEWROUTE: return "RTM_NEWROUTE";
      case RTM_DELROUTE: return "RTM_DELROUTE";
      default: break;
    }
  }
  std::snprintf(buf, sizeof buf, "type 0x%04x", type);
  return buf;
}

// Kernel error string from an extended ACK (NLM_F_ACK_TLVS), if present.
// With NETLINK_CAP_ACK the TLVs follow the nlmsgerr header directly.
std::string extackMessage(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  std::size_t offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += mnl_nlmsg_get_payload_len(&err->msg);
  std::string text;
  mnl_attr_parse(nlh, static_cast<unsigned>(offset),
                 [](const nlattr* attr, void* data) -> int {
                   if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
                       mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
                     *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
                   }
                   return MNL_CB_OK;
                 },
                 &text);
  return text;
}

struct Pending {
  std::size_t index;
  uint16_t type;
  uint32_t seq;
  bool acked = false;
};

}  // namespace

Result<NlSocket> NlSocket::open(int bus) {
  mnl_socket* sock = mnl_socket_open(bus);
  if (sock == nullptr) return errnoError("mnl_socket_open", errno);
  NlSocket s(sock);
  if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) return errnoError("mnl_socket_bind", errno);
  int one = 1;
  // Both are best effort: without CAP_ACK the ACK carries the request back
  // (our read buffer is large enough), without EXT_ACK we lose only the text.
  (void)mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof one);
  (void)mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof one);
  const int fd = mnl_socket_get_fd(sock);
  int size = kBufferBytes;
  // Large batches of set elements exceed the default sk_sndbuf (netlink
  // refuses a message larger than sndbuf with EMSGSIZE) and their ACKs the
  // default rcvbuf (ENOBUFS): ask for 8 MiB, forced when we may.
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return s;
}

NlSocket::NlSocket(NlSocket&& other) noexcept
    : sock_(other.sock_), next_seq_(other.next_seq_), last_failure_(std::move(other.last_failure_)) {
  other.sock_ = nullptr;
}

NlSocket& NlSocket::operator=(NlSocket&& other) noexcept {
  if (this != &other) {
    if (sock_ != nullptr) mnl_socket_close(sock_);
    sock_ = other.sock_;
    next_seq_ = other.next_seq_;
    last_failure_ = std::move(other.last_failure_);
    other.sock_ = nullptr;
  }
  return *this;
}

NlSocket::~NlSocket() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

uint32_t NlSocket::portid() const { return mnl_socket_get_portid(sock_); }
int NlSocket::fd() const { return mnl_socket_get_fd(sock_); }

Result<void> NlSocket::sendBatch(std::span<const uint8_t> batch) { return transact(batch, true); }
Result<void> NlSocket::request(std::span<const uint8_t> messages) { return transact(messages, false); }

Result<void> NlSocket::transact(std::span<const uint8_t> messages, bool batch) {
  last_failure_.reset();
  if (sock_ == nullptr) return makeError("netlink socket is closed", std::errc::bad_file_descriptor);
  int bus = 0;
  socklen_t len = sizeof bus;
  (void)getsockopt(fd(), SOL_SOCKET, SO_PROTOCOL, &bus, &len);

  // Copy (the caller's value stays untouched), validate the framing, set
  // NLM_F_ACK and our own sequence numbers.
  std::vector<uint8_t> buf(messages.begin(), messages.end());
  std::vector<Pending> pending;
  int remaining = static_cast<int>(buf.size());
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  std::size_t index = 0;
  for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining), ++index) {
    nlh->nlmsg_seq = next_seq_++;
    nlh->nlmsg_pid = 0;
    const bool delimiter = nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END;
    if (batch && delimiter) continue;
    nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    pending.push_back(Pending{index, nlh->nlmsg_type, nlh->nlmsg_seq});
  }
  if (remaining != 0 || buf.empty()) return makeError("malformed netlink buffer (bad nlmsg_len framing)");
  if (batch) {
    const auto* first = reinterpret_cast<const nlmsghdr*>(buf.data());
    if (first->nlmsg_type != NFNL_MSG_BATCH_BEGIN) return makeError("batch does not start with NFNL_MSG_BATCH_BEGIN");
  }
  if (pending.empty()) return {};

  if (mnl_socket_sendto(sock_, buf.data(), buf.size()) < 0) return errnoError("netlink send", errno);

  std::vector<uint8_t> rx(1 << 20);
  std::size_t acked = 0;
  const auto deadline = std::chrono::steady_clock::now() + kAckTimeout;
  while (acked < pending.size()) {
    ssize_t n = recv(fd(), rx.data(), rx.size(), MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err != EAGAIN && err != EWOULDBLOCK) return errnoError("netlink recv", err);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      // A fatal batch error (e.g. malformed batch) can cut the ACK stream
      // short; if we already hold a refusal, that is the answer.
      if (last_failure_) break;
      if (left.count() <= 0) {
        return makeError("netlink: " + std::to_string(pending.size() - acked) + " of " +
                             std::to_string(pending.size()) + " ACKs missing",
                         std::errc::timed_out);
      }
      pollfd p{fd(), POLLIN, 0};
      (void)poll(&p, 1, static_cast<int>(left.count()));
      continue;
    }
    int rlen = static_cast<int>(n);
    for (auto* r = reinterpret_cast<const nlmsghdr*>(rx.data()); mnl_nlmsg_ok(r, rlen);
         r = mnl_nlmsg_next(r, &rlen)) {
      if (r->nlmsg_type != NLMSG_ERROR) continue;  // nothing else expected; ignore
      if (r->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) continue;
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(r));
      Pending* p = nullptr;
      for (auto& c : pending)
        if (c.seq == r->nlmsg_seq) p = &c;
      if (p != nullptr && !p->acked) {
        p->acked = true;
        ++acked;
      }
      if (e->error != 0) {
        NlFailure f{p ? p->index : 0, p ? p->type : static_cast<uint16_t>(0), r->nlmsg_seq, -e->error,
                    extackMessage(r)};
        // "First" means first in message order, not arrival order.
        if (!last_failure_ || (p != nullptr && f.index < last_failure_->index)) last_failure_ = std::move(f);
        if (p == nullptr) acked = pending.size();  // error on a delimiter: the batch as a whole was refused
      }
    }
  }
  if (last_failure_) {
    const NlFailure& f = *last_failure_;
    std::string ctx = "kernel refused message #" + std::to_string(f.index) + " (" + describeType(bus, f.type) +
                      ", seq " + std::to_string(f.seq) + ")";
    if (!f.extack.empty()) ctx += ": " + f.extack;
    return errnoError(std::move(ctx), f.err);
  }
  return {};
}

}  // namespace fg::nl
