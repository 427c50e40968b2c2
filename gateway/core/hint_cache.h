// TtlLruCache: the bounded, expiring lookup cache of first-packet decisions.
//
// TtlLruCache<Key, Value, Hash>: key -> value with a per-entry expiry,
// bounded by max_entries, least recently used evicted (inserts and hits both
// count as use). Expired entries are removed lazily: by the lookup that finds
// them, or when they reach the LRU tail on insert. O(1) on average
// (unordered_map + std::list).
//
// core::Hints keeps its DNS answers ((client, server address) -> name, the
// TTL clamped to [min_ttl_s, max_ttl_s]) and its learned servers in them.
//
// What they must never do: read a clock (time comes from the caller, like
// the FlowTable), block, or grow beyond max_entries.
// Threading: not thread-safe (core::Hints wraps them with a lock).
// Error convention: none; lookups miss, inserts always succeed (by evicting).
#pragma once

#include <algorithm>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/core/ip_address.h"
#include "gateway/core/packet.h"

namespace fg::core {

struct HintCacheConfig {
  size_t max_entries = 65'536;  // 0 disables the cache (inserts are dropped)
  uint32_t min_ttl_s = 60;      // clients keep using addresses past short TTLs
  uint32_t max_ttl_s = 3'600;   // wins over min_ttl_s if they cross
};

struct HintCacheCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;       // includes lookups that found an expired entry
  uint64_t inserts = 0;      // every accepted insert(), refreshes included
  uint64_t refreshes = 0;    // inserts that replaced an existing entry
  uint64_t evictions = 0;    // live entries removed to stay under max_entries
  uint64_t expirations = 0;  // expired entries removed (on lookup or as the LRU victim)
};

struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept;
};

template <typename Key, typename Value, typename Hash>
class TtlLruCache {
 public:
  struct Entry {
    Key key;
    Value value;
    Timestamp expires = 0;  // microseconds, like packet timestamps
  };

  explicit TtlLruCache(HintCacheConfig config) : config_(config) {
    map_.reserve(std::min<size_t>(config_.max_entries, 1 << 16));
  }
  TtlLruCache(const TtlLruCache&) = delete;
  TtlLruCache& operator=(const TtlLruCache&) = delete;

  // Maps `key` to `value` until now + clamp(ttl_s) seconds. An existing
  // entry is replaced (value and expiry) and becomes most recently used.
  // When full, the least recently used entry is removed first.
  void insert(const Key& key, Value value, uint32_t ttl_s, Timestamp now) {
    if (config_.max_entries == 0) return;
    const uint32_t ttl = std::min(std::max(ttl_s, config_.min_ttl_s), config_.max_ttl_s);
    const Timestamp expires = now + Timestamp{ttl} * 1'000'000;
    ++counters_.inserts;
    if (auto it = map_.find(key); it != map_.end()) {
      ++counters_.refreshes;
      it->second->value = std::move(value);
      it->second->expires = expires;
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    if (map_.size() >= config_.max_entries) removeTail(now);
    lru_.push_front(Entry{.key = key, .value = std::move(value), .expires = expires});
    map_.emplace(key, lru_.begin());
  }

  // The entry for `key` if it exists and now < its expiry; it becomes most
  // recently used. An expired entry is removed and is a miss. The pointer
  // stays valid until the next insert() or clear().
  const Entry* lookup(const Key& key, Timestamp now) {
    const auto it = map_.find(key);
    if (it == map_.end()) {
      ++counters_.misses;
      return nullptr;
    }
    if (now >= it->second->expires) {
      ++counters_.misses;
      ++counters_.expirations;
      lru_.erase(it->second);
      map_.erase(it);
      return nullptr;
    }
    ++counters_.hits;
    lru_.splice(lru_.begin(), lru_, it->second);
    return &*it->second;
  }

  // Like lookup() without counting or touching the LRU order (operators'
  // lookups).
  const Entry* peek(const Key& key, Timestamp now) const {
    const auto it = map_.find(key);
    return it == map_.end() || now >= it->second->expires ? nullptr : &*it->second;
  }

  // Every live entry, most recently used first, without touching the LRU
  // order or the counters (for operators' lookups; O(size)).
  template <typename Fn>
  void forEachLive(Timestamp now, Fn&& fn) const {
    for (const Entry& e : lru_)
      if (now < e.expires) fn(e);
  }

  void clear() {
    map_.clear();
    lru_.clear();
  }
  size_t size() const { return map_.size(); }
  const HintCacheConfig& config() const { return config_; }
  const HintCacheCounters& counters() const { return counters_; }

 private:
  using Lru = std::list<Entry>;  // front = most recently used

  void removeTail(Timestamp now) {
    if (lru_.empty()) return;
    const Entry& victim = lru_.back();
    ++(now >= victim.expires ? counters_.expirations : counters_.evictions);
    map_.erase(victim.key);
    lru_.pop_back();
  }

  HintCacheConfig config_;
  HintCacheCounters counters_;
  Lru lru_;
  std::unordered_map<Key, typename Lru::iterator, Hash> map_;
};

}  // namespace fg::core
