#include "gateway/control/aggregates.h"

namespace fg::ctl {

namespace {

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

TrafficCounters delta(const TrafficCounters& now, const TrafficCounters& before) {
  return TrafficCounters{.bytes_up = now.bytes_up - before.bytes_up,
                         .bytes_down = now.bytes_down - before.bytes_down,
                         .packets_up = now.packets_up - before.packets_up,
                         .packets_down = now.packets_down - before.packets_down,
                         .flows_new = 0};
}

bool regressed(const TrafficCounters& now, const TrafficCounters& before) {
  return now.bytes_up < before.bytes_up || now.bytes_down < before.bytes_down ||
         now.packets_up < before.packets_up || now.packets_down < before.packets_down;
}

constexpr const char* kUnknownApp = "Unknown";

}  // namespace

TrafficCounters& TrafficCounters::operator+=(const TrafficCounters& o) {
  bytes_up += o.bytes_up;
  bytes_down += o.bytes_down;
  packets_up += o.packets_up;
  packets_down += o.packets_down;
  flows_new += o.flows_new;
  return *this;
}

std::string_view toString(AggregateBy b) {
  switch (b) {
    case AggregateBy::Application: return "application";
    case AggregateBy::Address: return "address";
    case AggregateBy::Rule: return "rule";
    case AggregateBy::Total: return "total";
  }
  return "total";
}

nlohmann::ordered_json AggregateRow::json() const {
  nlohmann::ordered_json j;
  j["event"] = "aggregate";
  j["interval_start"] = interval_start_s;
  j["interval_s"] = interval_s;
  j["by"] = std::string(toString(by));
  if (by != AggregateBy::Total) j[std::string(toString(by))] = key;
  j["bytes_up"] = counters.bytes_up;
  j["bytes_down"] = counters.bytes_down;
  j["packets_up"] = counters.packets_up;
  j["packets_down"] = counters.packets_down;
  j["flows_new"] = counters.flows_new;
  if (partial) j["partial"] = true;
  if (health) j["health"] = health->json();
  return j;
}

Event AggregateRow::toEvent() const {
  const AggregateRow& r = *this;
  Event e;
  e.topic = Topic::Aggregate;
  switch (r.by) {
    case AggregateBy::Application: e.application = r.key; break;
    case AggregateBy::Address: e.src = r.key; break;
    case AggregateBy::Rule: e.rule = r.key; break;
    case AggregateBy::Total: break;
  }
  e.json = r.json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return e;
}

Aggregator::Aggregator(Options options)
    : opt_(options), interval_us_(int64_t{options.interval_s == 0 ? 1u : options.interval_s} * 1'000'000) {
  if (opt_.interval_s == 0) opt_.interval_s = 1;
}

int64_t Aggregator::intervalOfSample(int64_t ts_us) const { return floorDiv(ts_us - 1, interval_us_); }
int64_t Aggregator::intervalOfStart(int64_t ts_us) const { return floorDiv(ts_us, interval_us_); }

std::optional<int64_t> Aggregator::openFrom() const {
  if (next_to_emit_) return *next_to_emit_ * interval_us_;
  if (!intervals_.empty()) return intervals_.begin()->first * interval_us_;
  return std::nullopt;
}

int64_t Aggregator::nextBoundary(int64_t t_us) const {
  return (floorDiv(t_us, interval_us_) + 1) * interval_us_;
}

void Aggregator::add(int64_t k, const FlowAttributes& attrs, const TrafficCounters& d) {
  if (next_to_emit_ && k < *next_to_emit_) {
    k = *next_to_emit_;
    ++late_;
  }
  Interval& iv = intervals_[k];
  const std::string& app = attrs.application.empty() ? std::string(kUnknownApp) : attrs.application;
  iv.apps[app] += d;
  if (opt_.per_address && !attrs.local_address.empty()) iv.addresses[attrs.local_address] += d;
  if (opt_.per_rule && !attrs.rule.empty()) iv.rules[attrs.rule] += d;
  app_totals_[app] += d;
}

void Aggregator::flowStart(const std::string& flow_id, const FlowAttributes& attrs, int64_t ts_us) {
  if (flows_.count(flow_id) || ended_.count(flow_id)) return;  // counted once
  flows_.emplace(flow_id, FlowState{});
  add(intervalOfStart(ts_us), attrs, TrafficCounters{.flows_new = 1});
}

void Aggregator::apply(const FlowSample& s) {
  if (ended_.count(s.flow_id)) {
    ++anomalies_;
    return;
  }
  FlowState& f = flows_[s.flow_id];
  const TrafficCounters now{.bytes_up = s.bytes_up,
                            .bytes_down = s.bytes_down,
                            .packets_up = s.packets_up,
                            .packets_down = s.packets_down};
  if (regressed(now, f.last)) {
    ++anomalies_;
    return;
  }
  const TrafficCounters d = delta(now, f.last);
  f.last = now;
  if (!d.zero()) add(intervalOfSample(s.ts_us), s.attrs, d);
}

void Aggregator::sample(const FlowSample& s) { apply(s); }

void Aggregator::flowEnd(const FlowSample& s) {
  if (ended_.count(s.flow_id)) {
    ++anomalies_;
    return;
  }
  apply(s);
  flows_.erase(s.flow_id);
  int64_t k = intervalOfSample(s.ts_us);
  if (next_to_emit_ && k < *next_to_emit_) k = *next_to_emit_;
  ended_[s.flow_id] = k;
}

void Aggregator::health(const std::string& application, int64_t ts_us, const HealthSample& s) {
  int64_t k = intervalOfStart(ts_us);
  if (next_to_emit_ && k < *next_to_emit_) {
    k = *next_to_emit_;
    ++late_;
  }
  const std::string app = application.empty() ? std::string(kUnknownApp) : application;
  Interval& iv = intervals_[k];
  iv.apps[app];  // the row exists even without traffic
  iv.health[app].add(s);
  health_totals_[app].add(s);
}

void Aggregator::emit(int64_t k, const Interval* iv, std::vector<AggregateRow>& out) const {
  const int64_t start_s = k * static_cast<int64_t>(opt_.interval_s);
  auto row = [&](AggregateBy by, const std::string& key, const TrafficCounters& c) {
    out.push_back(AggregateRow{.interval_start_s = start_s, .interval_s = opt_.interval_s, .by = by,
                               .key = key, .counters = c,
                               .partial = opt_.start_us > k * interval_us_, .health = std::nullopt});
  };
  TrafficCounters total;
  if (iv) {
    for (const auto& [key, c] : iv->apps) {
      row(AggregateBy::Application, key, c);
      if (auto h = iv->health.find(key); h != iv->health.end()) out.back().health = h->second;
      total += c;
    }
    for (const auto& [key, c] : iv->addresses) row(AggregateBy::Address, key, c);
    for (const auto& [key, c] : iv->rules) row(AggregateBy::Rule, key, c);
  }
  row(AggregateBy::Total, "", total);
}

std::vector<AggregateRow> Aggregator::closeUntil(int64_t t_us) {
  std::vector<AggregateRow> out;
  const int64_t new_floor = floorDiv(t_us, interval_us_);  // intervals k < new_floor are complete
  if (next_to_emit_ && new_floor <= *next_to_emit_) return out;
  int64_t last_emitted = INT64_MIN;
  while (!intervals_.empty() && intervals_.begin()->first < new_floor) {
    auto node = intervals_.extract(intervals_.begin());
    emit(node.key(), &node.mapped(), out);
    last_emitted = node.key();
  }
  if (last_emitted != new_floor - 1 && new_floor - 1 >= floorDiv(opt_.start_us, interval_us_)) {
    emit(new_floor - 1, nullptr, out);
  }
  next_to_emit_ = new_floor;
  // Forget ended flows two intervals after their end.
  for (auto it = ended_.begin(); it != ended_.end();) {
    if (it->second + 2 < new_floor) it = ended_.erase(it);
    else ++it;
  }
  return out;
}

}  // namespace fg::ctl
