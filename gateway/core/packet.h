// Packet decoding: link layer -> (tunnels) -> IPv4/IPv6 -> L4.
//
// Pure and allocation-free: decode() only reads the bytes it is given and
// returns a Packet whose pointers point into them (a non-owning view; the
// caller keeps the buffer alive while the Packet is used). Every malformed or
// truncated input yields a DecodeError reason, never a crash; callers count
// the reasons (DecodeCounters) and skip the packet.
//
// Tunnels that carry whole IP packets are opened and the innermost IP packet
// is the one a flow is keyed on (as DPI tools report them): IP-in-IP (4in4,
// 6in4, 4in6, 6in6), GRE (incl. transparent Ethernet bridging and ERSPAN
// type II), VXLAN (UDP 4789), GTP-U (UDP 2152) and CAPWAP data (UDP 5247).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "gateway/core/ip_address.h"

namespace fg::core {

// Microseconds since the Unix epoch (from the capture file or the kernel).
using Timestamp = int64_t;

enum class LinkType : uint8_t {
  Ethernet,   // DLT_EN10MB
  LinuxSll,   // DLT_LINUX_SLL (cooked v1)
  LinuxSll2,  // DLT_LINUX_SLL2
  Raw,        // raw IP, version from the first nibble (also NFQUEUE payloads)
  Null,       // BSD loopback: 4-byte address family in host byte order
  Loop,       // OpenBSD loopback: 4-byte address family in network byte order
};

enum class Tunnel : uint8_t { None, IpInIp, Gre, Vxlan, Gtp, Capwap };
std::string_view toString(Tunnel t);

enum class DecodeError : uint8_t {
  None,
  TruncatedLink,   // shorter than its link-layer header
  NotIp,           // ARP, LLDP, ... (not an error in the stream, just not ours)
  TruncatedIp,     // shorter than the IP header it announces
  BadIpHeader,     // wrong version, header length or total length
  TruncatedL4,     // shorter than the TCP/UDP/... header
  BadL4Header,     // e.g. a TCP data offset below 5
  BadExtension,    // IPv6 extension header chain runs past the packet
  TunnelTooDeep,   // more nested encapsulations than kMaxTunnelDepth
  kCount,
};
std::string_view toString(DecodeError e);

inline constexpr int kMaxTunnelDepth = 4;

// IP protocol numbers used by name.
inline constexpr uint8_t kProtoIcmp = 1, kProtoIgmp = 2, kProtoIpip = 4, kProtoTcp = 6,
                         kProtoUdp = 17, kProtoIpv6 = 41, kProtoGre = 47, kProtoEsp = 50,
                         kProtoIcmpv6 = 58, kProtoSctp = 132;
// Lower-case protocol name for records: tcp, udp, icmp, ipv6-icmp, sctp, ...;
// the decimal number for protocols without a name here.
std::string protoName(uint8_t proto);

// TCP flags (as on the wire).
inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                         kTcpAck = 0x10;

struct Packet {
  Timestamp ts = 0;
  IpAddress src, dst;
  uint16_t src_port = 0, dst_port = 0;  // 0 for port-less protocols
  uint8_t proto = 0;
  uint8_t ip_version = 0;
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0;  // ICMP / ICMPv6 type and code (0 otherwise)
  uint8_t icmp_code = 0;
  Tunnel tunnel = Tunnel::None;
  uint16_t vlan = 0;                    // outermost 802.1Q id, 0 = none
  // IP fragments: `fragment` is set for any fragment; only the first carries
  // L4 ports. `frag_id` is the IPv4 identification or IPv6 fragment id.
  bool fragment = false;
  bool first_fragment = false;
  uint32_t frag_id = 0;
  // The innermost IP packet (what DPI inspects) and the L4 payload in it.
  const uint8_t* l3 = nullptr;
  uint32_t l3_len = 0;
  const uint8_t* payload = nullptr;
  uint32_t payload_len = 0;
  // Bytes accounted to the flow: the outermost IP packet's length.
  uint32_t ip_bytes = 0;
};

// ICMP/ICMPv6 error messages (unreachable, time exceeded, parameter
// problem, ...): they quote another connection and conntrack files them
// under it ("related").
bool isIcmpError(const Packet& p);

struct DecodeResult {
  DecodeError error = DecodeError::None;
  Packet packet;
  bool ok() const { return error == DecodeError::None; }
};

// Decodes one captured frame. `ts` is copied into the packet.
DecodeResult decode(LinkType link, std::span<const uint8_t> frame, Timestamp ts);

struct DecodeCounters {
  std::array<uint64_t, static_cast<size_t>(DecodeError::kCount)> by_reason{};
  void count(DecodeError e) { ++by_reason[static_cast<size_t>(e)]; }
  uint64_t total() const {
    uint64_t n = 0;
    for (size_t i = 1; i < by_reason.size(); ++i) n += by_reason[i];
    return n;
  }
};

}  // namespace fg::core
