#include "gateway/core/ip_address.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace fg::core {

std::string IpAddress::toString() const {
  char buf[64];
  if (version == 4) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
    return buf;
  }
  if (version != 6) return "";
  // RFC 5952: lower case, longest run (>= 2) of zero groups compressed.
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) { ++i; continue; }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) { best = i; best_len = j - i; }
    i = j;
  }
  // IPv4-mapped ::ffff:a.b.c.d keeps dotted form as in inet_ntop.
  if (best == 0 && best_len == 5 && g[5] == 0xffff) {
    std::snprintf(buf, sizeof buf, "::ffff:%u.%u.%u.%u", bytes[12], bytes[13], bytes[14], bytes[15]);
    return buf;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[i]);
    out += buf;
  }
  return out;
}

namespace {

std::optional<IpAddress> parseV4(std::string_view s) {
  uint8_t b[4];
  for (int i = 0; i < 4; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || v > 255 || p == s.data() || (p - s.data()) > 3) return std::nullopt;
    b[i] = static_cast<uint8_t>(v);
    s.remove_prefix(static_cast<size_t>(p - s.data()));
    if (i < 3) {
      if (s.empty() || s[0] != '.') return std::nullopt;
      s.remove_prefix(1);
    }
  }
  if (!s.empty()) return std::nullopt;
  return IpAddress::v4(b);
}

std::optional<IpAddress> parseV6(std::string_view s) {
  std::vector<uint16_t> head, tail;
  bool seen_gap = false;
  uint8_t v4tail[4];
  bool has_v4 = false;
  if (s.starts_with("::")) {
    seen_gap = true;
    s.remove_prefix(2);
  }
  while (!s.empty()) {
    auto colon = s.find(':');
    std::string_view part = s.substr(0, colon);
    if (part.find('.') != std::string_view::npos) {
      if (colon != std::string_view::npos) return std::nullopt;
      auto v4 = parseV4(part);
      if (!v4) return std::nullopt;
      std::memcpy(v4tail, v4->bytes.data(), 4);
      has_v4 = true;
      break;
    }
    if (part.empty() || part.size() > 4) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v, 16);
    if (ec != std::errc() || p != part.data() + part.size()) return std::nullopt;
    (seen_gap ? tail : head).push_back(static_cast<uint16_t>(v));
    if (colon == std::string_view::npos) break;
    s.remove_prefix(colon + 1);
    if (s.starts_with(":")) {
      if (seen_gap) return std::nullopt;
      seen_gap = true;
      s.remove_prefix(1);
    } else if (s.empty()) {
      return std::nullopt;
    }
  }
  size_t groups = head.size() + tail.size() + (has_v4 ? 2 : 0);
  if (groups > 8 || (!seen_gap && groups != 8) || (seen_gap && groups == 8)) return std::nullopt;
  IpAddress a;
  a.version = 6;
  size_t i = 0;
  for (auto g : head) { a.bytes[i++] = static_cast<uint8_t>(g >> 8); a.bytes[i++] = static_cast<uint8_t>(g); }
  size_t tail_bytes = tail.size() * 2 + (has_v4 ? 4 : 0);
  i = 16 - tail_bytes;
  for (auto g : tail) { a.bytes[i++] = static_cast<uint8_t>(g >> 8); a.bytes[i++] = static_cast<uint8_t>(g); }
  if (has_v4) std::memcpy(&a.bytes[i], v4tail, 4);
  return a;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return parseV6(text);
  return parseV4(text);
}

}  // namespace fg::core
