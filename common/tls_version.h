// TLS/DTLS protocol versions: wire value <-> nDPI-style names, ordering and
// deprecation (RFC 8996 deprecates TLS 1.0 and 1.1; RFC 7568 SSL 3.0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fg {

// Names use nDPI's spelling so records and policies match nDPI output:
// "SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "DTLSv1.0",
// "DTLSv1.2", "DTLSv1.3"; anything else is "TLS (XXXX)" with the hex value.
std::string tlsVersionName(uint16_t wire);
// Accepts the names above case-insensitively, plus "TLSv1.0" and "SSLv3.0".
std::optional<uint16_t> parseTlsVersion(std::string_view name);
// A security rank for comparisons across TLS and DTLS: SSLv2=1, SSLv3=2,
// TLSv1=3, TLSv1.1/DTLSv1.0=4, TLSv1.2/DTLSv1.2=5, TLSv1.3/DTLSv1.3=6;
// 0 for unknown values.
int tlsVersionRank(uint16_t wire);
// True for SSL 2/3, TLS 1.0, TLS 1.1 and DTLS 1.0.
bool tlsVersionDeprecated(uint16_t wire);

}  // namespace fg
