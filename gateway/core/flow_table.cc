#include "gateway/core/flow_table.h"

#include <cstring>

namespace fg::core {

FlowTable::FlowTable(FlowTableConfig config) : config_(config), next_id_(config.first_id) {
  if (config_.id_step == 0) config_.id_step = 1;
  map_.max_load_factor(1.0f);
}

FlowTable::~FlowTable() = default;

Flow* FlowTable::find(const FlowKey& key) {
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}

Flow& FlowTable::insert(const FlowKey& key, Timestamp now) {
  auto [it, inserted] = map_.try_emplace(key);
  Flow& f = it->second;
  f.key = key;
  f.id = next_id_;
  next_id_ += config_.id_step;
  f.first_seen = f.last_seen = now;
  ++counters_.created;
  append(f, listFor(f));
  return f;
}

uint8_t FlowTable::listFor(const Flow& f) const {
  if (f.decision.decided) return Decided;
  if (f.proto == kProtoTcp) {
    switch (f.tcp) {
      case TcpState::Closed: return TcpClosed;
      case TcpState::Established:
      case TcpState::Closing: return TcpEstablished;
      case TcpState::None:
      case TcpState::SynSent:
      case TcpState::SynReceived: return f.totalPackets() > 3 ? TcpEstablished : TcpOpening;
    }
  }
  if (f.proto == kProtoUdp) return Udp;
  return Other;
}

Timestamp FlowTable::timeoutOf(uint8_t list) const {
  const FlowTimeouts& t = config_.timeouts;
  switch (list) {
    case TcpOpening: return t.tcp_opening;
    case TcpEstablished: return t.tcp_established;
    case TcpClosed: return t.tcp_closed;
    case Udp: return t.udp;
    case Decided: return t.decided;
    default: return t.other;
  }
}

void FlowTable::touch(Flow& flow, Timestamp now) {
  if (now > flow.last_seen) flow.last_seen = now;
  unlink(flow);
  append(flow, listFor(flow));
}

void FlowTable::remove(Flow& flow) {
  unlink(flow);
  map_.erase(flow.key);  // destroys the flow (and any inspection state)
}

void FlowTable::unlink(Flow& f) {
  uint8_t l = f.lru_list;
  if (f.lru_prev) f.lru_prev->lru_next = f.lru_next; else heads_[l] = f.lru_next;
  if (f.lru_next) f.lru_next->lru_prev = f.lru_prev; else tails_[l] = f.lru_prev;
  f.lru_prev = f.lru_next = nullptr;
}

void FlowTable::append(Flow& f, uint8_t list) {
  // Each list stays ordered by last_seen (expiry stops at the first head that
  // has not timed out). Timestamps almost always arrive in order, so this is
  // the tail; a packet stamped earlier than its neighbours (captures merged
  // from several interfaces) walks back the few places it needs.
  Flow* after = tails_[list];
  while (after && after->last_seen > f.last_seen) after = after->lru_prev;
  f.lru_list = list;
  f.lru_prev = after;
  f.lru_next = after ? after->lru_next : heads_[list];
  if (f.lru_next) f.lru_next->lru_prev = &f; else tails_[list] = &f;
  if (after) after->lru_next = &f; else heads_[list] = &f;
}

Flow* FlowTable::oldest() const {
  Flow* best = nullptr;
  for (Flow* h : heads_)
    if (h && (!best || h->last_seen < best->last_seen)) best = h;
  return best;
}

size_t FlowTable::bytesPerFlowEstimate() {
  // libstdc++ hash node: next pointer + value + cached hash; plus one bucket.
  return sizeof(void*) + sizeof(std::pair<const FlowKey, Flow>) + sizeof(size_t) + sizeof(void*);
}

size_t FlowKeyHash::operator()(const FlowKey& k) const noexcept {
  // Word-at-a-time multiply-xorshift mixing (the byte-wise FNV-1a it
  // replaces cost 2.5 % of the offline engine's instructions, see
  // docs/performance.md). Both addresses are 16 bytes (IPv4 zero-padded).
  auto word = [](const uint8_t* p) {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
  };
  auto mix = [](uint64_t h, uint64_t v) {
    h ^= v * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
  };
  uint64_t h = 0x243f6a8885a308d3ull;
  h = mix(h, word(k.a.bytes.data()));
  h = mix(h, word(k.a.bytes.data() + 8));
  h = mix(h, word(k.b.bytes.data()));
  h = mix(h, word(k.b.bytes.data() + 8));
  h = mix(h, static_cast<uint64_t>(k.a_port) << 48 | static_cast<uint64_t>(k.b_port) << 32 |
                 static_cast<uint64_t>(k.proto) << 16 | k.vlan);
  return static_cast<size_t>(h);
}

FlowKey FlowKey::fromPacket(const Packet& p) {
  FlowKey k;
  k.proto = p.proto;
  k.vlan = p.vlan;
  bool swap = p.dst < p.src || (p.dst == p.src && p.dst_port < p.src_port);
  if (swap) {
    k.a = p.dst; k.a_port = p.dst_port; k.b = p.src; k.b_port = p.src_port;
  } else {
    k.a = p.src; k.a_port = p.src_port; k.b = p.dst; k.b_port = p.dst_port;
  }
  return k;
}

std::string_view toString(Confidence c) {
  switch (c) {
    case Confidence::Unknown: return "unknown";
    case Confidence::Guessed: return "guessed";
    case Confidence::Dpi: return "dpi";
    case Confidence::Dns: return "dns";
    case Confidence::Cache: return "cache";
  }
  return "unknown";
}

std::string_view toString(AppSource s) {
  switch (s) {
    case AppSource::Ndpi: return "ndpi";
    case AppSource::Catalog: return "catalog";
    case AppSource::Dns: return "dns";
    case AppSource::Cache: return "cache";
    case AppSource::Dissector: return "dissector";
    case AppSource::Port: return "port";
  }
  return "ndpi";
}

ClientOpening clientOpeningOf(uint8_t ip_proto, const uint8_t* b, size_t len) {
  if (len == 0) return ClientOpening::Unseen;
  if (ip_proto == kProtoTcp) {
    // A TLS handshake record (0x16 0x03 ..), or SSLv2's CLIENT-HELLO (a
    // two-byte length with the top bit set, then message type 1).
    if (len >= 2 && b[0] == 0x16 && b[1] == 0x03) return ClientOpening::Handshake;
    if (len >= 3 && (b[0] & 0x80) && b[2] == 0x01) return ClientOpening::Handshake;
    return ClientOpening::Other;
  }
  if (ip_proto == kProtoUdp) {
    // DTLS (0x16 0xfe ..) or a QUIC long header (form and fixed bits).
    if (len >= 2 && b[0] == 0x16 && b[1] == 0xfe) return ClientOpening::Handshake;
    if ((b[0] & 0xc0) == 0xc0) return ClientOpening::Handshake;
    return ClientOpening::Other;
  }
  return ClientOpening::Other;
}

std::string_view toString(EndReason r) {
  switch (r) {
    case EndReason::Fin: return "fin";
    case EndReason::Rst: return "rst";
    case EndReason::Idle: return "idle";
    case EndReason::Evicted: return "evicted";
    case EndReason::EndOfInput: return "end_of_input";
    case EndReason::Shutdown: return "shutdown";
    case EndReason::Reused: return "reused";
  }
  return "unknown";
}

}  // namespace fg::core
