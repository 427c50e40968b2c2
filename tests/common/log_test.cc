// The log line prefix: journald priorities and RFC 3339 timestamps.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sys/stat.h>

#include <regex>

#include "common/log.h"

namespace fg::log {
namespace {

TEST(LogPrefix, JournalPriorityPerLevel) {
  const auto t = std::chrono::system_clock::time_point{};
  EXPECT_EQ(linePrefix(Style::Journal, Level::Error, t), "<3>");
  EXPECT_EQ(linePrefix(Style::Journal, Level::Warn, t), "<4>");
  EXPECT_EQ(linePrefix(Style::Journal, Level::Info, t), "<6>");
  EXPECT_EQ(linePrefix(Style::Journal, Level::Debug, t), "<7>");
  EXPECT_EQ(linePrefix(Style::Plain, Level::Error, t), "");
}

TEST(LogPrefix, Rfc3339UtcWithMilliseconds) {
  // 2026-12-03T10:15:02.123Z
  const auto t = std::chrono::system_clock::time_point{std::chrono::milliseconds{1796292902123LL}};
  EXPECT_EQ(linePrefix(Style::Timestamp, Level::Info, t), "2026-12-03T10:15:02.123Z ");
  const auto epoch = std::chrono::system_clock::time_point{std::chrono::milliseconds{7}};
  EXPECT_EQ(linePrefix(Style::Timestamp, Level::Info, epoch), "1970-01-01T00:00:00.007Z ");
}

TEST(LogPrefix, JournalOnlyWhenStderrIsTheJournalStream) {
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_EQ(styleFromEnvironment(), Style::Timestamp);
  // A JOURNAL_STREAM naming another file (stderr was redirected) is ignored.
  ::setenv("JOURNAL_STREAM", "1:1", 1);
  EXPECT_EQ(styleFromEnvironment(), Style::Timestamp);
  struct stat st {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
  EXPECT_EQ(styleFromEnvironment(), Style::Journal);
  ::unsetenv("JOURNAL_STREAM");
}

TEST(LogPrefix, TheEnvironmentMayForceAStyle) {
  ::setenv("FLOWGATE_LOG_STYLE", "plain", 1);
  EXPECT_EQ(styleFromEnvironment(), Style::Plain);
  ::setenv("FLOWGATE_LOG_STYLE", "journal", 1);
  EXPECT_EQ(styleFromEnvironment(), Style::Journal);
  ::unsetenv("FLOWGATE_LOG_STYLE");
}

TEST(LogPrefix, SinkGetsTheLineWithoutPrefix) {
  static std::string seen;
  setSink([](Level, std::string_view line, void*) { seen = std::string(line); }, nullptr);
  setStyle(Style::Journal);
  write(Level::Warn, "test_event", {{"k", "v"}});
  setStyle(Style::Plain);
  setSink(nullptr, nullptr);
  EXPECT_EQ(seen, "WARN test_event k=v");
}

}  // namespace
}  // namespace fg::log
