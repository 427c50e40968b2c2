// Flow health: what a flow's own packets tell about the network and the
// server (docs/health.md). Pure, allocation-free, a few timestamps per flow.
//
// observeHealth() is called by the pipeline for every packet of a flow (also
// after classification; an inline flow's packets stop reaching userspace
// once it is decided, so inline the figures cover only what was queued
// before). From the timestamps, healthFigures() derives:
//
//   handshake         SYN (the last one, so a retransmitted SYN does not
//                     add its timeout) -> the client's next packet: the
//                     whole TCP handshake RTT as the observer sees it.
//                     Exact when that packet is the bare handshake ACK
//                     (captures see it); an upper bound when it carries data,
//                     since it then also holds the client's time to write its
//                     request. Inline, bare ACKs and SYN-ACKs are not queued
//                     (docs/kernel.md rule 5, skip_bare_tcp): the next packet
//                     seen is the client's first data.
//   handshake_server  SYN -> SYN-ACK, where the SYN-ACK is seen (captures;
//                     inline with skip_bare_tcp = false): the round trip from
//                     the observer to the server and back.
//   handshake_client  SYN-ACK -> the client's next packet: the round trip to
//                     the client (exact or an upper bound, as above).
//   response          first client payload -> first server payload after it
//                     (server response time; for TLS the ServerHello, for
//                     DNS the answer, for HTTP the response head).
//   tls_hello         ClientHello -> ServerHello.
//   tls_handshake     ClientHello -> the client's first application_data
//                     record after the ServerHello (TLS 1.3: the record with
//                     the client's Finished; TLS 1.2: its first request).
//   resets            who sent a RST (client, server), whenever one was seen.
//   failure           refused (the server's RST answers the SYN: nothing else
//                     came from the server, the client sent nothing after its
//                     SYN), no_answer (nothing at all came back from the
//                     server until the flow ended), unreachable (an
//                     ICMP/ICMPv6 destination unreachable quoting the
//                     client's packet, before any answer of the server).
#pragma once

#include <cstdint>
#include <string_view>

#include "gateway/core/packet.h"

namespace fg::core {

enum class HealthFailure : uint8_t { None, Refused, NoAnswer, Unreachable, kCount };
std::string_view toString(HealthFailure f);

// Per-flow health state (part of Flow). Timestamps are 0 until seen.
struct FlowHealth {
  Timestamp syn = 0;               // the last client SYN before its next packet
  Timestamp syn_ack = 0;           // the server's first SYN-ACK (when seen)
  Timestamp client_next = 0;       // the client's first packet after its SYN
  Timestamp request = 0;           // first client payload
  Timestamp response = 0;          // first server payload after `request`
  Timestamp tls_client_hello = 0;  // = request when it was a ClientHello
  Timestamp tls_server_hello = 0;  // = response when it was a ServerHello
  Timestamp tls_client_app = 0;    // first client application_data record after it
  bool client_ack_bare = false;    // client_next carried no payload
  bool server_seen = false;        // any packet from the server
  uint8_t syn_retries = 0;         // client SYNs beyond the first (saturates)
  uint8_t resets = 0;              // RSTs seen: bit 0 from the client, bit 1 from the server
  HealthFailure failure = HealthFailure::None;
  uint8_t icmp_type = 0, icmp_code = 0;  // of the unreachable, when failure == Unreachable
};

// Derived figures in microseconds; -1 = not seen.
struct HealthFigures {
  int64_t handshake_server = -1;
  int64_t handshake_client = -1;
  int64_t handshake = -1;
  bool handshake_exact = false;  // the client's next packet was the bare ACK
  int64_t response = -1;
  int64_t tls_hello = -1;
  int64_t tls_handshake = -1;
  uint8_t syn_retries = 0;
  uint8_t resets = 0;  // bit 0: the client sent a RST, bit 1: the server did
  HealthFailure failure = HealthFailure::None;
  uint8_t icmp_type = 0, icmp_code = 0;

  bool any() const {
    return handshake_server >= 0 || handshake_client >= 0 || response >= 0 || tls_hello >= 0 ||
           tls_handshake >= 0 || failure != HealthFailure::None || syn_retries != 0 || resets != 0;
  }
};

HealthFigures healthFigures(const FlowHealth& h);

// One packet of the flow: `from_client` = sent by the flow's src. Later IP
// fragments (no L4 header) must not be passed.
void observeHealth(FlowHealth& h, const Packet& p, bool from_client);

// The flow ends: a SYN still unanswered is a connection failure (no_answer)
// when the flow idled out or the input ended; not when the gateway stopped,
// the tuple was reused or the flow table evicted the flow.
enum class EndReason : uint8_t;
void healthAtEnd(FlowHealth& h, EndReason reason);

// An ICMP/ICMPv6 destination unreachable quoting a packet the client sent:
// a failure when the server never answered.
void healthUnreachable(FlowHealth& h, uint8_t icmp_type, uint8_t icmp_code, bool server_answered);

// The packet quoted in an ICMP/ICMPv6 error (`icmp` decoded; its payload
// starts after type, code and checksum): the quoted IP header's addresses,
// protocol and ports. False when the quote is too short or not IP.
bool quotedPacket(const Packet& icmp, Packet& quoted);

}  // namespace fg::core
