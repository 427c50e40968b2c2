#include "gateway/dpi/ndpi_classifier.h"

#include <cstring>
#include <new>
#include <stdexcept>
#include <string_view>

extern "C" {
#include <ndpi/ndpi_api.h>
}

namespace fg::dpi {
namespace {

class NdpiInspection final : public core::FlowInspection {
 public:
  explicit NdpiInspection(ndpi_flow_struct* f) : flow(f) {}
  ~NdpiInspection() override {
    // ndpi_flow_free releases the struct and everything nDPI hung off it.
    if (flow) ndpi_flow_free(flow);
  }
  NdpiInspection(const NdpiInspection&) = delete;
  NdpiInspection& operator=(const NdpiInspection&) = delete;

  ndpi_flow_struct* flow;
  ndpi_protocol proto{};
  bool detected = false;
  bool payload_seen = false;
  // nDPI answered before any packet of the flow carried payload: that can
  // only come from the ports (4.2 names e.g. TargusDataspeed for any SYN to
  // port 5201). The same answer stays a port guess for the whole flow.
  bool guessed_before_payload = false;
  ndpi_protocol port_guess{};
};

NdpiInspection& stateOf(core::Flow& flow) {
  return static_cast<NdpiInspection&>(*flow.inspection);
}

bool isProto(const ndpi_protocol& p, uint16_t id) {
  return p.master_protocol == id || p.app_protocol == id;
}

bool carriesTls(const ndpi_protocol& p) {
  for (uint16_t id : {NDPI_PROTOCOL_TLS, NDPI_PROTOCOL_DTLS, NDPI_PROTOCOL_QUIC,
                      NDPI_PROTOCOL_MAIL_IMAPS, NDPI_PROTOCOL_MAIL_POPS, NDPI_PROTOCOL_MAIL_SMTPS})
    if (isProto(p, id)) return true;
  return false;
}

// Copies a NUL-terminated C string from a fixed-size nDPI buffer.
std::string boundedString(const char* s, size_t max) {
  if (!s) return {};
  return std::string(s, strnlen(s, max));
}

void splitAlpn(const char* list, std::vector<std::string>& out) {
  out.clear();
  if (!list) return;
  std::string_view s(list, strnlen(list, 256));
  while (!s.empty()) {
    auto comma = s.find(',');
    auto item = s.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
}

core::Confidence confidenceOf(const ndpi_flow_struct& f, const ndpi_protocol& p) {
  if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN && p.master_protocol == NDPI_PROTOCOL_UNKNOWN)
    return core::Confidence::Unknown;
  switch (f.confidence) {
    case NDPI_CONFIDENCE_MATCH_BY_PORT:
    case NDPI_CONFIDENCE_MATCH_BY_IP:
      return core::Confidence::Guessed;
    case NDPI_CONFIDENCE_UNKNOWN:
      return core::Confidence::Guessed;
    default:
      return core::Confidence::Dpi;
  }
}

}  // namespace

NdpiClassifier::NdpiClassifier() {
  module_ = ndpi_init_detection_module(ndpi_no_prefs);
  if (!module_) throw std::runtime_error("nDPI: cannot initialise a detection module");
  NDPI_PROTOCOL_BITMASK all;
  NDPI_BITMASK_SET_ALL(all);
  ndpi_set_protocol_detection_bitmask2(module_, &all);
  ndpi_finalize_initialization(module_);
}

NdpiClassifier::~NdpiClassifier() { ndpi_exit_detection_module(module_); }

size_t NdpiClassifier::flowStateBytes() { return SIZEOF_FLOW_STRUCT; }

std::unique_ptr<core::FlowInspection> NdpiClassifier::begin(const core::Flow&) {
  auto* f = static_cast<ndpi_flow_struct*>(ndpi_flow_malloc(SIZEOF_FLOW_STRUCT));
  if (!f) return nullptr;
  std::memset(f, 0, SIZEOF_FLOW_STRUCT);
  auto* state = new (std::nothrow) NdpiInspection(f);
  if (!state) {
    ndpi_flow_free(f);
    return nullptr;
  }
  return std::unique_ptr<core::FlowInspection>(state);
}

namespace {

// Fills flow.cls from nDPI's view of the flow.
void extract(ndpi_detection_module_struct* m, core::Flow& flow, const NdpiInspection& st) {
  const ndpi_flow_struct& f = *st.flow;
  const ndpi_protocol& p = st.proto;
  core::Classification& c = flow.cls;
  const uint16_t master = p.master_protocol != NDPI_PROTOCOL_UNKNOWN ? p.master_protocol
                                                                     : p.app_protocol;
  const uint16_t app = p.app_protocol != NDPI_PROTOCOL_UNKNOWN ? p.app_protocol
                                                               : p.master_protocol;
  c.l7_protocol = ndpi_get_proto_name(m, master);
  c.application = ndpi_get_proto_name(m, app);
  c.category = ndpi_category_get_name(m, p.category);
  c.confidence = confidenceOf(f, p);
  // A port (or an owner's address block) alone is a guess, whatever else.
  c.app_source = f.confidence == NDPI_CONFIDENCE_MATCH_BY_PORT || f.confidence == NDPI_CONFIDENCE_MATCH_BY_IP
                     ? core::AppSource::Port
                     : core::AppSource::Ndpi;
  if (st.guessed_before_payload && p.master_protocol == st.port_guess.master_protocol &&
      p.app_protocol == st.port_guess.app_protocol) {
    c.app_source = core::AppSource::Port;
    if (c.confidence == core::Confidence::Dpi) c.confidence = core::Confidence::Guessed;
  }

  c.hostname = boundedString(f.host_server_name, sizeof f.host_server_name);
  if (c.hostname.empty() && isProto(p, NDPI_PROTOCOL_SSH))
    c.hostname = boundedString(f.protos.ssh.client_signature, sizeof f.protos.ssh.client_signature);

  // protos is a union: read the TLS member only when the TLS/QUIC dissector
  // itself recognised the flow. A protocol merely guessed from the port
  // (giving up on an unknown flow on 443) may leave another dissector's data
  // in the union, and the ALPN pointer would be garbage.
  if (carriesTls(p) && c.confidence == core::Confidence::Dpi) {
    const auto& t = f.protos.tls_quic;
    c.tls_version = t.ssl_version;
    c.cipher = t.server_cipher;
    c.ja3c = boundedString(t.ja3_client, sizeof t.ja3_client);
    c.ja3s = boundedString(t.ja3_server, sizeof t.ja3_server);
    splitAlpn(t.alpn, c.alpn);
    // The certificate's subjectAltName DNS names, comma-separated, once the
    // dissector has read a certificate in clear (TLS <= 1.2; QUIC and TLS 1.3
    // encrypt it): one of the proofs of the SNI (core/name_check.h).
    if (t.server_names && t.server_names_len > 0)
      c.cert_names.assign(t.server_names, strnlen(t.server_names, t.server_names_len));
  }
  if (isProto(p, NDPI_PROTOCOL_DNS) || isProto(p, NDPI_PROTOCOL_LLMNR) ||
      isProto(p, NDPI_PROTOCOL_MDNS)) {
    c.dns_query = c.hostname;
    c.dns_qtype = f.protos.dns.query_type;
  }
  if (isProto(p, NDPI_PROTOCOL_HTTP) && f.http.user_agent)
    c.user_agent = boundedString(f.http.user_agent, 512);
  // nDPI keeps dissecting HTTP for the response and TLS for the certificate
  // and server hello; what a rule reads (application, category, hostname,
  // JA3, ALPN) is known once DPI named the flow from its HTTP Host, its SNI
  // or its DNS query. The server hello has its own pending flag.
  c.settled = st.detected && c.confidence == core::Confidence::Dpi && c.app_source == core::AppSource::Ndpi &&
              !c.hostname.empty() &&
              (isProto(p, NDPI_PROTOCOL_HTTP) || carriesTls(p) || isProto(p, NDPI_PROTOCOL_DNS));
}

}  // namespace

bool NdpiClassifier::inspect(core::Flow& flow, const core::Packet& packet, core::Direction) {
  NdpiInspection& st = stateOf(flow);
  const uint64_t ts_ms = static_cast<uint64_t>(packet.ts / 1000);
  const auto len = static_cast<unsigned short>(packet.l3_len > 0xffff ? 0xffff : packet.l3_len);
  ndpi_protocol p = ndpi_detection_process_packet(module_, st.flow, packet.l3, len, ts_ms);
  if (packet.payload_len > 0) st.payload_seen = true;
  if (p.app_protocol != NDPI_PROTOCOL_UNKNOWN || p.master_protocol != NDPI_PROTOCOL_UNKNOWN) {
    if (!st.detected && !st.payload_seen) {
      st.guessed_before_payload = true;
      st.port_guess = p;
    }
    st.proto = p;
    st.detected = true;
  } else if (st.detected) {
    // Extra dissection returns the stored result; keep what we had.
    p = st.proto;
  } else {
    st.proto = p;
  }
  extract(module_, flow, st);
  // A port guess is never final: later packets may say what the flow is.
  if (flow.cls.app_source == core::AppSource::Port) return false;
  return st.detected && !ndpi_extra_dissection_possible(module_, st.flow);
}

bool NdpiClassifier::matchHostname(std::string_view hostname, core::Classification& out) {
  if (hostname.empty() || hostname.size() > 255) return false;
  char buf[256];
  std::memcpy(buf, hostname.data(), hostname.size());
  buf[hostname.size()] = '\0';
  ndpi_protocol_match_result match{};
  const int id = ndpi_match_string_subprotocol(module_, buf, static_cast<u_int>(hostname.size()), &match);
  if (id <= NDPI_PROTOCOL_UNKNOWN) return false;
  out.application = ndpi_get_proto_name(module_, static_cast<u_int16_t>(id));
  out.category = ndpi_category_get_name(module_, match.protocol_category);
  return true;
}

void NdpiClassifier::giveUp(core::Flow& flow) {
  if (!flow.inspection) {
    flow.cls.l7_protocol = flow.cls.application = "Unknown";
    flow.cls.confidence = core::Confidence::Unknown;
    return;
  }
  NdpiInspection& st = stateOf(flow);
  if (!st.detected) {
    uint8_t guessed = 0;
    st.proto = ndpi_detection_giveup(module_, st.flow, 1, &guessed);
    st.detected = st.proto.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
                  st.proto.master_protocol != NDPI_PROTOCOL_UNKNOWN;
  }
  extract(module_, flow, st);
}

}  // namespace fg::dpi
