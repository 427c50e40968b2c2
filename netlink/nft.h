// fg::nl nftables adapter: the `inet flowgate` table as a batch value.
//
// What it does: builds nfnetlink batches (NFNL_MSG_BATCH_BEGIN ... END) with
// libnftnl that (a) install the whole flowgate table atomically -- sets, the
// prerouting queue chain, the mark-saving chain, the forward/input
// enforcement chains -- (b) delete it, (c) add/refresh/delete set elements,
// and (d) probe whether the kernel has the native nft `queue` expression.
// docs/kernel.md explains every rule, priority and mark bit.
//
// What it never does: send anything (builders are pure functions returning
// bytes; NlSocket sends), touch any table but the one named in the spec,
// include policy/ or gateway/ headers, or allocate per packet (nothing here
// is on the packet path; set-element batches are built per policy decision
// burst, not per packet).
//
// Threading: all builders are reentrant and share no state.
//
// Error convention: fg::Result. Builders fail only on invalid input
// (std::errc::invalid_argument, context names the field). installTable()
// and the other send helpers return the kernel's errno, with the two
// table-ownership conflicts rewritten into an explanatory context.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "netlink/socket.h"

namespace fg::nl {

enum class QueueMode {
  Native,    // nft `queue` expression (CONFIG_NFT_QUEUE)
  XtCompat,  // xtables NFQUEUE target v3 through nft_compat (what iptables-nft emits)
};
std::string_view queueModeName(QueueMode mode);

enum class SetFamily { V4, V6 };

struct NftSetSpec {
  std::string name{};
  SetFamily family = SetFamily::V4;
  uint32_t timeout_s = 0;  // 0: elements never expire (no `flags timeout`)
  // Kernel-bound set: when != 0, the first packet (original direction) of a
  // flow that carries no flowgate mark bits yet and whose destination is in
  // this set gets `ct mark |= bind_bits` in the kernel, before anything else
  // in `pre`. Allowed: value bits only (provisional route/class; the flow is
  // still queued), or decided [| drop or reject] [| value bits] (decided in
  // the kernel; drop/reject are enforced by `pre` rule 1 / `fwd` / `in`).
  // Must lie within decided|drop|reject|value_mask; drop and reject need
  // decided and exclude each other. docs/kernel.md, "Kernel-bound sets".
  uint32_t bind_bits = 0;
};

struct NftTableSpec {
  std::string table = "flowgate";
  // Conntrack/packet mark layout. The three flag bits and value_mask must
  // not overlap; everything outside them belongs to other mark users.
  uint32_t decided_bit = 0x80000000;
  uint32_t drop_bit = 0x40000000;
  uint32_t reject_bit = 0x20000000;
  uint32_t value_mask = 0x0000ffff;
  uint16_t queue_num = 0;     // first queue
  uint16_t queue_count = 1;   // >= 1; >1 balances flows (hash of addresses + protocol)
  bool queue_bypass = true;   // fail-open: accept when no process listens on the queue
  bool queue_cpu_fanout = false;  // choose the queue by receiving CPU instead of hash
  QueueMode queue_mode = QueueMode::XtCompat;
  std::vector<std::string> interfaces{};  // input interfaces to inspect; empty = all
  bool skip_bare_tcp = true;  // do not queue TCP segments without payload (except FIN/RST)
  bool counters = true;       // `counter` on the queue, drop and reject rules
  // Decided flows bypass userspace (the point of flowgate). false queues
  // every packet of every flow: only for measuring what the fast path saves.
  bool fast_path = true;
  // Queue the DNS responses (transport source port 53, UDP or TCP) of
  // decided flows anyway, carrying the decided mark, so userspace can learn
  // address -> hostname hints; the engine accepts them unchanged.
  bool observe_dns = true;
  std::vector<NftSetSpec> sets{};
};

// 16 bytes + family: an IPv4 address uses the first 4 bytes (network order).
struct IpAddressBytes {
  SetFamily family = SetFamily::V4;
  std::array<uint8_t, 16> bytes{};

  static IpAddressBytes v4(uint32_t host_order);
  static IpAddressBytes v6(const std::array<uint8_t, 16>& bytes);
  // inet_pton of either family.
  [[nodiscard]] static Result<IpAddressBytes> parse(std::string_view text);
  std::size_t size() const { return family == SetFamily::V4 ? 4 : 16; }
  bool operator==(const IpAddressBytes&) const = default;
};

// How an "add" of an element that already exists refreshes its timeout.
enum class ElementRefresh {
  // One NEWSETELEM (NLM_F_CREATE, no NLM_F_EXCL) carrying both
  // NFTA_SET_ELEM_TIMEOUT and NFTA_SET_ELEM_EXPIRATION. Since Linux 6.10 the
  // kernel updates an existing element's expiration when the add carries an
  // expiration (or a timeout different from the current one); a plain add
  // with the same timeout does NOT restart the clock. Older kernels keep the
  // old expiration silently.
  Expiration,
  // add (ensures existence, no-op if present) + delete + add, in one atomic
  // batch: works on every kernel with set timeouts; costs 3 messages.
  Recreate,
};

// Installs the whole table: table (NFT_TABLE_F_OWNER), sets, chains, rules.
// Precondition: spec validated here (bits disjoint, queue_count >= 1,
// queue_num + queue_count <= 65536, names non-empty and < 256 chars,
// every set's bind_bits as documented at NftSetSpec::bind_bits).
// `replace`: when the caller's socket already owns the table (reload),
// prefix NEWTABLE+DELTABLE so the batch swaps the old table atomically.
[[nodiscard]] Result<std::vector<uint8_t>> buildTableBatch(const NftTableSpec& spec, bool replace = false);
[[nodiscard]] Result<std::vector<uint8_t>> buildDeleteTableBatch(std::string_view table);

// A batch that creates owner table `flowgate_probe_<pid>` with one regular
// (unhooked) chain and one rule using `mode`'s queue expression, then
// deletes the table. The kernel refuses it when the expression is missing.
[[nodiscard]] Result<std::vector<uint8_t>> buildProbeBatch(QueueMode mode, uint32_t pid);

// Native when the kernel accepts the native `queue` expression, else
// XtCompat when it accepts the NFQUEUE target; an error when neither works
// (the context says why). Leaves nothing in the kernel.
[[nodiscard]] Result<QueueMode> detectQueueMode(NlSocket& sock);

// Adds `addrs` to set `set` of `inet <table>` with a per-element timeout
// (timeout_s 0: the set's default / no timeout). Addresses of the other
// family are an error. Existing elements are refreshed per `refresh`.
[[nodiscard]] Result<std::vector<uint8_t>> buildSetElementsBatch(std::string_view table, std::string_view set,
                                                                 SetFamily family,
                                                                 std::span<const IpAddressBytes> addrs,
                                                                 uint32_t timeout_s,
                                                                 ElementRefresh refresh = ElementRefresh::Expiration);
// Deletes elements (the kernel refuses the batch with ENOENT if one is absent).
[[nodiscard]] Result<std::vector<uint8_t>> buildDeleteSetElementsBatch(std::string_view table, std::string_view set,
                                                                       SetFamily family,
                                                                       std::span<const IpAddressBytes> addrs);

// Sends buildTableBatch(spec, replace) on `sock` (which then owns the table
// until it closes). A table held by another socket (second instance: EPERM)
// or a leftover table without the owner flag (EOPNOTSUPP/EEXIST) is
// reported with a context that says so and what to do; errno is kept.
[[nodiscard]] Result<void> installTable(NlSocket& sock, const NftTableSpec& spec, bool replace = false);

}  // namespace fg::nl
