// EventQueue<T>: the bounded queue from the workers to the control thread.
//
// Many producers (the packet workers) call tryPush(); one consumer (the
// control thread) calls drain(). tryPush() never blocks, never allocates and
// makes no syscall: when the queue is full the item is dropped and counted
// (dropped()), so packet processing never waits for the control thread.
//
// Choice: a lock-free bounded ring with a sequence number per cell (Dmitry
// Vyukov's bounded MPMC queue, used here with a single consumer), not a
// mutex + ring. A mutex would be fine for the consumer side, but a worker
// preempted while holding it would stall every other worker; with the
// sequence ring a producer only claims its own cell with one CAS. The cost
// is that T must be default-constructible and move-assignable, and the
// capacity is rounded up to a power of two.
//
// Ordering: items of one producer are drained in the order it pushed them
// (positions are claimed in program order). A producer that has claimed a
// cell but not yet published it holds back the consumer at that cell until
// it finishes; drain() then returns what was ready before it.
//
// The consumer has no wakeup: the control thread drains on a short timer
// (e.g. every 20 ms), which costs the workers nothing.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace fg::ctl {

template <typename T>
class EventQueue {
  static_assert(std::is_default_constructible_v<T> && std::is_move_assignable_v<T>);

 public:
  // `capacity` >= 1; rounded up to a power of two (capacity()).
  explicit EventQueue(size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity) - 1), cells_(new Cell[mask_ + 1]) {
    for (size_t i = 0; i <= mask_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Any thread. False (and the item is dropped, counted) when full; `item`
  // is left unchanged then.
  bool tryPush(T& item) { return push(item); }
  bool tryPush(T&& item) { return push(item); }

  // Consumer thread only. Appends up to `max` ready items to `out` in queue
  // order; returns how many.
  size_t drain(std::vector<T>& out, size_t max = SIZE_MAX) {
    size_t n = 0;
    size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    while (n < max) {
      Cell& c = cells_[pos & mask_];
      const size_t seq = c.seq.load(std::memory_order_acquire);
      if (seq != pos + 1) break;  // empty, or a producer has not published yet
      out.push_back(std::move(c.value));
      c.value = T{};  // release what the item owned now, not one lap later
      c.seq.store(pos + mask_ + 1, std::memory_order_release);
      ++pos;
      ++n;
    }
    dequeue_pos_.store(pos, std::memory_order_relaxed);
    return n;
  }

  uint64_t pushed() const { return pushed_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct alignas(64) Cell {
    std::atomic<size_t> seq{0};
    T value{};
  };

  bool push(T& item) {
    size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      const size_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (diff == 0) {
        if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.value = std::move(item);
          c.seq.store(pos + 1, std::memory_order_release);
          pushed_.fetch_add(1, std::memory_order_relaxed);
          return true;
        }
        // pos was reloaded by the failed CAS
      } else if (diff < 0) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;  // full: the consumer has not freed this cell yet
      } else {
        pos = enqueue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  const size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<size_t> enqueue_pos_{0};
  alignas(64) std::atomic<size_t> dequeue_pos_{0};
  alignas(64) std::atomic<uint64_t> pushed_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace fg::ctl
