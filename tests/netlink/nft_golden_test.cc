// Golden tests for netlink/nft.h: build each batch, parse it back with
// libmnl + libnftnl, and check the attributes the kernel will act on.
#include <net/if.h>
#include <netinet/in.h>
// after netinet/in.h (linux/in.h conflicts otherwise)
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include <map>

#include "netlink/nft.h"
#include "tests/netlink/parse_util.h"

namespace fg::nl {
namespace {

using namespace fg::nl::test;

// Everything in one table batch, parsed.
struct Parsed {
  std::vector<uint8_t> buf;  // owns the bytes `msgs` point into (moves keep the heap block)
  std::vector<const nlmsghdr*> msgs;
  std::vector<Table> tables;  // NEWTABLE in order
  std::map<std::string, Chain> chains;
  std::vector<std::pair<std::string, Rule>> rules;  // (chain, rule) in order
  std::vector<Set> sets;                            // NEWSET in order
  std::vector<SetElemMsg> set_elems;                // NEWSETELEM in order

  std::vector<nftnl_rule*> chainRules(const std::string& chain) const {
    std::vector<nftnl_rule*> out;
    for (const auto& [c, r] : rules)
      if (c == chain) out.push_back(r.get());
    return out;
  }
};

Parsed parse(std::vector<uint8_t> batch) {
  Parsed p;
  p.buf = std::move(batch);
  p.msgs = splitMessages(p.buf);
  for (const auto* m : p.msgs) {
    if (isNft(m, NFT_MSG_NEWTABLE)) p.tables.push_back(parseTable(m));
    if (isNft(m, NFT_MSG_NEWCHAIN)) {
      auto c = parseChain(m);
      std::string name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
      p.chains.emplace(name, std::move(c));
    }
    if (isNft(m, NFT_MSG_NEWRULE)) {
      auto r = parseRule(m);
      std::string chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
      p.rules.emplace_back(chain, std::move(r));
    }
    if (isNft(m, NFT_MSG_NEWSET)) p.sets.push_back(parseSet(m));
    if (isNft(m, NFT_MSG_NEWSETELEM)) p.set_elems.push_back(parseSetElems(m));
  }
  return p;
}

NftTableSpec baseSpec() {
  return NftTableSpec{
      .queue_num = 4,
      .queue_count = 3,
      .queue_mode = QueueMode::XtCompat,
      .sets = {{.name = "zero_rated", .family = SetFamily::V4, .timeout_s = 3600},
               {.name = "zero_rated6", .family = SetFamily::V6, .timeout_s = 0}},
  };
}

Parsed build(const NftTableSpec& spec, bool replace = false) {
  auto batch = buildTableBatch(spec, replace);
  EXPECT_TRUE(batch.ok()) << (batch.ok() ? "" : batch.error().message());
  return batch.ok() ? parse(std::move(*batch)) : Parsed{};
}

TEST(NftTableBatch, FramedAsOneNftablesBatch) {
  Parsed p = build(baseSpec());
  ASSERT_GE(p.msgs.size(), 3u);
  EXPECT_EQ(p.msgs.front()->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(p.msgs.back()->nlmsg_type, NFNL_MSG_BATCH_END);
  const auto* gen = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(p.msgs.front()));
  EXPECT_EQ(ntohs(gen->res_id), NFNL_SUBSYS_NFTABLES);
  for (std::size_t i = 1; i + 1 < p.msgs.size(); ++i) {
    EXPECT_EQ(p.msgs[i]->nlmsg_type >> 8, NFNL_SUBSYS_NFTABLES) << i;
    EXPECT_TRUE(p.msgs[i]->nlmsg_flags & NLM_F_ACK) << i;
    EXPECT_EQ(p.msgs[i]->nlmsg_seq, i) << "deterministic sequence numbers";
    const auto* g = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(p.msgs[i]));
    EXPECT_EQ(g->nfgen_family, NFPROTO_INET) << i;
  }
  // The table comes first, everything else refers to it.
  EXPECT_TRUE(isNft(p.msgs[1], NFT_MSG_NEWTABLE));
}

TEST(NftTableBatch, TableIsOwnedAndNotExclusive) {
  Parsed p = build(baseSpec());
  ASSERT_EQ(p.tables.size(), 1u);
  EXPECT_STREQ(nftnl_table_get_str(p.tables[0].get(), NFTNL_TABLE_NAME), "flowgate");
  EXPECT_EQ(nftnl_table_get_u32(p.tables[0].get(), NFTNL_TABLE_FLAGS) & NFT_TABLE_F_OWNER, NFT_TABLE_F_OWNER);
  const auto* m = p.msgs[1];
  EXPECT_TRUE(m->nlmsg_flags & NLM_F_CREATE);
  EXPECT_FALSE(m->nlmsg_flags & NLM_F_EXCL) << "owner may resend; others get EPERM";
}

TEST(NftTableBatch, ChainsHooksAndPriorities) {
  Parsed p = build(baseSpec());
  struct Want {
    const char* name;
    uint32_t hook;
    int32_t prio;
  };
  const Want wants[] = {{"pre", NF_INET_PRE_ROUTING, -90},
                        {"pre_save", NF_INET_PRE_ROUTING, -89},
                        {"fwd", NF_INET_FORWARD, 0},
                        {"in", NF_INET_LOCAL_IN, 0}};
  ASSERT_EQ(p.chains.size(), std::size(wants));
  for (const auto& w : wants) {
    SCOPED_TRACE(w.name);
    ASSERT_TRUE(p.chains.count(w.name));
    auto* c = p.chains.at(w.name).get();
    EXPECT_EQ(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), w.hook);
    EXPECT_EQ(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), w.prio);
    EXPECT_STREQ(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
    EXPECT_EQ(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), static_cast<uint32_t>(NF_ACCEPT));
  }
}

// Rule indexes in `pre` for baseSpec() (no bound sets, observe_dns, skip_bare_tcp).
enum PreRule : std::size_t {
  kDrop = 0,
  kDns = 1,
  kDecided = 2,
  kProvisional = 3,
  kLo = 4,
  kNd = 5,
  kBareV4 = 6,
  kBareV6 = 7,
  kQueue = 8,
  kPreRules = 9,
};

TEST(NftTableBatch, PreChainRuleShapes) {
  Parsed p = build(baseSpec());
  auto pre = p.chainRules("pre");
  ASSERT_EQ(pre.size(), kPreRules);
  EXPECT_EQ(exprNames(pre[kDrop]), "ct bitwise cmp counter immediate");      // decided|drop -> drop
  EXPECT_EQ(exprNames(pre[kDns]), "ct bitwise cmp ct cmp meta lookup payload cmp ct meta counter target");  // DNS observe
  EXPECT_EQ(exprNames(pre[kDecided]), "ct bitwise cmp ct meta immediate");  // decided -> restore mark, accept
  EXPECT_EQ(exprNames(pre[kProvisional]), "ct bitwise cmp ct meta");       // value bits -> restore mark
  EXPECT_EQ(exprNames(pre[kLo]), "meta cmp immediate");                    // iifname lo accept
  EXPECT_EQ(exprNames(pre[kNd]), "meta cmp meta cmp payload cmp cmp immediate");  // icmpv6 ND accept
  EXPECT_EQ(exprNames(pre[kQueue]), "counter target");                     // queue

  auto r0 = exprs(pre[kDrop]);
  EXPECT_EQ(nftnl_expr_get_u32(r0[0], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_MARK));
  EXPECT_EQ(dataU32(exprData(r0[1], NFTNL_EXPR_BITWISE_MASK)), 0xC0000000u);
  EXPECT_EQ(dataU32(exprData(r0[2], NFTNL_EXPR_CMP_DATA)), 0xC0000000u);
  EXPECT_EQ(nftnl_expr_get_u32(r0[4], NFTNL_EXPR_IMM_VERDICT), static_cast<uint32_t>(NF_DROP));

  auto r1 = exprs(pre[kDecided]);
  EXPECT_EQ(dataU32(exprData(r1[1], NFTNL_EXPR_BITWISE_MASK)), 0x80000000u);
  EXPECT_EQ(dataU32(exprData(r1[2], NFTNL_EXPR_CMP_DATA)), 0x80000000u);
  EXPECT_EQ(nftnl_expr_get_u32(r1[3], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_MARK));
  EXPECT_EQ(nftnl_expr_get_u32(r1[4], NFTNL_EXPR_META_KEY), static_cast<uint32_t>(NFT_META_MARK));
  EXPECT_TRUE(nftnl_expr_is_set(r1[4], NFTNL_EXPR_META_SREG)) << "meta mark *set*";
  EXPECT_EQ(nftnl_expr_get_u32(r1[5], NFTNL_EXPR_IMM_VERDICT), static_cast<uint32_t>(NF_ACCEPT));

  NftTableSpec slow = baseSpec();
  slow.fast_path = false;
  Parsed p2 = build(slow);
  EXPECT_EQ(exprNames(p2.chainRules("pre")[kDecided]), "ct bitwise cmp ct meta") << "no accept without fast_path";
}

// 2b: ct mark & value_mask != 0 -> meta mark set ct mark, no verdict, so a
// provisional route reaches the segments that skip the queue.
TEST(NftTableBatch, ProvisionalValueBitsRestorePacketMark) {
  NftTableSpec spec = baseSpec();
  spec.value_mask = 0x00000fff;
  Parsed p = build(spec);
  auto pre = p.chainRules("pre");
  ASSERT_EQ(pre.size(), kPreRules);
  auto e = exprs(pre[kProvisional]);
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(nftnl_expr_get_u32(e[0], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_MARK));
  EXPECT_EQ(dataU32(exprData(e[1], NFTNL_EXPR_BITWISE_MASK)), 0x00000fffu);
  EXPECT_EQ(dataU32(exprData(e[1], NFTNL_EXPR_BITWISE_XOR)), 0u);
  EXPECT_EQ(nftnl_expr_get_u32(e[2], NFTNL_EXPR_CMP_OP), static_cast<uint32_t>(NFT_CMP_NEQ));
  EXPECT_EQ(dataU32(exprData(e[2], NFTNL_EXPR_CMP_DATA)), 0u);
  EXPECT_EQ(nftnl_expr_get_u32(e[3], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_MARK));
  EXPECT_FALSE(nftnl_expr_is_set(e[3], NFTNL_EXPR_CT_SREG)) << "ct mark *load*";
  EXPECT_EQ(nftnl_expr_get_u32(e[4], NFTNL_EXPR_META_KEY), static_cast<uint32_t>(NFT_META_MARK));
  EXPECT_TRUE(nftnl_expr_is_set(e[4], NFTNL_EXPR_META_SREG)) << "meta mark *set*";
  // It must follow the decided rule (which accepts) and precede the bare-TCP
  // skip: find all three in the built chain by their shape, not by the
  // indices this file assumes.
  auto indexOf = [&](const std::string& shape) {
    for (std::size_t i = 0; i < pre.size(); ++i)
      if (exprNames(pre[i]) == shape) return static_cast<int>(i);
    return -1;
  };
  const int decided = indexOf("ct bitwise cmp ct meta immediate");
  const int provisional = indexOf("ct bitwise cmp ct meta");
  const int bare =
      indexOf("meta cmp meta cmp payload bitwise cmp payload bitwise cmp payload payload lookup counter immediate");
  ASSERT_GE(decided, 0);
  ASSERT_GE(provisional, 0);
  ASSERT_GE(bare, 0) << exprNames(pre[kBareV4]);
  EXPECT_LT(decided, provisional);
  EXPECT_LT(provisional, bare);
}

// The anonymous `{ tcp, udp }` set of the DNS rule: keys, type, typeof udata.
const Set* dnsProtoSet(const Parsed& p) {
  for (const auto& s : p.sets) {
    const uint32_t flags = nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS);
    if ((flags & NFT_SET_ANONYMOUS) && nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_TYPE) == 12) return &s;
  }
  return nullptr;
}

TEST(NftTableBatch, DnsResponsesOfDecidedFlowsAreQueuedWithTheirMark) {
  Parsed p = build(baseSpec());
  auto pre = p.chainRules("pre");
  ASSERT_EQ(pre.size(), kPreRules);
  // ct mark & decided == decided, ct direction reply (answers to a query
  // the client sent, never packets a client sends from its port 53), meta
  // l4proto { tcp, udp }, th sport 53, meta mark set ct mark, counter, the
  // queue of rule 6.
  auto e = exprs(pre[kDns]);
  ASSERT_EQ(e.size(), 13u);
  EXPECT_EQ(dataU32(exprData(e[1], NFTNL_EXPR_BITWISE_MASK)), 0x80000000u);
  EXPECT_EQ(dataU32(exprData(e[2], NFTNL_EXPR_CMP_DATA)), 0x80000000u);
  EXPECT_EQ(nftnl_expr_get_u32(e[3], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_DIRECTION));
  EXPECT_EQ(exprData(e[4], NFTNL_EXPR_CMP_DATA), (std::vector<uint8_t>{1}));  // IP_CT_DIR_REPLY
  EXPECT_EQ(nftnl_expr_get_u32(e[5], NFTNL_EXPR_META_KEY), static_cast<uint32_t>(NFT_META_L4PROTO));
  EXPECT_FALSE(nftnl_expr_is_set(e[6], NFTNL_EXPR_LOOKUP_FLAGS)) << "not inverted";
  EXPECT_EQ(nftnl_expr_get_u32(e[7], NFTNL_EXPR_PAYLOAD_BASE), static_cast<uint32_t>(NFT_PAYLOAD_TRANSPORT_HEADER));
  EXPECT_EQ(nftnl_expr_get_u32(e[7], NFTNL_EXPR_PAYLOAD_OFFSET), 0u);
  EXPECT_EQ(nftnl_expr_get_u32(e[7], NFTNL_EXPR_PAYLOAD_LEN), 2u);
  EXPECT_EQ(exprData(e[8], NFTNL_EXPR_CMP_DATA), (std::vector<uint8_t>{0, 53})) << "network order";
  EXPECT_EQ(nftnl_expr_get_u32(e[9], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_MARK));
  EXPECT_TRUE(nftnl_expr_is_set(e[10], NFTNL_EXPR_META_SREG)) << "meta mark *set*";
  EXPECT_EQ(exprData(e[12], NFTNL_EXPR_TG_INFO), exprData(exprs(pre[kQueue])[1], NFTNL_EXPR_TG_INFO))
      << "same queues and flags (bypass) as rule 6";

  const Set* set = dnsProtoSet(p);
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(nftnl_set_get_u32(set->get(), NFTNL_SET_FLAGS), static_cast<uint32_t>(NFT_SET_ANONYMOUS | NFT_SET_CONSTANT));
  EXPECT_EQ(nftnl_set_get_u32(set->get(), NFTNL_SET_KEY_LEN), 1u);
  EXPECT_EQ(nftnl_expr_get_u32(e[6], NFTNL_EXPR_LOOKUP_SET_ID), nftnl_set_get_u32(set->get(), NFTNL_SET_ID));
  EXPECT_TRUE(nftnl_set_is_set(set->get(), NFTNL_SET_USERDATA)) << "typeof meta l4proto, for nft list";
  const SetElemMsg* elems = nullptr;
  for (const auto& se : p.set_elems)
    if (se.set_id == nftnl_set_get_u32(set->get(), NFTNL_SET_ID)) elems = &se;
  ASSERT_NE(elems, nullptr);
  ASSERT_EQ(elems->elems.size(), 2u);
  EXPECT_EQ(elems->elems[0].key, (std::vector<uint8_t>{IPPROTO_TCP}));
  EXPECT_EQ(elems->elems[1].key, (std::vector<uint8_t>{IPPROTO_UDP}));

  // Native queue, no counters: the same queue expression as rule 6.
  NftTableSpec native = baseSpec();
  native.queue_mode = QueueMode::Native;
  native.counters = false;
  Parsed pn = build(native);
  auto pren = pn.chainRules("pre");
  ASSERT_EQ(pren.size(), kPreRules);
  EXPECT_EQ(exprNames(pren[kDns]), "ct bitwise cmp ct cmp meta lookup payload cmp ct meta queue");
  auto q = exprs(pren[kDns]).back();
  EXPECT_EQ(nftnl_expr_get_u16(q, NFTNL_EXPR_QUEUE_NUM), 4);
  EXPECT_EQ(nftnl_expr_get_u16(q, NFTNL_EXPR_QUEUE_TOTAL), 3);
  EXPECT_EQ(nftnl_expr_get_u16(q, NFTNL_EXPR_QUEUE_FLAGS), NFT_QUEUE_FLAG_BYPASS);

  // observe_dns = false: no rule, no set.
  NftTableSpec off = baseSpec();
  off.observe_dns = false;
  Parsed po = build(off);
  auto preo = po.chainRules("pre");
  ASSERT_EQ(preo.size(), kPreRules - 1);
  EXPECT_EQ(exprNames(preo[1]), "ct bitwise cmp ct meta immediate") << "decided rule follows drop directly";
  EXPECT_EQ(dnsProtoSet(po), nullptr);
}

// Bound sets: one rule per set with bind_bits, at the very start of `pre`, in
// set order, for the set's family; ct mark |= bits, no verdict.
TEST(NftTableBatch, BoundSetsMarkNewFlowsFirst) {
  NftTableSpec spec = baseSpec();
  spec.sets.push_back({.name = "route_b", .family = SetFamily::V4, .bind_bits = 0x00000102});
  spec.sets.push_back({.name = "block6", .family = SetFamily::V6, .timeout_s = 60, .bind_bits = 0xC0000000});
  spec.sets.push_back({.name = "reject4", .family = SetFamily::V4, .bind_bits = 0xA0000000});
  Parsed p = build(spec);
  auto pre = p.chainRules("pre");
  ASSERT_EQ(pre.size(), kPreRules + 3);
  const char* shape = "meta cmp ct bitwise cmp ct cmp ct bitwise cmp payload lookup counter ct bitwise ct";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(exprNames(pre[i]), shape) << i;
  EXPECT_EQ(exprNames(pre[3]), "ct bitwise cmp counter immediate") << "rule 1 (drop) follows the bound sets";

  struct Want {
    const char* set;
    uint32_t set_id;  // named sets: 1..n in spec order
    uint8_t nfproto;
    uint32_t offset, len;
    uint32_t bits;
  };
  const Want wants[] = {{"route_b", 3, NFPROTO_IPV4, 16, 4, 0x00000102},
                        {"block6", 4, NFPROTO_IPV6, 24, 16, 0xC0000000},
                        {"reject4", 5, NFPROTO_IPV4, 16, 4, 0xA0000000}};
  for (std::size_t i = 0; i < std::size(wants); ++i) {
    const Want& w = wants[i];
    SCOPED_TRACE(w.set);
    auto e = exprs(pre[i]);
    ASSERT_EQ(e.size(), 16u);
    EXPECT_EQ(nftnl_expr_get_u32(e[0], NFTNL_EXPR_META_KEY), static_cast<uint32_t>(NFT_META_NFPROTO));
    EXPECT_EQ(exprData(e[1], NFTNL_EXPR_CMP_DATA), (std::vector<uint8_t>{w.nfproto}));
    // ct state new: the connection's opening packet only (never a flow under
    // way, never an ICMP error, which is "related").
    EXPECT_EQ(nftnl_expr_get_u32(e[2], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_STATE));
    EXPECT_EQ(dataU32(exprData(e[3], NFTNL_EXPR_BITWISE_MASK)), 1u << (IP_CT_NEW + 1));
    EXPECT_EQ(nftnl_expr_get_u32(e[4], NFTNL_EXPR_CMP_OP), static_cast<uint32_t>(NFT_CMP_NEQ));
    EXPECT_EQ(nftnl_expr_get_u32(e[5], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_DIRECTION));
    EXPECT_EQ(exprData(e[6], NFTNL_EXPR_CMP_DATA), (std::vector<uint8_t>{0}));  // IP_CT_DIR_ORIGINAL
    // ct mark & (decided|drop|reject|value_mask) == 0: no flowgate bits yet.
    EXPECT_EQ(nftnl_expr_get_u32(e[7], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_MARK));
    EXPECT_EQ(dataU32(exprData(e[8], NFTNL_EXPR_BITWISE_MASK)), 0xE000FFFFu);
    EXPECT_EQ(nftnl_expr_get_u32(e[9], NFTNL_EXPR_CMP_OP), static_cast<uint32_t>(NFT_CMP_EQ));
    EXPECT_EQ(dataU32(exprData(e[9], NFTNL_EXPR_CMP_DATA)), 0u);
    // ip daddr / ip6 daddr @set
    EXPECT_EQ(nftnl_expr_get_u32(e[10], NFTNL_EXPR_PAYLOAD_BASE), static_cast<uint32_t>(NFT_PAYLOAD_NETWORK_HEADER));
    EXPECT_EQ(nftnl_expr_get_u32(e[10], NFTNL_EXPR_PAYLOAD_OFFSET), w.offset);
    EXPECT_EQ(nftnl_expr_get_u32(e[10], NFTNL_EXPR_PAYLOAD_LEN), w.len);
    EXPECT_STREQ(nftnl_expr_get_str(e[11], NFTNL_EXPR_LOOKUP_SET), w.set);
    EXPECT_EQ(nftnl_expr_get_u32(e[11], NFTNL_EXPR_LOOKUP_SET_ID), w.set_id);
    EXPECT_FALSE(nftnl_expr_is_set(e[11], NFTNL_EXPR_LOOKUP_FLAGS)) << "not inverted";
    // ct mark set ct mark | bits, and no verdict: the chain goes on.
    EXPECT_FALSE(nftnl_expr_is_set(e[13], NFTNL_EXPR_CT_SREG)) << "ct mark *load*";
    EXPECT_EQ(dataU32(exprData(e[14], NFTNL_EXPR_BITWISE_MASK)), ~w.bits);
    EXPECT_EQ(dataU32(exprData(e[14], NFTNL_EXPR_BITWISE_XOR)), w.bits);
    EXPECT_EQ(nftnl_expr_get_u32(e[15], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_MARK));
    EXPECT_TRUE(nftnl_expr_is_set(e[15], NFTNL_EXPR_CT_SREG)) << "ct mark *set*";
  }
  // The set ids the lookups use are the ones the NEWSET messages carry.
  for (const auto& s : p.sets) {
    const std::string name = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
    if (name == "route_b") {
      EXPECT_EQ(nftnl_set_get_u32(s.get(), NFTNL_SET_ID), 3u);
    }
    if (name == "block6") {
      EXPECT_EQ(nftnl_set_get_u32(s.get(), NFTNL_SET_ID), 4u);
    }
  }

  spec.counters = false;
  Parsed p2 = build(spec);
  EXPECT_EQ(exprNames(p2.chainRules("pre")[0]), "meta cmp ct bitwise cmp ct cmp ct bitwise cmp payload lookup ct bitwise ct");

  // Sets without bind_bits get no rule.
  Parsed p3 = build(baseSpec());
  EXPECT_EQ(exprNames(p3.chainRules("pre")[0]), "ct bitwise cmp counter immediate");
}

TEST(NftTableBatch, BindBitsValidation) {
  auto with = [](uint32_t bits) {
    NftTableSpec s = baseSpec();
    s.sets[0].bind_bits = bits;
    return buildTableBatch(s);
  };
  // Value bits only (provisional), decided alone or with a value, decided|drop, decided|reject.
  for (uint32_t ok : {0x00000001u, 0x0000ffffu, 0x80000000u, 0x80000007u, 0xC0000000u, 0xA0000000u, 0xC0000102u}) {
    auto r = with(ok);
    EXPECT_TRUE(r.ok()) << std::hex << ok << ": " << (r.ok() ? "" : r.error().message());
  }
  // Foreign bits, drop/reject without decided, drop and reject together.
  for (uint32_t bad : {0x00010000u, 0x80010000u, 0x40000000u, 0x20000001u, 0xE0000000u}) {
    auto r = with(bad);
    EXPECT_FALSE(r.ok()) << std::hex << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, std::errc::invalid_argument);
      EXPECT_NE(r.error().context.find("zero_rated"), std::string::npos) << r.error().context;
    }
  }
  // Judged against the spec's own layout.
  NftTableSpec custom = baseSpec();
  custom.decided_bit = 0x100;
  custom.drop_bit = 0x200;
  custom.reject_bit = 0x400;
  custom.value_mask = 0xff;
  custom.sets[0].bind_bits = 0x301;
  EXPECT_TRUE(buildTableBatch(custom).ok());
  custom.sets[0].bind_bits = 0x80000000;
  EXPECT_FALSE(buildTableBatch(custom).ok());
}

TEST(NftTableBatch, XtNfqueueTargetInfoMatchesIptablesNft) {
  NftTableSpec spec = baseSpec();
  Parsed p = build(spec);
  auto pre = p.chainRules("pre");
  auto q = exprs(pre.back());
  ASSERT_EQ(q.size(), 2u);
  EXPECT_STREQ(nftnl_expr_get_str(q[1], NFTNL_EXPR_TG_NAME), "NFQUEUE");
  EXPECT_EQ(nftnl_expr_get_u32(q[1], NFTNL_EXPR_TG_REV), 3u);
  auto info = exprData(q[1], NFTNL_EXPR_TG_INFO);
  ASSERT_EQ(info.size(), 8u) << "XT_ALIGN(sizeof(xt_NFQ_info_v3))";
  xt_NFQ_info_v3 v{};
  std::memcpy(&v, info.data(), sizeof v);
  EXPECT_EQ(v.queuenum, 4);
  EXPECT_EQ(v.queues_total, 3);
  EXPECT_EQ(v.flags, NFQ_FLAG_BYPASS);
  EXPECT_EQ(info[6], 0);
  EXPECT_EQ(info[7], 0);

  spec.queue_bypass = false;
  spec.queue_cpu_fanout = true;
  Parsed p2 = build(spec);
  auto info2 = exprData(exprs(p2.chainRules("pre").back())[1], NFTNL_EXPR_TG_INFO);
  std::memcpy(&v, info2.data(), sizeof v);
  EXPECT_EQ(v.flags, NFQ_FLAG_CPU_FANOUT);
}

TEST(NftTableBatch, NativeQueueExpression) {
  NftTableSpec spec = baseSpec();
  spec.queue_mode = QueueMode::Native;
  spec.counters = false;
  Parsed p = build(spec);
  auto pre = p.chainRules("pre");
  ASSERT_EQ(exprNames(pre.back()), "queue");
  auto q = exprs(pre.back())[0];
  EXPECT_EQ(nftnl_expr_get_u16(q, NFTNL_EXPR_QUEUE_NUM), 4);
  EXPECT_EQ(nftnl_expr_get_u16(q, NFTNL_EXPR_QUEUE_TOTAL), 3);
  EXPECT_EQ(nftnl_expr_get_u16(q, NFTNL_EXPR_QUEUE_FLAGS), NFT_QUEUE_FLAG_BYPASS);
  EXPECT_EQ(exprNames(pre[0]), "ct bitwise cmp immediate") << "no counter when counters=false";
}

TEST(NftTableBatch, PreSaveCopiesDecidedOrProvisionalMarkUntilDecided) {
  Parsed p = build(baseSpec());
  auto save = p.chainRules("pre_save");
  ASSERT_EQ(save.size(), 1u);
  EXPECT_EQ(exprNames(save[0]), "meta bitwise cmp ct bitwise cmp ct bitwise cmp meta ct");
  auto e = exprs(save[0]);
  // meta mark & (decided|value_mask) != 0: decided, or provisional value bits.
  EXPECT_EQ(nftnl_expr_get_u32(e[0], NFTNL_EXPR_META_KEY), static_cast<uint32_t>(NFT_META_MARK));
  EXPECT_EQ(dataU32(exprData(e[1], NFTNL_EXPR_BITWISE_MASK)), 0x8000FFFFu);
  EXPECT_EQ(nftnl_expr_get_u32(e[2], NFTNL_EXPR_CMP_OP), static_cast<uint32_t>(NFT_CMP_NEQ));
  EXPECT_EQ(dataU32(exprData(e[2], NFTNL_EXPR_CMP_DATA)), 0u);
  // ct mark & decided == 0.
  EXPECT_EQ(dataU32(exprData(e[4], NFTNL_EXPR_BITWISE_MASK)), 0x80000000u);
  EXPECT_EQ(dataU32(exprData(e[5], NFTNL_EXPR_CMP_DATA)), 0u);
  // Not from a related packet (ct state & related == 0): an ICMP error must
  // never decide the connection it quotes.
  EXPECT_EQ(nftnl_expr_get_u32(e[6], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_STATE));
  EXPECT_EQ(dataU32(exprData(e[7], NFTNL_EXPR_BITWISE_MASK)), 0x04u);
  EXPECT_EQ(dataU32(exprData(e[8], NFTNL_EXPR_CMP_DATA)), 0u);
  EXPECT_EQ(nftnl_expr_get_u32(e[10], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_MARK));
  EXPECT_TRUE(nftnl_expr_is_set(e[10], NFTNL_EXPR_CT_SREG)) << "ct mark *set*";
}

TEST(NftTableBatch, ForwardAndInputEnforceRejectAndDrop) {
  Parsed p = build(baseSpec());
  for (const char* chain : {"fwd", "in"}) {
    SCOPED_TRACE(chain);
    auto rules = p.chainRules(chain);
    ASSERT_EQ(rules.size(), 4u);
    // Resets of a rejected TCP flow pass (the engine's reset towards the client).
    auto rst = exprs(rules[0]);
    EXPECT_EQ(exprNames(rules[0]), "ct bitwise cmp meta cmp payload bitwise cmp immediate");
    EXPECT_EQ(dataU32(exprData(rst[1], NFTNL_EXPR_BITWISE_MASK)), 0xA0000000u);
    EXPECT_EQ(exprData(rst[6], NFTNL_EXPR_BITWISE_MASK), (std::vector<uint8_t>{0x04}));
    EXPECT_EQ(exprData(rst[7], NFTNL_EXPR_CMP_DATA), (std::vector<uint8_t>{0x04}));
    EXPECT_EQ(nftnl_expr_get_u32(rst.back(), NFTNL_EXPR_IMM_VERDICT), static_cast<uint32_t>(NF_ACCEPT));
    rules.erase(rules.begin());
    auto tcp = exprs(rules[0]);
    EXPECT_EQ(exprNames(rules[0]), "ct bitwise cmp meta cmp counter reject");
    EXPECT_EQ(dataU32(exprData(tcp[1], NFTNL_EXPR_BITWISE_MASK)), 0xA0000000u);
    EXPECT_EQ(nftnl_expr_get_u32(tcp[6], NFTNL_EXPR_REJECT_TYPE), static_cast<uint32_t>(NFT_REJECT_TCP_RST));
    auto other = exprs(rules[1]);
    EXPECT_EQ(nftnl_expr_get_u32(other.back(), NFTNL_EXPR_REJECT_TYPE),
              static_cast<uint32_t>(NFT_REJECT_ICMPX_UNREACH));
    EXPECT_EQ(nftnl_expr_get_u8(other.back(), NFTNL_EXPR_REJECT_CODE), NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
    auto drop = exprs(rules[2]);
    EXPECT_EQ(dataU32(exprData(drop[1], NFTNL_EXPR_BITWISE_MASK)), 0xC0000000u);
    EXPECT_EQ(nftnl_expr_get_u32(drop.back(), NFTNL_EXPR_IMM_VERDICT), static_cast<uint32_t>(NF_DROP));
  }
}

TEST(NftTableBatch, NamedSetsTypedWithTimeouts) {
  Parsed p = build(baseSpec());
  std::vector<nftnl_set*> named;
  for (auto& s : p.sets)
    if (!(nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS)) named.push_back(s.get());
  ASSERT_EQ(named.size(), 2u);
  EXPECT_STREQ(nftnl_set_get_str(named[0], NFTNL_SET_NAME), "zero_rated");
  EXPECT_EQ(nftnl_set_get_u32(named[0], NFTNL_SET_KEY_TYPE), 7u);  // ipv4_addr
  EXPECT_EQ(nftnl_set_get_u32(named[0], NFTNL_SET_KEY_LEN), 4u);
  EXPECT_EQ(nftnl_set_get_u32(named[0], NFTNL_SET_FLAGS), static_cast<uint32_t>(NFT_SET_TIMEOUT));
  EXPECT_EQ(nftnl_set_get_u64(named[0], NFTNL_SET_TIMEOUT), 3600u * 1000u);
  EXPECT_STREQ(nftnl_set_get_str(named[1], NFTNL_SET_NAME), "zero_rated6");
  EXPECT_EQ(nftnl_set_get_u32(named[1], NFTNL_SET_KEY_TYPE), 8u);  // ipv6_addr
  EXPECT_EQ(nftnl_set_get_u32(named[1], NFTNL_SET_KEY_LEN), 16u);
  EXPECT_EQ(nftnl_set_get_u32(named[1], NFTNL_SET_FLAGS), 0u);
  EXPECT_FALSE(nftnl_set_is_set(named[1], NFTNL_SET_TIMEOUT));
}

TEST(NftTableBatch, BareTcpSkipUsesDataOffsetAndLengthSets) {
  Parsed p = build(baseSpec());
  auto pre = p.chainRules("pre");
  ASSERT_EQ(pre.size(), kPreRules);
  EXPECT_EQ(exprNames(pre[kBareV4]),
            "meta cmp meta cmp payload bitwise cmp payload bitwise cmp payload payload lookup counter immediate");
  EXPECT_EQ(exprNames(pre[kBareV6]),
            "meta cmp payload cmp payload bitwise cmp payload payload lookup counter immediate");

  // Anonymous constant sets, 8-byte concatenated key, 22 elements each.
  std::vector<std::pair<nftnl_set*, std::vector<SetElem>>> anon;
  for (std::size_t i = 0; i < p.sets.size(); ++i) {
    auto* s = p.sets[i].get();
    if (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) == (NFT_SET_ANONYMOUS | NFT_SET_CONSTANT) &&
        nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN) == 8)
      anon.emplace_back(s, std::vector<SetElem>{});
  }
  ASSERT_EQ(anon.size(), 2u);
  // Elements: NEWSETELEM messages carry the set id of their anonymous set.
  for (auto& se : p.set_elems) {
    for (auto& [s, e] : anon)
      if (se.set_id == nftnl_set_get_u32(s, NFTNL_SET_ID)) e = se.elems;
  }
  auto has = [](const std::vector<SetElem>& es, std::vector<uint8_t> k) {
    for (const auto& e : es)
      if (e.key == k) return true;
    return false;
  };
  ASSERT_EQ(anon[0].second.size(), 22u);
  ASSERT_EQ(anon[1].second.size(), 22u);
  // IPv4: doff 5 -> total length 40; doff 8 (timestamps) -> 52; doff 15 -> 80; AE variant too.
  EXPECT_TRUE(has(anon[0].second, {0x50, 0, 0, 0, 0, 40, 0, 0}));
  EXPECT_TRUE(has(anon[0].second, {0x81, 0, 0, 0, 0, 52, 0, 0}));
  EXPECT_TRUE(has(anon[0].second, {0xf0, 0, 0, 0, 0, 80, 0, 0}));
  EXPECT_FALSE(has(anon[0].second, {0x40, 0, 0, 0, 0, 36, 0, 0}));
  // IPv6: payload length = doff * 4.
  EXPECT_TRUE(has(anon[1].second, {0x50, 0, 0, 0, 0, 20, 0, 0}));
  EXPECT_TRUE(has(anon[1].second, {0xa0, 0, 0, 0, 0, 40, 0, 0}));

  // The v4 rule: flags & (fin|rst|ack) == ack (the client's SYN is queued),
  // doff byte -> reg 1, ip length -> reg32_01.
  auto v4 = exprs(pre[kBareV4]);
  EXPECT_EQ(nftnl_expr_get_u32(v4[7], NFTNL_EXPR_PAYLOAD_OFFSET), 13u);
  EXPECT_EQ(exprData(v4[8], NFTNL_EXPR_BITWISE_MASK), (std::vector<uint8_t>{0x15}));
  EXPECT_EQ(exprData(v4[9], NFTNL_EXPR_CMP_DATA), (std::vector<uint8_t>{0x10}));
  EXPECT_EQ(nftnl_expr_get_u32(v4[10], NFTNL_EXPR_PAYLOAD_BASE), static_cast<uint32_t>(NFT_PAYLOAD_TRANSPORT_HEADER));
  EXPECT_EQ(nftnl_expr_get_u32(v4[10], NFTNL_EXPR_PAYLOAD_OFFSET), 12u);
  EXPECT_EQ(nftnl_expr_get_u32(v4[11], NFTNL_EXPR_PAYLOAD_OFFSET), 2u);
  EXPECT_EQ(nftnl_expr_get_u32(v4[11], NFTNL_EXPR_PAYLOAD_DREG), static_cast<uint32_t>(NFT_REG32_01));
  EXPECT_EQ(nftnl_expr_get_u32(v4[12], NFTNL_EXPR_LOOKUP_SET_ID), nftnl_set_get_u32(anon[0].first, NFTNL_SET_ID));
  EXPECT_EQ(nftnl_expr_get_u32(v4.back(), NFTNL_EXPR_IMM_VERDICT), static_cast<uint32_t>(NF_ACCEPT));

  NftTableSpec spec = baseSpec();
  spec.skip_bare_tcp = false;
  Parsed p2 = build(spec);
  EXPECT_EQ(p2.chainRules("pre").size(), kPreRules - 2);
  for (auto& s : p2.sets) {
    if (nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS) {
      EXPECT_EQ(nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_LEN), 1u) << "only the DNS rule's { tcp, udp } is left";
    }
  }
}

TEST(NftTableBatch, InterfacesBecomeInvertedIfnameSetLookup) {
  NftTableSpec spec = baseSpec();
  spec.interfaces = {"eth0", "wan1"};
  spec.skip_bare_tcp = false;
  Parsed p = build(spec);
  auto pre = p.chainRules("pre");
  ASSERT_EQ(pre.size(), kPreRules - 1);  // + interfaces, - bare TCP v4/v6
  // ct direction original iifname != {set} ct mark set ct mark | decided accept
  const std::size_t kIfaces = kNd + 1;
  EXPECT_EQ(exprNames(pre[kIfaces]), "ct cmp meta lookup ct bitwise ct immediate");
  auto e = exprs(pre[kIfaces]);
  EXPECT_EQ(nftnl_expr_get_u32(e[0], NFTNL_EXPR_CT_KEY), static_cast<uint32_t>(NFT_CT_DIRECTION));
  EXPECT_EQ(exprData(e[1], NFTNL_EXPR_CMP_DATA), (std::vector<uint8_t>{0}));  // IP_CT_DIR_ORIGINAL
  EXPECT_EQ(nftnl_expr_get_u32(e[2], NFTNL_EXPR_META_KEY), static_cast<uint32_t>(NFT_META_IIFNAME));
  EXPECT_EQ(nftnl_expr_get_u32(e[3], NFTNL_EXPR_LOOKUP_FLAGS), static_cast<uint32_t>(NFT_LOOKUP_F_INV));
  EXPECT_EQ(dataU32(exprData(e[5], NFTNL_EXPR_BITWISE_MASK)), 0x7fffffffu);
  EXPECT_EQ(dataU32(exprData(e[5], NFTNL_EXPR_BITWISE_XOR)), 0x80000000u);
  EXPECT_TRUE(nftnl_expr_is_set(e[6], NFTNL_EXPR_CT_SREG)) << "ct mark *set*";
  EXPECT_EQ(nftnl_expr_get_u32(e.back(), NFTNL_EXPR_IMM_VERDICT), static_cast<uint32_t>(NF_ACCEPT));
  ASSERT_EQ(p.set_elems.size(), 2u);  // { tcp, udp } of the DNS rule, then the interfaces
  EXPECT_EQ(p.set_elems[1].set_id, nftnl_expr_get_u32(e[3], NFTNL_EXPR_LOOKUP_SET_ID));
  auto es = p.set_elems[1].elems;
  ASSERT_EQ(es.size(), 2u);
  std::vector<uint8_t> eth0(IFNAMSIZ, 0);
  std::memcpy(eth0.data(), "eth0", 4);
  EXPECT_EQ(es[0].key, eth0);
}

TEST(NftTableBatch, ReplacePrefixesCreateAndDelete) {
  auto batch = buildTableBatch(baseSpec(), true);
  ASSERT_TRUE(batch.ok());
  auto msgs = splitMessages(*batch);
  ASSERT_GT(msgs.size(), 4u);
  EXPECT_TRUE(isNft(msgs[1], NFT_MSG_NEWTABLE));
  EXPECT_TRUE(isNft(msgs[2], NFT_MSG_DELTABLE));
  EXPECT_TRUE(isNft(msgs[3], NFT_MSG_NEWTABLE));
}

TEST(NftTableBatch, RejectsInvalidSpecs) {
  auto bad = [](auto mutate) {
    NftTableSpec s = baseSpec();
    mutate(s);
    auto r = buildTableBatch(s);
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, std::errc::invalid_argument);
    }
  };
  bad([](NftTableSpec& s) { s.queue_count = 0; });
  bad([](NftTableSpec& s) { s.queue_num = 65535; s.queue_count = 2; });
  bad([](NftTableSpec& s) { s.value_mask = 0x8000ffff; });
  bad([](NftTableSpec& s) { s.drop_bit = s.decided_bit; });
  bad([](NftTableSpec& s) { s.reject_bit = 0x30000000; });
  bad([](NftTableSpec& s) { s.table = ""; });
  bad([](NftTableSpec& s) { s.interfaces = {"a-name-longer-than-ifnamsiz"}; });
  bad([](NftTableSpec& s) { s.sets.push_back(s.sets[0]); });
  bad([](NftTableSpec& s) { s.sets[1].bind_bits = 0x40000000; });  // drop without decided
}

TEST(NftTableBatch, DeleteTableBatch) {
  auto batch = buildDeleteTableBatch("flowgate");
  ASSERT_TRUE(batch.ok());
  auto msgs = splitMessages(*batch);
  ASSERT_EQ(msgs.size(), 3u);
  ASSERT_TRUE(isNft(msgs[1], NFT_MSG_DELTABLE));
  auto t = parseTable(msgs[1]);
  EXPECT_STREQ(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME), "flowgate");
  EXPECT_FALSE(buildDeleteTableBatch("").ok());
}

TEST(NftProbeBatch, CreatesUnhookedChainWithQueueThenDeletes) {
  for (QueueMode mode : {QueueMode::Native, QueueMode::XtCompat}) {
    auto batch = buildProbeBatch(mode, 4242);
    ASSERT_TRUE(batch.ok());
    auto msgs = splitMessages(*batch);
    ASSERT_EQ(msgs.size(), 6u);
    EXPECT_TRUE(isNft(msgs[1], NFT_MSG_NEWTABLE));
    auto t = parseTable(msgs[1]);
    EXPECT_STREQ(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME), "flowgate_probe_4242");
    EXPECT_EQ(nftnl_table_get_u32(t.get(), NFTNL_TABLE_FLAGS), static_cast<uint32_t>(NFT_TABLE_F_OWNER));
    ASSERT_TRUE(isNft(msgs[2], NFT_MSG_NEWCHAIN));
    EXPECT_FALSE(nftnl_chain_is_set(parseChain(msgs[2]).get(), NFTNL_CHAIN_HOOKNUM));
    ASSERT_TRUE(isNft(msgs[3], NFT_MSG_NEWRULE));
    EXPECT_EQ(exprNames(parseRule(msgs[3]).get()), mode == QueueMode::Native ? "queue" : "target");
    EXPECT_TRUE(isNft(msgs[4], NFT_MSG_DELTABLE));
  }
}

std::vector<IpAddressBytes> v4s(int n) {
  std::vector<IpAddressBytes> out;
  for (int i = 0; i < n; ++i) out.push_back(IpAddressBytes::v4(0x0a000000u + static_cast<uint32_t>(i)));
  return out;
}

TEST(NftSetElements, TimeoutAndExpirationInMilliseconds) {
  auto addrs = v4s(2);
  auto batch = buildSetElementsBatch("flowgate", "zero_rated", SetFamily::V4, addrs, 90);
  ASSERT_TRUE(batch.ok());
  auto msgs = splitMessages(*batch);
  ASSERT_EQ(msgs.size(), 3u);
  ASSERT_TRUE(isNft(msgs[1], NFT_MSG_NEWSETELEM));
  EXPECT_TRUE(msgs[1]->nlmsg_flags & NLM_F_CREATE);
  EXPECT_FALSE(msgs[1]->nlmsg_flags & NLM_F_EXCL) << "existing elements must be updated, not refused";
  auto s = parseSetElems(msgs[1]);
  EXPECT_EQ(s.table, "flowgate");
  EXPECT_EQ(s.set, "zero_rated");
  EXPECT_FALSE(s.set_id.has_value());
  auto es = s.elems;
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0].key, (std::vector<uint8_t>{10, 0, 0, 0}));
  EXPECT_EQ(es[1].key, (std::vector<uint8_t>{10, 0, 0, 1}));
  EXPECT_TRUE(es[0].has_timeout);
  EXPECT_EQ(es[0].timeout, 90000u);
  EXPECT_TRUE(es[0].has_expiration) << "expiration is what makes the kernel restart the clock";
  EXPECT_EQ(es[0].expiration, 90000u);
}

TEST(NftSetElements, RecreateIsAddDeleteAdd) {
  auto addrs = v4s(3);
  auto batch = buildSetElementsBatch("flowgate", "zero_rated", SetFamily::V4, addrs, 30, ElementRefresh::Recreate);
  ASSERT_TRUE(batch.ok());
  auto msgs = splitMessages(*batch);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_TRUE(isNft(msgs[1], NFT_MSG_NEWSETELEM));
  EXPECT_TRUE(isNft(msgs[2], NFT_MSG_DELSETELEM));
  EXPECT_TRUE(isNft(msgs[3], NFT_MSG_NEWSETELEM));
  auto last = parseSetElems(msgs[3]).elems;
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last[2].timeout, 30000u);
  EXPECT_FALSE(last[2].has_expiration);
}

TEST(NftSetElements, ChunksLargeBatchesAndChecksFamily) {
  auto addrs = v4s(600);
  auto batch = buildSetElementsBatch("flowgate", "zero_rated", SetFamily::V4, addrs, 0);
  ASSERT_TRUE(batch.ok());
  auto msgs = splitMessages(*batch);
  ASSERT_EQ(msgs.size(), 5u);  // 256 + 256 + 88
  std::size_t total = 0;
  for (std::size_t i = 1; i + 1 < msgs.size(); ++i) {
    auto es = parseSetElems(msgs[i]).elems;
    total += es.size();
    for (const auto& e : es) EXPECT_FALSE(e.has_timeout) << "timeout 0: the set's default applies";
  }
  EXPECT_EQ(total, 600u);

  auto v6 = IpAddressBytes::parse("2001:db8::1");
  ASSERT_TRUE(v6.ok());
  std::vector<IpAddressBytes> mixed{addrs[0], *v6};
  auto r = buildSetElementsBatch("flowgate", "zero_rated", SetFamily::V4, mixed, 10);
  EXPECT_FALSE(r.ok());

  std::vector<IpAddressBytes> six{*v6};
  auto d = buildDeleteSetElementsBatch("flowgate", "zero_rated6", SetFamily::V6, six);
  ASSERT_TRUE(d.ok());
  auto dm = splitMessages(*d);
  ASSERT_EQ(dm.size(), 3u);
  EXPECT_TRUE(isNft(dm[1], NFT_MSG_DELSETELEM));
  auto de = parseSetElems(dm[1]).elems;
  ASSERT_EQ(de.size(), 1u);
  EXPECT_EQ(de[0].key.size(), 16u);
  EXPECT_EQ(de[0].key[0], 0x20);
}

TEST(IpAddressBytes, ParsesBothFamilies) {
  auto a = IpAddressBytes::parse("192.0.2.7");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->family, SetFamily::V4);
  EXPECT_EQ(a->size(), 4u);
  EXPECT_EQ(*a, IpAddressBytes::v4(0xc0000207));
  auto b = IpAddressBytes::parse("::1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->family, SetFamily::V6);
  EXPECT_EQ(b->bytes[15], 1);
  EXPECT_FALSE(IpAddressBytes::parse("300.1.1.1").ok());
}

}  // namespace
}  // namespace fg::nl
