// The two-packet and magic-number dissectors: OpenVPN, RakNet, uTP, Discord's
// IP discovery, RTP, Tailscale's discovery messages, DTLS records, SoftEther
// and DNSCrypt. Each bails out on its first bytes.
#include <array>
#include <cstring>

#include "gateway/dissect/dissect.h"

namespace fg::dissect {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint64_t be64(const uint8_t* p) { return uint64_t{be32(p)} << 32 | be32(p + 4); }

bool startsWith(std::span<const uint8_t> s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool firstSide(const PacketInfo& p, const FlowState& st) {
  return st.first_dir == static_cast<uint8_t>(p.dir) + 1;
}

// Over TCP, the message after an RFC 4571-style 2-byte length (OpenVPN and
// RTP over TCP both frame this way); over UDP the datagram itself.
std::span<const uint8_t> framed(const PacketInfo& p) {
  if (p.transport == Transport::Udp) return p.payload;
  if (p.payload.size() < 2) return {};
  const size_t len = be16(p.payload.data());
  if (len == 0 || len > p.payload.size() - 2) return {};
  return p.payload.subspan(2, len);
}

void answer(Answer& out, std::string_view proto, std::string_view category) {
  out.l7_protocol = out.application = proto;
  out.category = category;
}

}  // namespace

// ---- OpenVPN (the OpenVPN protocol description, openvpn.net and the
// project's protocol overview): every control packet starts with
// opcode << 3 | key_id and the sender's 8-byte session id; the first packet
// of a session is a hard reset (client: opcodes 1, 7, 10; server: 2, 8).
// The flow is OpenVPN when its first packet is a hard reset with key id 0
// and either the same side sends another control packet with the same
// session id, or the other side answers with a control packet that
// acknowledges that session id.
Outcome dissectOpenVpn(const PacketInfo& p, FlowState& st, Answer& out) {
  const auto m = framed(p);
  auto control = [](uint8_t op) { return op >= 1 && op <= 10 && op != 6 && op != 9; };
  if (p.payload_index == 0) {
    if (m.size() < 14) return Outcome::NoMatch;
    const uint8_t op = m[0] >> 3;
    if ((m[0] & 7) != 0 || !(op == 1 || op == 2 || op == 7 || op == 8 || op == 10))
      return Outcome::NoMatch;
    st.openvpn_session = be64(m.data() + 1);
    return st.openvpn_session ? Outcome::NeedMore : Outcome::NoMatch;
  }
  if (m.size() < 10) return Outcome::NeedMore;  // TCP keepalive bytes, a split segment
  if (!control(m[0] >> 3)) return Outcome::NoMatch;
  if (firstSide(p, st)) {
    if (be64(m.data() + 1) != st.openvpn_session) return Outcome::NoMatch;
  } else {
    bool acked = false;
    for (size_t o = 9; o + 8 <= m.size() && !acked; ++o) acked = be64(m.data() + o) == st.openvpn_session;
    if (!acked) return Outcome::NoMatch;
  }
  answer(out, "OpenVPN", "VPN");
  return Outcome::Match;
}

// ---- RakNet (the RakNet library's offline messages, used by Roblox,
// Minecraft Bedrock and others): unconnected pings and the open-connection
// handshake carry the 16-byte OFFLINE_MESSAGE_DATA_ID; some games put their
// own few bytes before the RakNet message, so it is looked for in the first
// 64 bytes.
Outcome dissectRakNet(const PacketInfo& p, Answer& out) {
  static constexpr uint8_t kMagic[16] = {0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe,
                                         0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78};
  if (p.transport != Transport::Udp || p.payload.size() < 17) return Outcome::NoMatch;
  const size_t last = std::min<size_t>(p.payload.size() - 16, 64);
  for (size_t o = 1; o <= last; ++o) {
    if (p.payload[o] == 0x00 && std::memcmp(p.payload.data() + o, kMagic, 16) == 0) {
      answer(out, "RakNet", "Game");
      return Outcome::Match;
    }
  }
  return Outcome::NoMatch;
}

// ---- uTP, the BitTorrent micro transport protocol (BEP 29): a 20-byte
// header whose first byte is type << 4 | version 1. The initiator sends
// ST_SYN (0x41) with its connection id; the responder answers ST_STATE
// (0x21) with that same connection id.
Outcome dissectUtp(const PacketInfo& p, FlowState& st, Answer& out) {
  const auto s = p.payload;
  if (p.transport != Transport::Udp || s.size() < 20 || s[1] > 2) return Outcome::NoMatch;
  if (p.payload_index == 0) {
    if (s[0] != 0x41) return Outcome::NoMatch;
    st.utp_connection = be16(s.data() + 2);
    return Outcome::NeedMore;
  }
  if (firstSide(p, st)) return (s[0] & 0x0f) == 1 && (s[0] >> 4) <= 4 ? Outcome::NeedMore : Outcome::NoMatch;
  if (s[0] != 0x21 || be16(s.data() + 2) != st.utp_connection) return Outcome::NoMatch;
  answer(out, "BitTorrent", "Download");
  return Outcome::Match;
}

// ---- Discord voice: IP discovery (Discord developer documentation, "Voice
// connections", IP Discovery): a 74-byte UDP message, type 1 (request) or 2
// (response), length 70, SSRC, a 64-byte address field, the port.
Outcome dissectDiscordIpDiscovery(const PacketInfo& p, Answer& out) {
  const auto s = p.payload;
  if (p.transport != Transport::Udp || s.size() != 74) return Outcome::NoMatch;
  const uint16_t type = be16(s.data());
  if ((type != 1 && type != 2) || be16(s.data() + 2) != 70) return Outcome::NoMatch;
  answer(out, "Discord", "Collaborative");
  return Outcome::Match;
}

// ---- RTP (RFC 3550), over UDP or framed over TCP (RFC 4571): version 2, a
// payload type from the static (0-34) or dynamic (96-127) ranges. One
// packet proves nothing; the next packet from the same side must carry the
// same SSRC and payload type and a sequence number a little ahead.
Outcome dissectRtp(const PacketInfo& p, FlowState& st, Answer& out) {
  const auto m = framed(p);
  if (m.size() < 12 || (m[0] >> 6) != 2) return Outcome::NoMatch;
  const uint8_t pt = m[1] & 0x7f;
  if (!(pt <= 34 || (pt >= 96 && pt <= 127))) return Outcome::NoMatch;
  const uint16_t seq = be16(m.data() + 2);
  const uint32_t ssrc = be32(m.data() + 8);
  if (p.payload_index == 0) {
    st.rtp_ssrc = ssrc;
    st.rtp_seq = seq;
    st.rtp_payload_type = pt;
    return Outcome::NeedMore;
  }
  if (!firstSide(p, st)) return Outcome::NeedMore;  // the other side may send RTCP or nothing
  const uint16_t ahead = static_cast<uint16_t>(seq - st.rtp_seq);
  if (ssrc != st.rtp_ssrc || pt != st.rtp_payload_type || ahead == 0 || ahead > 16)
    return Outcome::NoMatch;
  answer(out, "RTP", "Media");
  return Outcome::Match;
}

// ---- Tailscale's peer discovery ("disco") messages: UDP datagrams that
// start with the magic "TS" followed by the speech-balloon emoji in UTF-8.
Outcome dissectTailscale(const PacketInfo& p, Answer& out) {
  if (p.transport != Transport::Udp || !startsWith(p.payload, "TS\xf0\x9f\x92\xac"))
    return Outcome::NoMatch;
  answer(out, "Tailscale", "VPN");
  return Outcome::Match;
}

// ---- DTLS (RFC 6347, RFC 9147): a handshake record (type 22) of epoch 0
// whose version is a DTLS version (1.0 0xfeff, 1.2 0xfefd, 1.3 0xfefc, or
// OpenSSL's pre-RFC 0x0100), holding a ClientHello, HelloVerifyRequest or
// ServerHello. nDPI 4.2 knows the standard versions; this catches the rest.
Outcome dissectDtls(const PacketInfo& p, Answer& out) {
  const auto s = p.payload;
  if (p.transport != Transport::Udp || s.size() < 25 || s[0] != 22) return Outcome::NoMatch;
  const uint16_t version = be16(s.data() + 1);
  if (version != 0xfeff && version != 0xfefd && version != 0xfefc && version != 0x0100)
    return Outcome::NoMatch;
  if (be16(s.data() + 3) != 0 || 13u + be16(s.data() + 11) > s.size()) return Outcome::NoMatch;
  if (s[13] != 1 && s[13] != 2 && s[13] != 3) return Outcome::NoMatch;
  answer(out, "DTLS", "Web");
  return Outcome::Match;
}

// ---- SoftEther VPN's UDP messages (its open-source protocol): the NAT
// traversal server's answer "IP=<address>,PORT=<port>", or a serialised
// Pack (element count, then per element its name length + 1, the name, its
// value type 0-4 and value count).
Outcome dissectSoftether(const PacketInfo& p, Answer& out) {
  const auto s = p.payload;
  if (p.transport != Transport::Udp) return Outcome::NoMatch;
  if (s.size() == 1 && p.payload_index == 0 && p.dir == core::Direction::SrcToDst)
    return Outcome::NeedMore;  // the NAT traversal probe: one byte, answered as below
  bool ok = false;
  if (startsWith(s, "IP=") && s.size() < 64) {
    const std::string_view text(reinterpret_cast<const char*>(s.data()), s.size());
    ok = text.find(",PORT=") != std::string_view::npos;
  } else if (s.size() >= 24) {
    const uint32_t count = be32(s.data()), name_len = be32(s.data() + 4);
    if (count >= 1 && count <= 64 && name_len >= 2 && name_len <= 64 && 8 + name_len - 1 + 8 <= s.size()) {
      ok = true;
      for (size_t i = 0; i < name_len - 1 && ok; ++i) {
        const uint8_t c = s[8 + i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      }
      ok = ok && be32(s.data() + 8 + name_len - 1) <= 4 && be32(s.data() + 12 + name_len - 1) >= 1;
    }
  }
  if (!ok) return Outcome::NoMatch;
  answer(out, "Softether", "VPN");
  return Outcome::Match;
}

// ---- DNSCrypt version 2 (dnscrypt.info/protocol): a query is padded to a
// multiple of 64 bytes and at least 256; every answer starts with the
// resolver magic "r6fnvWj8".
Outcome dissectDnsCrypt(const PacketInfo& p, Answer& out) {
  const auto s = p.payload;
  if (p.transport != Transport::Udp) return Outcome::NoMatch;
  if (p.dir == core::Direction::SrcToDst)
    return p.payload_index == 0 && s.size() >= 256 && s.size() % 64 == 0 ? Outcome::NeedMore
                                                                         : Outcome::NoMatch;
  if (!startsWith(s, "r6fnvWj8")) return Outcome::NoMatch;
  answer(out, "DNScrypt", "Network");
  return Outcome::Match;
}

}  // namespace fg::dissect
