#include "policy/timezone.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>

namespace fg::policy {
namespace {

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm: days since 1970-01-01.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t yearOfDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return y + (m <= 2);
}

bool isLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Local seconds (since epoch, in the zone's wall clock) of a rule date in `year`.
int64_t ruleLocalSeconds(const TimeZone::PosixRule::When& w, int64_t year) {
  int64_t days = 0;
  switch (w.kind) {
    case TimeZone::PosixRule::When::Kind::Julian1: {
      // 1..365, February 29 never counted.
      int d = w.day;
      days = daysFromCivil(year, 1, 1) + d - 1;
      if (isLeap(year) && d >= 60) ++days;
      break;
    }
    case TimeZone::PosixRule::When::Kind::Julian0:
      days = daysFromCivil(year, 1, 1) + w.day;
      break;
    case TimeZone::PosixRule::When::Kind::MonthWeekDay: {
      const int64_t first = daysFromCivil(year, static_cast<unsigned>(w.month), 1);
      const int first_wd = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 0 = Sunday
      int day = 1 + (w.weekday - first_wd + 7) % 7 + (w.week - 1) * 7;
      static constexpr int kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      int dim = kMonthDays[w.month - 1] + (w.month == 2 && isLeap(year) ? 1 : 0);
      while (day > dim) day -= 7;
      days = first + day - 1;
      break;
    }
  }
  return days * 86400 + w.time;
}

class PosixParser {
 public:
  explicit PosixParser(std::string_view s) : s_(s) {}

  bool name() {
    if (pos_ < s_.size() && s_[pos_] == '<') {
      const size_t end = s_.find('>', pos_);
      if (end == std::string_view::npos) return false;
      pos_ = end + 1;
      return true;
    }
    const size_t start = pos_;
    while (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return pos_ - start >= 3;
  }
  // [+-]hh[:mm[:ss]] -> seconds
  bool hms(int32_t& out, bool allow_sign = true) {
    int sign = 1;
    if (allow_sign && pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) {
      sign = s_[pos_] == '-' ? -1 : 1;
      ++pos_;
    }
    int parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; ++i) {
      if (i > 0) {
        if (pos_ >= s_.size() || s_[pos_] != ':') break;
        ++pos_;
      }
      int v = 0, digits = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        v = v * 10 + (s_[pos_] - '0');
        ++pos_;
        ++digits;
      }
      if (digits == 0 || v > 167) return false;
      parts[i] = v;
    }
    out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return true;
  }
  bool number(int& out) {
    int v = 0, digits = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      v = v * 10 + (s_[pos_] - '0');
      ++pos_;
      ++digits;
    }
    out = v;
    return digits > 0;
  }
  bool when(TimeZone::PosixRule::When& w) {
    using Kind = TimeZone::PosixRule::When::Kind;
    if (pos_ >= s_.size()) return false;
    if (s_[pos_] == 'M') {
      ++pos_;
      w.kind = Kind::MonthWeekDay;
      if (!number(w.month) || !eat('.') || !number(w.week) || !eat('.') || !number(w.weekday))
        return false;
      if (w.month < 1 || w.month > 12 || w.week < 1 || w.week > 5 || w.weekday > 6) return false;
    } else if (s_[pos_] == 'J') {
      ++pos_;
      w.kind = Kind::Julian1;
      if (!number(w.day) || w.day < 1 || w.day > 365) return false;
    } else {
      w.kind = Kind::Julian0;
      if (!number(w.day) || w.day > 365) return false;
    }
    w.time = 7200;
    if (eat('/')) return hms(w.time);
    return true;
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool atEnd() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

uint32_t be32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
int64_t be64(const unsigned char* p) {
  return static_cast<int64_t>(static_cast<uint64_t>(be32(p)) << 32 | be32(p + 4));
}

}  // namespace

bool TimeZone::parsePosix(std::string_view tz, PosixRule& out) {
  PosixParser p(tz);
  PosixRule r;
  int32_t off = 0;
  if (!p.name() || !p.hms(off)) return false;
  r.std_offset = -off;  // POSIX offsets are west-positive
  if (!p.atEnd()) {
    if (!p.name()) return false;
    r.has_dst = true;
    r.dst_offset = r.std_offset + 3600;
    if (!p.atEnd() && !p.eat(',')) {
      int32_t doff = 0;
      if (!p.hms(doff)) return false;
      r.dst_offset = -doff;
      if (!p.eat(',')) return false;
    }
    if (!p.when(r.start) || !p.eat(',') || !p.when(r.end) || !p.atEnd()) return false;
  }
  r.valid = true;
  out = r;
  return true;
}

TimeZone TimeZone::utc() { return TimeZone{}; }

Result<TimeZone> TimeZone::load(std::string_view name, const std::string& zoneinfo_dir) {
  if (name == "UTC" || name == "Etc/UTC") return utc();
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos)
    return makeError("not an IANA time zone name");
  const std::string path = zoneinfo_dir + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError("unknown time zone (no " + path + ")", std::errc::no_such_file_or_directory);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return fromTzif(name, bytes);
}

Result<TimeZone> TimeZone::fromTzif(std::string_view name, std::string_view bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  auto bad = [] { return makeError("not a valid TZif file"); };
  if (n < 44 || bytes.substr(0, 4) != "TZif") return bad();
  const char version = bytes[4];
  struct Counts {
    uint32_t isut, isstd, leap, time, type, chars;
  };
  auto counts = [&](size_t at) {
    return Counts{be32(b + at + 20), be32(b + at + 24), be32(b + at + 28),
                  be32(b + at + 32), be32(b + at + 36), be32(b + at + 40)};
  };
  auto blockSize = [](const Counts& c, size_t tsize) {
    return c.time * tsize + c.time + c.type * 6 + c.chars + c.leap * (tsize + 4) + c.isstd + c.isut;
  };
  size_t at = 0;
  size_t tsize = 4;
  Counts c = counts(0);
  if (version >= '2') {
    // Skip the v1 block; use the 64-bit one.
    at = 44 + blockSize(c, 4);
    if (at + 44 > n || bytes.substr(at, 4) != "TZif") return bad();
    c = counts(at);
    tsize = 8;
  }
  size_t p = at + 44;
  if (c.type == 0 || p + blockSize(c, tsize) > n) return bad();
  TimeZone tz;
  tz.name_ = std::string(name);
  std::vector<int64_t> times(c.time);
  for (uint32_t i = 0; i < c.time; ++i)
    times[i] = tsize == 8 ? be64(b + p + i * 8) : static_cast<int32_t>(be32(b + p + i * 4));
  p += c.time * tsize;
  std::vector<uint8_t> idx(b + p, b + p + c.time);
  p += c.time;
  std::vector<int32_t> type_off(c.type);
  for (uint32_t i = 0; i < c.type; ++i) type_off[i] = static_cast<int32_t>(be32(b + p + i * 6));
  p += c.type * 6;
  for (uint8_t i : idx)
    if (i >= c.type) return bad();
  tz.initial_offset_ = type_off[0];
  tz.transitions_ = std::move(times);
  tz.offsets_.reserve(idx.size());
  for (uint8_t i : idx) tz.offsets_.push_back(type_off[i]);
  p += c.chars + c.leap * (tsize + 4) + c.isstd + c.isut;
  if (version >= '2' && p < n && bytes[p] == '\n') {
    const size_t end = bytes.find('\n', p + 1);
    if (end != std::string_view::npos) {
      const std::string_view footer = bytes.substr(p + 1, end - p - 1);
      if (!footer.empty() && !parsePosix(footer, tz.footer_)) return bad();
    }
  }
  return tz;
}

int32_t TimeZone::offsetAt(int64_t t) const {
  if (transitions_.empty() && !footer_.valid) return initial_offset_;
  if (!transitions_.empty() && t < transitions_.front()) return initial_offset_;
  if (transitions_.empty() || t >= transitions_.back()) {
    if (!footer_.valid) return offsets_.empty() ? initial_offset_ : offsets_.back();
    if (!footer_.has_dst) return footer_.std_offset;
    const int64_t year = yearOfDays(floorDiv(t + footer_.std_offset, 86400));
    const int64_t start = ruleLocalSeconds(footer_.start, year) - footer_.std_offset;
    const int64_t end = ruleLocalSeconds(footer_.end, year) - footer_.dst_offset;
    const bool dst = start < end ? (t >= start && t < end) : (t < end || t >= start);
    return dst ? footer_.dst_offset : footer_.std_offset;
  }
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

}  // namespace fg::policy
