// Clocks for the pipeline. Expiry is driven by the time the caller supplies:
// offline the capture's packet timestamps (ManualClock, advanced by the
// reader), inline the system clock.
#pragma once

#include <chrono>

#include "gateway/core/packet.h"

namespace fg::core {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class ManualClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  // Never moves backwards (capture timestamps sometimes do).
  void advanceTo(Timestamp t) {
    if (t > now_) now_ = t;
  }

 private:
  Timestamp now_ = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace fg::core
