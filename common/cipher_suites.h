// TLS cipher suite registry and flowgate's own strength classification.
//
// Pure data, no dependencies. The names are the IANA "TLS Cipher Suites"
// registry names (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). Strength is
// flowgate's table, deliberately stricter than nDPI 4.2's (which calls NULL
// and EXPORT suites "safe"):
//   insecure: NULL encryption, anonymous key exchange, EXPORT, RC4, single DES,
//             MD5 MACs
//   weak:     3DES, IDEA, SEED; static RSA or static (EC)DH key exchange;
//             CBC (MAC-then-encrypt) suites; i.e. anything not forward-secret AEAD
//   strong:   forward-secret AEAD suites (ECDHE/DHE with GCM, CCM, ChaCha20-
//             Poly1305) and the TLS 1.3 suites.
// See docs/cipher-strength.md for the sources and the reasoning.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace fg {

enum class CipherStrength : uint8_t { Unknown, Insecure, Weak, Strong };

struct CipherSuite {
  uint16_t id;
  std::string_view name;
  CipherStrength strength;
};

// nullptr when the id is not an assigned IANA suite (or a GREASE value).
const CipherSuite* findCipherSuite(uint16_t id);
// Case-insensitive lookup by IANA name; nullptr when unknown.
const CipherSuite* findCipherSuite(std::string_view iana_name);
// Every suite in the table, ordered by id.
std::span<const CipherSuite> allCipherSuites();

std::string_view toString(CipherStrength s);  // "unknown", "insecure", "weak", "strong"
std::optional<CipherStrength> parseCipherStrength(std::string_view s);

}  // namespace fg
