// The events file ([output] events_file, events_topics): JSON lines of the
// events of the configured topics, reopened on SIGUSR1 (logrotate). A write
// that fails is logged (rate-limited) and the event is lost for the file
// only; nothing else waits on it. Control thread, but requestReopen().
#pragma once

#include <memory>

#include "gateway/config.h"
#include "gateway/control/jsonl_file.h"
#include "gateway/daemon/event_router.h"

namespace fg::daemon {

class EventsFile {
 public:
  // Nothing to do when no file is configured. False (after logging
  // start_failed) when the file cannot be opened.
  bool start(const cli::Config& cfg, EventRouter& events);
  // Any thread (the signal loop): the file is reopened before its next line.
  void requestReopen();

 private:
  void write(const ctl::Event& e);
  std::unique_ptr<ctl::JsonLinesFile> file_;
};

}  // namespace fg::daemon
