// Tests for netlink/conntrack.h.
//
// Golden tests build ctnetlink messages with libmnl the way the kernel's
// ctnetlink_fill_info()/ctnetlink_conntrack_event() lay them out and parse
// them back; hostile and truncated variants must give nullopt, never a
// crash (run under FLOWGATE_SANITIZE to check for over-reads: every parsed
// message sits in a vector of exactly nlmsg_len bytes).
//
// Kernel tests (root only) fork a child that unshare(CLONE_NEWNET)s, like
// kernel_test.cc, enable accounting there, create real loopback traffic and
// compare the kernel's counters with what was sent.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <endian.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "netlink/conntrack.h"
#include "tests/netlink/netns_child.h"

namespace fg::nl {
namespace {

// --- message construction (kernel layout) ----------------------------------

class CtMsg {
 public:
  CtMsg(uint8_t msg, uint16_t flags, uint8_t family) : buf_(8192) {
    nlh_ = mnl_nlmsg_put_header(buf_.data());
    nlh_->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg);
    nlh_->nlmsg_flags = flags;
    nlh_->nlmsg_seq = 0;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(nfgenmsg)));
    nfg->nfgen_family = family;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
  }
  nlmsghdr* nlh() { return nlh_; }

  CtMsg& tupleV4(uint16_t type, const char* src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport) {
    in_addr s{}, d{};
    inet_pton(AF_INET, src, &s);
    inet_pton(AF_INET, dst, &d);
    nlattr* t = mnl_attr_nest_start(nlh_, type);
    nlattr* ip = mnl_attr_nest_start(nlh_, CTA_TUPLE_IP);
    mnl_attr_put_u32(nlh_, CTA_IP_V4_SRC, s.s_addr);
    mnl_attr_put_u32(nlh_, CTA_IP_V4_DST, d.s_addr);
    mnl_attr_nest_end(nlh_, ip);
    protoNest(proto, sport, dport);
    mnl_attr_nest_end(nlh_, t);
    return *this;
  }
  CtMsg& tupleV6(uint16_t type, const char* src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport) {
    in6_addr s{}, d{};
    inet_pton(AF_INET6, src, &s);
    inet_pton(AF_INET6, dst, &d);
    nlattr* t = mnl_attr_nest_start(nlh_, type);
    nlattr* ip = mnl_attr_nest_start(nlh_, CTA_TUPLE_IP);
    mnl_attr_put(nlh_, CTA_IP_V6_SRC, 16, &s);
    mnl_attr_put(nlh_, CTA_IP_V6_DST, 16, &d);
    mnl_attr_nest_end(nlh_, ip);
    protoNest(proto, sport, dport);
    mnl_attr_nest_end(nlh_, t);
    return *this;
  }
  CtMsg& be32(uint16_t type, uint32_t v) {
    mnl_attr_put_u32(nlh_, type, htonl(v));
    return *this;
  }
  CtMsg& counters64(uint16_t type, uint64_t packets, uint64_t bytes, bool pad = false) {
    nlattr* n = mnl_attr_nest_start(nlh_, type);
    // On arches without efficient unaligned access the kernel's
    // nla_put_be64() inserts a CTA_COUNTERS_PAD attribute first.
    if (pad) mnl_attr_put(nlh_, CTA_COUNTERS_PAD, 0, nullptr);
    mnl_attr_put_u64(nlh_, CTA_COUNTERS_PACKETS, htobe64(packets));
    if (pad) mnl_attr_put(nlh_, CTA_COUNTERS_PAD, 0, nullptr);
    mnl_attr_put_u64(nlh_, CTA_COUNTERS_BYTES, htobe64(bytes));
    mnl_attr_nest_end(nlh_, n);
    return *this;
  }
  CtMsg& counters32(uint16_t type, uint32_t packets, uint32_t bytes) {
    nlattr* n = mnl_attr_nest_start(nlh_, type);
    mnl_attr_put_u32(nlh_, CTA_COUNTERS32_PACKETS, htonl(packets));
    mnl_attr_put_u32(nlh_, CTA_COUNTERS32_BYTES, htonl(bytes));
    mnl_attr_nest_end(nlh_, n);
    return *this;
  }
  CtMsg& timestamp(uint64_t start, std::optional<uint64_t> stop = std::nullopt) {
    nlattr* n = mnl_attr_nest_start(nlh_, CTA_TIMESTAMP);
    mnl_attr_put_u64(nlh_, CTA_TIMESTAMP_START, htobe64(start));
    if (stop) mnl_attr_put_u64(nlh_, CTA_TIMESTAMP_STOP, htobe64(*stop));
    mnl_attr_nest_end(nlh_, n);
    return *this;
  }
  CtMsg& tcpProtoinfo(uint8_t state = 3) {
    nlattr* n = mnl_attr_nest_start(nlh_, CTA_PROTOINFO);
    nlattr* t = mnl_attr_nest_start(nlh_, CTA_PROTOINFO_TCP);
    mnl_attr_put_u8(nlh_, CTA_PROTOINFO_TCP_STATE, state);
    const uint8_t flags[2] = {0x23, 0x23};  // nf_ct_tcp_flags: a 2-byte struct, skipped
    mnl_attr_put(nlh_, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, sizeof flags, flags);
    mnl_attr_nest_end(nlh_, t);
    mnl_attr_nest_end(nlh_, n);
    return *this;
  }
  CtMsg& raw(uint16_t type, std::size_t len, const void* data) {
    mnl_attr_put(nlh_, type, len, data);
    return *this;
  }
  // Exactly nlmsg_len bytes: any read past the message is out of bounds.
  std::vector<uint8_t> bytes() const { return {buf_.begin(), buf_.begin() + nlh_->nlmsg_len}; }

 private:
  void protoNest(uint8_t proto, uint16_t sport, uint16_t dport) {
    nlattr* p = mnl_attr_nest_start(nlh_, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh_, CTA_PROTO_NUM, proto);
    mnl_attr_put_u16(nlh_, CTA_PROTO_SRC_PORT, htons(sport));
    mnl_attr_put_u16(nlh_, CTA_PROTO_DST_PORT, htons(dport));
    mnl_attr_nest_end(nlh_, p);
  }

  std::vector<uint8_t> buf_;
  nlmsghdr* nlh_;
};

std::optional<CtEntry> parse(const std::vector<uint8_t>& m) {
  return parseConntrackMessage(reinterpret_cast<const nlmsghdr*>(m.data()));
}

std::array<uint8_t, 16> addr(const char* text) {
  std::array<uint8_t, 16> out{};
  if (std::strchr(text, ':') != nullptr) inet_pton(AF_INET6, text, out.data());
  else inet_pton(AF_INET, text, out.data());
  return out;
}

// A destroy event as ctnetlink_conntrack_event() sends it with acct and
// timestamps on: orig, reply, status, counters, timestamp, protoinfo, mark, id, use.
CtMsg tcpDestroyV4() {
  CtMsg m(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
  m.tupleV4(CTA_TUPLE_ORIG, "10.0.0.1", "192.0.2.7", IPPROTO_TCP, 40000, 443)
      .tupleV4(CTA_TUPLE_REPLY, "192.0.2.7", "10.0.0.1", IPPROTO_TCP, 443, 40000)
      .be32(CTA_STATUS, 0x18e)
      .counters64(CTA_COUNTERS_ORIG, 1000, 6000000000ull)  // > 4 GiB: needs 64 bits
      .counters64(CTA_COUNTERS_REPLY, 800, 64000)
      .timestamp(1700000000123456789ull, 1700000060000000000ull)
      .tcpProtoinfo()
      .be32(CTA_MARK, 0x80000007)
      .be32(CTA_ID, 0xdeadbeef)
      .be32(CTA_USE, 1);
  return m;
}

TEST(ConntrackParse, Ipv4TcpDestroyWith64BitCounters) {
  auto e = parse(tcpDestroyV4().bytes());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, CtEntry::Kind::Destroy);
  EXPECT_EQ(e->orig.family, IpFamily::V4);
  EXPECT_EQ(e->orig.src, addr("10.0.0.1"));
  EXPECT_EQ(e->orig.dst, addr("192.0.2.7"));
  EXPECT_EQ(e->orig.src_port, 40000);
  EXPECT_EQ(e->orig.dst_port, 443);
  EXPECT_EQ(e->orig.l4proto, IPPROTO_TCP);
  EXPECT_EQ(e->id, 0xdeadbeefu);
  EXPECT_EQ(e->mark, 0x80000007u);
  EXPECT_TRUE(e->has_counters);
  EXPECT_EQ(e->orig_packets, 1000u);
  EXPECT_EQ(e->orig_bytes, 6000000000ull);
  EXPECT_EQ(e->reply_packets, 800u);
  EXPECT_EQ(e->reply_bytes, 64000u);
  EXPECT_EQ(e->start_ns, 1700000000123456789ull);
  EXPECT_EQ(e->stop_ns, 1700000060000000000ull);
  EXPECT_EQ(e->tcp_state, 3);
}

TEST(ConntrackParse, TcpStateOfAnUpdateEvent) {
  // A state change (IPCT_PROTOINFO): an update event with the new TCP state.
  CtMsg m(IPCTNL_MSG_CT_NEW, 0, AF_INET);
  m.tupleV4(CTA_TUPLE_ORIG, "10.0.0.1", "192.0.2.7", IPPROTO_TCP, 40000, 443)
      .tcpProtoinfo(fg::nl::kTcpStateTimeWait)
      .be32(CTA_ID, 7);
  auto e = parse(m.bytes());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, CtEntry::Kind::Update);
  ASSERT_TRUE(e->tcp_state.has_value());
  EXPECT_TRUE(fg::nl::tcpConnectionOver(*e->tcp_state));
  EXPECT_FALSE(fg::nl::tcpConnectionOver(fg::nl::kTcpStateEstablished));
}

TEST(ConntrackParse, Ipv6UdpNewEventWithoutCountersOrMark) {
  // IPCT_NEW: NLM_F_CREATE|NLM_F_EXCL; acct off: no counters; mark 0 omitted.
  CtMsg m(IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, AF_INET6);
  m.tupleV6(CTA_TUPLE_ORIG, "2001:db8::1", "2001:db8:ffff::53", IPPROTO_UDP, 5353, 53)
      .tupleV6(CTA_TUPLE_REPLY, "2001:db8:ffff::53", "2001:db8::1", IPPROTO_UDP, 53, 5353)
      .be32(CTA_STATUS, 0x8)
      .be32(CTA_TIMEOUT, 30)
      .be32(CTA_ID, 42)
      .be32(CTA_USE, 1);
  auto e = parse(m.bytes());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, CtEntry::Kind::New);
  EXPECT_EQ(e->orig.family, IpFamily::V6);
  EXPECT_EQ(e->orig.src, addr("2001:db8::1"));
  EXPECT_EQ(e->orig.dst, addr("2001:db8:ffff::53"));
  EXPECT_EQ(e->orig.src_port, 5353);
  EXPECT_EQ(e->orig.dst_port, 53);
  EXPECT_EQ(e->orig.l4proto, IPPROTO_UDP);
  EXPECT_EQ(e->id, 42u);
  EXPECT_EQ(e->mark, 0u);
  EXPECT_FALSE(e->has_counters);
  EXPECT_EQ(e->orig_bytes + e->orig_packets + e->reply_bytes + e->reply_packets, 0u);
  EXPECT_FALSE(e->start_ns.has_value());
  EXPECT_FALSE(e->stop_ns.has_value());
}

TEST(ConntrackParse, KindFromTypeAndFlags) {
  struct Case {
    uint8_t msg;
    uint16_t flags;
    CtEntry::Kind kind;
  };
  for (const Case& c : {Case{IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, CtEntry::Kind::New},
                        Case{IPCTNL_MSG_CT_NEW, 0, CtEntry::Kind::Update},
                        Case{IPCTNL_MSG_CT_NEW, NLM_F_MULTI, CtEntry::Kind::Dump},
                        Case{IPCTNL_MSG_CT_DELETE, 0, CtEntry::Kind::Destroy}}) {
    CtMsg m(c.msg, c.flags, AF_INET);
    m.tupleV4(CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1, 2);
    auto e = parse(m.bytes());
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->kind, c.kind) << "msg " << int(c.msg) << " flags " << c.flags;
  }
}

TEST(ConntrackParse, Legacy32BitCountersAndPadding) {
  CtMsg m(IPCTNL_MSG_CT_NEW, NLM_F_MULTI, AF_INET);
  m.tupleV4(CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1000, 2000)
      .counters32(CTA_COUNTERS_ORIG, 7, 700)
      .counters64(CTA_COUNTERS_REPLY, 3, 300, /*pad=*/true);
  auto e = parse(m.bytes());
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->has_counters);
  EXPECT_EQ(e->orig_packets, 7u);
  EXPECT_EQ(e->orig_bytes, 700u);
  EXPECT_EQ(e->reply_packets, 3u);
  EXPECT_EQ(e->reply_bytes, 300u);
}

TEST(ConntrackParse, SixtyFourBitWinsOverLegacy) {
  CtMsg m(IPCTNL_MSG_CT_NEW, NLM_F_MULTI, AF_INET);
  m.tupleV4(CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1000, 2000);
  nlattr* n = mnl_attr_nest_start(m.nlh(), CTA_COUNTERS_ORIG);
  mnl_attr_put_u32(m.nlh(), CTA_COUNTERS32_PACKETS, htonl(1));
  mnl_attr_put_u32(m.nlh(), CTA_COUNTERS32_BYTES, htonl(2));
  mnl_attr_put_u64(m.nlh(), CTA_COUNTERS_PACKETS, htobe64(5000000000ull));
  mnl_attr_put_u64(m.nlh(), CTA_COUNTERS_BYTES, htobe64(7000000000ull));
  mnl_attr_nest_end(m.nlh(), n);
  auto e = parse(m.bytes());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->orig_packets, 5000000000ull);
  EXPECT_EQ(e->orig_bytes, 7000000000ull);
  EXPECT_EQ(e->reply_packets, 0u);
}

TEST(ConntrackParse, MissingCountersAndEmptyCounterNest) {
  CtMsg m(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
  m.tupleV4(CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1, 2).be32(CTA_ID, 9);
  auto e = parse(m.bytes());
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->has_counters);

  CtMsg empty(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
  empty.tupleV4(CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1, 2);
  mnl_attr_nest_end(empty.nlh(), mnl_attr_nest_start(empty.nlh(), CTA_COUNTERS_ORIG));
  auto e2 = parse(empty.bytes());
  ASSERT_TRUE(e2.has_value());
  EXPECT_FALSE(e2->has_counters);
}

TEST(ConntrackParse, IcmpTupleHasNoPorts) {
  CtMsg m(IPCTNL_MSG_CT_NEW, NLM_F_MULTI, AF_INET);
  nlattr* t = mnl_attr_nest_start(m.nlh(), CTA_TUPLE_ORIG);
  nlattr* ip = mnl_attr_nest_start(m.nlh(), CTA_TUPLE_IP);
  mnl_attr_put_u32(m.nlh(), CTA_IP_V4_SRC, htonl(0x0a000001));
  mnl_attr_put_u32(m.nlh(), CTA_IP_V4_DST, htonl(0x0a000002));
  mnl_attr_nest_end(m.nlh(), ip);
  nlattr* p = mnl_attr_nest_start(m.nlh(), CTA_TUPLE_PROTO);
  mnl_attr_put_u8(m.nlh(), CTA_PROTO_NUM, IPPROTO_ICMP);
  mnl_attr_put_u16(m.nlh(), CTA_PROTO_ICMP_ID, htons(77));
  mnl_attr_put_u8(m.nlh(), CTA_PROTO_ICMP_TYPE, 8);
  mnl_attr_put_u8(m.nlh(), CTA_PROTO_ICMP_CODE, 0);
  mnl_attr_nest_end(m.nlh(), p);
  mnl_attr_nest_end(m.nlh(), t);
  auto e = parse(m.bytes());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->orig.l4proto, IPPROTO_ICMP);
  EXPECT_EQ(e->orig.src_port, 0);
  EXPECT_EQ(e->orig.dst_port, 0);
}

TEST(ConntrackParse, RejectsOtherMessagesAndIncompleteTuples) {
  // Not ctnetlink (nf_tables subsystem), not a conntrack message type.
  auto other = tcpDestroyV4().bytes();
  reinterpret_cast<nlmsghdr*>(other.data())->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | 0;
  EXPECT_FALSE(parse(other).has_value());
  auto exp = tcpDestroyV4().bytes();
  reinterpret_cast<nlmsghdr*>(exp.data())->nlmsg_type = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW;
  EXPECT_FALSE(parse(exp).has_value());
  auto get = tcpDestroyV4().bytes();
  reinterpret_cast<nlmsghdr*>(get.data())->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS;
  EXPECT_FALSE(parse(get).has_value());
  EXPECT_FALSE(parseConntrackMessage(nullptr).has_value());

  // No original tuple (only the reply one).
  CtMsg noOrig(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
  noOrig.tupleV4(CTA_TUPLE_REPLY, "10.0.0.2", "10.0.0.1", IPPROTO_TCP, 2, 1).be32(CTA_ID, 1);
  EXPECT_FALSE(parse(noOrig.bytes()).has_value());

  // Tuple without protocol.
  CtMsg noProto(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
  nlattr* t = mnl_attr_nest_start(noProto.nlh(), CTA_TUPLE_ORIG);
  nlattr* ip = mnl_attr_nest_start(noProto.nlh(), CTA_TUPLE_IP);
  mnl_attr_put_u32(noProto.nlh(), CTA_IP_V4_SRC, 1);
  mnl_attr_put_u32(noProto.nlh(), CTA_IP_V4_DST, 2);
  mnl_attr_nest_end(noProto.nlh(), ip);
  mnl_attr_nest_end(noProto.nlh(), t);
  EXPECT_FALSE(parse(noProto.bytes()).has_value());

  // Mixed families in one tuple.
  CtMsg mixed(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
  t = mnl_attr_nest_start(mixed.nlh(), CTA_TUPLE_ORIG);
  ip = mnl_attr_nest_start(mixed.nlh(), CTA_TUPLE_IP);
  mnl_attr_put_u32(mixed.nlh(), CTA_IP_V4_SRC, 1);
  in6_addr a6{};
  mnl_attr_put(mixed.nlh(), CTA_IP_V6_DST, 16, &a6);
  mnl_attr_nest_end(mixed.nlh(), ip);
  nlattr* p = mnl_attr_nest_start(mixed.nlh(), CTA_TUPLE_PROTO);
  mnl_attr_put_u8(mixed.nlh(), CTA_PROTO_NUM, IPPROTO_TCP);
  mnl_attr_nest_end(mixed.nlh(), p);
  mnl_attr_nest_end(mixed.nlh(), t);
  EXPECT_FALSE(parse(mixed.bytes()).has_value());

  // Header shorter than nlmsghdr + nfgenmsg.
  std::vector<uint8_t> shorty(sizeof(nlmsghdr) + 2, 0);
  auto* h = reinterpret_cast<nlmsghdr*>(shorty.data());
  h->nlmsg_len = static_cast<uint32_t>(shorty.size());
  h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
  EXPECT_FALSE(parse(shorty).has_value());
}

TEST(ConntrackParse, HostileAttributeSizesGiveNullopt) {
  struct Case {
    const char* name;
    std::function<void(CtMsg&)> add;
  };
  const uint8_t bytes[16] = {};
  const std::vector<Case> cases = {
      {"CTA_ID of 2 bytes", [&](CtMsg& m) { m.raw(CTA_ID, 2, bytes); }},
      {"CTA_MARK of 8 bytes", [&](CtMsg& m) { m.raw(CTA_MARK, 8, bytes); }},
      {"64-bit counter of 4 bytes",
       [&](CtMsg& m) {
         nlattr* n = mnl_attr_nest_start(m.nlh(), CTA_COUNTERS_ORIG);
         mnl_attr_put_u32(m.nlh(), CTA_COUNTERS_PACKETS, 1);
         mnl_attr_put_u32(m.nlh(), CTA_COUNTERS_BYTES, 1);
         mnl_attr_nest_end(m.nlh(), n);
       }},
      {"32-bit counter of 8 bytes",
       [&](CtMsg& m) {
         nlattr* n = mnl_attr_nest_start(m.nlh(), CTA_COUNTERS_REPLY);
         mnl_attr_put_u64(m.nlh(), CTA_COUNTERS32_PACKETS, 1);
         mnl_attr_put_u64(m.nlh(), CTA_COUNTERS32_BYTES, 1);
         mnl_attr_nest_end(m.nlh(), n);
       }},
      {"packets without bytes",
       [&](CtMsg& m) {
         nlattr* n = mnl_attr_nest_start(m.nlh(), CTA_COUNTERS_ORIG);
         mnl_attr_put_u64(m.nlh(), CTA_COUNTERS_PACKETS, htobe64(1));
         mnl_attr_nest_end(m.nlh(), n);
       }},
      {"counters nest holding 2 bytes", [&](CtMsg& m) { m.raw(CTA_COUNTERS_ORIG, 2, bytes); }},
      {"timestamp of 4 bytes",
       [&](CtMsg& m) {
         nlattr* n = mnl_attr_nest_start(m.nlh(), CTA_TIMESTAMP);
         mnl_attr_put_u32(m.nlh(), CTA_TIMESTAMP_START, 1);
         mnl_attr_nest_end(m.nlh(), n);
       }},
      {"second original tuple",
       [&](CtMsg& m) { m.tupleV4(CTA_TUPLE_ORIG, "10.9.9.9", "10.8.8.8", IPPROTO_UDP, 9, 9); }},
  };
  for (const auto& c : cases) {
    CtMsg m(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
    m.tupleV4(CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1, 2);
    c.add(m);
    EXPECT_FALSE(parse(m.bytes()).has_value()) << c.name;
  }

  // Address attributes of the wrong size inside the tuple.
  for (uint16_t type : {uint16_t{CTA_IP_V4_SRC}, uint16_t{CTA_IP_V6_DST}}) {
    CtMsg m(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
    nlattr* t = mnl_attr_nest_start(m.nlh(), CTA_TUPLE_ORIG);
    nlattr* ip = mnl_attr_nest_start(m.nlh(), CTA_TUPLE_IP);
    mnl_attr_put(m.nlh(), type, type == CTA_IP_V4_SRC ? 3 : 15, bytes);
    mnl_attr_nest_end(m.nlh(), ip);
    mnl_attr_nest_end(m.nlh(), t);
    EXPECT_FALSE(parse(m.bytes()).has_value()) << "address type " << type;
  }
  // A port of 1 byte.
  {
    CtMsg m(IPCTNL_MSG_CT_DELETE, 0, AF_INET);
    nlattr* t = mnl_attr_nest_start(m.nlh(), CTA_TUPLE_ORIG);
    nlattr* ip = mnl_attr_nest_start(m.nlh(), CTA_TUPLE_IP);
    mnl_attr_put_u32(m.nlh(), CTA_IP_V4_SRC, 1);
    mnl_attr_put_u32(m.nlh(), CTA_IP_V4_DST, 2);
    mnl_attr_nest_end(m.nlh(), ip);
    nlattr* p = mnl_attr_nest_start(m.nlh(), CTA_TUPLE_PROTO);
    mnl_attr_put_u8(m.nlh(), CTA_PROTO_NUM, IPPROTO_TCP);
    mnl_attr_put_u8(m.nlh(), CTA_PROTO_SRC_PORT, 1);
    mnl_attr_nest_end(m.nlh(), p);
    mnl_attr_nest_end(m.nlh(), t);
    EXPECT_FALSE(parse(m.bytes()).has_value());
  }
}

// nla_len values that lie: larger than the enclosing nest, smaller than a
// header, zero (an endless loop for a naive walker).
TEST(ConntrackParse, LyingLengthsGiveNullopt) {
  auto full = tcpDestroyV4().bytes();
  // Offsets of the first attribute and of the first nested attribute
  // (CTA_TUPLE_ORIG -> CTA_TUPLE_IP).
  const std::size_t first = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg));
  const std::size_t nested = first + sizeof(nlattr);
  const std::size_t inner = nested + sizeof(nlattr);  // CTA_IP_V4_SRC
  for (std::size_t off : {first, nested, inner}) {
    for (uint16_t len : {uint16_t{0}, uint16_t{2}, uint16_t{0xfff0}, uint16_t{200}}) {
      auto m = full;
      auto* a = reinterpret_cast<nlattr*>(m.data() + off);
      a->nla_len = len;
      EXPECT_FALSE(parse(m).has_value()) << "offset " << off << " nla_len " << len;
    }
  }
  // nlmsg_len larger than the buffer is the caller's precondition (the
  // receive loops check it with mnl_nlmsg_ok); nlmsg_len smaller than the
  // attributes is truncation, covered below.
}

TEST(ConntrackParse, EveryTruncationIsSafeAndMidAttributeCutsGiveNullopt) {
  const auto full = tcpDestroyV4().bytes();
  const std::size_t first = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg));
  // Top-level attribute boundaries and the end of CTA_TUPLE_ORIG.
  std::set<std::size_t> boundaries{first};
  std::size_t orig_end = 0;
  for (std::size_t off = first; off < full.size();) {
    const auto* a = reinterpret_cast<const nlattr*>(full.data() + off);
    off += MNL_ALIGN(a->nla_len);
    boundaries.insert(off);
    if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG) orig_end = off;
  }
  ASSERT_GT(orig_end, first);
  int parsed = 0;
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    std::vector<uint8_t> m(full.begin(), full.begin() + static_cast<long>(cut));
    if (m.size() < sizeof(nlmsghdr)) continue;  // not even a header: never handed to the parser
    reinterpret_cast<nlmsghdr*>(m.data())->nlmsg_len = static_cast<uint32_t>(cut);
    const auto e = parse(m);
    if (boundaries.count(cut) != 0 && cut >= orig_end) {
      EXPECT_TRUE(e.has_value()) << "cut at attribute boundary " << cut;
      ++parsed;
    } else {
      EXPECT_FALSE(e.has_value()) << "cut at " << cut << " of " << full.size();
    }
  }
  EXPECT_GE(parsed, 8);
}

TEST(ConntrackParse, RandomCorruptionNeverCrashes) {
  const auto full = tcpDestroyV4().bytes();
  const std::size_t first = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg));
  std::mt19937 rng(12345);
  std::uniform_int_distribution<std::size_t> pos(first, full.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    auto m = full;
    const int flips = 1 + i % 4;
    for (int f = 0; f < flips; ++f) m[pos(rng)] = static_cast<uint8_t>(byte(rng));
    if (parse(m)) ++accepted;
  }
  // Most single-byte flips hit values (addresses, counters) and still parse.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 20000);
}

// --- get request (one conntrack by its original tuple) --------------------------

TEST(ConntrackGetRequest, CarriesTheTupleTheParserReadsBack) {
  for (const char* src : {"10.0.0.1", "2001:db8::1"}) {
    CtTuple t;
    t.family = std::strchr(src, ':') ? IpFamily::V6 : IpFamily::V4;
    t.src = addr(src);
    t.dst = addr(t.family == IpFamily::V6 ? "2001:db8::2" : "192.0.2.7");
    t.src_port = 40000;
    t.dst_port = 443;
    t.l4proto = IPPROTO_TCP;
    auto m = buildGetRequest(t, 9);
    auto* nlh = reinterpret_cast<nlmsghdr*>(m.data());
    ASSERT_EQ(nlh->nlmsg_len, m.size());
    EXPECT_EQ(nlh->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET);
    EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST) << "a lookup, not a dump";
    EXPECT_EQ(nlh->nlmsg_seq, 9u);
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(nfg->nfgen_family, t.family == IpFamily::V6 ? AF_INET6 : AF_INET);
    // Same attributes as an entry: read back with the entry parser.
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
    auto e = parseConntrackMessage(nlh);
    ASSERT_TRUE(e.has_value()) << src;
    EXPECT_EQ(e->orig, t);
  }
}

// --- dump request ------------------------------------------------------------

TEST(ConntrackDumpRequest, EncodingWithoutFilter) {
  for (auto [fam, af] : {std::pair{std::optional<IpFamily>{}, AF_UNSPEC},
                         std::pair{std::optional<IpFamily>{IpFamily::V4}, AF_INET},
                         std::pair{std::optional<IpFamily>{IpFamily::V6}, AF_INET6}}) {
    const auto m = buildDumpRequest(fam, 77);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(m.data());
    ASSERT_EQ(nlh->nlmsg_len, m.size());
    EXPECT_EQ(m.size(), MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg)));
    EXPECT_EQ(nlh->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET);
    EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
    EXPECT_EQ(nlh->nlmsg_seq, 77u);
    EXPECT_EQ(nlh->nlmsg_pid, 0u);
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(nfg->nfgen_family, af);
    EXPECT_EQ(nfg->version, NFNETLINK_V0);
    EXPECT_EQ(nfg->res_id, 0);
  }
}

TEST(ConntrackDumpRequest, MarkFilterIsBigEndianMarkAndMask) {
  const auto m = buildDumpRequest(IpFamily::V4, 5, CtMarkFilter{.value = 0x80000000, .mask = 0x80000000});
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(m.data());
  ASSERT_EQ(nlh->nlmsg_len, m.size());
  std::map<uint16_t, uint32_t> attrs;
  ASSERT_GE(mnl_attr_parse(nlh, sizeof(nfgenmsg),
                           [](const nlattr* a, void* d) -> int {
                             EXPECT_EQ(mnl_attr_validate(a, MNL_TYPE_U32), 0);
                             (*static_cast<std::map<uint16_t, uint32_t>*>(d))[mnl_attr_get_type(a)] =
                                 ntohl(mnl_attr_get_u32(a));
                             return MNL_CB_OK;
                           },
                           &attrs),
            0);
  ASSERT_EQ(attrs.size(), 2u);
  EXPECT_EQ(attrs[CTA_MARK], 0x80000000u);
  EXPECT_EQ(attrs[CTA_MARK_MASK], 0x80000000u);
  const auto m2 = buildDumpRequest(std::nullopt, 6, CtMarkFilter{.value = 0x7});
  const auto* n2 = reinterpret_cast<const nlmsghdr*>(m2.data());
  const auto* mask = reinterpret_cast<const nlattr*>(m2.data() + m2.size() - 8);
  EXPECT_EQ(mnl_attr_get_type(mask), CTA_MARK_MASK);
  EXPECT_EQ(ntohl(mnl_attr_get_u32(mask)), 0xffffffffu);
  EXPECT_EQ(n2->nlmsg_len, m2.size());
}

// --- sysctl ------------------------------------------------------------------

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/fg_ct_sysctl_XXXXXX";
    const int fd = mkstemp(tmpl);
    path_ = tmpl;
    if (fd >= 0) {
      (void)!write(fd, content.data(), content.size());
      close(fd);
    }
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }
  std::string read() const {
    std::ifstream f(path_);
    return {std::istreambuf_iterator<char>(f), {}};
  }

 private:
  std::string path_;
};

TEST(ConntrackSysctl, EnablesOnceAndReportsChange) {
  TempFile f("0\n");
  auto first = ensureAccounting(f.path());
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_TRUE(*first);
  EXPECT_EQ(f.read().substr(0, 1), "1");
  auto second = ensureAccounting(f.path());
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  TempFile two("2\n");
  auto t = ensureTimestamps(two.path());
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(*t) << "non-zero already counts as on";
  EXPECT_EQ(two.read(), "2\n");
}

TEST(ConntrackSysctl, ErrorsNameTheCause) {
  TempFile junk("yes\n");
  auto bad = ensureAccounting(junk.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, std::make_error_code(std::errc::invalid_argument));
  auto missing = ensureAccounting("/nonexistent/nf_conntrack_acct");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code.value(), ENOENT);
  EXPECT_NE(missing.error().context.find("nf_conntrack loaded"), std::string::npos);
}

TEST(ConntrackEventsOpen, RejectsEmptyGroupSet) {
  auto ev = ConntrackEvents::open({.groups = 0});
  ASSERT_FALSE(ev.ok());
  auto ev2 = ConntrackEvents::open({.groups = 8});
  ASSERT_FALSE(ev2.ok());
}

// --- kernel tests --------------------------------------------------------------

using testing::inNetns;
using testing::kSkipExit;
using testing::Log;

// Kernel tests here need conntrack in the test's namespace.
void inCtNetns(const std::function<void(Log&)>& body) {
  inNetns(body, [] {
    return access(kConntrackAcctSysctl, F_OK) == 0 ? std::string() : "nf_conntrack not available in this kernel";
  });
}

int shell(const std::string& cmd) {
  const int st = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
bool writeSysctl(const std::string& name, const std::string& value) {
  std::ofstream f("/proc/sys/net/netfilter/" + name);
  f << value << "\n";
  f.flush();
  return static_cast<bool>(f);
}

// Conntrack hooks are registered per netns only when something needs them;
// an nft rule using `ct` does. The rule also sets the "decided" bit on flows
// to 127.0.0.2, so the mark-filtered dump has something to find.
bool activateConntrack(Log& log) {
  const int rc = shell(
      "nft add table inet fgct && "
      "nft add chain inet fgct out '{ type filter hook output priority 0; }' && "
      "nft add rule inet fgct out ip daddr 127.0.0.2 ct mark set 0x80000001 && "
      "nft add rule inet fgct out ct state new counter");
  KCHECK(log, rc == 0, "nft setup failed");
  return rc == 0;
}

bool enableAccounting(Log& log) {
  auto a = ensureAccounting();
  KCHECK(log, a.ok(), a.ok() ? "" : a.error().message());
  if (!a.ok()) return false;
  // A fresh netns starts from the module default (nf_conntrack_acct=0).
  KCHECK(log, *a, "accounting was already on in a fresh netns?");
  auto again = ensureAccounting();
  KCHECK(log, again.ok() && !*again, "second ensureAccounting changed it again");
  auto ts = ensureTimestamps();
  KCHECK(log, ts.ok(), ts.ok() ? "" : ts.error().message());
  return true;
}

template <typename A>
uint16_t boundPort(int fd) {
  A a{};
  socklen_t l = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
  if constexpr (std::is_same_v<A, sockaddr_in>) return ntohs(a.sin_port);
  else return ntohs(a.sin6_port);
}

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}
sockaddr_in6 v6(const char* ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

std::vector<CtEntry> dumpAll(Log& log, CtDumpOptions opts) {
  std::vector<CtEntry> out;
  auto r = dumpConntrack(opts, [&](const CtEntry& e) { out.push_back(e); });
  KCHECK(log, r.ok(), r.ok() ? "" : r.error().message());
  if (r.ok()) KCHECK(log, *r == out.size(), "count mismatch");
  return out;
}
const CtEntry* find(const std::vector<CtEntry>& v, const CtTuple& t) {
  for (const auto& e : v)
    if (e.orig == t) return &e;
  return nullptr;
}

// Polls `ev` until `pred` matched an event or `budget` elapsed. Returns the
// event and the time it took.
std::optional<CtEntry> waitEvent(Log& log, ConntrackEvents& ev, std::chrono::milliseconds budget,
                                 const std::function<bool(const CtEntry&)>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  std::optional<CtEntry> hit;
  while (!hit && std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto r = ev.poll(static_cast<int>(std::max<long>(1, left.count())), [&](const CtEntry& e) {
      if (!hit && pred(e)) hit = e;
    });
    if (!r.ok()) {
      log.fail("poll: " + r.error().message());
      break;
    }
  }
  return hit;
}

std::string describe(const CtEntry& e) {
  return "id=" + std::to_string(e.id) + " mark=" + std::to_string(e.mark) +
         " orig=" + std::to_string(e.orig_packets) + "p/" + std::to_string(e.orig_bytes) +
         "B reply=" + std::to_string(e.reply_packets) + "p/" + std::to_string(e.reply_bytes) +
         "B counters=" + std::to_string(e.has_counters);
}

double sinceMs(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// 1 MiB over TCP on loopback to 127.0.0.2 (marked "decided" by the nft
// rule), plus an unmarked UDP flow to 127.0.0.3: dump counters, the
// mark-filtered dump, then the DESTROY event with the final counters.
TEST(ConntrackKernel, TcpTransferCountedInDumpAndDestroyEvent) {
  inCtNetns([](Log& log) {
    if (!activateConntrack(log) || !enableAccounting(log)) return;
    KCHECK(log, writeSysctl("nf_conntrack_tcp_timeout_time_wait", "1"), "time_wait sysctl");
    auto ev = ConntrackEvents::open({.groups = ConntrackEvents::kNew | ConntrackEvents::kDestroy});
    if (!ev.ok()) return log.fail("events: " + ev.error().message());
    KCHECK(log, ev->rcvbuf() >= ConntrackEvents::kDefaultRcvbuf, "rcvbuf " + std::to_string(ev->rcvbuf()));

    const int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto la = v4("127.0.0.2", 0);
    KCHECK(log, bind(lst, reinterpret_cast<sockaddr*>(&la), sizeof la) == 0, "bind");
    KCHECK(log, listen(lst, 1) == 0, "listen");
    const uint16_t sport = boundPort<sockaddr_in>(lst);

    constexpr std::size_t kPayload = 1 << 20;
    std::atomic<std::size_t> received{0};
    std::atomic<int> server_fd{-1};
    std::thread server([&] {
      pollfd p{lst, POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) return;
      const int c = accept(lst, nullptr, nullptr);
      server_fd = c;
      std::vector<char> buf(1 << 16);
      while (received < kPayload) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 5000) != 1) return;
        const ssize_t n = read(c, buf.data(), buf.size());
        if (n <= 0) return;
        received += static_cast<std::size_t>(n);
      }
    });

    const int cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto ca = v4("127.0.0.1", 0);
    KCHECK(log, bind(cl, reinterpret_cast<sockaddr*>(&ca), sizeof ca) == 0, "client bind");
    auto sa = v4("127.0.0.2", sport);
    KCHECK(log, connect(cl, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0, "connect");
    const uint16_t cport = boundPort<sockaddr_in>(cl);
    std::vector<char> data(kPayload, 'x');
    std::size_t sent = 0;
    while (sent < kPayload) {
      const ssize_t n = write(cl, data.data() + sent, kPayload - sent);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    server.join();
    KCHECK(log, received == kPayload, "server got " + std::to_string(received.load()));

    // An unmarked flow next to it.
    const int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto ua = v4("127.0.0.3", 9);  // discard: nobody listens, the ICMP error is fine
    KCHECK(log, sendto(u, "u", 1, 0, reinterpret_cast<sockaddr*>(&ua), sizeof ua) == 1, "udp send");
    const uint16_t uport = boundPort<sockaddr_in>(u);

    const CtTuple tcp{.family = IpFamily::V4, .src = addr("127.0.0.1"), .dst = addr("127.0.0.2"),
                      .src_port = cport, .dst_port = sport, .l4proto = IPPROTO_TCP};
    const CtTuple udp{.family = IpFamily::V4, .src = addr("127.0.0.1"), .dst = addr("127.0.0.3"),
                      .src_port = uport, .dst_port = 9, .l4proto = IPPROTO_UDP};

    // NEW event for the TCP flow, with the mark set in the output hook.
    auto newEv = waitEvent(log, *ev, std::chrono::milliseconds(2000),
                           [&](const CtEntry& e) { return e.kind == CtEntry::Kind::New && e.orig == tcp; });
    KCHECK(log, newEv.has_value(), "no NEW event for the TCP flow");
    if (newEv) KCHECK(log, newEv->mark == 0x80000001u, "NEW event mark " + std::to_string(newEv->mark));

    // Unfiltered dump: both flows, counters on the TCP one.
    const auto all = dumpAll(log, {.family = IpFamily::V4});
    const CtEntry* t = find(all, tcp);
    const CtEntry* d = find(all, udp);
    KCHECK(log, t != nullptr, "TCP flow not in dump (" + std::to_string(all.size()) + " entries)");
    KCHECK(log, d != nullptr, "UDP flow not in dump");
    uint32_t tcp_id = 0;
    uint64_t dumped_bytes = 0;
    if (t) {
      std::fprintf(stderr, "[ kernel ] dump tcp: %s\n", describe(*t).c_str());
      tcp_id = t->id;
      dumped_bytes = t->orig_bytes;
      KCHECK(log, t->kind == CtEntry::Kind::Dump, "kind");
      KCHECK(log, t->has_counters, "no counters with acct on");
      KCHECK(log, t->mark == 0x80000001u, "mark " + std::to_string(t->mark));
      KCHECK(log, t->orig_bytes >= kPayload, describe(*t));
      KCHECK(log, t->orig_bytes <= kPayload + kPayload / 20, "more than 5% overhead: " + describe(*t));
      KCHECK(log, t->reply_packets >= 2, describe(*t));  // SYN-ACK + ACKs
      KCHECK(log, t->start_ns.has_value(), "no CTA_TIMESTAMP with nf_conntrack_timestamp=1");
      if (newEv) KCHECK(log, newEv->id == t->id, "CTA_ID differs between event and dump");
    }
    if (d) {
      KCHECK(log, d->mark == 0, "udp mark");
      KCHECK(log, d->orig_packets == 1 && d->orig_bytes == 20 + 8 + 1, describe(*d));
    }

    // Mark-filtered dump: only flows with the decided bit.
    const auto decided = dumpAll(log, {.mark = CtMarkFilter{.value = 0x80000000, .mask = 0x80000000}});
    KCHECK(log, find(decided, tcp) != nullptr, "filtered dump lost the decided flow");
    KCHECK(log, find(decided, udp) == nullptr, "filtered dump returned an undecided flow");
    for (const auto& e : decided) KCHECK(log, (e.mark & 0x80000000u) != 0, "filter ignored: " + describe(e));
    KCHECK(log, dumpAll(log, {.family = IpFamily::V6}).empty(), "IPv6 dump returned IPv4 flows");

    // Close (client first: TIME_WAIT, 1 s) and wait for DESTROY.
    const auto t0 = std::chrono::steady_clock::now();
    close(cl);
    if (server_fd >= 0) close(server_fd);
    close(lst);
    close(u);
    auto isTcpDestroy = [&](const CtEntry& e) { return e.kind == CtEntry::Kind::Destroy && e.orig == tcp; };
    auto destroy = waitEvent(log, *ev, std::chrono::milliseconds(2500), isTcpDestroy);
    std::string how = "passive";
    if (!destroy) {
      // The gc worker did not get to it yet (its interval is adaptive and
      // was ~8 s here): a dump reaps the expired entry and the event follows.
      how = "after dump";
      (void)dumpAll(log, {});
      destroy = waitEvent(log, *ev, std::chrono::milliseconds(2000), isTcpDestroy);
    }
    std::fprintf(stderr, "[ kernel ] tcp destroy %s after %.0f ms\n", destroy ? how.c_str() : "MISSING", sinceMs(t0));
    KCHECK(log, destroy.has_value(), "no DESTROY event for the TCP flow");
    if (destroy) {
      std::fprintf(stderr, "[ kernel ] destroy tcp: %s\n", describe(*destroy).c_str());
      KCHECK(log, destroy->id == tcp_id, "id");
      KCHECK(log, destroy->has_counters, "destroy without counters");
      KCHECK(log, destroy->orig_bytes >= dumped_bytes, "final counters below dumped ones");
      KCHECK(log, destroy->orig_bytes <= kPayload + kPayload / 20, describe(*destroy));
      KCHECK(log, destroy->mark == 0x80000001u, "mark");
      KCHECK(log, destroy->start_ns && destroy->stop_ns && *destroy->stop_ns >= *destroy->start_ns,
                 "timestamps");
    }
    KCHECK(log, ev->enobufs() == 0, "unexpected ENOBUFS");
    KCHECK(log, ev->malformed() == 0, "kernel message the parser rejected");
  });
}

// IPv6 UDP: exact counters (every datagram is one skb) and a DESTROY event
// driven by nf_conntrack_udp_timeout=1 alone.
TEST(ConntrackKernel, Ipv6UdpExactCountersAndTimedOutDestroy) {
  inCtNetns([](Log& log) {
    if (!activateConntrack(log) || !enableAccounting(log)) return;
    KCHECK(log, writeSysctl("nf_conntrack_udp_timeout", "1"), "udp timeout sysctl");
    auto ev = ConntrackEvents::open();
    if (!ev.ok()) return log.fail("events: " + ev.error().message());

    const int rx = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto ra = v6("::1", 0);
    KCHECK(log, bind(rx, reinterpret_cast<sockaddr*>(&ra), sizeof ra) == 0, "bind rx (no ::1?)");
    const uint16_t rport = boundPort<sockaddr_in6>(rx);
    const int tx = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto ta = v6("::1", 0);
    KCHECK(log, bind(tx, reinterpret_cast<sockaddr*>(&ta), sizeof ta) == 0, "bind tx");
    const uint16_t tport = boundPort<sockaddr_in6>(tx);
    constexpr int kCount = 10;
    constexpr std::size_t kSize = 1000;
    std::vector<char> payload(kSize, 'u');
    auto dst = v6("::1", rport);
    for (int i = 0; i < kCount; ++i)
      KCHECK(log, sendto(tx, payload.data(), kSize, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) ==
                      static_cast<ssize_t>(kSize), "send");
    const CtTuple tuple{.family = IpFamily::V6, .src = addr("::1"), .dst = addr("::1"),
                        .src_port = tport, .dst_port = rport, .l4proto = IPPROTO_UDP};
    const auto t0 = std::chrono::steady_clock::now();
    const auto dump = dumpAll(log, {.family = IpFamily::V6});
    const CtEntry* e = find(dump, tuple);
    KCHECK(log, e != nullptr, "UDP/IPv6 flow not in dump");
    if (e) {
      KCHECK(log, e->orig_packets == kCount, describe(*e));
      KCHECK(log, e->orig_bytes == kCount * (40 + 8 + kSize), describe(*e));  // IPv6 + UDP headers
      KCHECK(log, e->reply_packets == 0, describe(*e));
    }
    auto isDestroy = [&](const CtEntry& x) { return x.kind == CtEntry::Kind::Destroy && x.orig == tuple; };
    // The entry expires after 1 s, but its DESTROY event only comes when the
    // kernel reaps it: the gc worker (adaptive interval, often many seconds)
    // or any table walk that meets it. A dump is such a walk: it skips the
    // expired entry and kills it (ctnetlink_dump_table()), so the event
    // follows at once.
    // (The gc worker may still win the race after the timeout: accepted.)
    const auto remaining = [&](int ms) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(t0 + std::chrono::milliseconds(ms) -
                                                                   std::chrono::steady_clock::now());
    };
    auto early = waitEvent(log, *ev, remaining(700), isDestroy);
    KCHECK(log, !early.has_value(), "DESTROY before the 1 s timeout expired");
    auto destroy = waitEvent(log, *ev, remaining(1300), isDestroy);
    std::string how = "passive (gc worker)";
    const auto t1 = std::chrono::steady_clock::now();
    if (!destroy) {
      how = "after the reaping dump";
      const auto after = dumpAll(log, {.family = IpFamily::V6});
      KCHECK(log, find(after, tuple) == nullptr, "expired entry still dumped");
      destroy = waitEvent(log, *ev, std::chrono::milliseconds(1000), isDestroy);
    }
    std::fprintf(stderr, "[ kernel ] udp6 destroy %s %s, %.0f ms after the dump, %.0f ms after the last packet\n",
                 destroy ? "arrived" : "MISSING", how.c_str(), sinceMs(t1), sinceMs(t0));
    KCHECK(log, destroy.has_value(), "no DESTROY event for the UDP flow");
    if (destroy) {
      KCHECK(log, destroy->orig_packets == kCount && destroy->orig_bytes == kCount * (40 + 8 + kSize),
             describe(*destroy));
      if (e) KCHECK(log, destroy->id == e->id, "id");
    }
    close(rx);
    close(tx);
  });
}

// nf_conntrack_acct is read when a conntrack is created: a flow that
// started with accounting off never gets counters, flows after the switch do.
TEST(ConntrackKernel, AccountingAppliesOnlyToFlowsCreatedAfterEnabling) {
  inCtNetns([](Log& log) {
    if (!activateConntrack(log)) return;
    const int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto before = v4("127.0.0.5", 7001);
    auto later = v4("127.0.0.5", 7002);
    KCHECK(log, sendto(u, "a", 1, 0, reinterpret_cast<sockaddr*>(&before), sizeof before) == 1, "send");
    auto changed = ensureAccounting();
    KCHECK(log, changed.ok() && *changed, "accounting not switched on");
    KCHECK(log, sendto(u, "b", 1, 0, reinterpret_cast<sockaddr*>(&before), sizeof before) == 1, "send");
    KCHECK(log, sendto(u, "c", 1, 0, reinterpret_cast<sockaddr*>(&later), sizeof later) == 1, "send");
    const uint16_t sport = boundPort<sockaddr_in>(u);
    const auto dump = dumpAll(log, {.family = IpFamily::V4});
    const CtTuple t1{.family = IpFamily::V4, .src = addr("127.0.0.1"), .dst = addr("127.0.0.5"),
                     .src_port = sport, .dst_port = 7001, .l4proto = IPPROTO_UDP};
    CtTuple t2 = t1;
    t2.dst_port = 7002;
    const CtEntry* old = find(dump, t1);
    const CtEntry* fresh = find(dump, t2);
    KCHECK(log, old != nullptr && fresh != nullptr, "flows not dumped");
    if (old) KCHECK(log, !old->has_counters, "pre-existing flow has counters: " + describe(*old));
    if (fresh) KCHECK(log, fresh->has_counters && fresh->orig_packets == 1 && fresh->orig_bytes == 29, describe(*fresh));
    close(u);
  });
}

// A tiny receive buffer and a burst of new flows: the kernel drops events,
// poll() counts ENOBUFS, and a dump recovers the complete state.
TEST(ConntrackKernel, EventOverflowIsCountedAndDumpResyncs) {
  inCtNetns([](Log& log) {
    if (!activateConntrack(log) || !enableAccounting(log)) return;
    auto ev = ConntrackEvents::open({.groups = ConntrackEvents::kNew, .rcvbuf = 4096});
    if (!ev.ok()) return log.fail("events: " + ev.error().message());
    const int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    constexpr int kFlows = 600;
    for (int i = 0; i < kFlows; ++i) {
      auto dst = v4("127.0.0.4", static_cast<uint16_t>(20000 + i));
      (void)sendto(u, "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    }
    std::size_t got = 0;
    for (int i = 0; i < 50; ++i) {  // drain (bounded)
      auto r = ev->poll(i == 0 ? 100 : 0, [&](const CtEntry&) { ++got; });
      if (!r.ok()) return log.fail(r.error().message());
      if (*r == 0 && i > 0) break;
    }
    std::fprintf(stderr, "[ kernel ] rcvbuf %d: %zu of %d NEW events, %lu ENOBUFS\n", ev->rcvbuf(), got, kFlows,
                 static_cast<unsigned long>(ev->enobufs()));
    KCHECK(log, ev->enobufs() >= 1, "no ENOBUFS counted");
    KCHECK(log, got < static_cast<std::size_t>(kFlows), "all events arrived despite the tiny buffer");
    KCHECK(log, ev->takeOverflow(), "overflow flag not set");
    KCHECK(log, !ev->takeOverflow(), "overflow flag not cleared");
    std::size_t resynced = 0;
    auto r = dumpConntrack(IpFamily::V4, std::nullopt, [&](const CtEntry& e) {
      if (e.orig.dst == addr("127.0.0.4") && e.orig.l4proto == IPPROTO_UDP) ++resynced;
    });
    KCHECK(log, r.ok(), r.ok() ? "" : r.error().message());
    KCHECK(log, resynced == static_cast<std::size_t>(kFlows), "dump found " + std::to_string(resynced));
    close(u);
  });
}

}  // namespace
}  // namespace fg::nl
