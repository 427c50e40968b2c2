#include "gateway/core/packet.h"

#include <string>

namespace fg::core {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86dd, kEtherVlan = 0x8100,
                   kEtherQinQ = 0x88a8, kEtherQinQOld = 0x9100, kEtherPppoe = 0x8864,
                   kEtherMpls = 0x8847, kEtherMplsMc = 0x8848, kEtherTeb = 0x6558,
                   kEtherErspan2 = 0x88be, kEtherPpp = 0x880b;

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// Bytes still to decode; every read is checked against `len`.
struct Cursor {
  const uint8_t* p;
  size_t len;
};

class Decoder {
 public:
  explicit Decoder(Timestamp ts) { out_.packet.ts = ts; }

  DecodeResult run(LinkType link, Cursor c) {
    switch (link) {
      case LinkType::Ethernet: ethernet(c); break;
      case LinkType::LinuxSll:
        if (c.len < 16) return fail(DecodeError::TruncatedLink);
        etherType(rd16(c.p + 14), {c.p + 16, c.len - 16});
        break;
      case LinkType::LinuxSll2:
        if (c.len < 20) return fail(DecodeError::TruncatedLink);
        etherType(rd16(c.p), {c.p + 20, c.len - 20});
        break;
      case LinkType::Raw: rawIp(c); break;
      case LinkType::Null:
      case LinkType::Loop: {
        if (c.len < 4) return fail(DecodeError::TruncatedLink);
        // The family is in the writer's byte order for DLT_NULL; accept both.
        uint32_t be = rd32(c.p);
        uint32_t le = static_cast<uint32_t>(c.p[3]) << 24 | static_cast<uint32_t>(c.p[2]) << 16 |
                      static_cast<uint32_t>(c.p[1]) << 8 | c.p[0];
        uint32_t fam = (link == LinkType::Loop || be < 256) ? be : le;
        Cursor rest{c.p + 4, c.len - 4};
        if (fam == 2) ipv4(rest);
        else if (fam == 10 || fam == 24 || fam == 28 || fam == 30) ipv6(rest);
        else fail(DecodeError::NotIp);
        break;
      }
    }
    return out_;
  }

 private:
  DecodeResult& fail(DecodeError e) {
    if (out_.error == DecodeError::None) out_.error = e;
    return out_;
  }
  Packet& pkt() { return out_.packet; }

  void ethernet(Cursor c) {
    if (c.len < 14) { fail(DecodeError::TruncatedLink); return; }
    etherType(rd16(c.p + 12), {c.p + 14, c.len - 14});
  }

  void etherType(uint16_t type, Cursor c) {
    for (int guard = 0; guard < 8; ++guard) {
      switch (type) {
        case kEtherIpv4: ipv4(c); return;
        case kEtherIpv6: ipv6(c); return;
        case kEtherVlan:
        case kEtherQinQ:
        case kEtherQinQOld:
          if (c.len < 4) { fail(DecodeError::TruncatedLink); return; }
          if (pkt().vlan == 0 && depth_ == 0) pkt().vlan = rd16(c.p) & 0x0fff;
          type = rd16(c.p + 2);
          c = {c.p + 4, c.len - 4};
          continue;
        case kEtherPppoe: {
          if (c.len < 8) { fail(DecodeError::TruncatedLink); return; }
          uint16_t ppp = rd16(c.p + 6);
          Cursor rest{c.p + 8, c.len - 8};
          if (ppp == 0x0021) ipv4(rest);
          else if (ppp == 0x0057) ipv6(rest);
          else fail(DecodeError::NotIp);
          return;
        }
        case kEtherMpls:
        case kEtherMplsMc: {
          // Label stack until the bottom-of-stack bit, then IP by version nibble.
          while (true) {
            if (c.len < 4) { fail(DecodeError::TruncatedLink); return; }
            bool bottom = c.p[2] & 0x01;
            c = {c.p + 4, c.len - 4};
            if (bottom) break;
          }
          rawIp(c);
          return;
        }
        default: fail(DecodeError::NotIp); return;
      }
    }
    fail(DecodeError::TruncatedLink);
  }

  void rawIp(Cursor c) {
    if (c.len < 1) { fail(DecodeError::TruncatedIp); return; }
    switch (c.p[0] >> 4) {
      case 4: ipv4(c); break;
      case 6: ipv6(c); break;
      default: fail(DecodeError::BadIpHeader);
    }
  }

  // Called for every IP header, outer or inner; the outermost sets ip_bytes.
  void setIp(uint8_t version, const uint8_t* l3, uint32_t l3_len, size_t announced) {
    // Snaplen-cut captures still account the length the header announces.
    if (depth_ == 0) pkt().ip_bytes = static_cast<uint32_t>(announced);
    pkt().ip_version = version;
    pkt().l3 = l3;
    pkt().l3_len = l3_len;
    // An inner header replaces what the outer one decoded.
    pkt().fragment = pkt().first_fragment = false;
    pkt().src_port = pkt().dst_port = 0;
    pkt().tcp_flags = 0;
    pkt().payload = nullptr;
    pkt().payload_len = 0;
  }

  void ipv4(Cursor c) {
    if (c.len < 20) { fail(DecodeError::TruncatedIp); return; }
    if ((c.p[0] >> 4) != 4) { fail(DecodeError::BadIpHeader); return; }
    size_t ihl = static_cast<size_t>(c.p[0] & 0x0f) * 4;
    size_t total = rd16(c.p + 2);
    if (total == 0) total = c.len;  // TSO-offloaded captures carry length 0
    if (ihl < 20 || total < ihl) { fail(DecodeError::BadIpHeader); return; }
    // Captures may be cut short (snaplen) or carry Ethernet padding: trust the
    // smaller of what we have and what the header says, but need the header.
    if (c.len < ihl) { fail(DecodeError::TruncatedIp); return; }
    size_t avail = total <= c.len ? total : c.len;
    setIp(4, c.p, static_cast<uint32_t>(avail), total);
    pkt().src = IpAddress::v4(c.p + 12);
    pkt().dst = IpAddress::v4(c.p + 16);
    uint16_t frag = rd16(c.p + 6);
    uint16_t offset = frag & 0x1fff;
    bool more = frag & 0x2000;
    uint8_t proto = c.p[9];
    if (offset != 0 || more) {
      pkt().fragment = true;
      pkt().first_fragment = offset == 0;
      pkt().frag_id = rd16(c.p + 4);
    }
    pkt().proto = proto;
    if (offset != 0) return;  // later fragments carry no L4 header
    l4(proto, {c.p + ihl, avail - ihl});
  }

  void ipv6(Cursor c) {
    if (c.len < 40) { fail(DecodeError::TruncatedIp); return; }
    if ((c.p[0] >> 4) != 6) { fail(DecodeError::BadIpHeader); return; }
    size_t total = 40 + static_cast<size_t>(rd16(c.p + 4));
    size_t avail = total <= c.len ? total : c.len;
    setIp(6, c.p, static_cast<uint32_t>(avail), total);
    pkt().src = IpAddress::v6(c.p + 8);
    pkt().dst = IpAddress::v6(c.p + 24);
    uint8_t next = c.p[6];
    size_t off = 40;
    // Walk the extension header chain.
    for (int hops = 0; hops < 16; ++hops) {
      switch (next) {
        case 0:    // hop-by-hop
        case 43:   // routing
        case 60:   // destination options
        case 135:  // mobility
        case 139:  // HIP
        case 140: {  // shim6
          if (avail < off + 8) { fail(DecodeError::BadExtension); return; }
          size_t len = (static_cast<size_t>(c.p[off + 1]) + 1) * 8;
          next = c.p[off];
          off += len;
          if (off > avail) { fail(DecodeError::BadExtension); return; }
          continue;
        }
        case 51: {  // AH: length in 4-byte units, minus 2
          if (avail < off + 8) { fail(DecodeError::BadExtension); return; }
          size_t len = (static_cast<size_t>(c.p[off + 1]) + 2) * 4;
          next = c.p[off];
          off += len;
          if (off > avail) { fail(DecodeError::BadExtension); return; }
          continue;
        }
        case 44: {  // fragment
          if (avail < off + 8) { fail(DecodeError::BadExtension); return; }
          uint16_t fo = rd16(c.p + off + 2);
          uint16_t offset = fo >> 3;
          bool more = fo & 1;
          pkt().frag_id = rd32(c.p + off + 4);
          next = c.p[off];
          off += 8;
          if (offset != 0 || more) {
            pkt().fragment = true;
            pkt().first_fragment = offset == 0;
          }
          if (offset != 0) {
            pkt().proto = next;
            return;
          }
          continue;
        }
        case 59:  // no next header
          pkt().proto = next;
          return;
        default:
          pkt().proto = next;
          l4(next, {c.p + off, avail - off});
          return;
      }
    }
    fail(DecodeError::BadExtension);
  }

  void l4(uint8_t proto, Cursor c) {
    switch (proto) {
      case kProtoTcp: {
        if (c.len < 20) { fail(DecodeError::TruncatedL4); return; }
        size_t doff = static_cast<size_t>(c.p[12] >> 4) * 4;
        if (doff < 20) { fail(DecodeError::BadL4Header); return; }
        if (c.len < doff) { fail(DecodeError::TruncatedL4); return; }
        pkt().src_port = rd16(c.p);
        pkt().dst_port = rd16(c.p + 2);
        pkt().tcp_flags = c.p[13];
        setPayload(c, doff);
        return;
      }
      case kProtoUdp: {
        if (c.len < 8) { fail(DecodeError::TruncatedL4); return; }
        pkt().src_port = rd16(c.p);
        pkt().dst_port = rd16(c.p + 2);
        setPayload(c, 8);
        if (!pkt().fragment) udpTunnel();
        return;
      }
      case kProtoSctp:
        if (c.len < 12) { fail(DecodeError::TruncatedL4); return; }
        pkt().src_port = rd16(c.p);
        pkt().dst_port = rd16(c.p + 2);
        setPayload(c, 12);
        return;
      case kProtoIcmp:
      case kProtoIcmpv6:
        if (c.len < 4) { fail(DecodeError::TruncatedL4); return; }
        pkt().icmp_type = c.p[0];
        pkt().icmp_code = c.p[1];
        setPayload(c, 4);
        return;
      case kProtoIpip:
      case kProtoIpv6:
        if (pkt().fragment) { setPayload(c, 0); return; }
        if (!enterTunnel(Tunnel::IpInIp)) return;
        if (proto == kProtoIpip) ipv4(c); else ipv6(c);
        return;
      case kProtoGre:
        setPayload(c, 0);
        if (!pkt().fragment) gre(c);
        return;
      default:
        setPayload(c, 0);
        return;
    }
  }

  void setPayload(Cursor c, size_t hdr) {
    pkt().payload = c.p + hdr;
    pkt().payload_len = static_cast<uint32_t>(c.len - hdr);
  }

  bool enterTunnel(Tunnel t) {
    if (++depth_ > kMaxTunnelDepth) {
      fail(DecodeError::TunnelTooDeep);
      return false;
    }
    pkt().tunnel = t;
    return true;
  }

  void gre(Cursor c) {
    if (c.len < 4) return;  // not decodable as a tunnel: keep the outer flow
    const uint16_t flags = rd16(c.p);
    uint16_t type = rd16(c.p + 2);
    const uint16_t version = flags & 0x0007;
    size_t off = 4;
    if (version == 0) {
      if (flags & 0x8000) off += 4;  // checksum + reserved
      if (flags & 0x2000) off += 4;  // key
      if (flags & 0x1000) off += 4;  // sequence
    } else if (version == 1 && type == kEtherPpp) {
      // Enhanced GRE (PPTP, RFC 2637): key always, then sequence and ack.
      off += 4;
      if (flags & 0x1000) off += 4;
      if (flags & 0x0080) off += 4;
    } else {
      return;
    }
    if (c.len < off) return;
    Cursor inner{c.p + off, c.len - off};
    if (type == kEtherErspan2) {
      if (inner.len < 8) return;
      inner = {inner.p + 8, inner.len - 8};
      type = kEtherTeb;
    }
    if (type == kEtherPpp) {
      ppp(inner);
      return;
    }
    if (type != kEtherIpv4 && type != kEtherIpv6 && type != kEtherTeb) return;
    if (!enterTunnel(Tunnel::Gre)) return;
    if (type == kEtherTeb) ethernet(inner);
    else etherType(type, inner);
  }

  // PPP inside GRE: optional address/control (ff 03), 1- or 2-byte protocol.
  void ppp(Cursor c) {
    if (c.len >= 2 && c.p[0] == 0xff && c.p[1] == 0x03) c = {c.p + 2, c.len - 2};
    if (c.len < 1) return;
    uint16_t proto;
    if (c.p[0] & 0x01) {
      proto = c.p[0];
      c = {c.p + 1, c.len - 1};
    } else {
      if (c.len < 2) return;
      proto = rd16(c.p);
      c = {c.p + 2, c.len - 2};
    }
    if (proto != 0x21 && proto != 0x57) return;
    if (!enterTunnel(Tunnel::Gre)) return;
    if (proto == 0x21) ipv4(c); else ipv6(c);
  }

  // UDP-borne tunnels, recognised by their well-known ports and header shape.
  void udpTunnel() {
    const uint8_t* p = pkt().payload;
    size_t n = pkt().payload_len;
    uint16_t sp = pkt().src_port, dp = pkt().dst_port;
    if ((dp == 4789 || sp == 4789) && n >= 8 + 14 && (p[0] & 0x08)) {
      if (!enterTunnel(Tunnel::Vxlan)) return;
      ethernet({p + 8, n - 8});
      return;
    }
    if ((dp == 2152 || sp == 2152) && n >= 8) {
      // GTPv1-U T-PDU.
      if ((p[0] >> 5) != 1 || p[1] != 0xff) return;
      size_t off = 8;
      if (p[0] & 0x07) {  // E, S or PN: 4 more bytes, then extension headers
        if (n < 12) return;
        uint8_t ext = p[11];
        off = 12;
        while (ext != 0) {
          if (n < off + 1) return;
          size_t len = static_cast<size_t>(p[off]) * 4;
          if (len == 0 || n < off + len) return;
          ext = p[off + len - 1];
          off += len;
        }
      }
      if (n <= off) return;
      uint8_t v = p[off] >> 4;
      if (v != 4 && v != 6) return;
      if (!enterTunnel(Tunnel::Gtp)) return;
      rawIp({p + off, n - off});
      return;
    }
    if ((dp == 5247 || sp == 5247) && n >= 8) {
      // CAPWAP data channel (RFC 5415): preamble, HLEN in 4-byte words; the
      // T bit says the payload is a native 802.11 frame.
      if ((p[0] & 0xf0) != 0) return;
      size_t hlen = static_cast<size_t>((p[1] & 0xf8) >> 3) * 4;
      bool native = p[2] & 0x01;
      if (hlen < 8 || n < hlen) return;
      Cursor f{p + hlen, n - hlen};
      if (!native) {
        if (!enterTunnel(Tunnel::Capwap)) return;
        ethernet(f);
        return;
      }
      // 802.11 data frame, then LLC/SNAP. Some access points write the
      // frame control bytes swapped, so find the SNAP header after a 24-,
      // 26- (QoS) or 30-byte (4-address) MAC header instead of trusting them.
      if (f.len < 24) return;
      const bool data = (f.p[0] & 0x0c) == 0x08 || (f.p[1] & 0x0c) == 0x08;
      if (!data) return;
      for (size_t hdr : {size_t{24}, size_t{26}, size_t{30}, size_t{32}}) {
        if (f.len < hdr + 8) return;
        const uint8_t* llc = f.p + hdr;
        if (llc[0] != 0xaa || llc[1] != 0xaa || llc[2] != 0x03) continue;
        if (!enterTunnel(Tunnel::Capwap)) return;
        etherType(rd16(llc + 6), {llc + 8, f.len - hdr - 8});
        return;
      }
      return;
    }
  }

  DecodeResult out_;
  int depth_ = 0;
};

}  // namespace

DecodeResult decode(LinkType link, std::span<const uint8_t> frame, Timestamp ts) {
  Decoder d(ts);
  DecodeResult r = d.run(link, {frame.data(), frame.size()});
  if (r.ok() && r.packet.ip_version == 0) r.error = DecodeError::NotIp;
  return r;
}

bool isIcmpError(const Packet& p) {
  if (p.proto == kProtoIcmp)
    return p.icmp_type == 3 || p.icmp_type == 4 || p.icmp_type == 5 || p.icmp_type == 11 ||
           p.icmp_type == 12;
  if (p.proto == kProtoIcmpv6) return p.icmp_type >= 1 && p.icmp_type <= 4;
  return false;
}

std::string_view toString(DecodeError e) {
  switch (e) {
    case DecodeError::None: return "none";
    case DecodeError::TruncatedLink: return "truncated_link";
    case DecodeError::NotIp: return "not_ip";
    case DecodeError::TruncatedIp: return "truncated_ip";
    case DecodeError::BadIpHeader: return "bad_ip_header";
    case DecodeError::TruncatedL4: return "truncated_l4";
    case DecodeError::BadL4Header: return "bad_l4_header";
    case DecodeError::BadExtension: return "bad_ipv6_extension";
    case DecodeError::TunnelTooDeep: return "tunnel_too_deep";
    case DecodeError::kCount: break;
  }
  return "unknown";
}

std::string_view toString(Tunnel t) {
  switch (t) {
    case Tunnel::None: return "";
    case Tunnel::IpInIp: return "ipip";
    case Tunnel::Gre: return "gre";
    case Tunnel::Vxlan: return "vxlan";
    case Tunnel::Gtp: return "gtp";
    case Tunnel::Capwap: return "capwap";
  }
  return "";
}

std::string protoName(uint8_t proto) {
  switch (proto) {
    case kProtoIcmp: return "icmp";
    case kProtoIgmp: return "igmp";
    case kProtoIpip: return "ipip";
    case kProtoTcp: return "tcp";
    case kProtoUdp: return "udp";
    case kProtoIpv6: return "ipv6";
    case kProtoGre: return "gre";
    case kProtoEsp: return "esp";
    case 51: return "ah";
    case kProtoIcmpv6: return "ipv6-icmp";
    case 103: return "pim";
    case 112: return "vrrp";
    case kProtoSctp: return "sctp";
    case 136: return "udplite";
    default: return std::to_string(proto);
  }
}

}  // namespace fg::core
