// The systemd watchdog, fed only while the daemon makes progress.
//
// systemd asks for keep-alive pings (`WATCHDOG=1` over $NOTIFY_SOCKET) by
// setting WATCHDOG_USEC (and WATCHDOG_PID, the process meant). The daemon's
// main thread checks progress every watchdogTick() and pings only when every
// worker's heartbeat (bumped once per receive round, so at least every
// ~100 ms even when idle) and the control thread's heartbeat (bumped by a
// task posted to its io_context) moved since the previous check. A hung
// worker therefore stops the pings, and systemd restarts the service after
// WatchdogSec instead of the gateway failing open silently forever.
//
// ProgressCheck is the pure decision (no clock, no threads, no systemd): the
// caller passes the heartbeats and the time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace fg::daemon {

// The watchdog interval systemd asks for, like sd_watchdog_enabled(): the
// value of WATCHDOG_USEC (microseconds, > 0) when WATCHDOG_PID is unset or
// names `self`; nullopt otherwise (no watchdog, or one meant for another
// process, or a malformed value).
std::optional<uint64_t> watchdogIntervalUs(const char* watchdog_usec, const char* watchdog_pid, pid_t self);

// How often the main thread checks progress (and pings when all is well):
// half the watchdog interval, at most `idle_us` (the main loop's own wake-up,
// 1 s), at least 50 ms.
uint64_t watchdogTickUs(std::optional<uint64_t> interval_us, uint64_t idle_us = 1'000'000);

class ProgressCheck {
 public:
  // Index of the control thread in a Stall.
  static constexpr int kControl = -1;

  struct Stall {
    int index = 0;           // worker index, or kControl
    uint64_t for_us = 0;     // time since its heartbeat last moved
    bool operator==(const Stall&) const = default;
  };
  struct Outcome {
    bool ping = false;              // every heartbeat moved: WATCHDOG=1
    std::vector<Stall> stalled;     // stopped making progress at this check (log once)
    std::vector<Stall> recovered;   // moved again after a stall (for_us: how long it was stuck)
  };

  // `workers`: how many worker heartbeats each check passes.
  ProgressCheck(size_t workers, uint64_t now_us);

  // One check. `workers[i]` is worker i's heartbeat, `control` the control
  // thread's. The first check compares against the values at construction
  // (zero): a worker that never ran a round is stalled.
  Outcome check(std::span<const uint64_t> workers, uint64_t control, uint64_t now_us);

  // Threads currently considered stalled (worker indexes, kControl).
  std::vector<int> stalled() const;

 private:
  struct Beat {
    uint64_t value = 0;
    uint64_t moved_us = 0;  // when it last moved (or construction)
    bool stalled = false;
  };
  bool step(Beat& b, int index, uint64_t value, uint64_t now_us, Outcome& out);

  std::vector<Beat> workers_;
  Beat control_;
};

// Logs the threads a check found stalled (error, once) or recovered (warn);
// `watchdog` says whether pings to systemd are on (they stop while stalled).
void logProgress(const ProgressCheck::Outcome& out, bool watchdog);

}  // namespace fg::daemon
