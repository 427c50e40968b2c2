// fg::nl::NlSocket: the one place flowgate talks netlink to the kernel.
//
// What it does: owns one mnl_socket (NETLINK_NETFILTER or NETLINK_ROUTE),
// sends a message *value* built elsewhere (netlink/nft.h, netlink/rtnl.h)
// and collects the kernel's acknowledgement for every message in it. The
// first refusal comes back as an fg::Error whose error_code is the kernel's
// errno and whose context names the message (index, type, seq) plus the
// kernel's extended-ack text when it gave one.
//
// What it never does: build messages, decide policy, retry, or block without
// bound. Every request message gets NLM_F_ACK; the kernel handles netlink
// requests synchronously inside sendmsg(), so all ACKs are queued on the
// socket when send returns. The receive loop therefore reads until it has
// one ACK per message and, should one be missing, waits at most
// kAckTimeout before reporting ETIMEDOUT instead of hanging.
//
// Threading: an NlSocket is not thread-safe; use one per thread (or guard
// it). It is move-only; the destructor closes the socket. For the nftables
// table created with NFT_TABLE_F_OWNER the *lifetime of this socket is the
// lifetime of the table*: keep the socket that installed it open.
//
// Error convention: fg::Result (common/result.h); errno preserved in
// error().code (std::system_category).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"

struct mnl_socket;

namespace fg::nl {

// Details of the first message the kernel refused in the last send.
struct NlFailure {
  std::size_t index = 0;   // position of the message in the buffer (0-based, batch delimiters count)
  uint16_t type = 0;       // nlmsg_type of the refused message
  uint32_t seq = 0;        // sequence number the socket gave it
  int err = 0;             // positive errno
  std::string extack;      // kernel's NLMSGERR_ATTR_MSG, if any
};

class NlSocket {
 public:
  static constexpr std::chrono::milliseconds kAckTimeout{2000};
  static constexpr int kBufferBytes = 8 << 20;  // SO_RCVBUF/SO_SNDBUF we ask for

  // Opens and binds a netlink socket on `bus` (NETLINK_NETFILTER, NETLINK_ROUTE).
  // Enables NETLINK_CAP_ACK (ACKs without the echoed request) and
  // NETLINK_EXT_ACK (kernel error strings), and enlarges the buffers
  // (SO_*BUFFORCE when privileged, else the plain option).
  [[nodiscard]] static Result<NlSocket> open(int bus);

  NlSocket(NlSocket&& other) noexcept;
  NlSocket& operator=(NlSocket&& other) noexcept;
  NlSocket(const NlSocket&) = delete;
  NlSocket& operator=(const NlSocket&) = delete;
  ~NlSocket();

  // Sends an nfnetlink batch (NFNL_MSG_BATCH_BEGIN ... END) as built by
  // netlink/nft.h. The buffer is copied: every message between the
  // delimiters gets NLM_F_ACK and a fresh sequence number from this socket.
  // The kernel applies the batch atomically: on error nothing of it stays.
  // Error: the first refused message (see lastFailure()), ETIMEDOUT when ACKs
  // are missing, or the send/recv errno.
  [[nodiscard]] Result<void> sendBatch(std::span<const uint8_t> batch);

  // Sends one or more plain request messages (e.g. rtnetlink from
  // netlink/rtnl.h) and waits for their ACKs; same error contract.
  [[nodiscard]] Result<void> request(std::span<const uint8_t> messages);

  // The first refusal of the last sendBatch()/request(), if it failed in the kernel.
  const std::optional<NlFailure>& lastFailure() const { return last_failure_; }

  uint32_t portid() const;
  int fd() const;

 private:
  explicit NlSocket(mnl_socket* sock) : sock_(sock) {}
  Result<void> transact(std::span<const uint8_t> messages, bool batch);

  mnl_socket* sock_ = nullptr;
  uint32_t next_seq_ = 1;
  std::optional<NlFailure> last_failure_;
};

}  // namespace fg::nl
