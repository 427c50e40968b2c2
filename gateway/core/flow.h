// Flow: one bidirectional conversation, keyed by FlowKey.
//
// A Flow is a plain value owned by the FlowTable. `src` is the side that sent
// the first packet (or, for TCP, the side that sent the SYN when the capture
// starts at the SYN-ACK). Classification results live in `cls`; the
// classifier's per-flow working state lives in `inspection` only while the
// flow is being inspected and is released as soon as the result is final,
// so a decided flow costs only the bytes of this struct.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/core/packet.h"

namespace fg::core {

struct FlowKey {
  // Normalised: (a, a_port) <= (b, b_port), so both directions share a key.
  IpAddress a, b;
  uint16_t a_port = 0, b_port = 0;
  uint8_t proto = 0;
  uint16_t vlan = 0;

  static FlowKey fromPacket(const Packet& p);
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const noexcept;
};

enum class Direction : uint8_t { SrcToDst = 0, DstToSrc = 1 };

enum class Confidence : uint8_t {
  Unknown,  // nothing recognised
  Guessed,  // best guess (ports, addresses) after the packet budget or at end
  Dpi,      // recognised from the traffic itself
  Dns,      // from the DNS hint cache (first-packet decisions)
  Cache,    // from earlier flows to the same server (first-packet decisions)
};
std::string_view toString(Confidence c);

// How the name a client sent for the server (TLS/QUIC SNI, HTTP Host) is
// backed (core/name_check.h, docs/policy.md "Verified names").
enum class NameProof : uint8_t {
  None,         // no such name (or none read yet): nothing to verify
  Unverified,   // only the client vouches for it
  Dns,          // this client resolved it (or a name of the same application) to this server
  Range,        // the server lies in the application's address ranges
  Certificate,  // the server's certificate covers it (TLS <= 1.2, certificate in clear)
};
std::string_view toString(NameProof p);

// Where a flow's application label came from (docs/catalog.md, precedence).
enum class AppSource : uint8_t {
  Ndpi,       // nDPI recognised it from the traffic
  Catalog,    // flowgate's application catalog (a name or an application range)
  Dns,        // the name the client resolved (DNS hint at the first packet)
  Cache,      // learned from earlier flows to the same server
  Dissector,  // one of flowgate's own protocol dissectors
  Port,       // only a port (or an address owner's range) said so: a guess
};
std::string_view toString(AppSource s);

// What the classifier learned about a flow. Strings come from the wire or
// from nDPI's tables; records escape them.
struct Classification {
  std::string l7_protocol;  // nDPI master protocol ("TLS", "DNS", "HTTP", ...)
  std::string application;  // nDPI app protocol, = l7_protocol when none
  std::string category;
  std::string hostname;     // SNI, HTTP Host, DNS query, ...
  uint16_t tls_version = 0;  // wire value, 0 = none
  uint16_t cipher = 0;       // server-chosen suite, 0 = none seen
  std::string ja3c, ja3s;
  std::vector<std::string> alpn;
  std::string dns_query;
  uint16_t dns_qtype = 0;
  std::string user_agent;
  Confidence confidence = Confidence::Unknown;
  // The server certificate's DNS names, comma-separated, when the classifier
  // read the certificate (TLS <= 1.2); "" otherwise.
  std::string cert_names;
  NameProof name_proof = NameProof::None;  // of `hostname`, set by the pipeline
  AppSource app_source = AppSource::Ndpi;
  // Who owns the server's address (a cloud or CDN: "AmazonAWS",
  // "Cloudflare"), when known; never the application itself.
  std::string owner;
  // Set by the classifier when every field a policy reads (application,
  // protocol, category, hostname, JA3, ALPN) is known and stays: only
  // metadata no rule reads may still come (an HTTP response, a TLS
  // certificate of a flow with an SNI). The TLS server hello's fields are
  // tracked on their own (policy::kPendingTlsServerHello).
  bool settled = false;
};

// What the client's first payload of a flow looked like: a TLS, DTLS or QUIC
// handshake (or SSLv2's hello), or anything else. A flow that opened with
// anything else never shows a TLS server hello, unless its protocol upgrades
// with STARTTLS.
enum class ClientOpening : uint8_t { Unseen, Handshake, Other };
ClientOpening clientOpeningOf(uint8_t ip_proto, const uint8_t* payload, size_t len);

// The answer for a new flow, before DPI has seen anything (Flow::early; see core/hints.h).
struct EarlyAnswer {
  Confidence source = Confidence::Unknown;  // Dns or Cache
  std::string hostname;                     // the DNS name (or the learned one)
  std::string application, l7_protocol, category;  // "" = unknown
  // Set once DPI reached its own answer and it names another application
  // than the early one (hostnames may differ without contradiction).
  bool detection_updated = false;
};

enum class TcpState : uint8_t { None, SynSent, SynReceived, Established, Closing, Closed };

// Reused: a new connection (a client SYN) took over the tuple.
enum class EndReason : uint8_t { Fin, Rst, Idle, Evicted, EndOfInput, Shutdown, Reused };
std::string_view toString(EndReason r);

// Per-flow working state of a Classifier (e.g. the nDPI flow struct).
class FlowInspection {
 public:
  virtual ~FlowInspection() = default;
};

// What the inline engine decided for a flow (compact: kept for the flow's
// lifetime). `mark_bits` are flowgate's own conntrack mark bits for it.
struct FlowDecision {
  bool decided = false;
  uint8_t verdict = 0;        // policy::Verdict
  bool early = false;         // decided before classification was final
  uint32_t mark_bits = 0;
  uint32_t rule = UINT32_MAX;  // deciding rule id in that generation; UINT32_MAX = default
  uint64_t generation = 0;
  // First-packet decisions (docs/first-packet.md). `first_packet`: the flow
  // was decided, or provisionally marked, at its first packet from an early
  // answer. `provisional_bits`: value bits (route/class) the flow's first
  // packet left with, applied while the flow is still inspected (no decided
  // bit: DPI confirms); with `route_pinned` the final decision keeps the
  // route they select (set by an early answer or by a kernel-bound set; an
  // established, NATed flow cannot change uplink).
  bool first_packet = false;
  bool route_pinned = false;  // the first packet's route stands (even when it had none)
  uint32_t provisional_bits = 0;
};

struct Flow {
  uint64_t id = 0;
  FlowKey key;
  IpAddress src, dst;
  uint16_t src_port = 0, dst_port = 0;
  uint8_t proto = 0;
  uint8_t ip_version = 0;
  Tunnel tunnel = Tunnel::None;
  TcpState tcp = TcpState::None;
  uint8_t fin_seen = 0;  // bit 0: from src, bit 1: from dst
  bool classified = false;
  ClientOpening client_opening = ClientOpening::Unseen;
  uint16_t dpi_packets = 0;
  Timestamp first_seen = 0, last_seen = 0;
  uint64_t packets[2] = {0, 0};  // indexed by Direction
  uint64_t bytes[2] = {0, 0};
  Classification cls;
  FlowDecision decision;
  uint32_t in_ifindex = 0;   // inline only: where the opening packet came in
  // The answer known before DPI (DNS hint or learned server); only allocated
  // when there is one.
  std::unique_ptr<EarlyAnswer> early;
  std::unique_ptr<FlowInspection> inspection;

  Direction directionOf(const Packet& p) const {
    // Later fragments carry no ports: their addresses alone tell the side.
    if (p.fragment && !p.first_fragment)
      return p.src == src ? Direction::SrcToDst : Direction::DstToSrc;
    return (p.src == src && p.src_port == src_port) ? Direction::SrcToDst : Direction::DstToSrc;
  }
  uint64_t totalPackets() const { return packets[0] + packets[1]; }
  uint64_t totalBytes() const { return bytes[0] + bytes[1]; }

  // Intrusive LRU list links, managed by FlowTable.
  Flow* lru_prev = nullptr;
  Flow* lru_next = nullptr;
  uint8_t lru_list = 0;
};

}  // namespace fg::core
