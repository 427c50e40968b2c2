// dissect: flowgate's own protocol dissectors, above nDPI 4.2.
//
// Each dissector is a pure function over one packet of a flow's first
// packets (payload, direction, the flow's ports, transport) plus a small
// per-flow state; it answers Match (with the protocol and application names,
// spelled as current nDPI spells them), NoMatch (this flow is not that
// protocol: never asked again), or NeedMore (looks like it, wants another
// packet). Dissectors are written from public specifications (RFCs, vendor
// protocol documents); none is keyed to an address, a capture or a flow.
//
// Must never: allocate on a payload that no dissector wants (every dissector
// bails out on its first bytes), throw, read outside the payload, block.
// Threading: plain functions over caller-owned state; one FlowState per flow.
// Which dissector answers when, and how an answer meets nDPI's, is the
// DissectingClassifier's business (dissecting_classifier.h, docs/dissectors.md).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "gateway/core/flow.h"
#include "policy/name_catalog.h"

namespace fg::dissect {

enum class Transport : uint8_t { Tcp, Udp };

// One packet of a flow, as a dissector sees it.
struct PacketInfo {
  std::span<const uint8_t> payload;  // L4 payload (may be empty)
  core::Direction dir = core::Direction::SrcToDst;  // SrcToDst: from the flow's initiator
  Transport transport = Transport::Udp;
  uint16_t src_port = 0;  // the flow's initiator's port
  uint16_t dst_port = 0;  // the flow's responder's port
  uint16_t payload_index = 0;  // how many earlier packets of this flow carried payload
};

// A dissector's answer. Names are static strings (current nDPI's names).
struct Answer {
  std::string_view l7_protocol;  // master protocol ("STUN", "QUIC", "Source_Engine")
  std::string_view application;  // = l7_protocol when the protocol is all we know
  std::string_view category;     // nDPI's category name ("VoIP", "Game", ...)
  std::string hostname;          // from the traffic (QUIC SNI, STUN realm), "" = none
};

enum class Outcome : uint8_t { NoMatch, NeedMore, Match };

// The dissectors, one bit each (FlowState::excluded).
enum class Id : uint8_t {
  Stun,
  SourceEngine,
  WhatsApp,
  Quic,
  OpenVpn,
  RakNet,
  Utp,
  DiscordIpDiscovery,
  Rtp,
  Tailscale,
  Dtls,
  Softether,
  DnsCrypt,
  Http2,
  Count
};
std::string_view toString(Id id);

struct QuicState;  // CRYPTO reassembly of a QUIC Initial (quic.cc)
struct QuicStateDeleter {
  void operator()(QuicState* s) const noexcept;
};

// Per-flow state shared by the dissectors. Small; the QUIC part is
// allocated only when a packet parses as a QUIC Initial.
struct FlowState {
  uint32_t excluded = 0;   // bit per Id: said NoMatch
  uint16_t payloads = 0;   // packets with payload seen so far
  std::unique_ptr<QuicState, QuicStateDeleter> quic;
  // Two-packet protocols: what the first packet promised, checked by a later one.
  uint64_t openvpn_session = 0;  // OpenVPN: the first sender's session id
  uint32_t rtp_ssrc = 0;         // RTP: SSRC and sequence number of the last packet seen
  uint16_t rtp_seq = 0;
  uint16_t utp_connection = 0;   // uTP: the SYN's connection id
  uint8_t first_dir = 0;         // direction of the first payload (OpenVPN, RTP, uTP), + 1
  uint8_t rtp_payload_type = 0;

  bool isExcluded(Id id) const { return excluded & (1u << static_cast<unsigned>(id)); }
  void exclude(Id id) { excluded |= 1u << static_cast<unsigned>(id); }
  bool allExcluded() const { return excluded == (1u << static_cast<unsigned>(Id::Count)) - 1; }
};

// Runs every dissector not yet excluded over one packet. Returns Match with
// `out` filled (and the answering dissector in `who`), NeedMore while at
// least one dissector still waits, NoMatch once all of them excluded the
// flow. Packets without payload only count as seen. NeedMore with
// out.l7_protocol set is a tentative answer: the protocol is recognised but
// a later packet may still name the application (a STUN flow before its
// realm); the caller keeps the latest one.
Outcome dissect(const PacketInfo& p, FlowState& st, Answer& out, Id* who = nullptr);

// `names` plus every protocol, application and category name a dissector can
// report that it lacks (compared case-insensitively), so policies may name
// them (Source_Engine, TelegramVoip, ...) even where libndpi 4.2 does not.
policy::NameCatalog withDissectorNames(policy::NameCatalog names);

// The dissectors themselves (each a pure function over the packet and its
// share of the state), exposed for the unit tests.
Outcome dissectStun(const PacketInfo& p, Answer& out);
Outcome dissectSourceEngine(const PacketInfo& p, Answer& out);
Outcome dissectWhatsApp(const PacketInfo& p, Answer& out);
Outcome dissectQuic(const PacketInfo& p, FlowState& st, Answer& out);
Outcome dissectOpenVpn(const PacketInfo& p, FlowState& st, Answer& out);
Outcome dissectRakNet(const PacketInfo& p, Answer& out);
Outcome dissectUtp(const PacketInfo& p, FlowState& st, Answer& out);
Outcome dissectDiscordIpDiscovery(const PacketInfo& p, Answer& out);
Outcome dissectRtp(const PacketInfo& p, FlowState& st, Answer& out);
Outcome dissectTailscale(const PacketInfo& p, Answer& out);
Outcome dissectDtls(const PacketInfo& p, Answer& out);
Outcome dissectSoftether(const PacketInfo& p, Answer& out);
Outcome dissectDnsCrypt(const PacketInfo& p, Answer& out);
Outcome dissectHttp2(const PacketInfo& p, Answer& out);

}  // namespace fg::dissect
