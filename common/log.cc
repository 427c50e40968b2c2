#include "common/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace fg::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::atomic<Sink> g_sink{nullptr};
std::atomic<void*> g_sink_context{nullptr};
std::atomic<int> g_style{static_cast<int>(Style::Plain)};

const char* name(Level l) {
  switch (l) {
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO";
    case Level::Warn: return "WARN";
    case Level::Error: return "ERROR";
  }
  return "INFO";
}

// Quote values with spaces, quotes or control characters; escape the rest
// so a hostile value cannot forge a log line.
void appendValue(std::string& out, std::string_view v) {
  bool quote = v.empty();
  for (unsigned char c : v)
    if (c <= ' ' || c == '"' || c == '=' || c == 0x7f) quote = true;
  if (!quote) {
    out.append(v);
    return;
  }
  out += '"';
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace

void setSink(Sink sink, void* context) {
  g_sink_context.store(context, std::memory_order_release);
  g_sink.store(sink, std::memory_order_release);
}

std::string_view toString(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "info";
}

Style styleFromEnvironment() {
  // FLOWGATE_LOG_STYLE=plain|timestamp|journal overrides the detection (e.g.
  // plain when the collector adds its own time, as the namespace tests do).
  if (const char* forced = std::getenv("FLOWGATE_LOG_STYLE"); forced && *forced) {
    const std::string_view f = forced;
    if (f == "plain") return Style::Plain;
    if (f == "journal") return Style::Journal;
    if (f == "timestamp") return Style::Timestamp;
  }
  // systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected to
  // stdout/stderr; a child that redirected stderr elsewhere must not emit
  // priority prefixes into a file (sd-daemon(3), systemd.exec(5)).
  const char* js = std::getenv("JOURNAL_STREAM");
  if (js && *js) {
    uintmax_t dev = 0, ino = 0;
    struct stat st {};
    if (std::sscanf(js, "%" SCNuMAX ":%" SCNuMAX, &dev, &ino) == 2 && ::fstat(STDERR_FILENO, &st) == 0 &&
        static_cast<uintmax_t>(st.st_dev) == dev && static_cast<uintmax_t>(st.st_ino) == ino)
      return Style::Journal;
  }
  return Style::Timestamp;
}

void setStyle(Style s) { g_style.store(static_cast<int>(s), std::memory_order_relaxed); }

int syslogPriority(Level l) {
  switch (l) {
    case Level::Debug: return 7;
    case Level::Info: return 6;
    case Level::Warn: return 4;
    case Level::Error: return 3;
  }
  return 6;
}

std::string linePrefix(Style style, Level l, std::chrono::system_clock::time_point when) {
  switch (style) {
    case Style::Plain:
      return {};
    case Style::Journal:
      return "<" + std::to_string(syslogPriority(l)) + ">";
    case Style::Timestamp: {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
      const std::time_t secs = static_cast<std::time_t>(ms / 1000);
      std::tm tm{};
      gmtime_r(&secs, &tm);
      char buf[40];
      const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
      std::snprintf(buf + n, sizeof buf - n, ".%03dZ ", static_cast<int>(ms % 1000));
      return buf;
    }
  }
  return {};
}

void setLevel(Level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool parseLevel(std::string_view t, Level& out) {
  std::string s;
  for (char c : t) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "debug") out = Level::Debug;
  else if (s == "info") out = Level::Info;
  else if (s == "warn" || s == "warning") out = Level::Warn;
  else if (s == "error") out = Level::Error;
  else return false;
  return true;
}

void write(Level l, std::string_view event, std::initializer_list<Field> fields) {
  if (l < level()) return;
  const auto style = static_cast<Style>(g_style.load(std::memory_order_relaxed));
  std::string line = linePrefix(style, l, std::chrono::system_clock::now());
  const size_t body = line.size();
  line += name(l);
  line += ' ';
  line.append(event);
  for (const Field& f : fields) {
    line += ' ';
    line.append(f.key);
    line += '=';
    appendValue(line, f.value);
  }
  line += '\n';
  // One write: lines from different threads never interleave.
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  if (Sink sink = g_sink.load(std::memory_order_acquire))
    sink(l, std::string_view(line).substr(body, line.size() - 1 - body),
         g_sink_context.load(std::memory_order_acquire));
}

bool RateLimit::allow(uint64_t& suppressed) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t w = window_.load(std::memory_order_relaxed);
  if (w != now && window_.compare_exchange_strong(w, now)) used_.store(0);
  if (used_.fetch_add(1) < burst_) {
    suppressed = dropped_.exchange(0);
    return true;
  }
  dropped_.fetch_add(1);
  return false;
}

}  // namespace fg::log
