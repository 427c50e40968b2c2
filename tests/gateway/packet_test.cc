// Table-driven tests for core::decode(), IpAddress and protoName().
#include "gateway/core/packet.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gateway/core/ip_address.h"
#include "tests/gateway/packet_builder.h"

namespace fg::core {
namespace {

using test::Bytes;
using test::Ipv6Ext;
using test::PacketBuilder;
using test::TcpSpec;

// What a decode case expects. Fields left at their defaults are expected to be
// zero/empty in the packet; payload_len is only checked when set.
struct Want {
  DecodeError error = DecodeError::None;
  std::string src{}, dst{};
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  uint8_t ip_version = 0;
  uint8_t tcp_flags = 0;
  uint16_t vlan = 0;
  Tunnel tunnel = Tunnel::None;
  bool fragment = false;
  bool first_fragment = false;
  uint32_t frag_id = 0;
  std::optional<uint32_t> payload_len{};
  uint32_t ip_bytes = 0;
};

struct DecodeCase {
  std::string name{};
  PacketBuilder packet{};
  Want want;
  std::optional<LinkType> link{};  // default: packet.link()
};

void PrintTo(const DecodeCase& c, std::ostream* os) { *os << c.name; }

const Bytes kHello = test::bytesOf("hello");  // 5 bytes of L4 payload

TcpSpec tcpSyn() { return {.sport = 40000, .dport = 443, .flags = kTcpSyn}; }

// Only the name of an expected error matters for the other fields.
Want err(DecodeError e) { return Want{.error = e}; }

// 1 + n nested IPv4-in-IPv4 headers around a UDP datagram.
PacketBuilder nestedIpip(int n) {
  PacketBuilder b{};
  b.eth();
  for (int i = 0; i <= n; ++i) b.ipv4({.src = "10.0.0." + std::to_string(i + 1), .dst = "10.9.9.9"});
  b.udp({.sport = 1000, .dport = 2000}).payload(kHello);
  return b;
}

std::vector<DecodeCase> decodeCases() {
  std::vector<DecodeCase> v{};
  // ---- link layers -------------------------------------------------------
  v.push_back({.name = "Tcp4InEthernet",
               .packet = PacketBuilder().eth().ipv4({.src = "10.0.0.1", .dst = "10.0.0.2"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .payload_len = 5, .ip_bytes = 45}});
  v.push_back({.name = "Ipv4AndTcpOptions",
               .packet = PacketBuilder()
                             .eth()
                             .ipv4({.src = "192.168.1.10", .dst = "93.184.216.34",
                                    .options = {0x94, 0x04, 0x00, 0x00}})
                             .tcp({.sport = 51000, .dport = 80, .flags = kTcpPsh | kTcpAck,
                                   .options = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1}})
                             .payload("GET /"),
               .want = {.src = "192.168.1.10", .dst = "93.184.216.34", .sport = 51000,
                        .dport = 80, .proto = kProtoTcp, .ip_version = 4,
                        .tcp_flags = kTcpPsh | kTcpAck, .payload_len = 5,
                        .ip_bytes = 24 + 32 + 5}});
  v.push_back({.name = "Vlan",
               .packet = PacketBuilder().eth({.vlans = {{.id = 100, .pcp = 5}}}).ipv4()
                             .udp({.sport = 5353, .dport = 53}).payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 5353, .dport = 53,
                        .proto = kProtoUdp, .ip_version = 4, .vlan = 100, .payload_len = 5,
                        .ip_bytes = 33}});
  v.push_back({.name = "QinQOuterTagWins",
               .packet = PacketBuilder()
                             .eth({.vlans = {{.tpid = 0x88a8, .id = 100}, {.tpid = 0x8100, .id = 200}}})
                             .ipv4().udp({.sport = 1, .dport = 2}).payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 1, .dport = 2,
                        .proto = kProtoUdp, .ip_version = 4, .vlan = 100, .payload_len = 5,
                        .ip_bytes = 33}});
  v.push_back({.name = "QinQOld9100",
               .packet = PacketBuilder()
                             .eth({.vlans = {{.tpid = 0x9100, .id = 4094}, {.tpid = 0x8100, .id = 7}}})
                             .ipv4().udp({.sport = 1, .dport = 2}).payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 1, .dport = 2,
                        .proto = kProtoUdp, .ip_version = 4, .vlan = 4094, .payload_len = 5,
                        .ip_bytes = 33}});
  v.push_back({.name = "LinuxSll",
               .packet = PacketBuilder().sll().ipv4({.src = "172.16.0.1", .dst = "172.16.0.2"})
                             .udp({.sport = 123, .dport = 123}).payload(kHello),
               .want = {.src = "172.16.0.1", .dst = "172.16.0.2", .sport = 123, .dport = 123,
                        .proto = kProtoUdp, .ip_version = 4, .payload_len = 5, .ip_bytes = 33}});
  v.push_back({.name = "LinuxSll2Ipv6",
               .packet = PacketBuilder().sll2().ipv6({.src = "2001:db8::a", .dst = "2001:db8::b"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "2001:db8::a", .dst = "2001:db8::b", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 6, .tcp_flags = kTcpSyn,
                        .payload_len = 5, .ip_bytes = 65}});
  v.push_back({.name = "NullLittleEndianIpv4",
               .packet = PacketBuilder().null().ipv4().udp({.sport = 9, .dport = 7}).payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 9, .dport = 7,
                        .proto = kProtoUdp, .ip_version = 4, .payload_len = 5, .ip_bytes = 33}});
  v.push_back({.name = "NullBigEndianIpv6Family30",
               .packet = PacketBuilder().null({.family = 30, .big_endian = true}).ipv6()
                             .icmpv6().payload(kHello),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .proto = kProtoIcmpv6,
                        .ip_version = 6, .ip_bytes = 40 + 8 + 5}});
  v.push_back({.name = "NullLittleEndianIpv6Family28",
               .packet = PacketBuilder().null({.family = 28}).ipv6().udp({.sport = 5, .dport = 6}),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .sport = 5, .dport = 6,
                        .proto = kProtoUdp, .ip_version = 6, .payload_len = 0, .ip_bytes = 48}});
  v.push_back({.name = "NullLittleEndianIpv6Family10",
               .packet = PacketBuilder().null({.family = 10}).ipv6().udp({.sport = 5, .dport = 6}),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .sport = 5, .dport = 6,
                        .proto = kProtoUdp, .ip_version = 6, .payload_len = 0, .ip_bytes = 48}});
  v.push_back({.name = "LoopNetworkOrderIpv4",
               .packet = PacketBuilder().null({.loop = true}).ipv4().icmp().payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = kProtoIcmp,
                        .ip_version = 4, .ip_bytes = 20 + 8 + 5}});
  v.push_back({.name = "LoopHostOrderIsNotIp",
               .packet = PacketBuilder().null({.family = 2}).ipv4().icmp(),
               .want = err(DecodeError::NotIp),
               .link = LinkType::Loop});
  v.push_back({.name = "NullUnknownFamily",
               .packet = PacketBuilder().null({.family = 7}).ipv4().icmp(),
               .want = err(DecodeError::NotIp)});
  v.push_back({.name = "RawIpv4",
               .packet = PacketBuilder().ipv4({.src = "8.8.8.8", .dst = "1.1.1.1"})
                             .udp({.sport = 53, .dport = 33333}).payload(kHello),
               .want = {.src = "8.8.8.8", .dst = "1.1.1.1", .sport = 53, .dport = 33333,
                        .proto = kProtoUdp, .ip_version = 4, .payload_len = 5, .ip_bytes = 33}});
  v.push_back({.name = "RawIpv6",
               .packet = PacketBuilder().ipv6({.src = "fe80::1", .dst = "ff02::fb"})
                             .udp({.sport = 5353, .dport = 5353}).payload(kHello),
               .want = {.src = "fe80::1", .dst = "ff02::fb", .sport = 5353, .dport = 5353,
                        .proto = kProtoUdp, .ip_version = 6, .payload_len = 5, .ip_bytes = 53}});
  // ---- L4 protocols --------------------------------------------------------
  v.push_back({.name = "Sctp",
               .packet = PacketBuilder().eth().ipv4().sctp({.sport = 2905, .dport = 3868})
                             .payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 2905, .dport = 3868,
                        .proto = kProtoSctp, .ip_version = 4, .payload_len = 5, .ip_bytes = 37}});
  v.push_back({.name = "IcmpHasNoPorts",
               .packet = PacketBuilder().eth().ipv4().icmp({.id = 0x1234, .seq = 0x5678})
                             .payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = kProtoIcmp,
                        .ip_version = 4, .ip_bytes = 33}});
  v.push_back({.name = "VrrpOtherProtocol",
               .packet = PacketBuilder().eth().ipv4({.dst = "224.0.0.18"}).otherL4({.proto = 112})
                             .payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "224.0.0.18", .proto = 112, .ip_version = 4,
                        .payload_len = 5, .ip_bytes = 25}});
  v.push_back({.name = "GreWithUnknownInnerStaysOuter",
               .packet = PacketBuilder().eth().ipv4().gre({.protocol = 0x1234}).payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = kProtoGre,
                        .ip_version = 4, .payload_len = 4 + 5, .ip_bytes = 29}});
  v.push_back({.name = "GreTooShortStaysOuter",
               .packet = PacketBuilder().eth().ipv4().otherL4({.proto = kProtoGre}).payload("ab"),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = kProtoGre,
                        .ip_version = 4, .payload_len = 2, .ip_bytes = 22}});
  // ---- fragments -----------------------------------------------------------
  v.push_back({.name = "Ipv4FirstFragment",
               .packet = PacketBuilder().eth().ipv4({.id = 0x1234, .more_fragments = true})
                             .udp({.sport = 4000, .dport = 53}).payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 4000, .dport = 53,
                        .proto = kProtoUdp, .ip_version = 4, .fragment = true,
                        .first_fragment = true, .frag_id = 0x1234, .ip_bytes = 33}});
  v.push_back({.name = "Ipv4MiddleFragmentHasNoPorts",
               .packet = PacketBuilder().eth()
                             .ipv4({.id = 0x1234, .proto = kProtoUdp, .frag_offset = 2,
                                    .more_fragments = true})
                             .payload(Bytes(16, 0xab)),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = kProtoUdp,
                        .ip_version = 4, .fragment = true, .first_fragment = false,
                        .frag_id = 0x1234, .ip_bytes = 36}});
  v.push_back({.name = "Ipv4LastFragment",
               .packet = PacketBuilder().eth()
                             .ipv4({.id = 0xbeef, .proto = kProtoTcp, .frag_offset = 185})
                             .payload(Bytes(8, 0)),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = kProtoTcp,
                        .ip_version = 4, .fragment = true, .first_fragment = false,
                        .frag_id = 0xbeef, .ip_bytes = 28}});
  v.push_back({.name = "Ipv4DontFragmentIsNotAFragment",
               .packet = PacketBuilder().eth().ipv4({.id = 77, .dont_fragment = true})
                             .udp({.sport = 1, .dport = 2}),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 1, .dport = 2,
                        .proto = kProtoUdp, .ip_version = 4, .payload_len = 0, .ip_bytes = 28}});
  v.push_back({.name = "Ipv6ExtensionChain",
               .packet = PacketBuilder()
                             .eth()
                             .ipv6({.ext = {{.type = 0, .len = 8}, {.type = 43, .len = 24},
                                            {.type = 60, .len = 16}}})
                             .tcp({.sport = 1234, .dport = 443, .flags = kTcpAck})
                             .payload(kHello),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1234, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 6, .tcp_flags = kTcpAck,
                        .payload_len = 5, .ip_bytes = 40 + 48 + 20 + 5}});
  v.push_back({.name = "Ipv6AuthenticationHeader",
               .packet = PacketBuilder().eth().ipv6({.ext = {{.type = 51, .len = 16}}})
                             .udp({.sport = 500, .dport = 4500}).payload(kHello),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .sport = 500, .dport = 4500,
                        .proto = kProtoUdp, .ip_version = 6, .payload_len = 5,
                        .ip_bytes = 40 + 16 + 13}});
  v.push_back({.name = "Ipv6FirstFragment",
               .packet = PacketBuilder()
                             .eth()
                             .ipv6({.ext = {{.type = 0, .len = 8},
                                            {.type = 44, .more = true, .frag_id = 0xdeadbeef}}})
                             .udp({.sport = 7000, .dport = 7001}).payload(kHello),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .sport = 7000, .dport = 7001,
                        .proto = kProtoUdp, .ip_version = 6, .fragment = true,
                        .first_fragment = true, .frag_id = 0xdeadbeef,
                        .ip_bytes = 40 + 16 + 13}});
  v.push_back({.name = "Ipv6LaterFragmentHasNoPorts",
               .packet = PacketBuilder()
                             .eth()
                             .ipv6({.ext = {{.type = 44, .frag_offset = 10, .frag_id = 99}},
                                    .next_header = kProtoUdp})
                             .payload(Bytes(24, 1)),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .proto = kProtoUdp,
                        .ip_version = 6, .fragment = true, .first_fragment = false,
                        .frag_id = 99, .ip_bytes = 40 + 8 + 24}});
  v.push_back({.name = "Ipv6NoNextHeader",
               .packet = PacketBuilder().eth().ipv6({.ext = {{.type = 60, .len = 8}}}),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .proto = 59,
                        .ip_version = 6, .ip_bytes = 48}});
  // ---- tunnels ---------------------------------------------------------------
  v.push_back({.name = "Ipv4InIpv4",
               .packet = PacketBuilder().eth()
                             .ipv4({.src = "192.0.2.1", .dst = "192.0.2.2"})
                             .ipv4({.src = "10.1.1.1", .dst = "10.1.1.2"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "10.1.1.1", .dst = "10.1.1.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .tunnel = Tunnel::IpInIp, .payload_len = 5, .ip_bytes = 65}});
  v.push_back({.name = "Ipv6InIpv4",
               .packet = PacketBuilder().eth({.vlans = {{.id = 12}}})
                             .ipv4({.src = "192.0.2.1", .dst = "192.88.99.1"})
                             .ipv6({.src = "2002:c000:201::1", .dst = "2001:db8::53"})
                             .udp({.sport = 5000, .dport = 53}).payload(kHello),
               .want = {.src = "2002:c000:201::1", .dst = "2001:db8::53", .sport = 5000,
                        .dport = 53, .proto = kProtoUdp, .ip_version = 6, .vlan = 12,
                        .tunnel = Tunnel::IpInIp, .payload_len = 5, .ip_bytes = 20 + 40 + 13}});
  v.push_back({.name = "Ipv4InIpv6",
               .packet = PacketBuilder().eth().ipv6().ipv4({.src = "10.2.0.1", .dst = "10.2.0.2"})
                             .udp({.sport = 5000, .dport = 53}).payload(kHello),
               .want = {.src = "10.2.0.1", .dst = "10.2.0.2", .sport = 5000, .dport = 53,
                        .proto = kProtoUdp, .ip_version = 4, .tunnel = Tunnel::IpInIp,
                        .payload_len = 5, .ip_bytes = 40 + 20 + 13}});
  v.push_back({.name = "GreV0Ipv4",
               .packet = PacketBuilder().eth()
                             .ipv4({.src = "198.51.100.1", .dst = "198.51.100.2"}).gre()
                             .ipv4({.src = "10.3.0.1", .dst = "10.3.0.2"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "10.3.0.1", .dst = "10.3.0.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .tunnel = Tunnel::Gre, .payload_len = 5, .ip_bytes = 20 + 4 + 45}});
  v.push_back({.name = "GreV0ChecksumKeySequence",
               .packet = PacketBuilder().eth().ipv4()
                             .gre({.checksum = true, .key = 0xcafe, .seq = 9})
                             .ipv4({.src = "10.3.0.1", .dst = "10.3.0.2"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "10.3.0.1", .dst = "10.3.0.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .tunnel = Tunnel::Gre, .payload_len = 5, .ip_bytes = 20 + 16 + 45}});
  v.push_back({.name = "GreTransparentEthernetBridging",
               .packet = PacketBuilder().eth().ipv4().gre()
                             .eth({.vlans = {{.id = 300}}})
                             .ipv4({.src = "10.4.0.1", .dst = "10.4.0.2"})
                             .udp({.sport = 67, .dport = 68}).payload(kHello),
               // The inner frame's VLAN is not the capture's VLAN.
               .want = {.src = "10.4.0.1", .dst = "10.4.0.2", .sport = 67, .dport = 68,
                        .proto = kProtoUdp, .ip_version = 4, .vlan = 0,
                        .tunnel = Tunnel::Gre, .payload_len = 5,
                        .ip_bytes = 20 + 4 + 18 + 33}});
  v.push_back({.name = "EnhancedGrePptp",
               .packet = PacketBuilder().eth().ipv4()
                             .gre({.version = 1, .seq = 1, .ack = 2}).ppp()
                             .ipv4({.src = "10.5.0.1", .dst = "10.5.0.2"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "10.5.0.1", .dst = "10.5.0.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .tunnel = Tunnel::Gre, .payload_len = 5,
                        .ip_bytes = 20 + 16 + 4 + 45}});
  v.push_back({.name = "EnhancedGreCompressedPpp",
               .packet = PacketBuilder().eth().ipv4().gre({.version = 1})
                             .ppp({.address_control = false, .compressed_protocol = true})
                             .ipv4({.src = "10.5.0.1", .dst = "10.5.0.2"})
                             .udp({.sport = 1, .dport = 2}).payload(kHello),
               .want = {.src = "10.5.0.1", .dst = "10.5.0.2", .sport = 1, .dport = 2,
                        .proto = kProtoUdp, .ip_version = 4, .tunnel = Tunnel::Gre,
                        .payload_len = 5, .ip_bytes = 20 + 8 + 1 + 33}});
  v.push_back({.name = "Vxlan",
               .packet = PacketBuilder().eth().ipv4({.src = "192.0.2.10", .dst = "192.0.2.20"})
                             .udp({.sport = 51234, .dport = 4789}).vxlan()
                             .eth().ipv4({.src = "10.6.0.1", .dst = "10.6.0.2"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "10.6.0.1", .dst = "10.6.0.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .tunnel = Tunnel::Vxlan, .payload_len = 5,
                        .ip_bytes = 20 + 8 + 8 + 14 + 45}});
  v.push_back({.name = "VxlanWithoutIFlagIsPlainUdp",
               .packet = PacketBuilder().eth().ipv4().udp({.sport = 51234, .dport = 4789})
                             .vxlan({.flags = 0}).eth().ipv4().tcp(tcpSyn()).payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 51234, .dport = 4789,
                        .proto = kProtoUdp, .ip_version = 4, .payload_len = 8 + 14 + 45,
                        .ip_bytes = 20 + 8 + 8 + 14 + 45}});
  v.push_back({.name = "GtpU",
               .packet = PacketBuilder().eth().ipv4().udp({.sport = 2152, .dport = 2152}).gtp()
                             .ipv4({.src = "100.64.0.1", .dst = "8.8.4.4"})
                             .udp({.sport = 40001, .dport = 53}).payload(kHello),
               .want = {.src = "100.64.0.1", .dst = "8.8.4.4", .sport = 40001, .dport = 53,
                        .proto = kProtoUdp, .ip_version = 4, .tunnel = Tunnel::Gtp,
                        .payload_len = 5, .ip_bytes = 20 + 8 + 8 + 33}});
  v.push_back({.name = "GtpUWithSequence",
               .packet = PacketBuilder().eth().ipv4().udp({.sport = 2152, .dport = 2152})
                             .gtp({.sequence = true})
                             .ipv4({.src = "100.64.0.1", .dst = "8.8.4.4"})
                             .udp({.sport = 40001, .dport = 53}).payload(kHello),
               .want = {.src = "100.64.0.1", .dst = "8.8.4.4", .sport = 40001, .dport = 53,
                        .proto = kProtoUdp, .ip_version = 4, .tunnel = Tunnel::Gtp,
                        .payload_len = 5, .ip_bytes = 20 + 8 + 12 + 33}});
  v.push_back({.name = "GtpUWithExtensionHeaderIpv6Inner",
               .packet = PacketBuilder().eth().ipv4().udp({.sport = 2152, .dport = 2152})
                             .gtp({.pdu_session_ext = true})
                             .ipv6({.src = "2001:db8:5::1", .dst = "2001:4860::8888"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "2001:db8:5::1", .dst = "2001:4860::8888", .sport = 40000,
                        .dport = 443, .proto = kProtoTcp, .ip_version = 6,
                        .tcp_flags = kTcpSyn, .tunnel = Tunnel::Gtp, .payload_len = 5,
                        .ip_bytes = 20 + 8 + 16 + 65}});
  v.push_back({.name = "GtpControlMessageIsPlainUdp",
               .packet = PacketBuilder().eth().ipv4().udp({.sport = 2152, .dport = 2152})
                             .gtp({.msg_type = 1}).payload(Bytes(20, 0x45)),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 2152, .dport = 2152,
                        .proto = kProtoUdp, .ip_version = 4, .payload_len = 28,
                        .ip_bytes = 56}});
  v.push_back({.name = "CapwapNative80211",
               .packet = PacketBuilder().eth().ipv4().udp({.sport = 12222, .dport = 5247})
                             .capwap().ipv4({.src = "10.7.0.1", .dst = "10.7.0.2"})
                             .tcp(tcpSyn()).payload(kHello),
               .want = {.src = "10.7.0.1", .dst = "10.7.0.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .tunnel = Tunnel::Capwap, .payload_len = 5,
                        .ip_bytes = 20 + 8 + 8 + 24 + 8 + 45}});
  v.push_back({.name = "CapwapNative80211QosData",
               .packet = PacketBuilder().eth().ipv4().udp({.sport = 12222, .dport = 5247})
                             .capwap({.qos = true}).ipv4({.src = "10.7.0.1", .dst = "10.7.0.2"})
                             .udp({.sport = 1, .dport = 2}).payload(kHello),
               .want = {.src = "10.7.0.1", .dst = "10.7.0.2", .sport = 1, .dport = 2,
                        .proto = kProtoUdp, .ip_version = 4, .tunnel = Tunnel::Capwap,
                        .payload_len = 5, .ip_bytes = 20 + 8 + 8 + 26 + 8 + 33}});
  v.push_back({.name = "CapwapEthernet",
               .packet = PacketBuilder().eth().ipv4().udp({.sport = 12222, .dport = 5247})
                             .capwap({.native_80211 = false}).eth()
                             .ipv4({.src = "10.7.0.1", .dst = "10.7.0.2"})
                             .udp({.sport = 1, .dport = 2}).payload(kHello),
               .want = {.src = "10.7.0.1", .dst = "10.7.0.2", .sport = 1, .dport = 2,
                        .proto = kProtoUdp, .ip_version = 4, .tunnel = Tunnel::Capwap,
                        .payload_len = 5, .ip_bytes = 20 + 8 + 8 + 14 + 33}});
  v.push_back({.name = "TunnelAtMaxDepth",
               .packet = nestedIpip(kMaxTunnelDepth),
               .want = {.src = "10.0.0." + std::to_string(kMaxTunnelDepth + 1), .dst = "10.9.9.9",
                        .sport = 1000, .dport = 2000, .proto = kProtoUdp, .ip_version = 4,
                        .tunnel = Tunnel::IpInIp, .payload_len = 5,
                        .ip_bytes = static_cast<uint32_t>(20 * (kMaxTunnelDepth + 1) + 13)}});
  v.push_back({.name = "TunnelTooDeep",
               .packet = nestedIpip(kMaxTunnelDepth + 1),
               .want = err(DecodeError::TunnelTooDeep)});
  v.push_back({.name = "MixedTunnelsTooDeep",
               .packet = PacketBuilder().eth().ipv4().gre().ipv4().udp({.dport = 4789}).vxlan()
                             .eth().ipv4().udp({.dport = 2152}).gtp().ipv4().ipv6().ipv4()
                             .tcp(tcpSyn()),
               .want = err(DecodeError::TunnelTooDeep)});
  // ---- hostile and odd inputs --------------------------------------------------
  v.push_back({.name = "ArpIsNotIp",
               .packet = PacketBuilder().eth({.ethertype = 0x0806}).payload(Bytes(28, 0)),
               .want = err(DecodeError::NotIp)});
  v.push_back({.name = "PppoeDiscoveryIsNotIp",
               .packet = PacketBuilder().eth({.ethertype = 0x8863}).payload(Bytes(20, 0)),
               .want = err(DecodeError::NotIp)});
  v.push_back({.name = "SllArpIsNotIp",
               .packet = PacketBuilder().sll({.protocol = 0x0806}).payload(Bytes(28, 0)),
               .want = err(DecodeError::NotIp)});
  v.push_back({.name = "EthernetHeaderOnlyIsTruncatedIp",
               .packet = PacketBuilder().eth({.ethertype = 0x0800}),
               .want = err(DecodeError::TruncatedIp)});
  v.push_back({.name = "Ipv4IhlBelowFive",
               .packet = PacketBuilder().eth().ipv4({.ihl = 4}).udp(),
               .want = err(DecodeError::BadIpHeader)});
  v.push_back({.name = "Ipv4IhlZero",
               .packet = PacketBuilder().eth().ipv4({.ihl = 0}).udp(),
               .want = err(DecodeError::BadIpHeader)});
  v.push_back({.name = "Ipv4TotalLengthBelowIhl",
               .packet = PacketBuilder().eth().ipv4({.total_length = 19}).udp(),
               .want = err(DecodeError::BadIpHeader)});
  v.push_back({.name = "Ipv4IhlPastCapture",
               .packet = PacketBuilder().eth().ipv4({.total_length = 60, .ihl = 15}),
               .want = err(DecodeError::TruncatedIp)});
  v.push_back({.name = "WrongVersionUnderIpv4EtherType",
               .packet = PacketBuilder().eth({.ethertype = 0x0800}).ipv6().udp(),
               .want = err(DecodeError::BadIpHeader)});
  v.push_back({.name = "RawUnknownVersion",
               .packet = PacketBuilder().ipv4({.version = 7}).udp(),
               .want = err(DecodeError::BadIpHeader)});
  v.push_back({.name = "TcpDataOffsetBelowFive",
               .packet = PacketBuilder().eth().ipv4().tcp({.data_offset = 4}).payload(kHello),
               .want = err(DecodeError::BadL4Header)});
  v.push_back({.name = "TcpDataOffsetPastEnd",
               .packet = PacketBuilder().eth().ipv4().tcp({.data_offset = 15}).payload(kHello),
               .want = err(DecodeError::TruncatedL4)});
  v.push_back({.name = "UdpHeaderCut",
               .packet = PacketBuilder().eth().ipv4({.proto = kProtoUdp}).payload(Bytes(7, 0)),
               .want = err(DecodeError::TruncatedL4)});
  v.push_back({.name = "SctpHeaderCut",
               .packet = PacketBuilder().eth().ipv4({.proto = kProtoSctp}).payload(Bytes(11, 0)),
               .want = err(DecodeError::TruncatedL4)});
  v.push_back({.name = "Ipv6ExtensionPastEnd",
               .packet = PacketBuilder().eth().ipv6({.ext = {{.type = 0, .len = 8, .len_field = 10}}})
                             .udp(),
               .want = err(DecodeError::BadExtension)});
  v.push_back({.name = "Ipv6ExtensionPastPayloadLength",
               // The routing header fits the capture but not the announced payload length.
               .packet = PacketBuilder().eth()
                             .ipv6({.ext = {{.type = 43, .len = 24}}, .payload_length = 16})
                             .udp().payload(Bytes(32, 0)),
               .want = err(DecodeError::BadExtension)});
  v.push_back({.name = "Ipv6EndlessExtensionChainRejected",
               .packet = [] {
                 std::vector<Ipv6Ext> ext(20, Ipv6Ext{.type = 60, .len = 8});
                 PacketBuilder b{};
                 b.eth().ipv6({.ext = ext}).udp();
                 return b;
               }(),
               .want = err(DecodeError::BadExtension)});
  v.push_back({.name = "Ipv4TsoTotalLengthZero",
               .packet = PacketBuilder().eth().ipv4({.total_length = 0}).tcp(tcpSyn())
                             .payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .payload_len = 5, .ip_bytes = 45}});
  v.push_back({.name = "SnaplenCutAccountsAnnouncedLength",
               .packet = PacketBuilder().eth().ipv4({.total_length = 1500}).tcp(tcpSyn())
                             .payload(kHello),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 40000, .dport = 443,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpSyn,
                        .payload_len = 5, .ip_bytes = 1500}});
  v.push_back({.name = "EthernetPaddingNotInPayload",
               .packet = PacketBuilder().eth({.pad_to = 60}).ipv4().udp({.sport = 1, .dport = 2})
                             .payload("hi"),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 1, .dport = 2,
                        .proto = kProtoUdp, .ip_version = 4, .payload_len = 2, .ip_bytes = 30}});
  v.push_back({.name = "EthernetPaddingNotInTcpPayload",
               .packet = PacketBuilder().eth({.pad_to = 60}).ipv4().tcp({.flags = kTcpAck}),
               .want = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 40000, .dport = 80,
                        .proto = kProtoTcp, .ip_version = 4, .tcp_flags = kTcpAck,
                        .payload_len = 0, .ip_bytes = 40}});
  v.push_back({.name = "Ipv6TrailerNotInPayload",
               .packet = PacketBuilder().eth({.pad_to = 100}).ipv6().udp({.sport = 1, .dport = 2})
                             .payload("hi"),
               .want = {.src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1, .dport = 2,
                        .proto = kProtoUdp, .ip_version = 6, .payload_len = 2, .ip_bytes = 50}});
  return v;
}

class DecodeTableTest : public testing::TestWithParam<DecodeCase> {};

TEST_P(DecodeTableTest, Decodes) {
  const DecodeCase& c = GetParam();
  const Bytes frame = c.packet.build();
  const DecodeResult r = decode(c.link.value_or(c.packet.link()), frame, 1234);
  ASSERT_EQ(toString(r.error), toString(c.want.error));
  if (!r.ok()) return;
  const Packet& p = r.packet;
  const Want& w = c.want;
  EXPECT_EQ(p.ts, 1234);
  EXPECT_EQ(p.src.toString(), w.src);
  EXPECT_EQ(p.dst.toString(), w.dst);
  EXPECT_EQ(p.src_port, w.sport);
  EXPECT_EQ(p.dst_port, w.dport);
  EXPECT_EQ(p.proto, w.proto);
  EXPECT_EQ(p.ip_version, w.ip_version);
  EXPECT_EQ(p.src.version, w.ip_version);
  EXPECT_EQ(p.tcp_flags, w.tcp_flags);
  EXPECT_EQ(p.vlan, w.vlan);
  EXPECT_EQ(toString(p.tunnel), toString(w.tunnel));
  EXPECT_EQ(p.fragment, w.fragment);
  EXPECT_EQ(p.first_fragment, w.first_fragment);
  if (w.fragment) {
    EXPECT_EQ(p.frag_id, w.frag_id);
  }
  if (w.payload_len) {
    EXPECT_EQ(p.payload_len, *w.payload_len);
    if (*w.payload_len > 0) {
      ASSERT_NE(p.payload, nullptr);
      // The payload is the frame's L4 payload: it ends with the builder's payload bytes.
      const auto* end = frame.data() + frame.size();
      EXPECT_GE(p.payload, frame.data());
      EXPECT_LE(p.payload + p.payload_len, end);
    }
  }
  EXPECT_EQ(p.ip_bytes, w.ip_bytes);
  ASSERT_NE(p.l3, nullptr);
  EXPECT_GE(p.l3, frame.data());
  EXPECT_LE(p.l3 + p.l3_len, frame.data() + frame.size());
  EXPECT_EQ(p.l3[0] >> 4, p.ip_version) << "l3 must point at the innermost IP header";
}

INSTANTIATE_TEST_SUITE_P(Cases, DecodeTableTest, testing::ValuesIn(decodeCases()),
                         [](const auto& info) { return info.param.name; });

TEST(Decode, PayloadPointsAtTheL4Payload) {
  const Bytes frame = PacketBuilder().eth().ipv4().ipv6().udp({.sport = 1, .dport = 2})
                          .payload("payload!").build();
  const DecodeResult r = decode(LinkType::Ethernet, frame, 0);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.packet.payload_len, 8u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.packet.payload), 8), "payload!");
  // l3 is the inner IPv6 header: 14 (eth) + 20 (outer IPv4) into the frame.
  EXPECT_EQ(r.packet.l3, frame.data() + 34);
  EXPECT_EQ(r.packet.l3_len, 40u + 8 + 8);
}

TEST(Decode, TunnelsAreOpenedFromEitherPort) {
  // The well-known port may be the source (the reply direction of a tunnel).
  const Bytes vxlan = PacketBuilder().eth().ipv4().udp({.sport = 4789, .dport = 33000}).vxlan()
                          .eth().ipv4({.src = "10.6.0.2", .dst = "10.6.0.1"}).udp().build();
  EXPECT_EQ(decode(LinkType::Ethernet, vxlan, 0).packet.tunnel, Tunnel::Vxlan);
  const Bytes gtp = PacketBuilder().eth().ipv4().udp({.sport = 2152, .dport = 40000}).gtp()
                        .ipv4().udp().build();
  EXPECT_EQ(decode(LinkType::Ethernet, gtp, 0).packet.tunnel, Tunnel::Gtp);
}

TEST(Decode, FragmentedUdpToTunnelPortIsNotOpened) {
  const Bytes frame = PacketBuilder().eth().ipv4({.id = 5, .more_fragments = true})
                          .udp({.sport = 1111, .dport = 4789}).vxlan().eth().ipv4().udp()
                          .build();
  const DecodeResult r = decode(LinkType::Ethernet, frame, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.packet.tunnel, Tunnel::None);
  EXPECT_EQ(r.packet.dst_port, 4789);
}

TEST(Decode, EmptyFrameOnEveryLinkType) {
  for (LinkType l : {LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Raw,
                     LinkType::Null, LinkType::Loop}) {
    const DecodeResult r = decode(l, {}, 0);
    EXPECT_FALSE(r.ok()) << static_cast<int>(l);
  }
  EXPECT_EQ(decode(LinkType::Ethernet, {}, 0).error, DecodeError::TruncatedLink);
  EXPECT_EQ(decode(LinkType::Raw, {}, 0).error, DecodeError::TruncatedIp);
}

// ---- truncation and mutation ---------------------------------------------------

// A decoded packet must only point into the frame it came from.
void expectConsistent(const DecodeResult& r, std::span<const uint8_t> frame) {
  const uint8_t* begin = frame.data();
  const uint8_t* end = frame.data() + frame.size();
  if (!r.ok()) return;
  const Packet& p = r.packet;
  ASSERT_TRUE(p.ip_version == 4 || p.ip_version == 6);
  ASSERT_NE(p.l3, nullptr);
  ASSERT_GE(p.l3, begin);
  ASSERT_LE(p.l3_len, static_cast<size_t>(end - p.l3));
  if (p.payload_len > 0) {
    ASSERT_NE(p.payload, nullptr);
    ASSERT_GE(p.payload, p.l3);
    ASSERT_LE(p.payload_len, static_cast<size_t>(end - p.payload));
  }
  if (p.first_fragment) {
    ASSERT_TRUE(p.fragment);
  }
}

struct PrefixCase {
  std::string name{};
  PacketBuilder packet{};
};

void PrintTo(const PrefixCase& c, std::ostream* os) { *os << c.name; }

class PrefixTest : public testing::TestWithParam<PrefixCase> {};

TEST_P(PrefixTest, EveryPrefixDecodesSafely) {
  const Bytes full = GetParam().packet.build();
  const LinkType link = GetParam().packet.link();
  const DecodeResult whole = decode(link, full, 0);
  ASSERT_TRUE(whole.ok()) << toString(whole.error);
  for (size_t n = 0; n <= full.size(); ++n) {
    SCOPED_TRACE("prefix length " + std::to_string(n));
    // A fresh heap copy of exactly n bytes, so a sanitizer catches any over-read.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[n > 0 ? n : 1]);
    std::copy_n(full.begin(), n, buf.get());
    const std::span<const uint8_t> frame(buf.get(), n);
    const DecodeResult r = decode(link, frame, 0);
    expectConsistent(r, frame);
    if (!r.ok()) continue;
    // A cut packet may still decode (as the outer flow, or with a shorter
    // payload); it is still accounted with the length its outer IP header announces.
    EXPECT_EQ(r.packet.ip_bytes, whole.packet.ip_bytes);
    const bool same_layer = r.packet.tunnel == whole.packet.tunnel &&
                            r.packet.ip_version == whole.packet.ip_version &&
                            r.packet.proto == whole.packet.proto;
    // The payload is the frame's tail: each byte cut is one byte less payload.
    if (same_layer) {
      EXPECT_EQ(r.packet.payload_len + (full.size() - n), whole.packet.payload_len);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Packets, PrefixTest,
    testing::Values(
        PrefixCase{.name = "Tcp4InEthernet",
                   .packet = PacketBuilder().eth({.vlans = {{.id = 5}}}).ipv4({.options = {1, 1, 1, 1}})
                                 .tcp({.flags = kTcpSyn, .options = {2, 4, 5, 0xb4}})
                                 .payload(kHello)},
        PrefixCase{.name = "Ipv6Extensions",
                   .packet = PacketBuilder().eth()
                                 .ipv6({.ext = {{.type = 0, .len = 8}, {.type = 43, .len = 24},
                                                {.type = 44, .more = true, .frag_id = 3},
                                                {.type = 60, .len = 16}}})
                                 .tcp().payload(kHello)},
        PrefixCase{.name = "Vxlan",
                   .packet = PacketBuilder().eth().ipv4().udp({.dport = 4789}).vxlan()
                                 .eth({.vlans = {{.id = 9}}}).ipv4().tcp().payload(kHello)},
        PrefixCase{.name = "GtpWithExtension",
                   .packet = PacketBuilder().eth().ipv4().udp({.sport = 2152, .dport = 2152})
                                 .gtp({.pdu_session_ext = true}).ipv6().udp().payload(kHello)},
        PrefixCase{.name = "EnhancedGre",
                   .packet = PacketBuilder().sll().ipv4().gre({.version = 1, .seq = 1, .ack = 1})
                                 .ppp().ipv4().udp().payload(kHello)},
        PrefixCase{.name = "CapwapQos",
                   .packet = PacketBuilder().eth().ipv4().udp({.dport = 5247})
                                 .capwap({.qos = true}).ipv6().tcp().payload(kHello)}),
    [](const auto& info) { return info.param.name; });

TEST(Decode, TruncatedPrefixesReportTheLayer) {
  // Ethernet + IPv4 (20) + TCP (20) + 5.
  const Bytes full = PacketBuilder().eth().ipv4().tcp().payload(kHello).build();
  auto errAt = [&](size_t n) {
    return decode(LinkType::Ethernet, std::span<const uint8_t>(full.data(), n), 0).error;
  };
  EXPECT_EQ(errAt(13), DecodeError::TruncatedLink);
  EXPECT_EQ(errAt(14), DecodeError::TruncatedIp);
  EXPECT_EQ(errAt(14 + 19), DecodeError::TruncatedIp);
  EXPECT_EQ(errAt(14 + 20), DecodeError::TruncatedL4);
  EXPECT_EQ(errAt(14 + 39), DecodeError::TruncatedL4);
  EXPECT_EQ(errAt(14 + 40), DecodeError::None);
  // A snaplen cut inside the payload keeps the announced size for accounting.
  const DecodeResult cut = decode(LinkType::Ethernet, std::span<const uint8_t>(full.data(), 56), 0);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut.packet.payload_len, 2u);
  EXPECT_EQ(cut.packet.ip_bytes, 45u);
}

TEST(Decode, RandomMutationsNeverEscapeTheBuffer) {
  const std::vector<PacketBuilder> seeds = {
      PacketBuilder().eth().ipv4().tcp().payload(kHello),
      PacketBuilder().eth().ipv6({.ext = {{.type = 0, .len = 8}, {.type = 51, .len = 16}}}).udp(),
      PacketBuilder().eth().ipv4().udp({.dport = 4789}).vxlan().eth().ipv4().udp(),
      PacketBuilder().eth().ipv4().udp({.dport = 2152}).gtp({.pdu_session_ext = true}).ipv4().udp(),
      PacketBuilder().eth().ipv4().gre({.version = 1}).ppp().ipv4().udp(),
      PacketBuilder().eth().ipv4().udp({.dport = 5247}).capwap().ipv4().tcp(),
      PacketBuilder().sll2().ipv6({.ext = {{.type = 44, .more = true, .frag_id = 1}}}).udp(),
  };
  std::mt19937 rng(20240611);
  for (const PacketBuilder& seed : seeds) {
    const Bytes base = seed.build();
    for (int iter = 0; iter < 3000; ++iter) {
      Bytes m = base;
      const int flips = 1 + static_cast<int>(rng() % 6);
      for (int k = 0; k < flips; ++k) m[rng() % m.size()] = static_cast<uint8_t>(rng());
      m.resize(rng() % (m.size() + 1));
      std::unique_ptr<uint8_t[]> buf(new uint8_t[m.size() + 1]);
      std::copy(m.begin(), m.end(), buf.get());
      const std::span<const uint8_t> frame(buf.get(), m.size());
      for (LinkType l : {LinkType::Ethernet, LinkType::Raw, LinkType::LinuxSll2}) {
        const DecodeResult r = decode(l, frame, 0);
        expectConsistent(r, frame);
        if (testing::Test::HasFatalFailure()) {
          ADD_FAILURE() << "iteration " << iter;
          return;
        }
      }
    }
  }
}

TEST(DecodeCounters, CountsByReason) {
  DecodeCounters c;
  c.count(DecodeError::NotIp);
  c.count(DecodeError::NotIp);
  c.count(DecodeError::BadExtension);
  EXPECT_EQ(c.by_reason[static_cast<size_t>(DecodeError::NotIp)], 2u);
  EXPECT_EQ(c.by_reason[static_cast<size_t>(DecodeError::BadExtension)], 1u);
  EXPECT_EQ(c.total(), 3u);
  c.count(DecodeError::None);  // not an error: not in the total
  EXPECT_EQ(c.total(), 3u);
}

TEST(DecodeError, NamesAreDistinct) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < static_cast<size_t>(DecodeError::kCount); ++i) {
    const std::string_view n = toString(static_cast<DecodeError>(i));
    EXPECT_FALSE(n.empty());
    EXPECT_NE(n, "unknown");
    EXPECT_TRUE(names.insert(n).second) << n;
  }
}

TEST(TunnelName, Names) {
  EXPECT_EQ(toString(Tunnel::None), "");
  EXPECT_EQ(toString(Tunnel::IpInIp), "ipip");
  EXPECT_EQ(toString(Tunnel::Gre), "gre");
  EXPECT_EQ(toString(Tunnel::Vxlan), "vxlan");
  EXPECT_EQ(toString(Tunnel::Gtp), "gtp");
  EXPECT_EQ(toString(Tunnel::Capwap), "capwap");
}

TEST(ProtoName, KnownAndNumeric) {
  struct Case {
    uint8_t proto;
    std::string name{};
  };
  const Case cases[] = {
      {.proto = 1, .name = "icmp"},   {.proto = 2, .name = "igmp"},
      {.proto = 6, .name = "tcp"},    {.proto = 17, .name = "udp"},
      {.proto = 47, .name = "gre"},   {.proto = 50, .name = "esp"},
      {.proto = 51, .name = "ah"},    {.proto = 58, .name = "ipv6-icmp"},
      {.proto = 112, .name = "vrrp"}, {.proto = 132, .name = "sctp"},
      {.proto = 0, .name = "0"},      {.proto = 99, .name = "99"},
      {.proto = 255, .name = "255"},
  };
  for (const Case& c : cases) EXPECT_EQ(protoName(c.proto), c.name) << int{c.proto};
}

// ---- IpAddress ---------------------------------------------------------------

// The oracle: glibc's inet_pton.
std::optional<IpAddress> ptonOracle(const std::string& s) {
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return IpAddress::v4(buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return IpAddress::v6(buf);
  return std::nullopt;
}

TEST(IpAddress, ParseAndCanonicalText) {
  struct Case {
    std::string in{};
    std::string canonical{};
  };
  const Case cases[] = {
      {.in = "192.0.2.1", .canonical = "192.0.2.1"},
      {.in = "0.0.0.0", .canonical = "0.0.0.0"},
      {.in = "255.255.255.255", .canonical = "255.255.255.255"},
      {.in = "2001:db8::1", .canonical = "2001:db8::1"},
      {.in = "2001:DB8:0:0:0:0:0:1", .canonical = "2001:db8::1"},
      {.in = "2001:0db8:0000:0000:0000:0000:0000:0001", .canonical = "2001:db8::1"},
      // Longest run wins; on a tie the first run.
      {.in = "2001:0:0:1:0:0:0:1", .canonical = "2001:0:0:1::1"},
      {.in = "2001:db8:0:0:1:0:0:1", .canonical = "2001:db8::1:0:0:1"},
      // A single zero group is not compressed.
      {.in = "2001:db8:0:1:1:1:1:1", .canonical = "2001:db8:0:1:1:1:1:1"},
      {.in = "2001:db8::1:1:1:1:1", .canonical = "2001:db8:0:1:1:1:1:1"},
      {.in = "::", .canonical = "::"},
      {.in = "::1", .canonical = "::1"},
      {.in = "1::", .canonical = "1::"},
      {.in = "fe80::", .canonical = "fe80::"},
      {.in = "1:0:0:0:0:0:0:0", .canonical = "1::"},
      {.in = "0:0:0:0:0:0:0:2", .canonical = "::2"},
      {.in = "1:2:3:4:5:6:7:8", .canonical = "1:2:3:4:5:6:7:8"},
      {.in = "FFFF:ffff:FFFF:ffff:FFFF:ffff:FFFF:ffff",
       .canonical = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
      {.in = "1:0:0:2:0:0:0:3", .canonical = "1:0:0:2::3"},
      {.in = "0:0:1:0:0:0:0:0", .canonical = "0:0:1::"},
      // IPv4-mapped addresses keep the dotted quad.
      {.in = "::ffff:192.0.2.1", .canonical = "::ffff:192.0.2.1"},
      {.in = "0:0:0:0:0:ffff:c000:201", .canonical = "::ffff:192.0.2.1"},
      {.in = "::FFFF:10.0.0.1", .canonical = "::ffff:10.0.0.1"},
      // Embedded IPv4 elsewhere is just hex groups.
      {.in = "64:ff9b::192.0.2.33", .canonical = "64:ff9b::c000:221"},
      {.in = "1:2:3:4:5:6:1.2.3.4", .canonical = "1:2:3:4:5:6:102:304"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    const auto a = IpAddress::parse(c.in);
    ASSERT_TRUE(a.has_value());
    const auto oracle = ptonOracle(c.in);
    ASSERT_TRUE(oracle.has_value());
    EXPECT_EQ(*a, *oracle);
    EXPECT_EQ(a->toString(), c.canonical);
    // And back again.
    const auto again = IpAddress::parse(a->toString());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, *a);
  }
}

TEST(IpAddress, RejectsInvalidText) {
  const char* const bad[] = {
      "",           "1",           "1.2.3",        "1.2.3.4.5",      "256.0.0.1",
      "1.2.3.4 ",   " 1.2.3.4",    "1..2.3",       "a.b.c.d",        "1.2.3.-4",
      "1.2.3.4.",   ".1.2.3.4",    "1.2.3.1000",   "1.2.3.4:80",     ":::",
      "1:::2",      "1::2::3",     "12345::",      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",             "g::",          ":1::",           "1::2:",
      ":1",         "1:",          "::1.2.3.4:5",  "1:2:3:4:5:6:7:8::",
      "::ffff:1.2.3",              "::ffff:256.1.1.1",               "[::1]",
      "1:2:3:4:5:6:7:1.2.3.4",     "::1%eth0",     "0x1::",          "1.2.3.4/32",
  };
  for (const char* s : bad) {
    EXPECT_FALSE(IpAddress::parse(s).has_value()) << '"' << s << '"';
    EXPECT_FALSE(ptonOracle(s).has_value()) << "oracle disagrees: " << s;
  }
}

TEST(IpAddress, RoundTripsEveryCompressionPosition) {
  // Every placement of a zero run in an otherwise non-zero address.
  for (int start = 0; start < 8; ++start) {
    for (int len = 1; start + len <= 8; ++len) {
      uint8_t b[16];
      for (int g = 0; g < 8; ++g) {
        const bool zero = g >= start && g < start + len;
        b[2 * g] = 0;
        b[2 * g + 1] = zero ? 0 : static_cast<uint8_t>(g + 1);
      }
      const IpAddress a = IpAddress::v6(b);
      const std::string text = a.toString();
      SCOPED_TRACE(text);
      char oracle[64];
      ASSERT_NE(inet_ntop(AF_INET6, b, oracle, sizeof oracle), nullptr);
      // glibc prints deprecated IPv4-compatible addresses (::a.b.c.d) dotted;
      // RFC 5952 does not ask for that.
      if (!(start == 0 && len == 6)) {
        EXPECT_EQ(text, oracle);
      }
      EXPECT_EQ(IpAddress::parse(text), a);
      EXPECT_EQ(text.find(":::"), std::string::npos);
      EXPECT_LE(std::count(text.begin(), text.end(), ':'), 7);
    }
  }
}

TEST(IpAddress, VersionsAndOrdering) {
  const uint8_t v4[4] = {10, 0, 0, 1};
  const IpAddress a = IpAddress::v4(v4);
  EXPECT_EQ(a.version, 4);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(IpAddress{}.toString(), "");
  EXPECT_EQ(IpAddress{}.version, 0);
  // The IPv4 address and the IPv6 address with the same leading bytes differ.
  uint8_t v6[16] = {10, 0, 0, 1};
  const IpAddress b = IpAddress::v6(v6);
  EXPECT_NE(a, b);
  EXPECT_EQ(b.size(), 16u);
  EXPECT_LT(*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"));
  EXPECT_LT(*IpAddress::parse("9.255.255.255"), *IpAddress::parse("10.0.0.0"));
}

}  // namespace
}  // namespace fg::core
