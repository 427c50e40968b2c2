// Time zones (TZif + POSIX footer) and days/time schedules around midnight.
#include "policy/timezone.h"
#include "tests/policy/policy_test_util.h"

namespace fg::policy {
namespace {

using testing::utcTime;

int64_t epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

struct OffsetCase {
  std::string zone;
  std::chrono::system_clock::time_point at;
  int32_t offset;
  friend void PrintTo(const OffsetCase& c, std::ostream* os) {
    *os << c.zone << " @" << epoch(c.at);
  }
};

class TimeZoneTest : public ::testing::TestWithParam<OffsetCase> {};

TEST_P(TimeZoneTest, OffsetAt) {
  const auto& c = GetParam();
  auto tz = TimeZone::load(c.zone, "/usr/share/zoneinfo");
  ASSERT_TRUE(tz.ok()) << tz.error().message();
  EXPECT_EQ(tz->offsetAt(epoch(c.at)), c.offset);
}

const OffsetCase kOffsets[] = {
    {"UTC", utcTime(2024, 7, 1, 12, 0), 0},
    {"Europe/Berlin", utcTime(2024, 1, 15, 12, 0), 3600},
    {"Europe/Berlin", utcTime(2024, 7, 15, 12, 0), 7200},
    // DST starts 2024-03-31 01:00 UTC.
    {"Europe/Berlin", utcTime(2024, 3, 31, 0, 59), 3600},
    {"Europe/Berlin", utcTime(2024, 3, 31, 1, 0), 7200},
    // Beyond the stored transitions: the POSIX footer rule decides.
    {"Europe/Berlin", utcTime(2091, 7, 1, 0, 0), 7200},
    {"Europe/Berlin", utcTime(2091, 12, 1, 0, 0), 3600},
    {"America/New_York", utcTime(2024, 1, 15, 12, 0), -5 * 3600},
    {"America/New_York", utcTime(2024, 7, 15, 12, 0), -4 * 3600},
    {"America/New_York", utcTime(2090, 7, 15, 12, 0), -4 * 3600},
    {"Asia/Kolkata", utcTime(2024, 7, 15, 12, 0), 5 * 3600 + 1800},
    // Southern hemisphere: DST in January.
    {"Australia/Sydney", utcTime(2024, 1, 15, 12, 0), 11 * 3600},
    {"Australia/Sydney", utcTime(2024, 7, 15, 12, 0), 10 * 3600},
    {"Australia/Sydney", utcTime(2095, 1, 15, 12, 0), 11 * 3600},
};

INSTANTIATE_TEST_SUITE_P(Zones, TimeZoneTest, ::testing::ValuesIn(kOffsets));

TEST(TimeZoneTest, RejectsBadNames) {
  EXPECT_FALSE(TimeZone::load("../etc/passwd", "/usr/share/zoneinfo").ok());
  EXPECT_FALSE(TimeZone::load("/etc/localtime", "/usr/share/zoneinfo").ok());
  EXPECT_FALSE(TimeZone::load("Mars/Olympus", "/usr/share/zoneinfo").ok());
  EXPECT_FALSE(TimeZone::fromTzif("x", "not a tzif file at all, really, not at all....").ok());
}

TEST(TimeZoneTest, ParsesPosixRules) {
  TimeZone::PosixRule r;
  ASSERT_TRUE(TimeZone::parsePosix("CET-1CEST,M3.5.0,M10.5.0/3", r));
  EXPECT_EQ(r.std_offset, 3600);
  EXPECT_EQ(r.dst_offset, 7200);
  EXPECT_EQ(r.end.time, 3 * 3600);
  ASSERT_TRUE(TimeZone::parsePosix("<+0330>-3:30", r));
  EXPECT_EQ(r.std_offset, 3 * 3600 + 1800);
  EXPECT_FALSE(r.has_dst);
  EXPECT_FALSE(TimeZone::parsePosix("CET-1CEST,M13.5.0,M10.5.0", r));
}

// ---- schedules ----

struct ScheduleCase {
  std::string name;
  std::string zone;
  std::string match;
  std::chrono::system_clock::time_point at;  // UTC
  bool matches;
  friend void PrintTo(const ScheduleCase& c, std::ostream* os) { *os << c.name; }
};

class ScheduleTest : public ::testing::TestWithParam<ScheduleCase> {};

TEST_P(ScheduleTest, Matches) {
  const auto& c = GetParam();
  auto p = testing::mustCompile("[policy]\ntimezone = \"" + c.zone + "\"\n[[rule]]\nname = \"s\"\nmatch = { " +
                                c.match + " }\naction = \"drop\"\n");
  const Decision d = p->evaluate(testing::webFlow(), c.at);
  EXPECT_EQ(d.verdict == Verdict::Drop, c.matches);
  EXPECT_EQ(p->evaluateLinearScan(testing::webFlow(), c.at).verdict, d.verdict);
}

// 2024-01-19 is a Friday, 2024-01-20 a Saturday. Berlin is UTC+1 in January.
const ScheduleCase kSchedules[] = {
    {"utc_in_range", "UTC", "time = \"09:00-17:00\"", utcTime(2024, 1, 19, 9, 0), true},
    {"utc_end_exclusive", "UTC", "time = \"09:00-17:00\"", utcTime(2024, 1, 19, 17, 0), false},
    {"berlin_shifts_range", "Europe/Berlin", "time = \"09:00-17:00\"", utcTime(2024, 1, 19, 8, 0), true},
    {"berlin_before_range", "Europe/Berlin", "time = \"09:00-17:00\"", utcTime(2024, 1, 19, 7, 59), false},
    {"new_york_same_instant", "America/New_York", "time = \"09:00-17:00\"", utcTime(2024, 1, 19, 8, 0), false},
    {"new_york_in_range", "America/New_York", "time = \"09:00-17:00\"", utcTime(2024, 1, 19, 14, 0), true},
    // Crossing midnight: Friday 22:00 - Saturday 06:00, attributed to Friday.
    {"midnight_before", "UTC", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 19, 21, 59), false},
    {"midnight_start", "UTC", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 19, 22, 0), true},
    {"midnight_2359", "UTC", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 19, 23, 59), true},
    {"midnight_0000_next_day", "UTC", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 20, 0, 0), true},
    {"midnight_0559_next_day", "UTC", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 20, 5, 59), true},
    {"midnight_end", "UTC", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 20, 6, 0), false},
    {"midnight_friday_morning_not", "UTC", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 19, 1, 0), false},
    {"midnight_saturday_night_not", "UTC", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 20, 23, 0), false},
    // The same window in Berlin: Friday 22:00 local = 21:00 UTC.
    {"berlin_midnight_start", "Europe/Berlin", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 19, 21, 0), true},
    {"berlin_midnight_after", "Europe/Berlin", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 19, 23, 30), true},
    {"berlin_midnight_end", "Europe/Berlin", "days = \"fri\", time = \"22:00-06:00\"", utcTime(2024, 1, 20, 5, 0), false},
    // UTC 23:30 Friday is already Saturday 00:30 in Berlin.
    {"berlin_day_rolls_over", "Europe/Berlin", "days = \"sat\"", utcTime(2024, 1, 19, 23, 30), true},
    {"utc_day_not_rolled", "UTC", "days = \"sat\"", utcTime(2024, 1, 19, 23, 30), false},
    {"new_york_day_behind", "America/New_York", "days = \"fri\"", utcTime(2024, 1, 20, 3, 0), true},
    {"days_range", "UTC", "days = \"mon-fri\"", utcTime(2024, 1, 19, 12, 0), true},
    {"days_weekend", "UTC", "days = \"weekend\"", utcTime(2024, 1, 19, 12, 0), false},
    {"days_wrapping_range", "UTC", "days = \"sat-mon\"", utcTime(2024, 1, 21, 12, 0), true},
    {"not_days", "UTC", "not_days = [\"sat\", \"sun\"]", utcTime(2024, 1, 20, 12, 0), false},
    {"not_time_outside", "UTC", "not_time = \"09:00-17:00\"", utcTime(2024, 1, 19, 18, 0), true},
    {"not_time_inside", "UTC", "not_time = \"09:00-17:00\"", utcTime(2024, 1, 19, 10, 0), false},
    {"not_time_crossing", "UTC", "not_time = \"22:00-06:00\"", utcTime(2024, 1, 19, 23, 0), false},
    {"whole_day_24", "UTC", "time = \"00:00-24:00\"", utcTime(2024, 1, 19, 23, 59), true},
    {"time_list", "UTC", "time = [\"06:00-07:00\", \"12:00-13:00\"]", utcTime(2024, 1, 19, 12, 30), true},
    // Summer: Berlin is UTC+2.
    {"berlin_summer", "Europe/Berlin", "time = \"09:00-10:00\"", utcTime(2024, 7, 19, 7, 30), true},
};

INSTANTIATE_TEST_SUITE_P(Schedules, ScheduleTest, ::testing::ValuesIn(kSchedules),
                         [](const ::testing::TestParamInfo<ScheduleCase>& info) { return info.param.name; });

}  // namespace
}  // namespace fg::policy
