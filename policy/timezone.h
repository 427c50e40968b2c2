// TimeZone: UTC offset lookup for policy schedules, from a TZif file
// (RFC 8536) read at load time, including the POSIX TZ footer rule for
// instants after the last stored transition.
//
// Why not localtime_r/setenv("TZ"): that mutates process state shared by all
// threads; and g++ 12's libstdc++ has no std::chrono::locate_zone. A TimeZone
// is an immutable value; offsetAt() is const and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fg::policy {

class TimeZone {
 public:
  static TimeZone utc();
  // name: an IANA name such as "Europe/Berlin" (no "..", not absolute), or
  // "UTC". Reads <zoneinfo_dir>/<name>.
  static Result<TimeZone> load(std::string_view name, const std::string& zoneinfo_dir);
  static Result<TimeZone> fromTzif(std::string_view name, std::string_view bytes);

  const std::string& name() const { return name_; }
  // Seconds east of UTC in effect at the given UTC instant.
  int32_t offsetAt(int64_t utc_seconds) const;

  struct PosixRule {
    struct When {
      enum class Kind : uint8_t { MonthWeekDay, Julian1, Julian0 } kind = Kind::MonthWeekDay;
      int month = 0, week = 0, weekday = 0, day = 0;
      int32_t time = 7200;  // seconds after local midnight
    };
    bool valid = false;
    int32_t std_offset = 0;  // seconds east of UTC
    bool has_dst = false;
    int32_t dst_offset = 0;
    When start, end;
  };
  // Parses a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3".
  static bool parsePosix(std::string_view tz, PosixRule& out);

 private:
  std::string name_ = "UTC";
  std::vector<int64_t> transitions_;  // ascending UTC instants
  std::vector<int32_t> offsets_;      // offset in effect from transitions_[i]
  int32_t initial_offset_ = 0;        // before the first transition
  PosixRule footer_;
};

}  // namespace fg::policy
