// JsonLinesFile: the JSON-lines event log (flow, flow_end and aggregate
// events, one JSON object per line) with reopen for logrotate.
//
// Used on the control thread only (the daemon writes the events it drains
// from the workers' queues). Each line is written with one write(2) on an
// O_APPEND descriptor, so lines are never interleaved or torn by other
// appenders. Writes to a local file may block briefly; they never happen on
// a packet worker.
//
// Rotation: logrotate renames the file and sends SIGUSR1. The daemon either
// calls reopen() from an asio::signal_set handler on the control thread, or,
// from a plain signal handler, requestReopen() (async-signal-safe: it only
// sets an atomic flag) and the next write() reopens. Reopening opens the
// configured path anew (creating it, mode 0640) and closes the old descriptor.
//
// Errors are fg::Result with the path in the context; a failed write is
// counted (writeErrors()) and the file stays open for the next attempt.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace fg::ctl {

class JsonLinesFile {
 public:
  [[nodiscard]] static Result<std::unique_ptr<JsonLinesFile>> open(const std::string& path);
  ~JsonLinesFile();
  JsonLinesFile(const JsonLinesFile&) = delete;
  JsonLinesFile& operator=(const JsonLinesFile&) = delete;

  // Appends `line` and a newline (a trailing newline in `line` is not doubled).
  [[nodiscard]] Result<void> write(std::string_view line);
  // Opens the path anew now (control thread).
  [[nodiscard]] Result<void> reopen();
  // Async-signal-safe: the next write() reopens first.
  void requestReopen() noexcept { reopen_requested_.store(true, std::memory_order_relaxed); }

  const std::string& path() const { return path_; }
  uint64_t linesWritten() const { return lines_; }
  uint64_t writeErrors() const { return errors_; }
  uint64_t reopens() const { return reopens_; }

 private:
  explicit JsonLinesFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> reopen_requested_{false};
  uint64_t lines_ = 0, errors_ = 0, reopens_ = 0;
  std::string scratch_;
};

}  // namespace fg::ctl
