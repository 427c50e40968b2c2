// PacketBuilder: raw test frames, described outermost layer first.
//
//   Bytes f = PacketBuilder()
//                 .eth({.vlans = {{.id = 100}}})
//                 .ipv4({.src = "10.0.0.1", .dst = "10.0.0.2"})
//                 .tcp({.sport = 40000, .dport = 443, .flags = core::kTcpSyn})
//                 .payload("hello")
//                 .build();
//
// build() assembles the frame innermost first, so every length field (IPv4
// total length, IPv6 payload length, UDP length, GTP length) and every "next
// protocol" field (EtherType, IP protocol, IPv6 next header, GRE protocol,
// PPP protocol, SNAP type) is derived from the layer that follows, unless the
// spec overrides it (to build hostile packets). Checksums are left zero: the
// decoder does not check them. Addresses are parsed with inet_pton, not with
// the code under test. Test-only; never used by the gateway itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/core/packet.h"

namespace fg::test {

using Bytes = std::vector<uint8_t>;

Bytes bytesOf(std::string_view s);

// A DNS response message (no compression): question `qname` type A (AAAA
// when the first address is IPv6), then a CNAME record per `cnames` entry
// (qname -> cnames[0] -> ...), then one A/AAAA record per address for the
// last name of the chain, every record with `ttl`.
Bytes dnsResponse(std::string_view qname, const std::vector<std::string>& addresses, uint32_t ttl = 300,
                  const std::vector<std::string>& cnames = {});

struct VlanTag {
  uint16_t tpid = 0x8100;  // 0x88a8 for a QinQ service tag
  uint16_t id = 0;
  uint8_t pcp = 0;
};

struct EthSpec {
  std::vector<VlanTag> vlans{};          // outermost first
  std::optional<uint16_t> ethertype{};   // default: from the next layer
  size_t pad_to = 0;                   // trailing zero padding up to this size
};

struct SllSpec {
  std::optional<uint16_t> protocol{};
};

struct Sll2Spec {
  std::optional<uint16_t> protocol{};
};

// DLT_NULL writes the address family in the writer's byte order; DLT_LOOP
// always in network order.
struct NullSpec {
  std::optional<uint32_t> family{};  // default: 2 for IPv4, 24 for IPv6
  bool big_endian = false;
  bool loop = false;               // DLT_LOOP (implies big endian)
};

struct Ipv4Spec {
  std::string src = "10.0.0.1";
  std::string dst = "10.0.0.2";
  uint16_t id = 0;
  uint8_t ttl = 64;
  std::optional<uint8_t> proto{};          // default: from the next layer
  Bytes options{};                         // padded with zeros to 4 bytes
  uint16_t frag_offset = 0;              // in 8-byte units
  bool more_fragments = false;
  bool dont_fragment = false;
  std::optional<uint16_t> total_length{};  // default: header + inner bytes
  std::optional<uint8_t> ihl{};            // default: from the options
  uint8_t version = 4;
};

struct Ipv6Ext {
  uint8_t type = 0;            // 0 hop-by-hop, 43 routing, 60 dest opts, 44 fragment, 51 AH
  size_t len = 8;              // bytes (fragment: always 8)
  std::optional<uint8_t> len_field{};  // overrides the encoded length (hostile input)
  uint16_t frag_offset = 0;    // fragment header: offset in 8-byte units
  bool more = false;           // fragment header: M flag
  uint32_t frag_id = 0;        // fragment header: identification
};

struct Ipv6Spec {
  std::string src = "2001:db8::1";
  std::string dst = "2001:db8::2";
  std::vector<Ipv6Ext> ext{};
  std::optional<uint8_t> next_header{};        // next header of the last ext (or fixed header)
  std::optional<uint16_t> payload_length{};    // default: ext + inner bytes
  uint8_t hop_limit = 64;
};

struct TcpSpec {
  uint16_t sport = 40000;
  uint16_t dport = 80;
  uint8_t flags = core::kTcpAck;
  uint32_t seq = 1;
  uint32_t ack = 0;
  Bytes options{};                       // padded with NOPs to 4 bytes
  std::optional<uint8_t> data_offset{};  // in 4-byte words; default from options
};

struct UdpSpec {
  uint16_t sport = 40000;
  uint16_t dport = 53;
  std::optional<uint16_t> length{};
};

struct IcmpSpec {
  uint8_t type = 8;  // echo request
  uint8_t code = 0;
  uint16_t id = 1;
  uint16_t seq = 1;
};

struct Icmpv6Spec {
  uint8_t type = 128;  // echo request
  uint8_t code = 0;
  uint16_t id = 1;
  uint16_t seq = 1;
};

struct SctpSpec {
  uint16_t sport = 5000;
  uint16_t dport = 3868;
  uint32_t vtag = 0x01020304;
};

// Any other IP protocol: no header of its own; its bytes are the payload.
struct OtherL4Spec {
  uint8_t proto = 112;  // VRRP
};

struct GreSpec {
  uint8_t version = 0;              // 1 = enhanced GRE (PPTP)
  std::optional<uint16_t> protocol{}; // default: from the next layer (v1: 0x880b)
  bool checksum = false;
  std::optional<uint32_t> key{};      // v0 only; v1 always carries its key
  std::optional<uint32_t> seq{};
  std::optional<uint32_t> ack{};      // v1 only
  uint16_t call_id = 7;             // v1 key: payload length + call id
};

struct PppSpec {
  bool address_control = true;      // ff 03
  std::optional<uint16_t> protocol{}; // default: 0x0021 / 0x0057 from the next layer
  bool compressed_protocol = false; // 1-byte protocol field
};

struct VxlanSpec {
  uint32_t vni = 42;
  uint8_t flags = 0x08;  // I flag
};

struct GtpSpec {
  uint32_t teid = 0x11223344;
  bool sequence = false;       // S flag: adds the 4-byte seq/N-PDU/next-ext word
  bool pdu_session_ext = false;  // E flag + one 4-byte extension header (0x85)
  uint8_t msg_type = 0xff;     // T-PDU
};

struct CapwapSpec {
  bool native_80211 = true;  // T bit: 802.11 frame + LLC/SNAP; else Ethernet
  bool qos = false;          // QoS data (26-byte MAC header)
  uint8_t hlen_words = 2;
};

class PacketBuilder {
 public:
  PacketBuilder& eth(EthSpec s = {});
  PacketBuilder& sll(SllSpec s = {});
  PacketBuilder& sll2(Sll2Spec s = {});
  PacketBuilder& null(NullSpec s = {});
  PacketBuilder& ipv4(Ipv4Spec s = {});
  PacketBuilder& ipv6(Ipv6Spec s = {});
  PacketBuilder& tcp(TcpSpec s = {});
  PacketBuilder& udp(UdpSpec s = {});
  PacketBuilder& icmp(IcmpSpec s = {});
  PacketBuilder& icmpv6(Icmpv6Spec s = {});
  PacketBuilder& sctp(SctpSpec s = {});
  PacketBuilder& otherL4(OtherL4Spec s = {});
  PacketBuilder& gre(GreSpec s = {});
  PacketBuilder& ppp(PppSpec s = {});
  PacketBuilder& vxlan(VxlanSpec s = {});
  PacketBuilder& gtp(GtpSpec s = {});
  PacketBuilder& capwap(CapwapSpec s = {});
  PacketBuilder& payload(Bytes b);
  PacketBuilder& payload(std::string_view s);

  Bytes build() const;
  // The link type matching the first layer (Raw when it is an IP header).
  core::LinkType link() const;

  using Layer = std::variant<EthSpec, SllSpec, Sll2Spec, NullSpec, Ipv4Spec, Ipv6Spec, TcpSpec,
                             UdpSpec, IcmpSpec, Icmpv6Spec, SctpSpec, OtherL4Spec, GreSpec, PppSpec,
                             VxlanSpec, GtpSpec, CapwapSpec>;

 private:
  PacketBuilder& add(Layer l);

  std::vector<Layer> layers_{};
  Bytes payload_{};
};

}  // namespace fg::test
