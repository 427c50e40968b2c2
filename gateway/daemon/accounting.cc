#include "gateway/daemon/accounting.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include <nlohmann/json.hpp>

namespace fg::daemon {

size_t CtTupleHash::operator()(const nl::CtTuple& t) const noexcept {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  };
  mix(t.src.data(), t.src.size());
  mix(t.dst.data(), t.dst.size());
  const uint8_t rest[6] = {static_cast<uint8_t>(t.src_port >> 8), static_cast<uint8_t>(t.src_port),
                           static_cast<uint8_t>(t.dst_port >> 8), static_cast<uint8_t>(t.dst_port),
                           t.l4proto, static_cast<uint8_t>(t.family == nl::IpFamily::V6)};
  mix(rest, sizeof rest);
  return static_cast<size_t>(h);
}

std::optional<nl::CtTuple> tupleOf(const std::string& src_ip, uint16_t src_port,
                                   const std::string& dst_ip, uint16_t dst_port, uint8_t proto) {
  nl::CtTuple t;
  const bool v6 = src_ip.find(':') != std::string::npos;
  t.family = v6 ? nl::IpFamily::V6 : nl::IpFamily::V4;
  const int af = v6 ? AF_INET6 : AF_INET;
  if (inet_pton(af, src_ip.c_str(), t.src.data()) != 1) return std::nullopt;
  if (inet_pton(af, dst_ip.c_str(), t.dst.data()) != 1) return std::nullopt;
  t.src_port = src_port;
  t.dst_port = dst_port;
  t.l4proto = proto;
  return t;
}

void Accounting::track(DecidedFlow flow) {
  aggregator_.flowStart(flow.flow_id, flow.attrs, flow.first_seen_us);
  if (flow.health) aggregator_.health(flow.attrs.application, flow.first_seen_us, *flow.health);
  const nl::CtTuple key = flow.tuple;
  flows_[key].push_back(std::move(flow));
  ++tracked_;
}

CtCounters counterDelta(const CtCounters& prev, const CtCounters& cur) {
  if (cur.orig_bytes < prev.orig_bytes || cur.orig_packets < prev.orig_packets ||
      cur.reply_bytes < prev.reply_bytes || cur.reply_packets < prev.reply_packets)
    return cur;  // another conntrack: everything in it is new
  return CtCounters{.orig_bytes = cur.orig_bytes - prev.orig_bytes,
                    .orig_packets = cur.orig_packets - prev.orig_packets,
                    .reply_bytes = cur.reply_bytes - prev.reply_bytes,
                    .reply_packets = cur.reply_packets - prev.reply_packets};
}

namespace {

CtCounters countersOf(const nl::CtEntry& e) {
  return CtCounters{.orig_bytes = e.orig_bytes,
                    .orig_packets = e.orig_packets,
                    .reply_bytes = e.reply_bytes,
                    .reply_packets = e.reply_packets};
}

bool tcpOver(const nl::CtEntry& e) {
  return e.orig.l4proto == IPPROTO_TCP && e.tcp_state && nl::tcpConnectionOver(*e.tcp_state);
}

nlohmann::ordered_json parseRecord(const std::string& record) {
  nlohmann::ordered_json r = nlohmann::ordered_json::parse(record, nullptr, false);
  if (r.is_discarded() || !r.is_object()) r = nlohmann::ordered_json::object();
  return r;
}

std::string dump(const nlohmann::ordered_json& r) {
  return r.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void putCounters(nlohmann::ordered_json& r, const CtCounters& c) {
  r["packets"] = c.orig_packets + c.reply_packets;
  r["bytes"] = c.orig_bytes + c.reply_bytes;
  r["src_packets"] = c.orig_packets;
  r["src_bytes"] = c.orig_bytes;
  r["dst_packets"] = c.reply_packets;
  r["dst_bytes"] = c.reply_bytes;
}

}  // namespace

size_t Accounting::pick(const std::vector<DecidedFlow>& list, const nl::CtEntry& e) const {
  if (list.size() == 1) return 0;
  // A flow already matched to this conntrack keeps it.
  if (e.id)
    for (size_t i = 0; i < list.size(); ++i)
      if (list[i].ct_id == e.id) return i;
  if (!e.start_ns) return 0;
  // The conntrack starts with the flow's first packet; flowgate sees that
  // packet a little later. Allow 50 ms of clock skew between the two.
  const int64_t start_us = static_cast<int64_t>(*e.start_ns / 1000) - 50'000;
  size_t best = 0;
  bool found = false;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].first_seen_us < start_us) continue;
    if (!found || list[i].first_seen_us < list[best].first_seen_us) best = i;
    found = true;
  }
  return found ? best : list.size() - 1;
}

ctl::FlowSample Accounting::sampleOf(const DecidedFlow& f, const nl::CtEntry& e, int64_t ts_us) const {
  return ctl::FlowSample{.flow_id = f.flow_id,
                         .attrs = f.attrs,
                         .bytes_up = e.orig_bytes,
                         .bytes_down = e.reply_bytes,
                         .packets_up = e.orig_packets,
                         .packets_down = e.reply_packets,
                         .ts_us = ts_us};
}

ctl::Event Accounting::endEvent(const DecidedFlow& f, const CtCounters& c, bool has_counters, int64_t now_us,
                                std::optional<uint64_t> start_ns, std::optional<uint64_t> stop_ns, uint32_t ct_id,
                                const char* end_reason) const {
  // flow_end: the decided record with conntrack's totals and the end.
  nlohmann::ordered_json r = parseRecord(f.record);
  r["event"] = "flow_end";
  r["ts"] = static_cast<double>(now_us) / 1e6;
  r["flow_id"] = f.flow_id;
  putCounters(r, c);
  // conntrack's times when they are consistent (an early end has a start
  // but no stop yet: it ends now); else the flow's first packet to now.
  int64_t first = f.first_seen_us, last = now_us;
  if (start_ns && stop_ns && *stop_ns >= *start_ns) {
    first = static_cast<int64_t>(*start_ns / 1000);
    last = static_cast<int64_t>(*stop_ns / 1000);
  } else if (start_ns && !stop_ns && static_cast<int64_t>(*start_ns / 1000) <= now_us) {
    first = static_cast<int64_t>(*start_ns / 1000);
  }
  r["first_seen"] = static_cast<double>(first) / 1e6;
  r["last_seen"] = static_cast<double>(last) / 1e6;
  r["duration"] = static_cast<double>(last - first) / 1e6;
  r["counted_by"] = has_counters ? "conntrack" : "none";
  r["conntrack_id"] = ct_id;
  r.erase("end_reason");
  if (end_reason) r["end_reason"] = end_reason;
  const std::string verdict = r.contains("verdict") && r["verdict"].is_string() ? r["verdict"].get<std::string>() : "";
  return ctl::Event{.topic = ctl::Topic::FlowEnd,
                    .application = f.attrs.application,
                    .src = f.src,
                    .dst = f.dst,
                    .rule = f.attrs.rule,
                    .json = dump(r),
                    .verdict = verdict};
}

std::optional<ctl::Event> Accounting::onConntrack(const nl::CtEntry& e, int64_t now_us) {
  const bool destroy = e.kind == nl::CtEntry::Kind::Destroy;
  if (e.id) {
    if (auto c = closed_ids_.find(e.id); c != closed_ids_.end()) {
      // The flow of this conntrack already had its flow_end.
      if (destroy) {
        ++counters_.late_destroys;
        closed_ids_.erase(c);
        return std::nullopt;
      }
      // A new connection on the tuple revives a TIME_WAIT conntrack (same
      // id, state back to SYN_SENT): from now on it is the new flow's.
      if (!e.tcp_state || nl::tcpConnectionOver(*e.tcp_state)) return std::nullopt;
      closed_ids_.erase(c);
    }
  }
  auto it = flows_.find(e.orig);
  if (it == flows_.end() || it->second.empty()) {
    if (destroy) ++counters_.unmatched_destroys;
    return std::nullopt;
  }
  const size_t index = pick(it->second, e);
  DecidedFlow& f = it->second[index];
  const bool over = tcpOver(e);
  if (!e.has_counters && !destroy) {
    // Accounting off at the conntrack's creation, or an update event (they
    // carry no counters): only a state that says the connection is over
    // matters, and the next dump reads its counters (pendingClose()).
    if (over) {
      if (e.id) f.ct_id = e.id;
      closing_.push_back(e.orig);
    }
    return std::nullopt;
  }
  ++counters_.samples;
  if (e.id) f.ct_id = e.id;
  const ctl::FlowSample s = sampleOf(f, e, now_us);
  if (e.has_counters) {
    f.last = countersOf(e);
    f.sampled = true;
    f.last_sample_us = now_us;
  }
  if (!destroy && !over) {
    aggregator_.sample(s);
    return std::nullopt;
  }
  aggregator_.flowEnd(s);
  const char* reason = nullptr;
  if (over) reason = *e.tcp_state == nl::kTcpStateClose ? "rst" : "fin";
  ctl::Event ev = endEvent(f, countersOf(e), e.has_counters, now_us, e.start_ns, destroy ? e.stop_ns : std::nullopt,
                           e.id, reason);
  if (!destroy) {
    // Ended before the kernel destroys the entry: its destroy is not a second end.
    ++counters_.ended_early;
    if (e.id) closed_ids_[e.id] = now_us;
  }
  it->second.erase(it->second.begin() + static_cast<std::ptrdiff_t>(index));
  if (it->second.empty()) flows_.erase(it);
  --tracked_;
  ++counters_.ended;
  return ev;
}

std::vector<ctl::Event> Accounting::stats(int64_t now_us) {
  forgetClosed(now_us);
  std::vector<ctl::Event> out;
  for (auto& [tuple, list] : flows_) {
    for (DecidedFlow& f : list) {
      if (!f.sampled) continue;
      const CtCounters d = counterDelta(f.reported, f.last);
      if (d == CtCounters{}) continue;
      nlohmann::ordered_json r = parseRecord(f.record);
      r["event"] = "flow_stats";
      r["ts"] = static_cast<double>(now_us) / 1e6;
      r["flow_id"] = f.flow_id;
      putCounters(r, f.last);
      r["last_seen"] = static_cast<double>(f.last_sample_us) / 1e6;
      r.erase("end_reason");
      const int64_t since = f.reported_us ? f.reported_us : f.first_seen_us;
      r["interval"] = nlohmann::ordered_json{{"seconds", static_cast<double>(now_us - since) / 1e6},
                                             {"src_bytes", d.orig_bytes},
                                             {"src_packets", d.orig_packets},
                                             {"dst_bytes", d.reply_bytes},
                                             {"dst_packets", d.reply_packets}};
      r["conntrack_id"] = f.ct_id;
      f.reported = f.last;
      f.reported_us = now_us;
      ++counters_.stats;
      const std::string verdict =
          r.contains("verdict") && r["verdict"].is_string() ? r["verdict"].get<std::string>() : "";
      out.push_back(ctl::Event{.topic = ctl::Topic::FlowStats,
                               .application = f.attrs.application,
                               .src = f.src,
                               .dst = f.dst,
                               .rule = f.attrs.rule,
                               .json = dump(r),
                               .verdict = verdict});
    }
  }
  return out;
}

std::vector<ctl::Event> Accounting::endAll(int64_t now_us) {
  std::vector<ctl::Event> out;
  for (auto& [tuple, list] : flows_) {
    for (DecidedFlow& f : list) {
      aggregator_.flowEnd(ctl::FlowSample{.flow_id = f.flow_id,
                                          .attrs = f.attrs,
                                          .bytes_up = f.last.orig_bytes,
                                          .bytes_down = f.last.reply_bytes,
                                          .packets_up = f.last.orig_packets,
                                          .packets_down = f.last.reply_packets,
                                          .ts_us = now_us});
      out.push_back(endEvent(f, f.last, f.sampled, now_us, std::nullopt, std::nullopt, f.ct_id, "shutdown"));
      if (f.ct_id) closed_ids_[f.ct_id] = now_us;
      ++counters_.ended;
      ++counters_.ended_at_shutdown;
    }
  }
  flows_.clear();
  tracked_ = 0;
  return out;
}

void Accounting::forgetClosed(int64_t now_us) {
  for (auto it = closed_ids_.begin(); it != closed_ids_.end();) {
    if (now_us - it->second > kClosedMemoryUs) it = closed_ids_.erase(it);
    else ++it;
  }
}

AccountingCounters Accounting::counters() const {
  AccountingCounters c = counters_;
  c.tracked = tracked_;
  return c;
}

}  // namespace fg::daemon
