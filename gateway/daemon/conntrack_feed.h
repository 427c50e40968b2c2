// The conntrack feed: conntrack destroy events and periodic dumps of decided
// connections into Accounting (flow_end events, aggregates), whose events go
// out through the EventRouter.
//
// What it does: open() turns on conntrack accounting and timestamps and
// subscribes to update and destroy events (both optional: without them
// flow_end and aggregates lack the fast path's counters, and a warning says
// so); start() waits for events on the io_context and dumps at every
// aggregate boundary or conntrack_dump_interval, whichever comes first.
// Update events carry no counters: when one says a tracked TCP connection is
// over (Accounting::takeClosing()), kCloseDumpDelay later each such
// connection's conntrack is looked up by its tuple (nl::getConntracks: a
// hash lookup in the kernel, never a table walk) and its counters end the
// flow, within a second of the connection's end rather than after TIME_WAIT. With a stats interval, every interval dumps
// and hands Accounting::stats() (flow_stats) out. finish() (shutdown) dumps
// once more and ends every flow still tracked.
//
// Threading: open() in start-up; everything else on the control thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/daemon/accounting.h"
#include "gateway/daemon/event_router.h"
#include "netlink/conntrack.h"

namespace fg::daemon {

class ConntrackFeed {
 public:
  static constexpr std::chrono::milliseconds kCloseDumpDelay{500};

  ConntrackFeed(boost::asio::io_context& io, Accounting& accounting, EventRouter& events, uint32_t decided_bit,
                uint32_t dump_interval_s, uint32_t stats_interval_s = 0)
      : io_(io), accounting_(accounting), events_(events), decided_bit_(decided_bit),
        dump_interval_s_(dump_interval_s), stats_interval_s_(stats_interval_s), dump_timer_(io), close_timer_(io),
        stats_timer_(io) {}

  void open();
  void start();
  void stop();
  // Shutdown, on the control thread: a last dump, then flow_end for every
  // flow still tracked.
  void finish();
  bool hasEvents() const { return ct_events_.has_value(); }

 private:
  void watch();
  void scheduleDump();
  void dump(int64_t sample_ts, std::optional<int64_t> boundary);
  void scheduleCloseDump();
  void scheduleStats();

  boost::asio::io_context& io_;
  Accounting& accounting_;
  EventRouter& events_;
  const uint32_t decided_bit_;
  const uint32_t dump_interval_s_;
  const uint32_t stats_interval_s_;  // 0: no flow_stats
  std::optional<nl::ConntrackEvents> ct_events_;
  std::optional<boost::asio::posix::stream_descriptor> ct_fd_;
  boost::asio::steady_timer dump_timer_;
  boost::asio::steady_timer close_timer_;
  bool close_pending_ = false;
  boost::asio::steady_timer stats_timer_;
};

}  // namespace fg::daemon
