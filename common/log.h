// Structured logging: one line per event, "LEVEL event key=value ...", to
// stderr. Thread-safe; a line is written with one write(2). Per-packet call
// sites use RateLimit so a flood cannot turn into a log flood.
//
// Line prefix (Style): under systemd, when stderr is the journal stream
// ($JOURNAL_STREAM names stderr's device:inode), each line starts with its
// syslog priority "<N>" (sd-daemon(3)), so `journalctl -p err` finds errors
// and journald adds the time; anywhere else it starts with an RFC 3339 UTC
// timestamp with milliseconds. The level can change at run time (setLevel,
// e.g. from `flowgatectl log-level`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace fg::log {

enum class Level : int { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void setLevel(Level level);
Level level();
// "debug", "info", "warn"/"warning", "error"; false when unknown.
bool parseLevel(std::string_view text, Level& out);

struct Field {
  std::string_view key;
  std::string value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  template <typename T>
    requires std::is_arithmetic_v<T>
  Field(std::string_view k, T v) : key(k), value(std::to_string(v)) {}
};

enum class Style : int {
  Plain,      // "LEVEL event ..." (tests)
  Journal,    // "<N>LEVEL event ..." (stderr is the journal)
  Timestamp,  // "2026-12-03T10:15:02.123Z LEVEL event ..."
};
// Journal when $JOURNAL_STREAM matches stderr, else Timestamp.
Style styleFromEnvironment();
void setStyle(Style style);
// The syslog priority of a level: debug 7, info 6, warn 4, error 3.
int syslogPriority(Level level);
// The prefix written before "LEVEL event ..." in `style` at `when`.
std::string linePrefix(Style style, Level level, std::chrono::system_clock::time_point when);

void write(Level level, std::string_view event, std::initializer_list<Field> fields);

// An extra receiver of every line written (e.g. the control socket's `log`
// topic). It runs on the logging thread and must not block or log. Set it
// once at start-up; nullptr removes it.
using Sink = void (*)(Level level, std::string_view line, void* context);
void setSink(Sink sink, void* context);
std::string_view toString(Level level);

inline void debug(std::string_view e, std::initializer_list<Field> f = {}) {
  if (level() <= Level::Debug) write(Level::Debug, e, f);
}
inline void info(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::Info, e, f); }
inline void warn(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::Warn, e, f); }
inline void error(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::Error, e, f); }

// Allows at most `burst` events per second; counts what it suppressed.
class RateLimit {
 public:
  explicit RateLimit(uint32_t burst = 10) : burst_(burst) {}
  // True when the caller may log now. `suppressed` receives the number of
  // events dropped since the last allowed one.
  bool allow(uint64_t& suppressed);

 private:
  uint32_t burst_;
  std::atomic<int64_t> window_{0};
  std::atomic<uint32_t> used_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace fg::log
