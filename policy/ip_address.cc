#include "policy/ip_address.h"

#include <charconv>
#include <cstdio>

namespace fg::policy {
namespace {

std::optional<uint32_t> parseV4(std::string_view s) {
  uint32_t out = 0;
  int parts = 0;
  size_t pos = 0;
  while (parts < 4) {
    size_t end = s.find('.', pos);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view part = s.substr(pos, end - pos);
    if (part.empty() || part.size() > 3) return std::nullopt;
    if (part.size() > 1 && part[0] == '0') return std::nullopt;  // no octal ambiguity
    unsigned v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || p != part.data() + part.size() || v > 255) return std::nullopt;
    out = (out << 8) | v;
    ++parts;
    if (end == s.size()) break;
    pos = end + 1;
  }
  if (parts != 4 || pos > s.size()) return std::nullopt;
  // Reject trailing garbage after the fourth part.
  size_t dots = 0;
  for (char c : s) dots += c == '.';
  if (dots != 3) return std::nullopt;
  return out;
}

std::optional<std::array<uint8_t, 16>> parseV6(std::string_view s) {
  std::array<uint16_t, 8> groups{};
  int n = 0;
  int gap = -1;  // index in groups where "::" sits
  size_t i = 0;
  if (s.size() < 2) return std::nullopt;
  if (s[0] == ':') {
    if (s[1] != ':') return std::nullopt;
    gap = 0;
    i = 2;
    if (i == s.size()) return std::array<uint8_t, 16>{};
  }
  while (i < s.size()) {
    if (n >= 8) return std::nullopt;
    size_t end = s.find(':', i);
    if (end == std::string_view::npos) end = s.size();
    std::string_view part = s.substr(i, end - i);
    if (part.find('.') != std::string_view::npos) {
      // Embedded IPv4 tail: must be last and fit two groups.
      if (end != s.size() || n > 6) return std::nullopt;
      auto v4 = parseV4(part);
      if (!v4) return std::nullopt;
      groups[n++] = static_cast<uint16_t>(*v4 >> 16);
      groups[n++] = static_cast<uint16_t>(*v4 & 0xffff);
      i = end;
      break;
    }
    if (part.empty() || part.size() > 4) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v, 16);
    if (ec != std::errc() || p != part.data() + part.size()) return std::nullopt;
    groups[n++] = static_cast<uint16_t>(v);
    if (end == s.size()) {
      i = end;
      break;
    }
    // end points at ':'
    if (end + 1 < s.size() && s[end + 1] == ':') {
      if (gap >= 0) return std::nullopt;  // two "::"
      gap = n;
      i = end + 2;
      if (i == s.size()) break;
    } else {
      if (end + 1 == s.size()) return std::nullopt;  // trailing single ':'
      i = end + 1;
    }
  }
  std::array<uint16_t, 8> full{};
  if (gap >= 0) {
    if (n >= 8) return std::nullopt;  // "::" must stand for at least one group
    for (int k = 0; k < gap; ++k) full[k] = groups[k];
    const int tail = n - gap;
    for (int k = 0; k < tail; ++k) full[8 - tail + k] = groups[gap + k];
  } else {
    if (n != 8) return std::nullopt;
    full = groups;
  }
  std::array<uint8_t, 16> out{};
  for (int k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<uint8_t>(full[k] >> 8);
    out[2 * k + 1] = static_cast<uint8_t>(full[k] & 0xff);
  }
  return out;
}

}  // namespace

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.family = IpFamily::V4;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.family = IpFamily::V6;
  a.bytes = bytes;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    auto b = parseV6(text);
    if (!b) return std::nullopt;
    return v6(*b);
  }
  auto v = parseV4(text);
  if (!v) return std::nullopt;
  return v4(*v);
}

IpAddress IpAddress::masked(int prefix_len) const {
  IpAddress out = *this;
  const int total = bits();
  for (int byte = 0; byte < total / 8; ++byte) {
    const int keep = prefix_len - byte * 8;
    if (keep >= 8) continue;
    if (keep <= 0) {
      out.bytes[byte] = 0;
    } else {
      out.bytes[byte] &= static_cast<uint8_t>(0xff << (8 - keep));
    }
  }
  return out;
}

std::string IpAddress::toString() const {
  char buf[64];
  if (family == IpFamily::V4) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
    return buf;
  }
  if (family != IpFamily::V6) return "";
  uint16_t g[8];
  for (int k = 0; k < 8; ++k) g[k] = static_cast<uint16_t>(bytes[2 * k] << 8 | bytes[2 * k + 1]);
  // RFC 5952: compress the longest run (>= 2) of zero groups, first on ties.
  int best = -1, best_len = 0;
  for (int k = 0; k < 8;) {
    if (g[k] != 0) {
      ++k;
      continue;
    }
    int j = k;
    while (j < 8 && g[j] == 0) ++j;
    if (j - k > best_len && j - k >= 2) {
      best = k;
      best_len = j - k;
    }
    k = j;
  }
  std::string out;
  for (int k = 0; k < 8; ++k) {
    if (k == best) {
      out += "::";
      k += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[k]);
    out += buf;
  }
  return out;
}

size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
  // FNV-1a over the used bytes plus the family.
  uint64_t h = 1469598103934665603ull ^ static_cast<uint8_t>(a.family);
  const int n = a.bits() / 8;
  for (int i = 0; i < n; ++i) {
    h ^= a.bytes[i];
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* why) {
  const size_t slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) {
    if (why) *why = "not an IPv4/IPv6 address";
    return std::nullopt;
  }
  Cidr c;
  c.prefix_len = addr->bits();
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    int v = -1;
    auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), v);
    if (len.empty() || ec != std::errc() || p != len.data() + len.size() || v < 0 ||
        v > addr->bits()) {
      if (why) *why = "prefix length must be 0-" + std::to_string(addr->bits());
      return std::nullopt;
    }
    c.prefix_len = v;
  }
  c.network = addr->masked(c.prefix_len);
  if (c.network != *addr) {
    if (why) *why = "host bits set after the prefix (did you mean " + c.toString() + "?)";
    return std::nullopt;
  }
  return c;
}

bool Cidr::contains(const IpAddress& a) const {
  return a.family == network.family && a.masked(prefix_len) == network;
}

std::string Cidr::toString() const {
  return network.toString() + "/" + std::to_string(prefix_len);
}

}  // namespace fg::policy
