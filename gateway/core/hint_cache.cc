#include "gateway/core/hint_cache.h"

#include <cstring>

namespace fg::core {

size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
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

}  // namespace fg::core
