// The conntrack feed: conntrack destroy events and periodic dumps of decided
// connections into Accounting (flow_end events, aggregates), whose events go
// out through the EventRouter.
//
// What it does: open() turns on conntrack accounting and timestamps and
// subscribes to destroy events (both optional: without them flow_end and
// aggregates lack the fast path's counters, and a warning says so); start()
// waits for events on the io_context and dumps at every aggregate boundary
// or conntrack_dump_interval, whichever comes first.
//
// Threading: open() in start-up; everything else on the control thread.
#pragma once

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
  ConntrackFeed(boost::asio::io_context& io, Accounting& accounting, EventRouter& events, uint32_t decided_bit,
                uint32_t dump_interval_s)
      : io_(io), accounting_(accounting), events_(events), decided_bit_(decided_bit),
        dump_interval_s_(dump_interval_s), dump_timer_(io) {}

  void open();
  void start();
  void stop();
  bool hasEvents() const { return ct_events_.has_value(); }

 private:
  void watch();
  void scheduleDump();
  void dump(int64_t sample_ts, std::optional<int64_t> boundary);

  boost::asio::io_context& io_;
  Accounting& accounting_;
  EventRouter& events_;
  const uint32_t decided_bit_;
  const uint32_t dump_interval_s_;
  std::optional<nl::ConntrackEvents> ct_events_;
  std::optional<boost::asio::posix::stream_descriptor> ct_fd_;
  boost::asio::steady_timer dump_timer_;
};

}  // namespace fg::daemon
