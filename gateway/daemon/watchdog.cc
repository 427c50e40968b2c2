#include "gateway/daemon/watchdog.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/log.h"

namespace fg::daemon {
namespace {

template <typename T>
std::optional<T> parseDecimal(const char* s) {
  if (!s || !*s) return std::nullopt;
  T v{};
  const char* end = s + std::strlen(s);
  auto [p, ec] = std::from_chars(s, end, v);
  if (ec != std::errc{} || p != end) return std::nullopt;
  return v;
}

}  // namespace

std::optional<uint64_t> watchdogIntervalUs(const char* watchdog_usec, const char* watchdog_pid, pid_t self) {
  const auto usec = parseDecimal<uint64_t>(watchdog_usec);
  if (!usec || *usec == 0) return std::nullopt;
  if (watchdog_pid && *watchdog_pid) {
    const auto pid = parseDecimal<pid_t>(watchdog_pid);
    if (!pid || *pid != self) return std::nullopt;
  }
  return usec;
}

uint64_t watchdogTickUs(std::optional<uint64_t> interval_us, uint64_t idle_us) {
  if (!interval_us) return idle_us;
  return std::clamp<uint64_t>(*interval_us / 2, 50'000, std::max<uint64_t>(idle_us, 50'000));
}

ProgressCheck::ProgressCheck(size_t workers, uint64_t now_us)
    : workers_(workers, Beat{.value = 0, .moved_us = now_us, .stalled = false}),
      control_{.value = 0, .moved_us = now_us, .stalled = false} {}

bool ProgressCheck::step(Beat& b, int index, uint64_t value, uint64_t now_us, Outcome& out) {
  if (value != b.value) {
    if (b.stalled) out.recovered.push_back({index, now_us - b.moved_us});
    b = Beat{.value = value, .moved_us = now_us, .stalled = false};
    return true;
  }
  if (!b.stalled) {
    b.stalled = true;
    out.stalled.push_back({index, now_us - b.moved_us});
  }
  return false;
}

ProgressCheck::Outcome ProgressCheck::check(std::span<const uint64_t> workers, uint64_t control, uint64_t now_us) {
  Outcome out;
  bool all = workers.size() == workers_.size();
  for (size_t i = 0; i < workers_.size() && i < workers.size(); ++i)
    all = step(workers_[i], static_cast<int>(i), workers[i], now_us, out) && all;
  all = step(control_, kControl, control, now_us, out) && all;
  out.ping = all;
  return out;
}

std::vector<int> ProgressCheck::stalled() const {
  std::vector<int> s;
  for (size_t i = 0; i < workers_.size(); ++i)
    if (workers_[i].stalled) s.push_back(static_cast<int>(i));
  if (control_.stalled) s.push_back(kControl);
  return s;
}

void logProgress(const ProgressCheck::Outcome& out, bool watchdog) {
  const char* pings = watchdog ? "stopped" : "off";
  for (const auto& s : out.stalled) {
    if (s.index == ProgressCheck::kControl)
      log::error("control_stalled", {{"stalled_ms", s.for_us / 1000}, {"watchdog_pings", pings}});
    else
      log::error("worker_stalled", {{"worker", s.index}, {"stalled_ms", s.for_us / 1000}, {"watchdog_pings", pings}});
  }
  for (const auto& s : out.recovered) {
    if (s.index == ProgressCheck::kControl)
      log::warn("control_recovered", {{"stalled_ms", s.for_us / 1000}});
    else
      log::warn("worker_recovered", {{"worker", s.index}, {"stalled_ms", s.for_us / 1000}});
  }
}

}  // namespace fg::daemon
