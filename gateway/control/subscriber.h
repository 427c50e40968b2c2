// Subscriptions: what one subscribed client wants (Subscription) and the
// bounded queue of lines waiting to be written to it (SubscriberQueue).
//
// Pure and single-threaded (the control thread owns both). Nothing here
// blocks: push() either queues the line or drops it and counts the drop.
//
// Backpressure rule: a subscriber's queue holds at most `max_events` event
// lines and `max_bytes` bytes. An event that does not fit is dropped and
// counted. Before the next event that does fit, or when the queue runs dry,
// the subscriber is sent {"event":"missed","count":N} with the number of
// events it lost in that gap, in the position of the gap. Missed notices do
// not count against the limits (there is at most one per gap, so at most one
// per queued event). A subscriber never slows down the publisher or other
// subscribers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "gateway/control/handler.h"

namespace fg::ctl {

struct Subscription {
  std::vector<Topic> topics;
  EventFilter filter;
  bool netify = false;  // deliver Netify-style records (ServerOptions::netify)
  // True when `e` is on one of the topics and passes the filter. Aggregate
  // rows match the address filter by their "address" row key (Event::src).
  bool wants(const Event& e) const;
};

class SubscriberQueue {
 public:
  static constexpr size_t kDefaultMaxEvents = 4096;
  static constexpr size_t kDefaultMaxBytes = 8u << 20;

  // `notices` false: no missed notices (a stream whose framing has no place
  // for them, like the Netify socket's); drops are only counted.
  explicit SubscriberQueue(size_t max_events = kDefaultMaxEvents, size_t max_bytes = kDefaultMaxBytes,
                           bool notices = true);

  // Queues `line` (one JSON line; a '\n' is appended when missing). False
  // when it does not fit: the line is dropped and counted.
  bool push(std::string line);

  // The next line to write (with '\n'), or nullopt when nothing is pending.
  std::optional<std::string> pop();

  bool empty() const { return lines_.empty() && pending_missed_ == 0; }
  size_t queuedEvents() const { return events_; }
  size_t queuedBytes() const { return bytes_; }
  uint64_t dropped() const { return dropped_; }      // all events dropped so far
  uint64_t delivered() const { return delivered_; }  // event lines handed out by pop()

 private:
  struct Line {
    std::string text;
    bool notice = false;
  };
  void flushMissed();

  size_t max_events_, max_bytes_;
  bool notices_ = true;
  std::deque<Line> lines_;
  size_t events_ = 0, bytes_ = 0;
  uint64_t pending_missed_ = 0;  // dropped since the last notice
  uint64_t dropped_ = 0, delivered_ = 0;
};

}  // namespace fg::ctl
