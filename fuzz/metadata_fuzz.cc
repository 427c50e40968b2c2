// metadata_fuzz: arbitrary payloads in one well-formed flow, so nDPI's
// dissectors (TLS, QUIC, DNS, HTTP, SSH, mDNS) and flowgate's metadata
// extraction (dpi/ndpi_classifier.cc) see hostile bytes where they expect a
// hello, a query or a request, and the flow record encoder
// (output/record_json.cc) gets the hostile strings they extract.
//
// Input (fuzz_common.h framing):
//   header bits 0-2: service (% 6): 0 TCP/443, 1 UDP/443, 2 UDP/53,
//                    3 TCP/80, 4 TCP/22, 5 UDP/5353
//   header bit 3:    IPv6 instead of IPv4
//   frame tag bit 0: 0 = client -> server, 1 = server -> client
//   frame bytes:     the L4 payload (TCP frames follow a handshake and carry
//                    consistent sequence and acknowledgement numbers)
//
// Every record produced must encode to one line of JSON that parses back.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_common.h"
#include "gateway/core/pipeline.h"
#include "gateway/dpi/ndpi_classifier.h"
#include "gateway/output/record_json.h"

namespace fg::fuzz {
namespace {

constexpr core::Timestamp kStart = 1705320000LL * core::kSecond;
constexpr size_t kMaxPayload = 65535 - 40 - 20;

struct Service {
  uint8_t proto;
  uint16_t port;
};
constexpr Service kServices[] = {{core::kProtoTcp, 443}, {core::kProtoUdp, 443},
                                 {core::kProtoUdp, 53},  {core::kProtoTcp, 80},
                                 {core::kProtoTcp, 22},  {core::kProtoUdp, 5353}};

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

// Builds client/server packets of one flow (checksums zero: nothing checks).
class FlowBuilder {
 public:
  FlowBuilder(Service s, bool v6) : service_(s), v6_(v6) {}

  std::vector<uint8_t> packet(bool from_server, uint8_t tcp_flags,
                              std::span<const uint8_t> payload) {
    const size_t l4_header = service_.proto == core::kProtoTcp ? 20 : 8;
    const size_t l4_len = l4_header + payload.size();
    std::vector<uint8_t> b;
    b.reserve(40 + l4_len);
    const uint8_t client_last = 2, server_last = 9;
    const uint8_t src_last = from_server ? server_last : client_last;
    const uint8_t dst_last = from_server ? client_last : server_last;
    if (v6_) {
      put32(b, 0x60000000u);
      put16(b, static_cast<uint16_t>(l4_len));
      b.push_back(service_.proto);
      b.push_back(64);
      for (uint8_t last : {src_last, dst_last}) {
        put32(b, 0x20010db8u);
        put32(b, 0);
        put32(b, 0);
        put32(b, last);
      }
    } else {
      b.push_back(0x45);
      b.push_back(0);
      put16(b, static_cast<uint16_t>(20 + l4_len));
      put16(b, ++ip_id_);
      put16(b, 0x4000);  // DF
      b.push_back(64);
      b.push_back(service_.proto);
      put16(b, 0);
      for (uint8_t last : {src_last, dst_last}) put32(b, 0x0a000000u | last);
    }
    const uint16_t client_port = 40000;
    put16(b, from_server ? service_.port : client_port);
    put16(b, from_server ? client_port : service_.port);
    if (service_.proto == core::kProtoTcp) {
      uint32_t& seq = from_server ? server_seq_ : client_seq_;
      const uint32_t ack = from_server ? client_seq_ : server_seq_;
      put32(b, seq);
      put32(b, (tcp_flags & core::kTcpAck) ? ack : 0);
      b.push_back(0x50);
      b.push_back(tcp_flags);
      put16(b, 65535);
      put32(b, 0);  // checksum, urgent pointer
      seq += static_cast<uint32_t>(payload.size()) + ((tcp_flags & (core::kTcpSyn | core::kTcpFin)) ? 1 : 0);
    } else {
      put16(b, static_cast<uint16_t>(l4_len));
      put16(b, 0);
    }
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
  }

  bool tcp() const { return service_.proto == core::kProtoTcp; }

 private:
  Service service_;
  bool v6_;
  uint16_t ip_id_ = 0;
  uint32_t client_seq_ = 1000, server_seq_ = 50000;
};

// Encodes every record and checks it is one line of valid JSON.
class RecordSink final : public core::FlowEventSink {
 public:
  // core::FlowEventSink
  void onClassified(const core::Flow& flow) override {
    check(output::flowRecord(flow, "flow", flow.last_seen));
    // The escaping helper on its own, on every wire string.
    for (const std::string* s : {&flow.cls.hostname, &flow.cls.ja3c, &flow.cls.ja3s,
                                 &flow.cls.dns_query, &flow.cls.user_agent})
      (void)output::safeString(*s);
    for (const std::string& a : flow.cls.alpn) (void)output::safeString(a);
  }
  void onFlowEnd(const core::Flow& flow, core::EndReason reason) override {
    check(output::flowRecord(flow, "flow_end", flow.last_seen, reason));
  }

 private:
  static void check(const nlohmann::ordered_json& record) {
    const std::string line = output::encodeLine(record);  // throws on invalid UTF-8
    if (line.find('\n') != std::string::npos) __builtin_trap();
    const auto back = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (back.is_discarded()) __builtin_trap();
  }
};

dpi::NdpiClassifier& classifier() {
  static dpi::NdpiClassifier c;
  return c;
}

}  // namespace
}  // namespace fg::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fg;
  if (size < 1) return 0;
  const uint8_t header = data[0];
  fuzz::FlowBuilder flow(fuzz::kServices[(header & 7) % 6], (header & 8) != 0);
  fuzz::FrameReader frames(std::span<const uint8_t>(data + 1, size - 1));

  core::ManualClock clock;
  clock.advanceTo(fuzz::kStart);
  fuzz::RecordSink sink;
  core::PipelineConfig config;
  config.packet_budget = 64;  // never cut the dissectors short before the input ends
  core::Pipeline pipeline(config, fuzz::classifier(), clock, sink);
  auto send = [&](bool from_server, uint8_t flags, std::span<const uint8_t> payload) {
    clock.advanceTo(clock.now() + 1000);
    const std::vector<uint8_t> pkt = flow.packet(from_server, flags, payload);
    (void)pipeline.step(core::LinkType::Raw, pkt, clock.now());
  };
  if (flow.tcp()) {
    send(false, core::kTcpSyn, {});
    send(true, core::kTcpSyn | core::kTcpAck, {});
    send(false, core::kTcpAck, {});
  }
  fuzz::Frame f;
  while (frames.next(f)) {
    const auto payload = f.bytes.first(std::min(f.bytes.size(), fuzz::kMaxPayload));
    send((f.tag & 1) != 0, core::kTcpAck | core::kTcpPsh, payload);
  }
  pipeline.finish();
  return 0;
}
