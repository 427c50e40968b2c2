// gateway/nfq message builders and parser: golden tests, no kernel.
#include "gateway/nfq/queue.h"

#include <arpa/inet.h>
#include <cstring>
#include <gtest/gtest.h>

extern "C" {
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
}

namespace fg::nfq {
namespace {

struct ParsedVerdict {
  uint16_t type;  // NFQNL_MSG_VERDICT or _BATCH
  uint16_t queue;
  uint32_t id;
  uint32_t verdict;
  std::optional<uint32_t> mark;
  size_t payload_len = 0;
};

std::vector<ParsedVerdict> parseVerdicts(const std::vector<uint8_t>& buf) {
  std::vector<ParsedVerdict> out;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  int len = static_cast<int>(buf.size());
  for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
    ParsedVerdict v{};
    v.type = static_cast<uint16_t>(nlh->nlmsg_type & 0xff);
    EXPECT_EQ(nlh->nlmsg_type >> 8, NFNL_SUBSYS_QUEUE);
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    v.queue = ntohs(nfg->res_id);
    nlattr* attr[NFQA_MAX + 1] = {};
    EXPECT_GE(nfq_nlmsg_parse(nlh, attr), 0);
    if (attr[NFQA_VERDICT_HDR]) {
      const auto* vh = static_cast<const nfqnl_msg_verdict_hdr*>(mnl_attr_get_payload(attr[NFQA_VERDICT_HDR]));
      v.id = ntohl(vh->id);
      v.verdict = ntohl(vh->verdict);
    }
    if (attr[NFQA_MARK]) v.mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
    if (attr[NFQA_PAYLOAD]) v.payload_len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
    out.push_back(v);
  }
  EXPECT_EQ(len, 0) << "trailing bytes";
  return out;
}

TEST(VerdictBatch, EveryPacketStartsWithTheFailureVerdict) {
  VerdictBatch b(3, VerdictEntry{.id = 0, .verdict = Verdict::Accept, .mark = std::nullopt, .payload = {}});
  b.add(10);
  b.add(11).mark = 0x80000001u;
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.entries()[0].verdict, Verdict::Accept);
  EXPECT_FALSE(b.entries()[0].mark.has_value());
  EXPECT_EQ(b.entries()[1].mark, std::optional<uint32_t>(0x80000001u));
}

TEST(VerdictBatch, RunsOfEqualVerdictsShareOneBatchMessage) {
  VerdictBatch b(7, VerdictEntry{});
  b.add(1);
  b.add(2);
  b.add(3);                        // 1-3: accept, no mark -> one batch up to 3
  b.add(4).mark = 0x80000005u;     // 4-5: accept + mark -> one batch up to 5
  b.add(5).mark = 0x80000005u;
  b.add(6).mark = 0x80000006u;     // 6: single verdict
  auto& r = b.add(7);              // 7: rewritten packet: never batched
  r.mark = 0xa0000000u;
  r.payload = std::vector<uint8_t>(40, 0);
  b.add(8).mark = 0xa0000000u;     // 8: same mark as 7 but no payload: its own
  std::vector<uint8_t> buf;
  EXPECT_EQ(b.encode(buf, 100), 5u);
  auto v = parseVerdicts(buf);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].type, NFQNL_MSG_VERDICT_BATCH);
  EXPECT_EQ(v[0].id, 3u);
  EXPECT_EQ(v[0].verdict, static_cast<uint32_t>(NF_ACCEPT));
  EXPECT_FALSE(v[0].mark.has_value());
  EXPECT_EQ(v[0].queue, 7);
  EXPECT_EQ(v[1].type, NFQNL_MSG_VERDICT_BATCH);
  EXPECT_EQ(v[1].id, 5u);
  EXPECT_EQ(v[1].mark, std::optional<uint32_t>(0x80000005u));
  EXPECT_EQ(v[2].type, NFQNL_MSG_VERDICT);
  EXPECT_EQ(v[2].id, 6u);
  EXPECT_EQ(v[3].type, NFQNL_MSG_VERDICT);
  EXPECT_EQ(v[3].id, 7u);
  EXPECT_EQ(v[3].payload_len, 40u);
  EXPECT_EQ(v[4].type, NFQNL_MSG_VERDICT);
  EXPECT_EQ(v[4].id, 8u);
  EXPECT_EQ(v[4].payload_len, 0u);
}

TEST(VerdictBatch, DropVerdictsAreEncoded) {
  VerdictBatch b(0, VerdictEntry{.id = 0, .verdict = Verdict::Drop, .mark = std::nullopt, .payload = {}});
  b.add(42);
  std::vector<uint8_t> buf;
  ASSERT_EQ(b.encode(buf, 1), 1u);
  auto v = parseVerdicts(buf);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].verdict, static_cast<uint32_t>(NF_DROP));
}

TEST(QueueMessages, BindAsksForFailOpenGsoAndCopyPacket) {
  QueueConfig c{.queue_num = 5, .max_len = 4096, .rcvbuf_bytes = 1 << 20, .copy_range = 0xffff,
                .fail_open = true, .gso = true};
  auto buf = buildBindMessages(c, 10);
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  int len = static_cast<int>(buf.size());
  int n = 0;
  bool saw_bind = false, saw_flags = false;
  for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len), ++n) {
    EXPECT_EQ(nlh->nlmsg_type, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG);
    EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_ACK) << "errors (EBUSY, EPERM) must come back";
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(ntohs(nfg->res_id), 5);
    const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
         mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a)) {
      switch (mnl_attr_get_type(a)) {
        case NFQA_CFG_CMD: {
          const auto* cmd = static_cast<const nfqnl_msg_config_cmd*>(mnl_attr_get_payload(a));
          EXPECT_EQ(cmd->command, NFQNL_CFG_CMD_BIND);
          saw_bind = true;
          break;
        }
        case NFQA_CFG_PARAMS: {
          const auto* p = static_cast<const nfqnl_msg_config_params*>(mnl_attr_get_payload(a));
          EXPECT_EQ(p->copy_mode, NFQNL_COPY_PACKET);
          EXPECT_EQ(ntohl(p->copy_range), 0xffffu);
          break;
        }
        case NFQA_CFG_QUEUE_MAXLEN:
          EXPECT_EQ(ntohl(mnl_attr_get_u32(a)), 4096u);
          break;
        case NFQA_CFG_FLAGS: {
          const uint32_t f = ntohl(mnl_attr_get_u32(a));
          EXPECT_EQ(f, static_cast<uint32_t>(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
          EXPECT_FALSE(f & NFQA_CFG_F_CONNTRACK) << "the kernel may lack NETLINK_GLUE_CT";
          saw_flags = true;
          break;
        }
      }
    }
  }
  EXPECT_EQ(n, 2);
  EXPECT_TRUE(saw_bind);
  EXPECT_TRUE(saw_flags);
}

TEST(QueueMessages, ParsesAQueuedPacket) {
  // Build what the kernel sends: NFQNL_MSG_PACKET with header, mark, ifindex, payload.
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->res_id = htons(2);
  nfqnl_msg_packet_hdr ph{};
  ph.packet_id = htonl(99);
  ph.hw_protocol = htons(0x0800);
  ph.hook = 0;
  mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof ph, &ph);
  mnl_attr_put_u32(nlh, NFQA_MARK, htonl(0x1234));
  mnl_attr_put_u32(nlh, NFQA_IFINDEX_INDEV, htonl(3));
  nfqnl_msg_packet_hw hw{};
  hw.hw_addrlen = htons(6);
  const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  std::memcpy(hw.hw_addr, mac, 6);
  mnl_attr_put(nlh, NFQA_HWADDR, sizeof hw, &hw);
  const uint8_t pkt[] = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  mnl_attr_put(nlh, NFQA_PAYLOAD, sizeof pkt, pkt);
  auto p = parsePacket(nlh);
  ASSERT_TRUE(p.has_value());
  ASSERT_TRUE(p->has_hw_src);
  EXPECT_EQ(p->hw_src, (std::array<uint8_t, 6>{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}));
  EXPECT_EQ(p->id, 99u);
  EXPECT_EQ(p->hw_protocol, 0x0800);
  EXPECT_EQ(p->mark, 0x1234u);
  EXPECT_EQ(p->in_ifindex, 3u);
  EXPECT_EQ(p->out_ifindex, 0u);
  EXPECT_EQ(p->ts, 0) << "no timestamp attribute";
  ASSERT_EQ(p->payload.size(), sizeof pkt);
  EXPECT_EQ(p->payload[0], 0x45);
}

TEST(QueueMessages, RejectsAMessageWithoutPacketHeader) {
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
  mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg));
  mnl_attr_put_u32(nlh, NFQA_MARK, htonl(1));
  EXPECT_FALSE(parsePacket(nlh).has_value());
}

}  // namespace
}  // namespace fg::nfq
