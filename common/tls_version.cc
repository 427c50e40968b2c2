#include "common/tls_version.h"

#include "common/ascii.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

namespace fg {
namespace {

struct VersionName {
  uint16_t wire;
  std::string_view name;
  int rank;
};

constexpr std::array<VersionName, 9> kVersions{{
    {0x0002, "SSLv2", 1},
    {0x0300, "SSLv3", 2},
    {0x0301, "TLSv1", 3},
    {0x0302, "TLSv1.1", 4},
    {0x0303, "TLSv1.2", 5},
    {0x0304, "TLSv1.3", 6},
    {0xfeff, "DTLSv1.0", 4},
    {0xfefd, "DTLSv1.2", 5},
    {0xfefc, "DTLSv1.3", 6},
}};

}  // namespace

std::string tlsVersionName(uint16_t wire) {
  for (const auto& v : kVersions)
    if (v.wire == wire) return std::string(v.name);
  char buf[16];
  std::snprintf(buf, sizeof buf, "TLS (%04X)", wire);
  return buf;
}

std::optional<uint16_t> parseTlsVersion(std::string_view name) {
  for (const auto& v : kVersions)
    if (iequalsAscii(v.name, name)) return v.wire;
  if (iequalsAscii(name, "TLSv1.0")) return 0x0301;
  if (iequalsAscii(name, "SSLv3.0")) return 0x0300;
  return std::nullopt;
}

int tlsVersionRank(uint16_t wire) {
  for (const auto& v : kVersions)
    if (v.wire == wire) return v.rank;
  return 0;
}

bool tlsVersionDeprecated(uint16_t wire) {
  const int r = tlsVersionRank(wire);
  return r >= 1 && r <= 4;
}

}  // namespace fg
