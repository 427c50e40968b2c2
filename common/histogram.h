// Durations in microseconds, counted in log-linear buckets: four buckets per
// power of two (about 19 % wide), from 0 µs to 2^kMaxExp µs (~67 s), the last
// bucket open-ended. Fixed size, no allocation and a handful of instructions
// per value: cheap enough for every queued packet. Percentiles interpolate
// inside a bucket.
//
// `Histogram` belongs to one thread; `SharedHistogram` is what that thread
// publishes for readers on other threads (relaxed atomics, like the
// counters: a reader may see one round's values partly, never torn ones).
//
// Written by hand rather than taken from a library: Debian ships no
// maintained C++ HDR histogram, and this is 100 lines.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace fg {

class Histogram {
 public:
  static constexpr int kMaxExp = 26;
  static constexpr int kBuckets = 4 * (kMaxExp - 1) + 1;

  // The bucket of `us`.
  static constexpr int bucketOf(uint64_t us) {
    if (us < 4) return static_cast<int>(us);
    const int e = 63 - std::countl_zero(us);  // >= 2
    const int i = 4 * (e - 1) + static_cast<int>((us >> (e - 2)) & 3);
    return i < kBuckets ? i : kBuckets - 1;
  }
  // The smallest value of bucket `i` (its upper bound is lowerBound(i + 1)).
  static constexpr uint64_t lowerBound(int i) {
    if (i < 4) return static_cast<uint64_t>(i);
    const int e = i / 4 + 1;
    return static_cast<uint64_t>(4 + i % 4) << (e - 2);
  }

  void record(uint64_t us) {
    ++counts_[bucketOf(us)];
    ++count_;
    sum_ += us;
  }
  void add(const Histogram& o) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
  }

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t bucket(int i) const { return counts_[i]; }
  // Values below `bound` µs: exact when `bound` is a bucket bound (every
  // power of two from 4 on is one), else the buckets wholly below it.
  uint64_t countBelow(uint64_t bound) const {
    uint64_t n = 0;
    for (int i = 0; i + 1 < kBuckets && lowerBound(i + 1) <= bound; ++i) n += counts_[i];
    return n;
  }

  // The q-quantile (0 < q <= 1) in µs, interpolated linearly inside its
  // bucket; 0 when empty.
  double quantile(double q) const {
    if (count_ == 0) return 0;
    const double rank = q * static_cast<double>(count_);
    double seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      if (counts_[i] == 0) continue;
      const double c = static_cast<double>(counts_[i]);
      if (seen + c >= rank) {
        const double lo = static_cast<double>(lowerBound(i));
        const double hi = i + 1 < kBuckets ? static_cast<double>(lowerBound(i + 1)) : lo * 1.25;
        return lo + (hi - lo) * ((rank - seen) / c);
      }
      seen += c;
    }
    return static_cast<double>(lowerBound(kBuckets - 1));
  }

 private:
  friend class SharedHistogram;
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
};

class SharedHistogram {
 public:
  // The owner thread: publish its histogram (cumulative values).
  void publish(const Histogram& h) {
    for (int i = 0; i < Histogram::kBuckets; ++i) counts_[i].store(h.counts_[i], std::memory_order_relaxed);
    count_.store(h.count_, std::memory_order_relaxed);
    sum_.store(h.sum_, std::memory_order_relaxed);
  }
  // Any thread.
  Histogram snapshot() const {
    Histogram h;
    for (int i = 0; i < Histogram::kBuckets; ++i) h.counts_[i] = counts_[i].load(std::memory_order_relaxed);
    h.count_ = count_.load(std::memory_order_relaxed);
    h.sum_ = sum_.load(std::memory_order_relaxed);
    return h;
  }

 private:
  std::array<std::atomic<uint64_t>, Histogram::kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
};

}  // namespace fg
