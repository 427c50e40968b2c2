// IpAddress and Cidr: small IPv4/IPv6 value types for policy matching.
//
// Pure (no socket headers). Addresses are stored as 16 bytes; IPv4 uses the
// first 4. Parsing accepts dotted quads and RFC 4291 text (with "::"),
// including IPv4-embedded tails ("::ffff:1.2.3.4"). Formatting is RFC 5952.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fg::policy {

enum class IpFamily : uint8_t { None, V4, V6 };

struct IpAddress {
  IpFamily family = IpFamily::None;
  std::array<uint8_t, 16> bytes{};

  static IpAddress v4(uint32_t host_order);
  static IpAddress v6(const std::array<uint8_t, 16>& bytes);
  // nullopt on any syntax error; no surrounding whitespace or brackets allowed.
  static std::optional<IpAddress> parse(std::string_view text);

  bool valid() const { return family != IpFamily::None; }
  int bits() const { return family == IpFamily::V4 ? 32 : family == IpFamily::V6 ? 128 : 0; }
  // Copy with every bit after the first `prefix_len` cleared.
  IpAddress masked(int prefix_len) const;
  std::string toString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept;
};

struct Cidr {
  IpAddress network;  // already masked
  int prefix_len = 0;

  // "10.0.0.0/8", "2001:db8::/32" or a bare address (host prefix). Rejects
  // host bits set after the prefix ("10.0.0.1/8") so typos are not silently
  // widened; the error text says why.
  static std::optional<Cidr> parse(std::string_view text, std::string* why = nullptr);
  bool contains(const IpAddress& a) const;
  std::string toString() const;

  friend bool operator==(const Cidr&, const Cidr&) = default;
};

}  // namespace fg::policy
