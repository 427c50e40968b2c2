// IpAddress: an IPv4 or IPv6 address as a plain value (no socket headers).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace fg::core {

struct IpAddress {
  // IPv4 addresses are stored in the first 4 bytes, the rest zero.
  std::array<uint8_t, 16> bytes{};
  uint8_t version = 0;  // 0 = none, 4 or 6

  static IpAddress v4(const uint8_t* p) {
    IpAddress a;
    a.version = 4;
    std::memcpy(a.bytes.data(), p, 4);
    return a;
  }
  static IpAddress v6(const uint8_t* p) {
    IpAddress a;
    a.version = 6;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  size_t size() const { return version == 4 ? 4 : 16; }

  std::string toString() const;
  static std::optional<IpAddress> parse(std::string_view text);

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

}  // namespace fg::core
