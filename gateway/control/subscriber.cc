#include "gateway/control/subscriber.h"

#include <algorithm>

#include "gateway/control/protocol.h"

namespace fg::ctl {

bool Subscription::wants(const Event& e) const {
  if (std::find(topics.begin(), topics.end(), e.topic) == topics.end()) return false;
  return filter.matches(e.application, e.src, e.dst, e.rule);
}

SubscriberQueue::SubscriberQueue(size_t max_events, size_t max_bytes, bool notices)
    : max_events_(max_events == 0 ? 1 : max_events), max_bytes_(max_bytes), notices_(notices) {}

void SubscriberQueue::flushMissed() {
  if (pending_missed_ == 0) return;
  lines_.push_back(Line{missedNotice(pending_missed_), true});
  pending_missed_ = 0;
}

bool SubscriberQueue::push(std::string line) {
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  if (events_ + 1 > max_events_ || bytes_ + line.size() > max_bytes_) {
    ++dropped_;
    if (notices_) ++pending_missed_;
    return false;
  }
  flushMissed();
  bytes_ += line.size();
  ++events_;
  lines_.push_back(Line{std::move(line), false});
  return true;
}

std::optional<std::string> SubscriberQueue::pop() {
  if (lines_.empty()) flushMissed();
  if (lines_.empty()) return std::nullopt;
  Line l = std::move(lines_.front());
  lines_.pop_front();
  if (!l.notice) {
    --events_;
    bytes_ -= l.text.size();
    ++delivered_;
  }
  return std::move(l.text);
}

}  // namespace fg::ctl
