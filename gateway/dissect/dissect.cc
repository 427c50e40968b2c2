#include "gateway/dissect/dissect.h"

#include <array>
#include <cstring>

namespace fg::dissect {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

bool startsWith(std::span<const uint8_t> s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool iendsWith(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  s.remove_prefix(s.size() - suffix.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

// ---- STUN (RFC 8489), TURN (RFC 8656), Microsoft's extensions ([MS-TURN], [MS-ICE2]).
//
// A STUN message: 2 bytes type (top two bits zero), 2 bytes attribute length
// (a multiple of 4), the magic cookie 0x2112A442, a 12-byte transaction id,
// then type-length-value attributes padded to 4 bytes. Over TCP the message
// may follow a 2-byte RFC 4571 length. The protocol alone is "STUN"; the
// application comes from what the service writes into the messages:
//  - Microsoft's attributes (MS-VERSION 0x8008, MS-SEQUENCE-NUMBER 0x8050,
//    MS-SERVICE-QUALITY 0x8055, MS-IMPLEMENTATION-VERSION 0x8070, and the
//    MS-ICE2 candidate/bandwidth attributes) are written only by Skype and
//    Teams clients and relays: Skype_TeamsCall.
//  - The REALM (0x0014) of a TURN server is the operator's domain: the
//    realms of the large voice services name them.
constexpr uint32_t kStunCookie = 0x2112a442;

struct RealmApp {
  std::string_view suffix;  // the realm or its parent domain
  std::string_view app;
};
// Realms the voice services announce on their TURN relays (their own domains).
constexpr std::array<RealmApp, 6> kRealmApps{{
    {"telegram.org", "TelegramVoip"},
    {"signal.org", "SignalVoip"},
    {"facebook", "FacebookVoip"},  // "turner.facebook": Meta's relays use the bare TLD
    {"facebook.com", "FacebookVoip"},
    {"whatsapp.net", "WhatsAppCall"},
    {"google.com", "GoogleCall"},
}};

bool isMicrosoftAttribute(uint16_t type) {
  switch (type) {
    case 0x8008:  // MS-VERSION
    case 0x8050:  // MS-SEQUENCE-NUMBER
    case 0x8054:  // CANDIDATE-IDENTIFIER
    case 0x8055:  // MS-SERVICE-QUALITY
    case 0x8056:  // BANDWIDTH-ACM
    case 0x8057:  // BANDWIDTH-RSVP
    case 0x8070:  // MS-IMPLEMENTATION-VERSION
    case 0x8090:  // MS-ALTERNATE-HOST-NAME
      return true;
    default:
      return false;
  }
}

bool isHostname(std::string_view s) {
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-' || c == '_'))
      return false;
  return !s.empty();
}

// The message at the start of `s` (or after an RFC 4571 length over TCP),
// or an empty span.
std::span<const uint8_t> stunMessage(const PacketInfo& p) {
  auto s = p.payload;
  auto plain = [](std::span<const uint8_t> m) {
    if (m.size() < 20 || (m[0] & 0xc0) != 0 || be32(m.data() + 4) != kStunCookie) return false;
    const size_t len = be16(m.data() + 2);
    return len % 4 == 0 && 20 + len <= m.size();
  };
  if (plain(s)) return s.first(20 + be16(s.data() + 2));
  if (p.transport == Transport::Tcp && s.size() >= 22 && plain(s.subspan(2)) &&
      be16(s.data()) >= 20)
    return s.subspan(2, 20 + be16(s.data() + 4));
  return {};
}

}  // namespace

Outcome dissectStun(const PacketInfo& p, Answer& out) {
  const auto m = stunMessage(p);
  if (m.empty()) {
    // TURN ChannelData (0x4000-0x7fff channel, 2-byte length) may follow
    // the STUN exchange; anything else ends it.
    if (p.payload_index > 0 && p.payload.size() >= 4 && (p.payload[0] & 0xc0) == 0x40)
      return Outcome::NeedMore;
    return Outcome::NoMatch;
  }
  out.l7_protocol = "STUN";
  out.application = "STUN";
  out.category = "Network";
  for (size_t o = 20; o + 4 <= m.size();) {
    const uint16_t type = be16(m.data() + o);
    const uint16_t len = be16(m.data() + o + 2);
    if (o + 4 + len > m.size()) break;
    if (isMicrosoftAttribute(type)) {
      out.application = "Skype_TeamsCall";
      out.category = "VoIP";
      return Outcome::Match;
    }
    if (type == 0x0014 && len > 0 && len <= 253) {  // REALM
      std::string_view realm(reinterpret_cast<const char*>(m.data() + o + 4), len);
      if (out.hostname.empty() && isHostname(realm)) out.hostname.assign(realm);  // the relay's domain
      for (const auto& r : kRealmApps) {
        if (iendsWith(realm, r.suffix) &&
            (realm.size() == r.suffix.size() || realm[realm.size() - r.suffix.size() - 1] == '.')) {
          out.application = r.app;
          out.category = "VoIP";
          return Outcome::Match;
        }
      }
    }
    o += 4 + ((len + 3u) & ~3u);
  }
  return Outcome::NeedMore;  // tentative: STUN, the application may follow
}

// ---- Source engine and GoldSrc server queries (Valve Developer Wiki,
// "Server queries"). Every packet starts with the 32-bit header -1 (a single
// packet) or -2 (a part of a split answer). A flow is recognised from its
// first client request: A2S_INFO ('T' + "Source Engine Query\0"),
// A2S_PLAYER ('U') or A2S_RULES ('V') with their 4-byte challenge,
// A2S_SERVERQUERY_GETCHALLENGE ('W') or A2A_PING ('i'), alone; or from a
// server's answer when the capture missed the request.
Outcome dissectSourceEngine(const PacketInfo& p, Answer& out) {
  if (p.transport != Transport::Udp) return Outcome::NoMatch;
  const auto s = p.payload;
  if (s.size() < 5 || be32(s.data()) != 0xffffffffu) return Outcome::NoMatch;
  bool ok = false;
  switch (s[4]) {
    case 'T':
      ok = startsWith(s.subspan(5), std::string_view("Source Engine Query\0", 20));
      break;
    case 'U':
    case 'V':
      ok = s.size() == 9;
      break;
    case 'W':
    case 'i':
      ok = s.size() == 5;
      break;
    case 'I':  // A2S_INFO answer: protocol version, then the server name (a C string)
      ok = p.dir == core::Direction::DstToSrc && s.size() >= 12 &&
           std::memchr(s.data() + 6, 0, s.size() - 6) != nullptr;
      break;
    case 'A':  // S2C_CHALLENGE: 4 bytes
      ok = p.dir == core::Direction::DstToSrc && s.size() == 9;
      break;
    default:
      break;
  }
  if (!ok) return Outcome::NoMatch;
  out.l7_protocol = out.application = "Source_Engine";
  out.category = "Game";
  return Outcome::Match;
}

// ---- WhatsApp chat (Noise Pipes over TCP, WhatsApp's security
// whitepaper). The client opens with the connection prologue "WA" plus the
// protocol's major and minor version, or, when it connects through an edge
// server, with the edge routing preamble "ED", 0x00, 0x01 first.
Outcome dissectWhatsApp(const PacketInfo& p, Answer& out) {
  if (p.transport != Transport::Tcp || p.dir != core::Direction::SrcToDst || p.payload_index > 0)
    return Outcome::NoMatch;
  const auto s = p.payload;
  const bool edge = s.size() >= 4 && s[0] == 'E' && s[1] == 'D' && s[2] == 0 && s[3] == 1;
  const bool prologue = s.size() >= 4 && s[0] == 'W' && s[1] == 'A' && s[2] >= 1 && s[2] <= 9;
  if (!edge && !prologue) return Outcome::NoMatch;
  out.l7_protocol = out.application = "WhatsApp";
  out.category = "Chat";
  return Outcome::Match;
}

// ---- HTTP/2 with prior knowledge (RFC 9113 section 3.4): the client's
// connection preface, without a TLS handshake or an HTTP/1.1 upgrade first.
Outcome dissectHttp2(const PacketInfo& p, Answer& out) {
  if (p.transport != Transport::Tcp || p.dir != core::Direction::SrcToDst || p.payload_index > 0 ||
      !startsWith(p.payload, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
    return Outcome::NoMatch;
  out.l7_protocol = out.application = "HTTP2";
  out.category = "Web";
  return Outcome::Match;
}

std::string_view toString(Id id) {
  switch (id) {
    case Id::Stun: return "stun";
    case Id::SourceEngine: return "source_engine";
    case Id::WhatsApp: return "whatsapp";
    case Id::Quic: return "quic";
    case Id::OpenVpn: return "openvpn";
    case Id::RakNet: return "raknet";
    case Id::Utp: return "utp";
    case Id::DiscordIpDiscovery: return "discord_ip_discovery";
    case Id::Rtp: return "rtp";
    case Id::Tailscale: return "tailscale";
    case Id::Dtls: return "dtls";
    case Id::Softether: return "softether";
    case Id::DnsCrypt: return "dnscrypt";
    case Id::Http2: return "http2";
    case Id::Count: break;
  }
  return "?";
}

Outcome dissect(const PacketInfo& p, FlowState& st, Answer& out, Id* who) {
  if (p.payload.empty()) return st.allExcluded() ? Outcome::NoMatch : Outcome::NeedMore;
  if (st.payloads == 0) st.first_dir = static_cast<uint8_t>(p.dir) + 1;
  ++st.payloads;
  Answer tentative;
  for (unsigned i = 0; i < static_cast<unsigned>(Id::Count); ++i) {
    const Id id = static_cast<Id>(i);
    if (st.isExcluded(id)) continue;
    Answer a;
    Outcome o = Outcome::NoMatch;
    switch (id) {
      case Id::Stun: o = dissectStun(p, a); break;
      case Id::SourceEngine: o = dissectSourceEngine(p, a); break;
      case Id::WhatsApp: o = dissectWhatsApp(p, a); break;
      case Id::Quic: o = dissectQuic(p, st, a); break;
      case Id::OpenVpn: o = dissectOpenVpn(p, st, a); break;
      case Id::RakNet: o = dissectRakNet(p, a); break;
      case Id::Utp: o = dissectUtp(p, st, a); break;
      case Id::DiscordIpDiscovery: o = dissectDiscordIpDiscovery(p, a); break;
      case Id::Rtp: o = dissectRtp(p, st, a); break;
      case Id::Tailscale: o = dissectTailscale(p, a); break;
      case Id::Dtls: o = dissectDtls(p, a); break;
      case Id::Softether: o = dissectSoftether(p, a); break;
      case Id::DnsCrypt: o = dissectDnsCrypt(p, a); break;
      case Id::Http2: o = dissectHttp2(p, a); break;
      case Id::Count: break;
    }
    if (o == Outcome::Match) {
      out = std::move(a);
      if (who) *who = id;
      return Outcome::Match;
    }
    if (o == Outcome::NoMatch) st.exclude(id);
    else if (!a.l7_protocol.empty() && tentative.l7_protocol.empty()) tentative = std::move(a);
  }
  if (st.allExcluded()) return Outcome::NoMatch;
  if (!tentative.l7_protocol.empty()) out = std::move(tentative);
  return Outcome::NeedMore;
}

}  // namespace fg::dissect
