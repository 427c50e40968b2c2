#include "gateway/daemon/conntrack_feed.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "gateway/core/clock.h"
#include "common/log.h"

namespace fg::daemon {

namespace {

int64_t nowUs() { return core::SystemClock().now(); }

}  // namespace

void ConntrackFeed::open() {
  // Conntrack accounting: counters for the packets of the fast path.
  // Events first, so every flow created from now on reports its end.
  if (auto acct = nl::ensureAccounting(); !acct) {
    log::warn("conntrack_accounting_unavailable", {{"error", acct.error().message()}});
  } else if (*acct) {
    log::info("conntrack_accounting_enabled", {{"note", "counts conntracks created from now on"}});
  }
  (void)nl::ensureTimestamps();
  auto ev = nl::ConntrackEvents::open(nl::ConntrackEvents::Options{.groups = nl::ConntrackEvents::kUpdate | nl::ConntrackEvents::kDestroy,
                                                                    .rcvbuf = nl::ConntrackEvents::kDefaultRcvbuf});
  if (!ev) log::warn("conntrack_events_unavailable", {{"error", ev.error().message()}});
  else ct_events_.emplace(std::move(*ev));
}

void ConntrackFeed::start() {
  watch();
  scheduleDump();
  scheduleStats();
}

void ConntrackFeed::stop() {
  dump_timer_.cancel();
  close_timer_.cancel();
  stats_timer_.cancel();
  if (ct_fd_) ct_fd_->close();
}

void ConntrackFeed::finish() {
  dump(nowUs(), std::nullopt);
  for (const ctl::Event& e : accounting_.endAll(nowUs())) events_.emit(e);
}

void ConntrackFeed::scheduleCloseDump() {
  if (close_pending_) return;
  close_pending_ = true;
  // A moment's delay: the last ACK of the close passes, and every close
  // in the window shares one dump.
  close_timer_.expires_after(kCloseDumpDelay);
  close_timer_.async_wait([this](const boost::system::error_code& ec) {
    close_pending_ = false;
    if (ec) return;
    // Each closing connection's conntrack by its tuple (a hash lookup, no
    // table walk): its counters and state end the flow.
    events_.drain();
    std::vector<ctl::Event> ended;
    const int64_t now = nowUs();
    auto n = nl::getConntracks(accounting_.takeClosing(), [&](const nl::CtEntry& e) {
      if (auto ev = accounting_.onConntrack(e, now)) ended.push_back(std::move(*ev));
    });
    if (!n) log::warn("conntrack_get_failed", {{"error", n.error().message()}});
    for (const ctl::Event& e : ended) events_.emit(e);
  });
}

void ConntrackFeed::scheduleStats() {
  if (stats_interval_s_ == 0) return;
  stats_timer_.expires_after(std::chrono::seconds(stats_interval_s_));
  stats_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    dump(nowUs(), std::nullopt);  // fresh counters
    for (const ctl::Event& e : accounting_.stats(nowUs())) events_.emit(e);
    scheduleStats();
  });
}

void ConntrackFeed::watch() {
  if (!ct_events_) return;
  if (!ct_fd_) ct_fd_.emplace(io_, ::dup(ct_events_->fd()));
  ct_fd_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;
    events_.drain();  // a destroy must find the flow's decision
    auto got = ct_events_->poll(0, [this](const nl::CtEntry& e) {
      if (auto ev = accounting_.onConntrack(e, nowUs())) events_.emit(*ev);
    });
    if (!got) log::warn("conntrack_events_failed", {{"error", got.error().message()}});
    if (ct_events_->takeOverflow()) dump(nowUs(), std::nullopt);  // resync
    if (accounting_.hasClosing()) scheduleCloseDump();
    watch();
  });
}

void ConntrackFeed::dump(int64_t sample_ts, std::optional<int64_t> boundary) {
  events_.drain();
  const nl::CtMarkFilter decided{.value = decided_bit_, .mask = decided_bit_};
  // Entries of connections that are over end their flows (Accounting).
  std::vector<ctl::Event> ended;
  auto n = nl::dumpConntrack(std::nullopt, decided, [&](const nl::CtEntry& e) {
    if (auto ev = accounting_.onConntrack(e, sample_ts)) ended.push_back(std::move(*ev));
  });
  for (const ctl::Event& e : ended) events_.emit(e);
  if (!n) log::warn("conntrack_dump_failed", {{"error", n.error().message()}});
  if (boundary)
    for (const ctl::AggregateRow& row : accounting_.close(*boundary)) events_.emit(row.toEvent());
}

void ConntrackFeed::scheduleDump() {
  // Wake at the next aggregate boundary or after conntrack_dump_interval,
  // whichever comes first. The dump refreshes long flows' counters and makes
  // the kernel reap expired conntracks (their destroy events follow).
  const int64_t now = nowUs();
  const int64_t boundary = accounting_.nextBoundary(now);
  const int64_t periodic = now + static_cast<int64_t>(dump_interval_s_) * 1'000'000;
  const int64_t at = std::min(boundary, periodic);
  dump_timer_.expires_after(std::chrono::microseconds(std::max<int64_t>(at - now, 1000)));
  dump_timer_.async_wait([this, at, boundary](const boost::system::error_code& ec) {
    if (ec) return;
    const bool at_boundary = at == boundary;
    dump(at_boundary ? boundary : nowUs(), at_boundary ? std::optional<int64_t>(boundary) : std::nullopt);
    scheduleDump();
  });
}

}  // namespace fg::daemon
