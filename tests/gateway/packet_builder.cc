#include "tests/gateway/packet_builder.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace fg::test {
namespace {

using Layer = PacketBuilder::Layer;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// clang 14 has no class template argument deduction for aggregates (P1816).
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

void put8(Bytes& b, uint8_t v) { b.push_back(v); }
void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
void putMac(Bytes& b, uint8_t last) {
  for (uint8_t x : {uint8_t{0x02}, uint8_t{0}, uint8_t{0}, uint8_t{0}, uint8_t{0}, last}) b.push_back(x);
}

// Test addresses come from inet_pton, independent of core::IpAddress::parse.
void putAddr(Bytes& b, const std::string& text, int family) {
  uint8_t buf[16];
  if (inet_pton(family, text.c_str(), buf) != 1)
    throw std::invalid_argument("PacketBuilder: bad address " + text);
  b.insert(b.end(), buf, buf + (family == AF_INET ? 4 : 16));
}

uint8_t ipProtoOf(const Layer* next) {
  if (!next) return 59;  // no next header
  return std::visit(
      Overloaded{
          [](const TcpSpec&) -> uint8_t { return core::kProtoTcp; },
          [](const UdpSpec&) -> uint8_t { return core::kProtoUdp; },
          [](const IcmpSpec&) -> uint8_t { return core::kProtoIcmp; },
          [](const Icmpv6Spec&) -> uint8_t { return core::kProtoIcmpv6; },
          [](const SctpSpec&) -> uint8_t { return core::kProtoSctp; },
          [](const Ipv4Spec&) -> uint8_t { return core::kProtoIpip; },
          [](const Ipv6Spec&) -> uint8_t { return core::kProtoIpv6; },
          [](const GreSpec&) -> uint8_t { return core::kProtoGre; },
          [](const OtherL4Spec& s) -> uint8_t { return s.proto; },
          [](const auto&) -> uint8_t { return 59; },
      },
      *next);
}

uint16_t etherTypeOf(const Layer* next) {
  if (!next) return 0x88b5;  // local experimental
  return std::visit(Overloaded{
                        [](const Ipv4Spec&) -> uint16_t { return 0x0800; },
                        [](const Ipv6Spec&) -> uint16_t { return 0x86dd; },
                        [](const EthSpec&) -> uint16_t { return 0x6558; },
                        [](const PppSpec&) -> uint16_t { return 0x880b; },
                        [](const auto&) -> uint16_t { return 0x88b5; },
                    },
                    *next);
}

Bytes wrap(const EthSpec& s, const Bytes& inner, const Layer* next) {
  Bytes b;
  putMac(b, 2);
  putMac(b, 1);
  for (const VlanTag& t : s.vlans) {
    put16(b, t.tpid);
    put16(b, static_cast<uint16_t>(t.pcp << 13 | (t.id & 0x0fff)));
  }
  put16(b, s.ethertype.value_or(etherTypeOf(next)));
  append(b, inner);
  if (b.size() < s.pad_to) b.resize(s.pad_to, 0);
  return b;
}

Bytes wrap(const SllSpec& s, const Bytes& inner, const Layer* next) {
  Bytes b;
  put16(b, 0);  // packet type: to us
  put16(b, 1);  // ARPHRD_ETHER
  put16(b, 6);  // address length
  putMac(b, 1);
  put16(b, 0);  // address padding
  put16(b, s.protocol.value_or(etherTypeOf(next)));
  append(b, inner);
  return b;
}

Bytes wrap(const Sll2Spec& s, const Bytes& inner, const Layer* next) {
  Bytes b;
  put16(b, s.protocol.value_or(etherTypeOf(next)));
  put16(b, 0);   // reserved
  put32(b, 3);   // ifindex
  put16(b, 1);   // ARPHRD_ETHER
  put8(b, 0);    // packet type
  put8(b, 6);    // address length
  putMac(b, 1);
  put16(b, 0);
  append(b, inner);
  return b;
}

Bytes wrap(const NullSpec& s, const Bytes& inner, const Layer* next) {
  uint32_t fam = s.family.value_or(next && std::holds_alternative<Ipv6Spec>(*next) ? 24u : 2u);
  Bytes b;
  if (s.big_endian || s.loop) {
    put32(b, fam);
  } else {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(fam >> (8 * i)));
  }
  append(b, inner);
  return b;
}

Bytes wrap(const Ipv4Spec& s, const Bytes& inner, const Layer* next) {
  Bytes opts = s.options;
  while (opts.size() % 4) opts.push_back(0);  // end of option list
  const size_t hdr = 20 + opts.size();
  const uint8_t ihl = s.ihl.value_or(static_cast<uint8_t>(hdr / 4));
  Bytes b;
  put8(b, static_cast<uint8_t>(s.version << 4 | (ihl & 0x0f)));
  put8(b, 0);
  put16(b, s.total_length.value_or(static_cast<uint16_t>(hdr + inner.size())));
  put16(b, s.id);
  put16(b, static_cast<uint16_t>((s.dont_fragment ? 0x4000 : 0) | (s.more_fragments ? 0x2000 : 0) |
                                 (s.frag_offset & 0x1fff)));
  put8(b, s.ttl);
  put8(b, s.proto.value_or(ipProtoOf(next)));
  put16(b, 0);  // checksum
  putAddr(b, s.src, AF_INET);
  putAddr(b, s.dst, AF_INET);
  append(b, opts);
  append(b, inner);
  return b;
}

Bytes wrap(const Ipv6Spec& s, const Bytes& inner, const Layer* next) {
  const uint8_t last_next = s.next_header.value_or(ipProtoOf(next));
  Bytes ext;
  for (size_t i = 0; i < s.ext.size(); ++i) {
    const Ipv6Ext& e = s.ext[i];
    const uint8_t nh = i + 1 < s.ext.size() ? s.ext[i + 1].type : last_next;
    if (e.type == 44) {
      put8(ext, nh);
      put8(ext, e.len_field.value_or(0));
      put16(ext, static_cast<uint16_t>(e.frag_offset << 3 | (e.more ? 1 : 0)));
      put32(ext, e.frag_id);
      continue;
    }
    const size_t start = ext.size();
    put8(ext, nh);
    const uint8_t len_field = e.type == 51 ? static_cast<uint8_t>(e.len / 4 - 2)
                                           : static_cast<uint8_t>(e.len / 8 - 1);
    put8(ext, e.len_field.value_or(len_field));
    ext.resize(start + e.len, 0);  // Pad1/PadN-style zero padding
    if (e.len >= 4 && e.type != 51) ext[start + 2] = 1, ext[start + 3] = static_cast<uint8_t>(e.len - 4);
  }
  Bytes b;
  put32(b, 0x60000000);
  put16(b, s.payload_length.value_or(static_cast<uint16_t>(ext.size() + inner.size())));
  put8(b, s.ext.empty() ? last_next : s.ext.front().type);
  put8(b, s.hop_limit);
  putAddr(b, s.src, AF_INET6);
  putAddr(b, s.dst, AF_INET6);
  append(b, ext);
  append(b, inner);
  return b;
}

Bytes wrap(const TcpSpec& s, const Bytes& inner, const Layer*) {
  Bytes opts = s.options;
  while (opts.size() % 4) opts.push_back(1);  // NOP
  Bytes b;
  put16(b, s.sport);
  put16(b, s.dport);
  put32(b, s.seq);
  put32(b, s.ack);
  put8(b, static_cast<uint8_t>(s.data_offset.value_or(static_cast<uint8_t>((20 + opts.size()) / 4)) << 4));
  put8(b, s.flags);
  put16(b, 65535);  // window
  put16(b, 0);      // checksum
  put16(b, 0);      // urgent pointer
  append(b, opts);
  append(b, inner);
  return b;
}

Bytes wrap(const UdpSpec& s, const Bytes& inner, const Layer*) {
  Bytes b;
  put16(b, s.sport);
  put16(b, s.dport);
  put16(b, s.length.value_or(static_cast<uint16_t>(8 + inner.size())));
  put16(b, 0);
  append(b, inner);
  return b;
}

Bytes icmpLike(uint8_t type, uint8_t code, uint16_t id, uint16_t seq, const Bytes& inner) {
  Bytes b;
  put8(b, type);
  put8(b, code);
  put16(b, 0);
  put16(b, id);
  put16(b, seq);
  append(b, inner);
  return b;
}

Bytes wrap(const IcmpSpec& s, const Bytes& inner, const Layer*) {
  return icmpLike(s.type, s.code, s.id, s.seq, inner);
}
Bytes wrap(const Icmpv6Spec& s, const Bytes& inner, const Layer*) {
  return icmpLike(s.type, s.code, s.id, s.seq, inner);
}

Bytes wrap(const SctpSpec& s, const Bytes& inner, const Layer*) {
  Bytes b;
  put16(b, s.sport);
  put16(b, s.dport);
  put32(b, s.vtag);
  put32(b, 0);  // checksum
  append(b, inner);
  return b;
}

Bytes wrap(const OtherL4Spec&, const Bytes& inner, const Layer*) { return inner; }

Bytes wrap(const GreSpec& s, const Bytes& inner, const Layer* next) {
  const bool v1 = s.version == 1;
  const bool has_key = v1 || s.key.has_value();
  uint16_t flags = s.version & 0x07;
  if (s.checksum) flags |= 0x8000;
  if (has_key) flags |= 0x2000;
  if (s.seq) flags |= 0x1000;
  if (v1 && s.ack) flags |= 0x0080;
  Bytes b;
  put16(b, flags);
  put16(b, s.protocol.value_or(v1 ? uint16_t{0x880b} : etherTypeOf(next)));
  if (s.checksum) put32(b, 0);
  if (v1) {
    put16(b, static_cast<uint16_t>(inner.size()));
    put16(b, s.call_id);
  } else if (s.key) {
    put32(b, *s.key);
  }
  if (s.seq) put32(b, *s.seq);
  if (v1 && s.ack) put32(b, *s.ack);
  append(b, inner);
  return b;
}

Bytes wrap(const PppSpec& s, const Bytes& inner, const Layer* next) {
  uint16_t proto = s.protocol.value_or(
      next && std::holds_alternative<Ipv6Spec>(*next) ? uint16_t{0x0057} : uint16_t{0x0021});
  Bytes b;
  if (s.address_control) {
    put8(b, 0xff);
    put8(b, 0x03);
  }
  if (s.compressed_protocol) put8(b, static_cast<uint8_t>(proto));
  else put16(b, proto);
  append(b, inner);
  return b;
}

Bytes wrap(const VxlanSpec& s, const Bytes& inner, const Layer*) {
  Bytes b;
  put8(b, s.flags);
  put8(b, 0);
  put16(b, 0);
  put32(b, s.vni << 8);
  append(b, inner);
  return b;
}

Bytes wrap(const GtpSpec& s, const Bytes& inner, const Layer*) {
  const bool optional_word = s.sequence || s.pdu_session_ext;
  Bytes extra;
  if (optional_word) {
    put16(extra, s.sequence ? 0x1234 : 0);
    put8(extra, 0);                                   // N-PDU number
    put8(extra, s.pdu_session_ext ? 0x85 : 0x00);     // next extension type
  }
  if (s.pdu_session_ext) {
    put8(extra, 1);     // length: 1 x 4 bytes
    put8(extra, 0x00);  // PDU type DL, QFI...
    put8(extra, 0x09);
    put8(extra, 0x00);  // no further extension
  }
  Bytes b;
  put8(b, static_cast<uint8_t>(0x30 | (s.pdu_session_ext ? 0x04 : 0) | (s.sequence ? 0x02 : 0)));
  put8(b, s.msg_type);
  put16(b, static_cast<uint16_t>(extra.size() + inner.size()));
  put32(b, s.teid);
  append(b, extra);
  append(b, inner);
  return b;
}

Bytes wrap(const CapwapSpec& s, const Bytes& inner, const Layer* next) {
  Bytes b;
  put8(b, 0);                                              // preamble: version 0, type 0
  put8(b, static_cast<uint8_t>(s.hlen_words << 3));        // HLEN, RID high bits
  put8(b, static_cast<uint8_t>(1 << 1 | (s.native_80211 ? 1 : 0)));  // WBID 1 (802.11), T
  put8(b, 0);                                              // F L W M K flags
  put32(b, 0);                                             // fragment id / offset
  b.resize(static_cast<size_t>(s.hlen_words) * 4, 0);
  if (s.native_80211) {
    put8(b, s.qos ? 0x88 : 0x08);  // frame control: (QoS) data
    put8(b, 0x01);                 // to DS
    put16(b, 0);                   // duration
    for (uint8_t a = 1; a <= 3; ++a) putMac(b, a);
    put16(b, 0x0010);              // sequence control
    if (s.qos) put16(b, 0x0000);   // QoS control
    for (uint8_t x : {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00}) put8(b, x);
    put16(b, etherTypeOf(next));
  }
  append(b, inner);
  return b;
}

}  // namespace

Bytes bytesOf(std::string_view s) { return Bytes(s.begin(), s.end()); }

namespace {

void dnsPut16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void dnsPutName(Bytes& b, std::string_view dotted) {
  while (!dotted.empty()) {
    const size_t dot = dotted.find('.');
    const std::string_view label = dotted.substr(0, dot);
    b.push_back(static_cast<uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  b.push_back(0);
}

void dnsPutRr(Bytes& b, std::string_view owner, uint16_t type, uint32_t ttl, const Bytes& rdata) {
  dnsPutName(b, owner);
  dnsPut16(b, type);
  dnsPut16(b, 1);  // class IN
  dnsPut16(b, static_cast<uint16_t>(ttl >> 16));
  dnsPut16(b, static_cast<uint16_t>(ttl));
  dnsPut16(b, static_cast<uint16_t>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
}

}  // namespace

Bytes dnsResponse(std::string_view qname, const std::vector<std::string>& addresses, uint32_t ttl,
                  const std::vector<std::string>& cnames) {
  const bool v6 = !addresses.empty() && addresses.front().find(':') != std::string::npos;
  Bytes b;
  dnsPut16(b, 0x1234);  // id
  dnsPut16(b, 0x8180);  // QR, RD, RA, NOERROR
  dnsPut16(b, 1);
  dnsPut16(b, static_cast<uint16_t>(cnames.size() + addresses.size()));
  dnsPut16(b, 0);
  dnsPut16(b, 0);
  dnsPutName(b, qname);
  dnsPut16(b, v6 ? 28 : 1);
  dnsPut16(b, 1);
  std::string owner(qname);
  for (const auto& target : cnames) {
    Bytes rdata;
    dnsPutName(rdata, target);
    dnsPutRr(b, owner, 5, ttl, rdata);
    owner = target;
  }
  for (const auto& a : addresses) {
    Bytes rdata(a.find(':') != std::string::npos ? 16 : 4);
    if (inet_pton(rdata.size() == 16 ? AF_INET6 : AF_INET, a.c_str(), rdata.data()) != 1)
      throw std::invalid_argument("dnsResponse: bad address " + a);
    dnsPutRr(b, owner, rdata.size() == 16 ? 28 : 1, ttl, rdata);
  }
  return b;
}

PacketBuilder& PacketBuilder::add(Layer l) {
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::eth(EthSpec s) { return add(std::move(s)); }
PacketBuilder& PacketBuilder::sll(SllSpec s) { return add(s); }
PacketBuilder& PacketBuilder::sll2(Sll2Spec s) { return add(s); }
PacketBuilder& PacketBuilder::null(NullSpec s) { return add(s); }
PacketBuilder& PacketBuilder::ipv4(Ipv4Spec s) { return add(std::move(s)); }
PacketBuilder& PacketBuilder::ipv6(Ipv6Spec s) { return add(std::move(s)); }
PacketBuilder& PacketBuilder::tcp(TcpSpec s) { return add(std::move(s)); }
PacketBuilder& PacketBuilder::udp(UdpSpec s) { return add(s); }
PacketBuilder& PacketBuilder::icmp(IcmpSpec s) { return add(s); }
PacketBuilder& PacketBuilder::icmpv6(Icmpv6Spec s) { return add(s); }
PacketBuilder& PacketBuilder::sctp(SctpSpec s) { return add(s); }
PacketBuilder& PacketBuilder::otherL4(OtherL4Spec s) { return add(s); }
PacketBuilder& PacketBuilder::gre(GreSpec s) { return add(s); }
PacketBuilder& PacketBuilder::ppp(PppSpec s) { return add(s); }
PacketBuilder& PacketBuilder::vxlan(VxlanSpec s) { return add(s); }
PacketBuilder& PacketBuilder::gtp(GtpSpec s) { return add(s); }
PacketBuilder& PacketBuilder::capwap(CapwapSpec s) { return add(s); }

PacketBuilder& PacketBuilder::payload(Bytes b) {
  payload_ = std::move(b);
  return *this;
}
PacketBuilder& PacketBuilder::payload(std::string_view s) { return payload(bytesOf(s)); }

Bytes PacketBuilder::build() const {
  Bytes inner = payload_;
  for (size_t i = layers_.size(); i-- > 0;) {
    const Layer* next = i + 1 < layers_.size() ? &layers_[i + 1] : nullptr;
    inner = std::visit([&](const auto& spec) { return wrap(spec, inner, next); }, layers_[i]);
  }
  return inner;
}

core::LinkType PacketBuilder::link() const {
  if (layers_.empty()) return core::LinkType::Raw;
  return std::visit(Overloaded{
                        [](const EthSpec&) { return core::LinkType::Ethernet; },
                        [](const SllSpec&) { return core::LinkType::LinuxSll; },
                        [](const Sll2Spec&) { return core::LinkType::LinuxSll2; },
                        [](const NullSpec& s) {
                          return s.loop ? core::LinkType::Loop : core::LinkType::Null;
                        },
                        [](const auto&) { return core::LinkType::Raw; },
                    },
                    layers_.front());
}

}  // namespace fg::test
