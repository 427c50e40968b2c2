#include "gateway/core/hint_cache.h"

#include <algorithm>
#include <cstring>

namespace fg::core {
namespace {

constexpr Timestamp kMicrosPerSecond = 1'000'000;

}  // namespace

size_t HintCache::AddrHash::operator()(const IpAddress& a) const noexcept {
  uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  // splitmix64-style finaliser over both halves and the version.
  uint64_t h = hi ^ (lo * 0x9e3779b97f4a7c15ULL) ^ a.version;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<size_t>(h);
}

HintCache::HintCache(HintCacheConfig config) : config_(config) {
  map_.reserve(std::min<size_t>(config_.max_entries, 1 << 16));
}

void HintCache::insert(const IpAddress& addr, std::string_view name, uint32_t ttl_s,
                       Timestamp now) {
  if (config_.max_entries == 0) return;
  const uint32_t ttl = std::min(std::max(ttl_s, config_.min_ttl_s), config_.max_ttl_s);
  const Timestamp expires = now + Timestamp{ttl} * kMicrosPerSecond;
  ++counters_.inserts;
  if (auto it = map_.find(addr); it != map_.end()) {
    ++counters_.refreshes;
    Entry& e = *it->second;
    e.name.assign(name);
    e.expires = expires;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (map_.size() >= config_.max_entries) removeTail(now);
  lru_.push_front(Entry{.addr = addr, .name = std::string(name), .expires = expires});
  map_.emplace(addr, lru_.begin());
}

std::optional<std::string_view> HintCache::lookup(const IpAddress& addr, Timestamp now) {
  const auto it = map_.find(addr);
  if (it == map_.end()) {
    ++counters_.misses;
    return std::nullopt;
  }
  if (now >= it->second->expires) {
    ++counters_.misses;
    ++counters_.expirations;
    lru_.erase(it->second);
    map_.erase(it);
    return std::nullopt;
  }
  ++counters_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return std::string_view(it->second->name);
}

void HintCache::clear() {
  map_.clear();
  lru_.clear();
}

void HintCache::removeTail(Timestamp now) {
  if (lru_.empty()) return;
  const Entry& victim = lru_.back();
  if (now >= victim.expires) {
    ++counters_.expirations;
  } else {
    ++counters_.evictions;
  }
  map_.erase(victim.addr);
  lru_.pop_back();
}

}  // namespace fg::core
