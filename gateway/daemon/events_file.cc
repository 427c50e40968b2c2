#include "gateway/daemon/events_file.h"

#include "common/log.h"

namespace fg::daemon {

bool EventsFile::start(const cli::Config& cfg, EventRouter& events) {
  if (cfg.events_file.empty()) return true;
  auto f = ctl::JsonLinesFile::open(cfg.events_file);
  if (!f) {
    log::error("start_failed", {{"error", "events file: " + f.error().message()}});
    return false;
  }
  file_ = std::move(*f);
  uint64_t topics = 0;  // bit per ctl::Topic
  for (const auto& t : cfg.events_topics)
    if (auto topic = ctl::parseTopic(t)) topics |= uint64_t{1} << static_cast<unsigned>(*topic);
  events.addSink([this](const ctl::Event& e) { write(e); }, topics);
  return true;
}

void EventsFile::requestReopen() {
  if (file_) file_->requestReopen();
  log::info("events_file_reopen_requested", {});
}

void EventsFile::write(const ctl::Event& e) {
  if (auto w = file_->write(e.json); !w) {
    static log::RateLimit limit(2);
    uint64_t suppressed = 0;
    if (limit.allow(suppressed))
      log::warn("events_file_write_failed", {{"error", w.error().message()}, {"suppressed", suppressed}});
  }
}

}  // namespace fg::daemon
