#include "gateway/daemon/event_router.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "gateway/core/clock.h"
#include "gateway/output/record_json.h"

namespace fg::daemon {

namespace {

int64_t nowUs() { return core::SystemClock().now(); }

}  // namespace

DecisionItem decisionItem(const core::Flow& f, const policy::Decision& d, const policy::PolicySet& p,
                          std::string_view in_if) {
  DecisionItem item;
  const std::string rule = d.rule == policy::Decision::kNone ? "" : std::string(p.ruleName(d.rule));
  item.event = ctl::Event{.topic = ctl::Topic::Flow,
                          .application = f.cls.application,
                          .src = f.src.toString(),
                          .dst = f.dst.toString(),
                          .rule = rule,
                          .json = output::encodeLine(output::decisionRecord(f, d, p, f.last_seen, in_if, "")),
                          .verdict = std::string(policy::toString(d.verdict))};
  if (auto t = tupleOf(item.event.src, f.src_port, item.event.dst, f.dst_port, f.proto)) {
    item.flow = DecidedFlow{.flow_id = std::to_string(f.id),
                            .tuple = *t,
                            .attrs = ctl::FlowAttributes{.application = f.cls.application,
                                                         .local_address = item.event.src,
                                                         .rule = rule},
                            .src = item.event.src,
                            .dst = item.event.dst,
                            .first_seen_us = f.first_seen,
                            .record = item.event.json,
                            .health = std::nullopt};
    if (const core::HealthFigures h = core::healthFigures(f.health); h.any()) item.flow.health = healthSample(h);
  }
  return item;
}

ctl::HealthSample healthSample(const core::HealthFigures& h) {
  ctl::Failure failure = ctl::Failure::None;
  switch (h.failure) {
    case core::HealthFailure::Refused: failure = ctl::Failure::Refused; break;
    case core::HealthFailure::NoAnswer: failure = ctl::Failure::NoAnswer; break;
    case core::HealthFailure::Unreachable: failure = ctl::Failure::Unreachable; break;
    case core::HealthFailure::None:
    case core::HealthFailure::kCount: break;
  }
  return ctl::HealthSample{.handshake_us = h.handshake,
                           .handshake_server_us = h.handshake_server,
                           .handshake_client_us = h.handshake_client,
                           .response_us = h.response,
                           .tls_hello_us = h.tls_hello,
                           .tls_handshake_us = h.tls_handshake,
                           .failure = failure,
                           .resets = h.resets,
                           .syn_retries = h.syn_retries};
}

void EventRouter::onUndecidedEnd(const core::EndedFlow& f) {
  if (f.decided || !f.health.any()) return;
  (void)health_.tryPush(HealthItem{.application = f.application, .first_seen_us = f.first_seen,
                                   .sample = healthSample(f.health)});
}

void EventRouter::addSink(Sink sink, uint64_t topics) { sinks_.push_back({std::move(sink), topics}); }

void EventRouter::onDecided(const core::Flow& f, const policy::Decision& d, const policy::PolicySet& p,
                            std::string_view in_if) {
  (void)decisions_.tryPush(decisionItem(f, d, p, in_if));
}

void EventRouter::logSink(log::Level level, std::string_view line, void* context) {
  auto* router = static_cast<EventRouter*>(context);
  nlohmann::json j{{"event", "log"},
                   {"ts", static_cast<double>(nowUs()) / 1e6},
                   {"level", log::toString(level)},
                   {"message", line}};
  (void)router->logs_.tryPush(ctl::Event{.topic = ctl::Topic::Log, .application = {}, .src = {}, .dst = {},
                                         .rule = {},
                                         .json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                                         .verdict = {}});
}

void EventRouter::emit(const ctl::Event& e) {
  const uint64_t bit = uint64_t{1} << static_cast<unsigned>(e.topic);
  for (const auto& r : sinks_)
    if (r.topics & bit) r.sink(e);
}

void EventRouter::drain() {
  std::vector<DecisionItem> items;
  decisions_.drain(items, 4096);
  for (auto& it : items) {
    if (!it.flow.flow_id.empty()) accounting_.track(std::move(it.flow));
    emit(it.event);
  }
  std::vector<HealthItem> health;
  health_.drain(health, 4096);
  for (const auto& h : health) accounting_.health(h.application, h.first_seen_us, h.sample);
  std::vector<ctl::Event> logs;
  logs_.drain(logs, 4096);
  for (const auto& e : logs) emit(e);
}

}  // namespace fg::daemon
