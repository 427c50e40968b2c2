// HintCache: server address -> hostname, learned from DNS responses, so a
// flow's first packet can be matched on the name the client resolved.
//
// What it does: insert(addr, name, ttl_s, now) remembers that `addr` was
// handed out for `name` until now + ttl (the TTL clamped to
// [min_ttl_s, max_ttl_s]); lookup(addr, now) returns the name while it is
// valid. One name per address: the latest insert wins (a CDN address shared
// by several names reports the most recently resolved one). The cache is
// bounded by max_entries and evicts the least recently used entry (inserts
// and hits both count as use). Expired entries are removed lazily: by the
// lookup that finds them, or when they reach the LRU tail on insert.
// Every operation is O(1) on average (unordered_map + std::list LRU).
//
// What it must never do: read a clock (time comes from the caller, like the
// FlowTable), block, or grow beyond max_entries.
// Threading: not thread-safe. One cache per worker, like the flow table.
// Error convention: none; lookups miss, inserts always succeed (by evicting).
#pragma once

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

class HintCache {
 public:
  explicit HintCache(HintCacheConfig config);
  HintCache(const HintCache&) = delete;
  HintCache& operator=(const HintCache&) = delete;

  // Maps `addr` to `name` until now + clamp(ttl_s) seconds. An existing entry
  // for `addr` is replaced (name and expiry) and becomes most recently used.
  // When full, the least recently used entry is removed first.
  void insert(const IpAddress& addr, std::string_view name, uint32_t ttl_s, Timestamp now);

  // The name for `addr` if an entry exists and now < its expiry; the entry
  // becomes most recently used. An expired entry is removed and is a miss.
  // The view stays valid until the next call to insert() or clear().
  std::optional<std::string_view> lookup(const IpAddress& addr, Timestamp now);

  void clear();
  size_t size() const { return map_.size(); }
  const HintCacheConfig& config() const { return config_; }
  const HintCacheCounters& counters() const { return counters_; }

 private:
  struct Entry {
    IpAddress addr;
    std::string name;
    Timestamp expires = 0;  // microseconds, like packet timestamps
  };
  struct AddrHash {
    size_t operator()(const IpAddress& a) const noexcept;
  };
  using Lru = std::list<Entry>;  // front = most recently used

  void removeTail(Timestamp now);

  HintCacheConfig config_;
  HintCacheCounters counters_;
  Lru lru_;
  std::unordered_map<IpAddress, Lru::iterator, AddrHash> map_;
};

}  // namespace fg::core
