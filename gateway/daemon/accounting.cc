#include "gateway/daemon/accounting.h"

#include <arpa/inet.h>

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

size_t Accounting::pick(const std::vector<DecidedFlow>& list, const nl::CtEntry& e) const {
  if (list.size() == 1 || !e.start_ns) return 0;
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

std::optional<ctl::Event> Accounting::onConntrack(const nl::CtEntry& e, int64_t now_us) {
  auto it = flows_.find(e.orig);
  if (it == flows_.end() || it->second.empty()) {
    if (e.kind == nl::CtEntry::Kind::Destroy) ++counters_.unmatched_destroys;
    return std::nullopt;
  }
  const size_t index = pick(it->second, e);
  if (!e.has_counters) {
    // Accounting was off when the conntrack was created: nothing to add,
    // but a destroy still ends the flow.
    if (e.kind != nl::CtEntry::Kind::Destroy) return std::nullopt;
  }
  ++counters_.samples;
  const DecidedFlow& f = it->second[index];
  const ctl::FlowSample s = sampleOf(f, e, now_us);
  if (e.kind != nl::CtEntry::Kind::Destroy) {
    aggregator_.sample(s);
    return std::nullopt;
  }
  aggregator_.flowEnd(s);
  // flow_end: the decided record with conntrack's totals and the end.
  nlohmann::ordered_json r = nlohmann::ordered_json::parse(f.record, nullptr, false);
  if (r.is_discarded() || !r.is_object()) r = nlohmann::ordered_json::object();
  r["event"] = "flow_end";
  r["ts"] = static_cast<double>(now_us) / 1e6;
  r["flow_id"] = f.flow_id;
  r["packets"] = e.orig_packets + e.reply_packets;
  r["bytes"] = e.orig_bytes + e.reply_bytes;
  r["src_packets"] = e.orig_packets;
  r["src_bytes"] = e.orig_bytes;
  r["dst_packets"] = e.reply_packets;
  r["dst_bytes"] = e.reply_bytes;
  int64_t first = f.first_seen_us, last = now_us;
  if (e.start_ns && e.stop_ns && *e.stop_ns >= *e.start_ns) {
    first = static_cast<int64_t>(*e.start_ns / 1000);
    last = static_cast<int64_t>(*e.stop_ns / 1000);
  }
  r["first_seen"] = static_cast<double>(first) / 1e6;
  r["last_seen"] = static_cast<double>(last) / 1e6;
  r["duration"] = static_cast<double>(last - first) / 1e6;
  r["counted_by"] = e.has_counters ? "conntrack" : "none";
  r["conntrack_id"] = e.id;
  r.erase("end_reason");
  const std::string verdict = r.contains("verdict") && r["verdict"].is_string() ? r["verdict"].get<std::string>() : "";
  ctl::Event ev{.topic = ctl::Topic::FlowEnd,
                .application = f.attrs.application,
                .src = f.src,
                .dst = f.dst,
                .rule = f.attrs.rule,
                .json = r.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
                .verdict = verdict};
  it->second.erase(it->second.begin() + static_cast<std::ptrdiff_t>(index));
  if (it->second.empty()) flows_.erase(it);
  --tracked_;
  ++counters_.ended;
  return ev;
}

AccountingCounters Accounting::counters() const {
  AccountingCounters c = counters_;
  c.tracked = tracked_;
  return c;
}

}  // namespace fg::daemon
