#include "netlink/nft.h"

// glibc headers before <linux/...>: linux/in.h yields to netinet/in.h only in this order.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace fg::nl {
namespace {

// ---------------------------------------------------------------------------
// Batch writer: a growing byte vector of netlink messages. Sequence numbers
// are 0..n-1 (deterministic for golden tests); NlSocket renumbers on send.

constexpr std::size_t kMsgRoom = 16 * 1024;
// Prerouting priority of chain `pre` (`pre_save` is the next one): after
// NAT's destination step (NF_IP_PRI_NAT_DST, -100), before routing.
constexpr int kPrePriority = -90;        // any table/chain/rule message
constexpr std::size_t kElemsPerMessage = 256;      // NFTA_SET_ELEM_LIST_ELEMENTS nla_len is u16
constexpr uint16_t kNftFamily = NFPROTO_INET;

class BatchWriter {
 public:
  BatchWriter() {
    add(64, [&](char* p) { return nftnl_batch_begin(p, seq_); });
  }

  // Appends one message; `build(char* room)` writes it and returns its header.
  template <typename F>
  void add(std::size_t room, F&& build) {
    const std::size_t off = buf_.size();
    buf_.resize(off + room);
    nlmsghdr* nlh = build(reinterpret_cast<char*>(buf_.data() + off));
    ++seq_;
    buf_.resize(off + MNL_ALIGN(nlh->nlmsg_len));
  }

  // nf_tables message with nfgenmsg header, payload written by `fill(nlh)`.
  template <typename F>
  void nft(uint16_t type, uint16_t family, uint16_t flags, std::size_t room, F&& fill) {
    add(room, [&](char* p) {
      nlmsghdr* nlh = nftnl_nlmsg_build_hdr(p, type, family, flags | NLM_F_ACK, seq_);
      fill(nlh);
      return nlh;
    });
  }

  std::vector<uint8_t> finish() && {
    add(64, [&](char* p) { return nftnl_batch_end(p, seq_); });
    return std::move(buf_);
  }

 private:
  std::vector<uint8_t> buf_;
  uint32_t seq_ = 0;
};

// RAII for libnftnl objects.
struct TableDel { void operator()(nftnl_table* t) const { nftnl_table_free(t); } };
struct ChainDel { void operator()(nftnl_chain* c) const { nftnl_chain_free(c); } };
struct RuleDel { void operator()(nftnl_rule* r) const { nftnl_rule_free(r); } };
struct SetDel { void operator()(nftnl_set* s) const { nftnl_set_free(s); } };
using TablePtr = std::unique_ptr<nftnl_table, TableDel>;
using ChainPtr = std::unique_ptr<nftnl_chain, ChainDel>;
using RulePtr = std::unique_ptr<nftnl_rule, RuleDel>;
using SetPtr = std::unique_ptr<nftnl_set, SetDel>;

// ---------------------------------------------------------------------------
// Expression helpers: each appends one expression to a rule, in the same
// shapes nft(8) emits, so `nft list ruleset` renders our rules readably.

class RuleBuilder {
 public:
  RuleBuilder(std::string_view table, std::string_view chain) : r_(nftnl_rule_alloc()) {
    nftnl_rule_set_str(r_.get(), NFTNL_RULE_TABLE, std::string(table).c_str());
    nftnl_rule_set_str(r_.get(), NFTNL_RULE_CHAIN, std::string(chain).c_str());
    nftnl_rule_set_u32(r_.get(), NFTNL_RULE_FAMILY, kNftFamily);
  }

  RuleBuilder& meta(uint32_t key, uint32_t dreg = NFT_REG_1) {
    auto* e = nftnl_expr_alloc("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
    return push(e);
  }
  RuleBuilder& metaSet(uint32_t key, uint32_t sreg = NFT_REG_1) {
    auto* e = nftnl_expr_alloc("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, sreg);
    return push(e);
  }
  RuleBuilder& ct(uint32_t key, uint32_t dreg = NFT_REG_1) {
    auto* e = nftnl_expr_alloc("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
    return push(e);
  }
  RuleBuilder& ctSet(uint32_t key, uint32_t sreg = NFT_REG_1) {
    auto* e = nftnl_expr_alloc("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, sreg);
    return push(e);
  }
  RuleBuilder& payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg = NFT_REG_1) {
    auto* e = nftnl_expr_alloc("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    return push(e);
  }
  // reg = (reg & mask) ^ 0 over `len` bytes; mask given in register byte order.
  RuleBuilder& bitwiseAnd(const void* mask, uint32_t len, uint32_t reg = NFT_REG_1) {
    static constexpr uint8_t kZero[16] = {};
    auto* e = nftnl_expr_alloc("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, kZero, len);
    return push(e);
  }
  RuleBuilder& and32(uint32_t mask) { return bitwiseAnd(&mask, sizeof mask); }
  RuleBuilder& and8(uint8_t mask) { return bitwiseAnd(&mask, sizeof mask); }
  // reg = (reg & ~bits) ^ bits, i.e. reg |= bits (32-bit, host order: marks).
  RuleBuilder& or32(uint32_t bits, uint32_t reg = NFT_REG_1) {
    const uint32_t mask = ~bits;
    auto* e = nftnl_expr_alloc("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof mask);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof mask);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &bits, sizeof bits);
    return push(e);
  }
  RuleBuilder& cmp(uint32_t op, const void* data, uint32_t len, uint32_t sreg = NFT_REG_1) {
    auto* e = nftnl_expr_alloc("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
    return push(e);
  }
  RuleBuilder& eq32(uint32_t v) { return cmp(NFT_CMP_EQ, &v, sizeof v); }  // host order (marks)
  RuleBuilder& ne32(uint32_t v) { return cmp(NFT_CMP_NEQ, &v, sizeof v); }  // host order (marks)
  RuleBuilder& eq8(uint8_t v) { return cmp(NFT_CMP_EQ, &v, sizeof v); }
  RuleBuilder& ifname(std::string_view name, uint32_t op = NFT_CMP_EQ) {
    char buf[IFNAMSIZ] = {};
    std::memcpy(buf, name.data(), std::min(name.size(), sizeof buf - 1));
    return cmp(op, buf, sizeof buf);
  }
  RuleBuilder& lookup(std::string_view set, uint32_t set_id, uint32_t sreg, bool invert) {
    auto* e = nftnl_expr_alloc("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, std::string(set).c_str());
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
    if (invert) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    return push(e);
  }
  RuleBuilder& counter() { return push(nftnl_expr_alloc("counter")); }
  RuleBuilder& verdict(int v) {
    auto* e = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(v));
    return push(e);
  }
  RuleBuilder& reject(uint32_t type, uint8_t code) {
    auto* e = nftnl_expr_alloc("reject");
    nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
    nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
    return push(e);
  }
  RuleBuilder& nativeQueue(uint16_t num, uint16_t total, uint16_t flags) {
    auto* e = nftnl_expr_alloc("queue");
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, num);
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, total);
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, flags);
    return push(e);
  }
  // xtables NFQUEUE revision 3 through nft_compat, byte for byte what
  // `iptables-nft -j NFQUEUE --queue-balance A:B --queue-bypass` sends. The
  // kernel insists on XT_ALIGN(sizeof(xt_NFQ_info_v3)) == 8 bytes of info.
  RuleBuilder& xtQueue(uint16_t num, uint16_t total, uint16_t flags) {
    auto* e = nftnl_expr_alloc("target");
    nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
    nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
    constexpr std::size_t kLen = XT_ALIGN(sizeof(xt_NFQ_info_v3));
    // libnftnl takes ownership of the info buffer and free()s it.
    auto* info = static_cast<uint8_t*>(std::calloc(1, kLen));
    xt_NFQ_info_v3 v{};
    v.queuenum = num;
    v.queues_total = total;
    v.flags = flags;
    std::memcpy(info, &v, sizeof v);
    nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, kLen);
    return push(e);
  }

  nftnl_rule* get() { return r_.get(); }

 private:
  RuleBuilder& push(nftnl_expr* e) {
    nftnl_rule_add_expr(r_.get(), e);
    return *this;
  }
  RulePtr r_;
};

// The layout we rely on (x_tables.h: XT_ALIGN rounds to 8).
static_assert(sizeof(xt_NFQ_info_v3) == 6);
static_assert(XT_ALIGN(sizeof(xt_NFQ_info_v3)) == 8);

// ---------------------------------------------------------------------------
// Table pieces.

uint16_t queueFlagsNative(const NftTableSpec& s) {
  return static_cast<uint16_t>((s.queue_bypass ? NFT_QUEUE_FLAG_BYPASS : 0) |
                               (s.queue_cpu_fanout ? NFT_QUEUE_FLAG_CPU_FANOUT : 0));
}
uint16_t queueFlagsXt(const NftTableSpec& s) {
  return static_cast<uint16_t>((s.queue_bypass ? NFQ_FLAG_BYPASS : 0) |
                               (s.queue_cpu_fanout ? NFQ_FLAG_CPU_FANOUT : 0));
}

void addTable(BatchWriter& b, std::string_view name, uint32_t flags, uint16_t type = NFT_MSG_NEWTABLE) {
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, std::string(name).c_str());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, kNftFamily);
  if (type == NFT_MSG_NEWTABLE) nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, flags);
  // NEWTABLE without NLM_F_EXCL: the owning socket may re-send it (reload);
  // a different socket gets EPERM from the owner check.
  b.nft(type, kNftFamily, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, kMsgRoom,
        [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); });
}

void addChain(BatchWriter& b, std::string_view table, std::string_view name, std::optional<uint32_t> hook,
              int32_t prio) {
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, std::string(table).c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, std::string(name).c_str());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, kNftFamily);
  if (hook) {
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, *hook);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, prio);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  b.nft(NFT_MSG_NEWCHAIN, kNftFamily, NLM_F_CREATE, kMsgRoom,
        [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
}

void addRule(BatchWriter& b, RuleBuilder& r) {
  b.nft(NFT_MSG_NEWRULE, kNftFamily, NLM_F_CREATE | NLM_F_APPEND, kMsgRoom,
        [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
}

// nft(8) datatype ids, used only so `nft list ruleset` can render our sets.
constexpr uint32_t kTypeInteger = 4;
constexpr uint32_t kTypeIpAddr = 7;
constexpr uint32_t kTypeIp6Addr = 8;
constexpr uint32_t kTypeInetProto = 12;  // inet_proto (meta l4proto)
constexpr uint32_t kTypeIfname = 41;
constexpr uint32_t kTypeBits = 6;  // nft concat type id = (t1 << 6) | t2
constexpr const char* kAnonSetName = "__set%d";

// ---------------------------------------------------------------------------
// nft(8) "typeof" user data for our anonymous sets. The kernel stores it
// opaquely; nft uses it to print the set. Without it nft 1.0.6 cannot size
// the integer fields of a concatenated key and *aborts* in `nft list
// ruleset` (mergesort.c: concat_expr_msort_value: Assertion `ilen > 0'),
// which would break every operator's view of the ruleset. The numbers are
// nft's own stable udata ids (expression kinds, protocol descriptors),
// byte-for-byte what `nft add rule ... @th,96,8 . ip length { ... }` sends.
constexpr uint32_t kUdExprMeta = 9;      // EXPR_META
constexpr uint32_t kUdExprPayload = 7;   // EXPR_PAYLOAD
constexpr uint32_t kUdExprConcat = 13;   // EXPR_CONCAT
constexpr uint32_t kUdProtoIp = 12;      // &proto_ip
constexpr uint32_t kUdProtoIp6 = 13;     // &proto_ip6
constexpr uint32_t kUdIpLengthField = 5; // IPHDR_LENGTH == IP6HDR_LENGTH == 5
constexpr uint32_t kUdBaseTransport = 3; // PROTO_BASE_TRANSPORT_HDR

struct UdataFree { void operator()(nftnl_udata_buf* b) const { nftnl_udata_buf_free(b); } };
using Udata = std::unique_ptr<nftnl_udata_buf, UdataFree>;

// typeof meta <key> (iifname, l4proto)
Udata metaTypeof(uint32_t meta_key) {
  Udata u(nftnl_udata_buf_alloc(256));
  nftnl_udata_put_u32(u.get(), NFTNL_UDATA_SET_KEYBYTEORDER, 1);  // host
  auto* key = nftnl_udata_nest_start(u.get(), NFTNL_UDATA_SET_KEY_TYPEOF);
  nftnl_udata_put_u32(u.get(), NFTNL_UDATA_SET_TYPEOF_EXPR, kUdExprMeta);
  auto* data = nftnl_udata_nest_start(u.get(), NFTNL_UDATA_SET_TYPEOF_DATA);
  nftnl_udata_put_u32(u.get(), 0, meta_key);
  nftnl_udata_nest_end(u.get(), data);
  nftnl_udata_nest_end(u.get(), key);
  return u;
}

// typeof @th,96,8 . ip length   /   @th,96,8 . ip6 length
Udata bareTcpTypeof(bool v6) {
  Udata u(nftnl_udata_buf_alloc(256));
  nftnl_udata_put_u32(u.get(), NFTNL_UDATA_SET_KEYBYTEORDER, 0);
  auto* key = nftnl_udata_nest_start(u.get(), NFTNL_UDATA_SET_KEY_TYPEOF);
  nftnl_udata_put_u32(u.get(), NFTNL_UDATA_SET_TYPEOF_EXPR, kUdExprConcat);
  auto* data = nftnl_udata_nest_start(u.get(), NFTNL_UDATA_SET_TYPEOF_DATA);
  {  // sub-expression 0: raw payload @th,96,8 (desc 0, type 0, base, offset, len)
    auto* sub = nftnl_udata_nest_start(u.get(), 0);
    nftnl_udata_put_u32(u.get(), 0, kUdExprPayload);
    auto* pl = nftnl_udata_nest_start(u.get(), 1);
    nftnl_udata_put_u32(u.get(), 0, 0);
    nftnl_udata_put_u32(u.get(), 1, 0);
    nftnl_udata_put_u32(u.get(), 2, kUdBaseTransport);
    nftnl_udata_put_u32(u.get(), 3, 96);
    nftnl_udata_put_u32(u.get(), 4, 8);
    nftnl_udata_nest_end(u.get(), pl);
    nftnl_udata_nest_end(u.get(), sub);
  }
  {  // sub-expression 1: ip length / ip6 length (desc, field, len 16 bits)
    auto* sub = nftnl_udata_nest_start(u.get(), 1);
    nftnl_udata_put_u32(u.get(), 0, kUdExprPayload);
    auto* pl = nftnl_udata_nest_start(u.get(), 1);
    nftnl_udata_put_u32(u.get(), 0, v6 ? kUdProtoIp6 : kUdProtoIp);
    nftnl_udata_put_u32(u.get(), 1, kUdIpLengthField);
    nftnl_udata_put_u32(u.get(), 4, 16);
    nftnl_udata_nest_end(u.get(), pl);
    nftnl_udata_nest_end(u.get(), sub);
  }
  nftnl_udata_nest_end(u.get(), data);
  nftnl_udata_nest_end(u.get(), key);
  return u;
}

// An anonymous constant set (bound to the one rule that looks it up in the
// same batch; the kernel names it __setN and frees it with the rule).
void addAnonSet(BatchWriter& b, std::string_view table, uint32_t set_id, uint32_t key_type, uint32_t key_len,
                const std::vector<std::vector<uint8_t>>& keys, const Udata& udata) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, std::string(table).c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, kAnonSetName);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kNftFamily);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, key_type);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, key_len);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, set_id);
  nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, static_cast<uint32_t>(keys.size()));
  nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata.get()),
                     nftnl_udata_buf_len(udata.get()));
  b.nft(NFT_MSG_NEWSET, kNftFamily, NLM_F_CREATE, kMsgRoom,
        [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s.get()); });
  for (const auto& k : keys) {
    nftnl_set_elem* e = nftnl_set_elem_alloc();
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k.data(), static_cast<uint32_t>(k.size()));
    nftnl_set_elem_add(s.get(), e);
  }
  b.nft(NFT_MSG_NEWSETELEM, kNftFamily, NLM_F_CREATE, kMsgRoom,
        [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
}

// Keys of "TCP segment without payload": (data-offset byte . L3 length) for
// every legal data offset 5..15. The data-offset byte is loaded whole
// (doff << 4 | reserved | AE); we list doff<<4 and doff<<4|AE (AccECN sets
// AE on plain ACKs). A segment with reserved bits set misses the set and is
// queued -- the safe direction. Each field sits in its own 32-bit register,
// so the key is 8 bytes: [byte,0,0,0, len_hi,len_lo,0,0].
std::vector<std::vector<uint8_t>> bareTcpKeys(uint16_t l3_header_len) {
  std::vector<std::vector<uint8_t>> keys;
  for (uint8_t doff = 5; doff <= 15; ++doff) {
    const uint16_t len = static_cast<uint16_t>(l3_header_len + doff * 4);
    for (uint8_t ae : {uint8_t{0}, uint8_t{1}}) {
      keys.push_back({static_cast<uint8_t>(doff << 4 | ae), 0, 0, 0, static_cast<uint8_t>(len >> 8),
                      static_cast<uint8_t>(len & 0xff), 0, 0});
    }
  }
  return keys;
}

// NF_CT_STATE_BIT(IP_CT_RELATED): ct state "related", in both directions.
constexpr uint32_t kCtStateRelated = 1u << (IP_CT_RELATED + 1);
// ct state "new": a connection's first packet(s), before any reply.
constexpr uint32_t kCtStateNew = 1u << (IP_CT_NEW + 1);
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpAck = 0x10;

// `meta nfproto <v> ...`: @th,96,8 . <l3 length> { keys } counter accept.
// IPv4: only IHL 5 (`ip hdrlength 5`), length = total length (20 + doff*4).
// IPv6: only nexthdr tcp (no extension headers), length = payload length
// (doff*4). FIN and RST are never skipped: they end flows, and the engine
// frees flow state on them (a handful of packets per connection). Only
// segments with ACK set are skipped: the client's SYN (no ACK) is queued, so
// the engine learns which side opened the flow even when the server speaks
// first (SMTP, SSH, FTP banners) and first-packet decisions can act on it.
void addBareTcpRule(BatchWriter& b, const NftTableSpec& s, bool v6, uint32_t set_id) {
  addAnonSet(b, s.table, set_id, kTypeInteger << kTypeBits | kTypeInteger, 8, bareTcpKeys(v6 ? 0 : 20),
             bareTcpTypeof(v6));
  RuleBuilder r(s.table, "pre");
  r.meta(NFT_META_NFPROTO).eq8(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
  if (v6) {
    r.payload(NFT_PAYLOAD_NETWORK_HEADER, 6, 1).eq8(IPPROTO_TCP);  // ip6 nexthdr tcp
  } else {
    r.meta(NFT_META_L4PROTO).eq8(IPPROTO_TCP);
    r.payload(NFT_PAYLOAD_NETWORK_HEADER, 0, 1).and8(0x0f).eq8(5);  // ip hdrlength 5
  }
  // tcp flags & (fin|rst|ack) == ack
  r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1).and8(kTcpFin | kTcpRst | kTcpAck).eq8(kTcpAck);
  r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 12, 1, NFT_REG_1);
  r.payload(NFT_PAYLOAD_NETWORK_HEADER, v6 ? 4 : 2, 2, NFT_REG32_01);
  r.lookup(kAnonSetName, set_id, NFT_REG_1, false);
  if (s.counters) r.counter();
  r.verdict(NF_ACCEPT);
  addRule(b, r);
}

Result<void> validate(const NftTableSpec& s) {
  auto nameOk = [](const std::string& n) { return !n.empty() && n.size() < NFT_NAME_MAXLEN; };
  if (!nameOk(s.table)) return makeError("nft: table name must be 1..255 characters");
  const uint32_t bits[] = {s.decided_bit, s.drop_bit, s.reject_bit};
  for (uint32_t b : bits)
    if (b == 0 || (b & (b - 1)) != 0) return makeError("nft: decided/drop/reject bits must each be one bit");
  if ((s.decided_bit & s.drop_bit) || (s.decided_bit & s.reject_bit) || (s.drop_bit & s.reject_bit) ||
      ((s.decided_bit | s.drop_bit | s.reject_bit) & s.value_mask))
    return makeError("nft: decided/drop/reject bits and value_mask must not overlap");
  if (s.queue_count == 0) return makeError("nft: queue_count must be >= 1");
  if (uint32_t{s.queue_num} + s.queue_count > 65536) return makeError("nft: queue_num + queue_count exceeds 65536");
  for (const auto& i : s.interfaces)
    if (i.empty() || i.size() >= IFNAMSIZ) return makeError("nft: interface name '" + i + "' invalid");
  const uint32_t ours = s.decided_bit | s.drop_bit | s.reject_bit | s.value_mask;
  for (std::size_t i = 0; i < s.sets.size(); ++i) {
    const NftSetSpec& set = s.sets[i];
    if (!nameOk(set.name)) return makeError("nft: set name must be 1..255 characters");
    for (std::size_t j = 0; j < i; ++j)
      if (s.sets[j].name == set.name) return makeError("nft: duplicate set name '" + set.name + "'");
    const uint32_t bind = set.bind_bits;
    if (bind & ~ours)
      return makeError("nft: set '" + set.name + "': bind_bits outside the decided/drop/reject bits and value_mask");
    const bool drop = bind & s.drop_bit, reject = bind & s.reject_bit;
    if ((drop || reject) && !(bind & s.decided_bit))
      return makeError("nft: set '" + set.name + "': bind_bits with drop or reject must include the decided bit");
    if (drop && reject) return makeError("nft: set '" + set.name + "': bind_bits cannot both drop and reject");
  }
  return {};
}

// ct mark & mask == mask
RuleBuilder& ctMarkHas(RuleBuilder& r, uint32_t mask) { return r.ct(NFT_CT_MARK).and32(mask).eq32(mask); }

// Rules shared by the forward and input chains: enforce decided drop/reject.
void addEnforceChain(BatchWriter& b, const NftTableSpec& s, std::string_view chain, uint32_t hook) {
  addChain(b, s.table, chain, hook, 0);
  const uint32_t rej = s.decided_bit | s.reject_bit;
  const uint32_t drop = s.decided_bit | s.drop_bit;
  {
    // Resets of a rejected flow pass: the engine turns the server's deciding
    // packet into a reset towards the client (the kernel's reject below only
    // answers a packet's sender), and either end's own resets are welcome.
    RuleBuilder r(s.table, chain);
    ctMarkHas(r, rej).meta(NFT_META_L4PROTO).eq8(IPPROTO_TCP);
    r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1).and8(kTcpRst).eq8(kTcpRst);
    r.verdict(NF_ACCEPT);
    addRule(b, r);
  }
  {
    RuleBuilder r(s.table, chain);
    ctMarkHas(r, rej).meta(NFT_META_L4PROTO).eq8(IPPROTO_TCP);
    if (s.counters) r.counter();
    r.reject(NFT_REJECT_TCP_RST, 0);
    addRule(b, r);
  }
  {
    RuleBuilder r(s.table, chain);
    ctMarkHas(r, rej);
    if (s.counters) r.counter();
    r.reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
    addRule(b, r);
  }
  {
    RuleBuilder r(s.table, chain);
    ctMarkHas(r, drop);
    if (s.counters) r.counter();
    r.verdict(NF_DROP);
    addRule(b, r);
  }
}

void addQueue(RuleBuilder& r, QueueMode mode, uint16_t num, uint16_t total, const NftTableSpec& s) {
  if (mode == QueueMode::Native) {
    r.nativeQueue(num, total, queueFlagsNative(s));
  } else {
    r.xtQueue(num, total, queueFlagsXt(s));
  }
}

void addNamedSet(BatchWriter& b, std::string_view table, const NftSetSpec& set, uint32_t set_id) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, std::string(table).c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kNftFamily);
  const bool v6 = set.family == SetFamily::V6;
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, v6 ? kTypeIp6Addr : kTypeIpAddr);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, v6 ? 16 : 4);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, set_id);
  if (set.timeout_s > 0) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
    nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, uint64_t{set.timeout_s} * 1000);
  } else {
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, 0);
  }
  b.nft(NFT_MSG_NEWSET, kNftFamily, NLM_F_CREATE, kMsgRoom,
        [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s.get()); });
}

// Appends NEWSETELEM/DELSETELEM messages, kElemsPerMessage elements each.
void addElements(BatchWriter& b, uint16_t type, std::string_view table, std::string_view set,
                 std::span<const IpAddressBytes> addrs, uint32_t timeout_s, bool with_expiration) {
  for (std::size_t off = 0; off < addrs.size(); off += kElemsPerMessage) {
    SetPtr s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, std::string(table).c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, std::string(set).c_str());
    const std::size_t end = std::min(addrs.size(), off + kElemsPerMessage);
    for (std::size_t i = off; i < end; ++i) {
      nftnl_set_elem* e = nftnl_set_elem_alloc();
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, addrs[i].bytes.data(), static_cast<uint32_t>(addrs[i].size()));
      if (type == NFT_MSG_NEWSETELEM && timeout_s > 0) {
        const uint64_t ms = uint64_t{timeout_s} * 1000;
        nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, ms);
        if (with_expiration) nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_EXPIRATION, ms);
      }
      nftnl_set_elem_add(s.get(), e);
    }
    // ~100 bytes per element is generous (key 16 + timeout 12 + expiration 12 + nests).
    b.nft(type, kNftFamily, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, 1024 + (end - off) * 128,
          [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
  }
}

Result<void> validateElements(std::string_view table, std::string_view set, SetFamily family,
                              std::span<const IpAddressBytes> addrs) {
  if (table.empty() || table.size() >= NFT_NAME_MAXLEN || set.empty() || set.size() >= NFT_NAME_MAXLEN)
    return makeError("nft: table/set name must be 1..255 characters");
  for (const auto& a : addrs)
    if (a.family != family) return makeError("nft: address family does not match set '" + std::string(set) + "'");
  return {};
}

}  // namespace

std::string_view queueModeName(QueueMode mode) {
  return mode == QueueMode::Native ? "native nft queue" : "xtables NFQUEUE target (nft_compat)";
}

IpAddressBytes IpAddressBytes::v4(uint32_t host_order) {
  IpAddressBytes a;
  a.family = SetFamily::V4;
  const uint32_t be = htonl(host_order);
  std::memcpy(a.bytes.data(), &be, 4);
  return a;
}

IpAddressBytes IpAddressBytes::v6(const std::array<uint8_t, 16>& bytes) {
  IpAddressBytes a;
  a.family = SetFamily::V6;
  a.bytes = bytes;
  return a;
}

Result<IpAddressBytes> IpAddressBytes::parse(std::string_view text) {
  const std::string s(text);
  IpAddressBytes a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = SetFamily::V4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = SetFamily::V6;
    return a;
  }
  return makeError("not an IP address: '" + s + "'");
}

Result<std::vector<uint8_t>> buildTableBatch(const NftTableSpec& s, bool replace) {
  if (auto v = validate(s); !v) return v.error();
  BatchWriter b;
  if (replace) {
    // Make sure it exists (no-op for its owner), then drop it: the rest of
    // the batch recreates it. One transaction, so no packet sees a gap.
    addTable(b, s.table, NFT_TABLE_F_OWNER);
    addTable(b, s.table, 0, NFT_MSG_DELTABLE);
  }
  // NFT_TABLE_F_OWNER: the table lives as long as the netlink socket that
  // sent this batch; the kernel removes it when the socket closes (also on
  // crash), so no stale queue rule survives flowgate. Another socket cannot
  // modify or delete it (EPERM).
  addTable(b, s.table, NFT_TABLE_F_OWNER);

  // Named sets get ids 1..n in spec order (bound-set rules refer to them).
  uint32_t set_id = 1;
  for (const auto& set : s.sets) addNamedSet(b, s.table, set, set_id++);

  const uint32_t decided = s.decided_bit;
  const uint32_t drop = s.decided_bit | s.drop_bit;
  const uint32_t ours = s.decided_bit | s.drop_bit | s.reject_bit | s.value_mask;

  // --- pre: prerouting, priority -90. After conntrack (-200) so ct mark is
  // known; after NAT's destination step (-100), so the replies of a
  // masqueraded connection already carry the client's address again and
  // both directions show the same tuple (at mangle priority, -150, a reply
  // still shows the uplink's address and would look like another flow); a
  // DNATed (port-forwarded) flow shows its real server. Before routing, so a
  // mark restored here steers `ip rule fwmark` lookups.
  addChain(b, s.table, "pre", NF_INET_PRE_ROUTING, kPrePriority);
  for (std::size_t i = 0; i < s.sets.size(); ++i) {
    // 0. kernel-bound sets: a *new* connection (ct state new: its opening
    // packet, never a packet of a flow already under way, never an ICMP
    // error, which is "related") that carries none of our bits yet and
    // whose original-direction destination is in the set gets the set's bits
    // in its ct mark, then goes on through the chain (no verdict): decided
    // drop dies at rule 1, decided accept/reject takes rule 2 (reject in
    // fwd/in), provisional value bits are restored by rule 2b and queued.
    const NftSetSpec& set = s.sets[i];
    if (set.bind_bits == 0) continue;
    const bool v6 = set.family == SetFamily::V6;
    RuleBuilder r(s.table, "pre");
    r.meta(NFT_META_NFPROTO).eq8(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
    r.ct(NFT_CT_STATE).and32(kCtStateNew).ne32(0);
    r.ct(NFT_CT_DIRECTION).eq8(IP_CT_DIR_ORIGINAL);
    r.ct(NFT_CT_MARK).and32(ours).eq32(0);
    r.payload(NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4);  // ip6 daddr / ip daddr
    r.lookup(set.name, static_cast<uint32_t>(i + 1), NFT_REG_1, /*invert=*/false);
    if (s.counters) r.counter();
    r.ct(NFT_CT_MARK).or32(set.bind_bits).ctSet(NFT_CT_MARK);
    addRule(b, r);
  }
  {  // 1. decided + drop: the kernel drops the flow; no mark work needed.
    RuleBuilder r(s.table, "pre");
    ctMarkHas(r, drop);
    if (s.counters) r.counter();
    r.verdict(NF_DROP);
    addRule(b, r);
  }
  if (s.observe_dns) {
    // 1b. DNS responses (reply direction, transport source port 53, UDP or
    // TCP) of decided flows still go to userspace, carrying the decided
    // mark, so the engine
    // learns address -> hostname hints; it accepts them unchanged and
    // pre_save is then a no-op (the ct mark is decided already). Same
    // queues and flags as rule 6, so bypass keeps this fail-open too.
    const uint32_t id = set_id++;
    addAnonSet(b, s.table, id, kTypeInetProto, 1, {{IPPROTO_TCP}, {IPPROTO_UDP}}, metaTypeof(NFT_META_L4PROTO));
    RuleBuilder r(s.table, "pre");
    ctMarkHas(r, decided);
    r.ct(NFT_CT_DIRECTION).eq8(IP_CT_DIR_REPLY);
    r.meta(NFT_META_L4PROTO).lookup(kAnonSetName, id, NFT_REG_1, /*invert=*/false);
    const uint16_t dns_port = htons(53);
    r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2).cmp(NFT_CMP_EQ, &dns_port, sizeof dns_port);  // th sport 53
    r.ct(NFT_CT_MARK).metaSet(NFT_META_MARK);
    if (s.counters) r.counter();
    addQueue(r, s.queue_mode, s.queue_num, s.queue_count, s);
    addRule(b, r);
  }
  {  // 2. decided: restore the packet mark from the ct mark and skip userspace
     // (without fast_path -- a benchmark mode -- decided flows stay queued).
    RuleBuilder r(s.table, "pre");
    ctMarkHas(r, decided).ct(NFT_CT_MARK).metaSet(NFT_META_MARK);
    if (s.fast_path) r.verdict(NF_ACCEPT);
    addRule(b, r);
  }
  {  // 2b. provisional value bits (a bound set or an early verdict set a
     // route/class, the flow is not decided yet): restore the packet mark
     // too, no verdict. The flow is still queued, but the segments that skip
     // the queue (rule 5) must be routed by the same mark, or a NATed flow
     // would leave through the wrong uplink.
    RuleBuilder r(s.table, "pre");
    r.ct(NFT_CT_MARK).and32(s.value_mask).ne32(0);
    r.ct(NFT_CT_MARK).metaSet(NFT_META_MARK);
    addRule(b, r);
  }
  {  // 3. never queue loopback traffic (local processes talking to themselves).
    RuleBuilder r(s.table, "pre");
    r.meta(NFT_META_IIFNAME).ifname("lo").verdict(NF_ACCEPT);
    addRule(b, r);
  }
  {  // 3b. IPv6 neighbour discovery (RS, RA, NS, NA, redirect: ICMPv6 types
     // 133..137) is untracked by conntrack, so it would be queued on every
     // packet; a slow or stopped-but-bound engine must never stall ND.
    RuleBuilder r(s.table, "pre");
    r.meta(NFT_META_NFPROTO).eq8(NFPROTO_IPV6).meta(NFT_META_L4PROTO).eq8(IPPROTO_ICMPV6);
    r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
    const uint8_t lo = 133, hi = 137;
    r.cmp(NFT_CMP_GTE, &lo, 1).cmp(NFT_CMP_LTE, &hi, 1).verdict(NF_ACCEPT);
    addRule(b, r);
  }
  if (!s.interfaces.empty()) {  // 4. only the configured input interfaces are inspected.
    std::vector<std::vector<uint8_t>> keys;
    for (const auto& i : s.interfaces) {
      std::vector<uint8_t> k(IFNAMSIZ, 0);
      std::memcpy(k.data(), i.data(), i.size());
      keys.push_back(std::move(k));
    }
    const uint32_t id = set_id++;
    addAnonSet(b, s.table, id, kTypeIfname, IFNAMSIZ, keys, metaTypeof(NFT_META_IIFNAME));
    // A flow whose original direction does not come in on an inspected
    // interface (e.g. opened from the WAN side) is marked decided (accept, no
    // class) in the kernel, so its packets in *both* directions take the
    // fast path; the replies of flows opened on an inspected interface
    // arrive on other interfaces and must still be queued.
    RuleBuilder r(s.table, "pre");
    r.ct(NFT_CT_DIRECTION).eq8(IP_CT_DIR_ORIGINAL);
    r.meta(NFT_META_IIFNAME).lookup(kAnonSetName, id, NFT_REG_1, /*invert=*/true);
    r.ct(NFT_CT_MARK).or32(s.decided_bit).ctSet(NFT_CT_MARK);
    r.verdict(NF_ACCEPT);
    addRule(b, r);
  }
  if (s.skip_bare_tcp) {  // 5. TCP segments without payload carry nothing to classify.
    addBareTcpRule(b, s, false, set_id++);
    addBareTcpRule(b, s, true, set_id++);
  }
  {  // 6. everything else of an undecided flow goes to userspace.
    RuleBuilder r(s.table, "pre");
    if (s.counters) r.counter();
    addQueue(r, s.queue_mode, s.queue_num, s.queue_count, s);
    addRule(b, r);
  }

  // --- pre_save: prerouting, priority -89. After userspace returns
  // NF_ACCEPT the kernel resumes at the *next hook entry*, i.e. this chain,
  // with the verdict's packet mark applied. Copy a mark carrying the decided
  // bit or provisional value bits into the ct mark until the ct mark is
  // decided (the ct test keeps fast-path packets, whose meta mark was just
  // restored from a decided ct mark, from rewriting it on every packet; a
  // provisional mark restored by rule 2b rewrites the same value, which the
  // kernel ignores).
  // Never from a *related* packet (an ICMP error quoting a connection):
  // conntrack files it under the connection it quotes, so copying its mark
  // would decide that connection without inspecting it -- a forged ICMP
  // error would let a client bypass the policy.
  addChain(b, s.table, "pre_save", NF_INET_PRE_ROUTING, kPrePriority + 1);
  {
    RuleBuilder r(s.table, "pre_save");
    r.meta(NFT_META_MARK).and32(decided | s.value_mask).ne32(0);
    r.ct(NFT_CT_MARK).and32(decided).eq32(0);
    r.ct(NFT_CT_STATE).and32(kCtStateRelated).eq32(0);
    r.meta(NFT_META_MARK).ctSet(NFT_CT_MARK);
    addRule(b, r);
  }

  // --- fwd / in: reject and drop need a hook after routing (reject is not
  // valid at prerouting in all kernels, and a reject needs a route back).
  addEnforceChain(b, s, "fwd", NF_INET_FORWARD);
  addEnforceChain(b, s, "in", NF_INET_LOCAL_IN);
  return std::move(b).finish();
}

Result<std::vector<uint8_t>> buildDeleteTableBatch(std::string_view table) {
  if (table.empty() || table.size() >= NFT_NAME_MAXLEN) return makeError("nft: table name must be 1..255 characters");
  BatchWriter b;
  addTable(b, table, 0, NFT_MSG_DELTABLE);
  return std::move(b).finish();
}

Result<std::vector<uint8_t>> buildProbeBatch(QueueMode mode, uint32_t pid) {
  const std::string table = "flowgate_probe_" + std::to_string(pid);
  BatchWriter b;
  addTable(b, table, NFT_TABLE_F_OWNER);
  // A regular chain: the expression is validated and its module loaded,
  // but nothing is hooked, so no packet can ever reach the probe rule.
  addChain(b, table, "probe", std::nullopt, 0);
  RuleBuilder r(table, "probe");
  NftTableSpec defaults;
  addQueue(r, mode, 0, 1, defaults);
  addRule(b, r);
  addTable(b, table, 0, NFT_MSG_DELTABLE);
  return std::move(b).finish();
}

Result<QueueMode> detectQueueMode(NlSocket& sock) {
  const uint32_t pid = static_cast<uint32_t>(getpid());
  std::string refusals;
  for (QueueMode mode : {QueueMode::Native, QueueMode::XtCompat}) {
    auto batch = buildProbeBatch(mode, pid);
    if (!batch) return batch.error();
    auto sent = sock.sendBatch(*batch);
    if (sent) return mode;
    const int err = sent.error().code.value();
    // ENOENT: expression/target type unknown (module absent);
    // EOPNOTSUPP: present but not usable in this family/hook.
    if (err != ENOENT && err != EOPNOTSUPP) return sent.error();
    refusals += std::string(refusals.empty() ? "" : "; ") + std::string(queueModeName(mode)) + ": " +
                sent.error().message();
  }
  return Error{std::make_error_code(std::errc::not_supported),
               "kernel supports neither native nft queue nor the NFQUEUE target (" + refusals + ")"};
}

Result<std::vector<uint8_t>> buildSetElementsBatch(std::string_view table, std::string_view set, SetFamily family,
                                                   std::span<const IpAddressBytes> addrs, uint32_t timeout_s,
                                                   ElementRefresh refresh) {
  if (auto v = validateElements(table, set, family, addrs); !v) return v.error();
  BatchWriter b;
  if (addrs.empty()) return std::move(b).finish();
  if (refresh == ElementRefresh::Recreate) {
    addElements(b, NFT_MSG_NEWSETELEM, table, set, addrs, timeout_s, false);
    addElements(b, NFT_MSG_DELSETELEM, table, set, addrs, 0, false);
  }
  addElements(b, NFT_MSG_NEWSETELEM, table, set, addrs, timeout_s, refresh == ElementRefresh::Expiration);
  return std::move(b).finish();
}

Result<std::vector<uint8_t>> buildDeleteSetElementsBatch(std::string_view table, std::string_view set,
                                                         SetFamily family, std::span<const IpAddressBytes> addrs) {
  if (auto v = validateElements(table, set, family, addrs); !v) return v.error();
  BatchWriter b;
  addElements(b, NFT_MSG_DELSETELEM, table, set, addrs, 0, false);
  return std::move(b).finish();
}

Result<void> installTable(NlSocket& sock, const NftTableSpec& spec, bool replace) {
  auto batch = buildTableBatch(spec, replace);
  if (!batch) return batch.error();
  auto sent = sock.sendBatch(*batch);
  if (sent) return {};
  const auto& f = sock.lastFailure();
  const bool on_table = f && (f->type & 0xff) == NFT_MSG_NEWTABLE;
  const int err = sent.error().code.value();
  const std::string name = "table inet " + spec.table;
  if (on_table && err == EPERM) {
    return errnoError(name + " is owned by another netlink socket: is another flowgate instance running? "
                             "(or the process lacks CAP_NET_ADMIN)",
                      err);
  }
  if (on_table && (err == EOPNOTSUPP || err == EEXIST)) {
    return errnoError(name + " already exists without the owner flag (left by `nft` or an older flowgate); "
                             "remove it with `nft delete table inet " + spec.table + "`",
                      err);
  }
  return sent.error();
}

}  // namespace fg::nl
