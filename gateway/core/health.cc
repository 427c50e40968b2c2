#include "gateway/core/health.h"

#include "gateway/core/flow.h"

namespace fg::core {
namespace {

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// A TLS handshake record whose first message is of `type` (1 ClientHello,
// 2 ServerHello): content type 22, major version 3, then the message type
// after the 5-byte record header.
bool tlsHandshake(const Packet& p, uint8_t type) {
  return p.payload_len >= 6 && p.payload[0] == 0x16 && p.payload[1] == 0x03 && p.payload[5] == type;
}

// The segment starts with an application_data record (23), possibly after
// a ChangeCipherSpec record (20, 6 bytes in TLS 1.3 middlebox mode).
bool tlsApplicationData(const Packet& p) {
  const uint8_t* d = p.payload;
  uint32_t n = p.payload_len;
  if (n >= 6 && d[0] == 0x14 && d[1] == 0x03) {
    const uint32_t len = 5u + rd16(d + 3);
    if (n < len) return false;
    d += len;
    n -= len;
  }
  return n >= 3 && d[0] == 0x17 && d[1] == 0x03;
}

int64_t span(Timestamp from, Timestamp to) { return from != 0 && to >= from ? to - from : -1; }

}  // namespace

std::string_view toString(HealthFailure f) {
  switch (f) {
    case HealthFailure::None: return "none";
    case HealthFailure::Refused: return "refused";
    case HealthFailure::NoAnswer: return "no_answer";
    case HealthFailure::Unreachable: return "unreachable";
    case HealthFailure::kCount: break;
  }
  return "unknown";
}

HealthFigures healthFigures(const FlowHealth& h) {
  HealthFigures f;
  if (h.syn != 0 && h.client_next != 0) {
    f.handshake = span(h.syn, h.client_next);
    f.handshake_exact = f.handshake >= 0 && h.client_ack_bare;
  }
  if (h.syn_ack != 0) {
    f.handshake_server = span(h.syn, h.syn_ack);
    f.handshake_client = span(h.syn_ack, h.client_next);
  }
  if (h.response != 0) f.response = span(h.request, h.response);
  if (h.tls_server_hello != 0) f.tls_hello = span(h.tls_client_hello, h.tls_server_hello);
  if (h.tls_client_app != 0) f.tls_handshake = span(h.tls_client_hello, h.tls_client_app);
  f.syn_retries = h.syn_retries;
  f.resets = h.resets;
  f.failure = h.failure;
  f.icmp_type = h.icmp_type;
  f.icmp_code = h.icmp_code;
  return f;
}

void observeHealth(FlowHealth& h, const Packet& p, bool from_client) {
  const bool tcp = p.proto == kProtoTcp;
  const uint8_t fl = tcp ? p.tcp_flags : 0;
  const bool syn = fl & kTcpSyn, ack = fl & kTcpAck, rst = fl & kTcpRst;
  if (rst) h.resets |= from_client ? 1 : 2;
  if (from_client) {
    if (tcp && syn && !ack) {
      if (h.client_next == 0 && h.syn_ack == 0) {
        if (h.syn != 0 && h.syn_retries < UINT8_MAX) ++h.syn_retries;
        h.syn = p.ts;
      }
      return;
    }
    if (tcp && h.syn != 0 && h.client_next == 0 && !rst) {
      h.client_next = p.ts;
      h.client_ack_bare = p.payload_len == 0;
    }
    if (p.payload_len == 0) return;
    if (h.request == 0) {
      h.request = p.ts;
      if (tcp && tlsHandshake(p, 1)) h.tls_client_hello = p.ts;
    } else if (h.tls_server_hello != 0 && h.tls_client_app == 0 && tlsApplicationData(p)) {
      h.tls_client_app = p.ts;
    }
    return;
  }
  const bool first_from_server = !h.server_seen;
  h.server_seen = true;
  if (tcp && syn && ack) {
    if (h.syn != 0 && h.syn_ack == 0) h.syn_ack = p.ts;
    return;
  }
  // The RST is the server's first word and the client said nothing after
  // its SYN: the connection was refused (a RST after an unseen SYN-ACK
  // would need the client's silence too, which a client never keeps).
  if (tcp && rst && first_from_server && h.syn != 0 && h.client_next == 0 &&
      h.failure == HealthFailure::None) {
    h.failure = HealthFailure::Refused;
    return;
  }
  if (p.payload_len == 0 || h.request == 0 || h.response != 0) return;
  h.response = p.ts;
  if (h.tls_client_hello != 0 && tlsHandshake(p, 2)) h.tls_server_hello = p.ts;
}

void healthAtEnd(FlowHealth& h, EndReason reason) {
  if (h.syn == 0 || h.server_seen || h.client_next != 0 || h.failure != HealthFailure::None) return;
  // An evicted flow's wait was cut short by the table cap, not by time: no
  // verdict on its server (and under a SYN flood, no work per eviction).
  if (reason == EndReason::Idle || reason == EndReason::EndOfInput) h.failure = HealthFailure::NoAnswer;
}

void healthUnreachable(FlowHealth& h, uint8_t icmp_type, uint8_t icmp_code, bool server_answered) {
  if (server_answered || h.failure != HealthFailure::None) return;
  h.failure = HealthFailure::Unreachable;
  h.icmp_type = icmp_type;
  h.icmp_code = icmp_code;
}

bool quotedPacket(const Packet& icmp, Packet& q) {
  // ICMP: 4 bytes after the checksum (unused / MTU / pointer), then the quote.
  if (icmp.payload_len < 4) return false;
  const uint8_t* d = icmp.payload + 4;
  const uint32_t n = icmp.payload_len - 4;
  q = Packet{};
  q.ts = icmp.ts;
  q.vlan = icmp.vlan;
  uint32_t l4 = 0;
  if (n >= 20 && (d[0] >> 4) == 4) {
    l4 = static_cast<uint32_t>(d[0] & 0x0f) * 4;
    if (l4 < 20 || (rd16(d + 6) & 0x1fff) != 0) return false;  // a later fragment: no ports
    q.ip_version = 4;
    q.src = IpAddress::v4(d + 12);
    q.dst = IpAddress::v4(d + 16);
    q.proto = d[9];
  } else if (n >= 40 && (d[0] >> 4) == 6) {
    // Extension headers in a quote are rare; without them the ports follow.
    l4 = 40;
    q.ip_version = 6;
    q.src = IpAddress::v6(d + 8);
    q.dst = IpAddress::v6(d + 24);
    q.proto = d[6];
  } else {
    return false;
  }
  if (q.proto == kProtoTcp || q.proto == kProtoUdp || q.proto == kProtoSctp) {
    if (n < l4 + 4) return false;
    q.src_port = rd16(d + l4);
    q.dst_port = rd16(d + l4 + 2);
  }
  return true;
}

}  // namespace fg::core
