#include "common/cipher_suites.h"

#include "common/ascii.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace fg {

// The strength rule applied to one IANA name (see classify() below). Not in
// the public header: it exists so the unit test can check the rule directly.
CipherStrength classifyCipherSuiteName(std::string_view iana_name);

namespace {

constexpr CipherStrength kUnknown = CipherStrength::Unknown;
constexpr CipherStrength kInsecure = CipherStrength::Insecure;
constexpr CipherStrength kWeak = CipherStrength::Weak;
constexpr CipherStrength kStrong = CipherStrength::Strong;

// <0, 0, >0 like strcmp, ignoring ASCII case.
constexpr int compareNoCase(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const char x = lowerAscii(a[i]);
    const char y = lowerAscii(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

constexpr bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// flowgate's strength rule, from the IANA name alone. A name is read as
// TLS_<key exchange>_WITH_<cipher>_<mac>; TLS 1.3-style names
// (TLS_<aead>_<hash>, no _WITH_) carry no key exchange. Checks run in order:
//   unknown:  signalling values (*_SCSV) and names not starting with TLS_.
//   insecure: anonymous key exchange (_anon_), EXPORT, NULL cipher (WITH_NULL
//             and the integrity-only TLS_SHA256_SHA256 / TLS_SHA384_SHA384),
//             RC4, RC2 (export only), single DES (DES_CBC, DES40), MD5 MAC.
//   weak:     3DES_EDE, IDEA, SEED.
//   strong:   forward-secret key exchange (ECDHE_*, DHE_*, PSK_DHE, ECCPWD)
//             with an AEAD cipher (GCM, CCM, CCM_8, CHACHA20_POLY1305); and the
//             RFC 8446 TLS 1.3 suites (AES-GCM, AES-CCM, ChaCha20-Poly1305).
//   weak:     everything else: static RSA, static (EC)DH, plain and RSA PSK,
//             SRP, KRB5, GOST, any CBC suite, and TLS 1.3-style suites outside
//             RFC 8446 (SM4, AEGIS).
constexpr CipherStrength classify(std::string_view name) {
  if (name.ends_with("_SCSV") || !name.starts_with("TLS_")) return kUnknown;
  const std::string_view body = name.substr(4);
  std::string_view kx;
  std::string_view bulk = body;
  if (const auto pos = body.find("_WITH_"); pos != std::string_view::npos) {
    kx = body.substr(0, pos);
    bulk = body.substr(pos + 6);
  }
  const bool null_cipher =
      bulk.starts_with("NULL") || (kx.empty() && bulk.starts_with("SHA"));
  if (contains(kx, "_anon") || contains(name, "EXPORT") || null_cipher ||
      contains(bulk, "RC4") || contains(bulk, "RC2") ||
      contains(bulk, "DES_CBC") || contains(bulk, "DES40") ||
      name.ends_with("_MD5")) {
    return kInsecure;
  }
  if (contains(bulk, "3DES_EDE") || contains(bulk, "IDEA") ||
      contains(bulk, "SEED")) {
    return kWeak;
  }
  const bool aead = contains(bulk, "_GCM") || contains(bulk, "_CCM") ||
                    contains(bulk, "CHACHA20_POLY1305");
  if (kx.empty()) {
    const bool rfc8446 =
        bulk.starts_with("AES_") || bulk.starts_with("CHACHA20_POLY1305");
    return aead && rfc8446 ? kStrong : kWeak;
  }
  const bool forward_secret = kx.starts_with("ECDHE_") ||
                              kx.starts_with("DHE_") || kx == "PSK_DHE" ||
                              kx == "ECCPWD";
  return forward_secret && aead ? kStrong : kWeak;
}

// Every assigned value of the IANA "TLS Cipher Suites" registry
// (tls-parameters-4), ordered by id, with the IANA name verbatim. Omitted:
// reserved/unassigned ranges, the GREASE values (RFC 8701) and private use
// (0xFFxx). The strength column is written out for readers and checked
// against classify() at compile time below.
constexpr CipherSuite kSuites[] = {
    {0x0000, "TLS_NULL_WITH_NULL_NULL", kInsecure},
    {0x0001, "TLS_RSA_WITH_NULL_MD5", kInsecure},
    {0x0002, "TLS_RSA_WITH_NULL_SHA", kInsecure},
    {0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", kInsecure},
    {0x0004, "TLS_RSA_WITH_RC4_128_MD5", kInsecure},
    {0x0005, "TLS_RSA_WITH_RC4_128_SHA", kInsecure},
    {0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", kInsecure},
    {0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", kWeak},
    {0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", kInsecure},
    {0x0009, "TLS_RSA_WITH_DES_CBC_SHA", kInsecure},
    {0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x000B, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA", kInsecure},
    {0x000C, "TLS_DH_DSS_WITH_DES_CBC_SHA", kInsecure},
    {0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x000E, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA", kInsecure},
    {0x000F, "TLS_DH_RSA_WITH_DES_CBC_SHA", kInsecure},
    {0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", kInsecure},
    {0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA", kInsecure},
    {0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", kInsecure},
    {0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", kInsecure},
    {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", kInsecure},
    {0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", kInsecure},
    {0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", kInsecure},
    {0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA", kInsecure},
    {0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", kInsecure},
    {0x001E, "TLS_KRB5_WITH_DES_CBC_SHA", kInsecure},
    {0x001F, "TLS_KRB5_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x0020, "TLS_KRB5_WITH_RC4_128_SHA", kInsecure},
    {0x0021, "TLS_KRB5_WITH_IDEA_CBC_SHA", kWeak},
    {0x0022, "TLS_KRB5_WITH_DES_CBC_MD5", kInsecure},
    {0x0023, "TLS_KRB5_WITH_3DES_EDE_CBC_MD5", kInsecure},
    {0x0024, "TLS_KRB5_WITH_RC4_128_MD5", kInsecure},
    {0x0025, "TLS_KRB5_WITH_IDEA_CBC_MD5", kInsecure},
    {0x0026, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA", kInsecure},
    {0x0027, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA", kInsecure},
    {0x0028, "TLS_KRB5_EXPORT_WITH_RC4_40_SHA", kInsecure},
    {0x0029, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5", kInsecure},
    {0x002A, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5", kInsecure},
    {0x002B, "TLS_KRB5_EXPORT_WITH_RC4_40_MD5", kInsecure},
    {0x002C, "TLS_PSK_WITH_NULL_SHA", kInsecure},
    {0x002D, "TLS_DHE_PSK_WITH_NULL_SHA", kInsecure},
    {0x002E, "TLS_RSA_PSK_WITH_NULL_SHA", kInsecure},
    {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", kWeak},
    {0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA", kWeak},
    {0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA", kWeak},
    {0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", kWeak},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", kWeak},
    {0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", kInsecure},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", kWeak},
    {0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA", kWeak},
    {0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA", kWeak},
    {0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", kWeak},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", kWeak},
    {0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA", kInsecure},
    {0x003B, "TLS_RSA_WITH_NULL_SHA256", kInsecure},
    {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", kWeak},
    {0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", kWeak},
    {0x003E, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256", kWeak},
    {0x003F, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256", kWeak},
    {0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", kWeak},
    {0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", kWeak},
    {0x0042, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA", kWeak},
    {0x0043, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA", kWeak},
    {0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA", kWeak},
    {0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", kWeak},
    {0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA", kInsecure},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", kWeak},
    {0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256", kWeak},
    {0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256", kWeak},
    {0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", kWeak},
    {0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", kWeak},
    {0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", kInsecure},
    {0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", kInsecure},
    {0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", kWeak},
    {0x0085, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA", kWeak},
    {0x0086, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA", kWeak},
    {0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA", kWeak},
    {0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", kWeak},
    {0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA", kInsecure},
    {0x008A, "TLS_PSK_WITH_RC4_128_SHA", kInsecure},
    {0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", kWeak},
    {0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA", kWeak},
    {0x008E, "TLS_DHE_PSK_WITH_RC4_128_SHA", kInsecure},
    {0x008F, "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", kWeak},
    {0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", kWeak},
    {0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA", kInsecure},
    {0x0093, "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", kWeak},
    {0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", kWeak},
    {0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", kWeak},
    {0x0097, "TLS_DH_DSS_WITH_SEED_CBC_SHA", kWeak},
    {0x0098, "TLS_DH_RSA_WITH_SEED_CBC_SHA", kWeak},
    {0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA", kWeak},
    {0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA", kWeak},
    {0x009B, "TLS_DH_anon_WITH_SEED_CBC_SHA", kInsecure},
    {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", kWeak},
    {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", kWeak},
    {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", kStrong},
    {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", kStrong},
    {0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", kWeak},
    {0x00A1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384", kWeak},
    {0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", kStrong},
    {0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", kStrong},
    {0x00A4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256", kWeak},
    {0x00A5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384", kWeak},
    {0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", kInsecure},
    {0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", kInsecure},
    {0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", kWeak},
    {0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", kWeak},
    {0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", kStrong},
    {0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", kStrong},
    {0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", kWeak},
    {0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", kWeak},
    {0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", kWeak},
    {0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", kWeak},
    {0x00B0, "TLS_PSK_WITH_NULL_SHA256", kInsecure},
    {0x00B1, "TLS_PSK_WITH_NULL_SHA384", kInsecure},
    {0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", kWeak},
    {0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384", kWeak},
    {0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256", kInsecure},
    {0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384", kInsecure},
    {0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", kWeak},
    {0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384", kWeak},
    {0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256", kInsecure},
    {0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384", kInsecure},
    {0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0x00BB, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0x00BC, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0x00BD, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0x00BF, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256", kInsecure},
    {0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256", kWeak},
    {0x00C1, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256", kWeak},
    {0x00C2, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256", kWeak},
    {0x00C3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256", kWeak},
    {0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256", kWeak},
    {0x00C5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256", kInsecure},
    {0x00C6, "TLS_SM4_GCM_SM3", kWeak},
    {0x00C7, "TLS_SM4_CCM_SM3", kWeak},
    {0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", kUnknown},
    {0x1301, "TLS_AES_128_GCM_SHA256", kStrong},
    {0x1302, "TLS_AES_256_GCM_SHA384", kStrong},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", kStrong},
    {0x1304, "TLS_AES_128_CCM_SHA256", kStrong},
    {0x1305, "TLS_AES_128_CCM_8_SHA256", kStrong},
    {0x1306, "TLS_AEGIS_256_SHA512", kWeak},
    {0x1307, "TLS_AEGIS_128L_SHA256", kWeak},
    {0x5600, "TLS_FALLBACK_SCSV", kUnknown},
    {0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA", kInsecure},
    {0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", kInsecure},
    {0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", kWeak},
    {0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", kWeak},
    {0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", kInsecure},
    {0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", kInsecure},
    {0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", kWeak},
    {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", kWeak},
    {0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA", kInsecure},
    {0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA", kInsecure},
    {0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", kWeak},
    {0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", kWeak},
    {0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA", kInsecure},
    {0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", kInsecure},
    {0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", kWeak},
    {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", kWeak},
    {0xC015, "TLS_ECDH_anon_WITH_NULL_SHA", kInsecure},
    {0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA", kInsecure},
    {0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", kInsecure},
    {0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", kInsecure},
    {0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", kInsecure},
    {0xC01A, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0xC01B, "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0xC01C, "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0xC01D, "TLS_SRP_SHA_WITH_AES_128_CBC_SHA", kWeak},
    {0xC01E, "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA", kWeak},
    {0xC01F, "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA", kWeak},
    {0xC020, "TLS_SRP_SHA_WITH_AES_256_CBC_SHA", kWeak},
    {0xC021, "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA", kWeak},
    {0xC022, "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA", kWeak},
    {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", kWeak},
    {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", kWeak},
    {0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", kWeak},
    {0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", kWeak},
    {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", kWeak},
    {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", kWeak},
    {0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", kWeak},
    {0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", kWeak},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", kStrong},
    {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", kStrong},
    {0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", kWeak},
    {0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", kWeak},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", kStrong},
    {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", kStrong},
    {0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", kWeak},
    {0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", kWeak},
    {0xC033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA", kInsecure},
    {0xC034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA", kWeak},
    {0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", kWeak},
    {0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", kWeak},
    {0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", kWeak},
    {0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", kWeak},
    {0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA", kInsecure},
    {0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256", kInsecure},
    {0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384", kInsecure},
    {0xC03C, "TLS_RSA_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC03D, "TLS_RSA_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC03E, "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC03F, "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC040, "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC041, "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC042, "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC043, "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC044, "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC045, "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC046, "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256", kInsecure},
    {0xC047, "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384", kInsecure},
    {0xC048, "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC049, "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC04A, "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC04B, "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC04C, "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC04D, "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC04E, "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC04F, "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256", kWeak},
    {0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384", kWeak},
    {0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256", kStrong},
    {0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384", kStrong},
    {0xC054, "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256", kWeak},
    {0xC055, "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384", kWeak},
    {0xC056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256", kStrong},
    {0xC057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384", kStrong},
    {0xC058, "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256", kWeak},
    {0xC059, "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384", kWeak},
    {0xC05A, "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256", kInsecure},
    {0xC05B, "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384", kInsecure},
    {0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", kStrong},
    {0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384", kStrong},
    {0xC05E, "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256", kWeak},
    {0xC05F, "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384", kWeak},
    {0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", kStrong},
    {0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384", kStrong},
    {0xC062, "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256", kWeak},
    {0xC063, "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384", kWeak},
    {0xC064, "TLS_PSK_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC065, "TLS_PSK_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC066, "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC067, "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC068, "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC069, "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC06A, "TLS_PSK_WITH_ARIA_128_GCM_SHA256", kWeak},
    {0xC06B, "TLS_PSK_WITH_ARIA_256_GCM_SHA384", kWeak},
    {0xC06C, "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256", kStrong},
    {0xC06D, "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384", kStrong},
    {0xC06E, "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256", kWeak},
    {0xC06F, "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384", kWeak},
    {0xC070, "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256", kWeak},
    {0xC071, "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384", kWeak},
    {0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", kWeak},
    {0xC074, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0xC075, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", kWeak},
    {0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384", kWeak},
    {0xC078, "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0xC079, "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384", kWeak},
    {0xC07A, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256", kWeak},
    {0xC07B, "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384", kWeak},
    {0xC07C, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", kStrong},
    {0xC07D, "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", kStrong},
    {0xC07E, "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256", kWeak},
    {0xC07F, "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384", kWeak},
    {0xC080, "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256", kStrong},
    {0xC081, "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384", kStrong},
    {0xC082, "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256", kWeak},
    {0xC083, "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384", kWeak},
    {0xC084, "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256", kInsecure},
    {0xC085, "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384", kInsecure},
    {0xC086, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", kStrong},
    {0xC087, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", kStrong},
    {0xC088, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", kWeak},
    {0xC089, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", kWeak},
    {0xC08A, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", kStrong},
    {0xC08B, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", kStrong},
    {0xC08C, "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256", kWeak},
    {0xC08D, "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384", kWeak},
    {0xC08E, "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256", kWeak},
    {0xC08F, "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384", kWeak},
    {0xC090, "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256", kStrong},
    {0xC091, "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384", kStrong},
    {0xC092, "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256", kWeak},
    {0xC093, "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384", kWeak},
    {0xC094, "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0xC095, "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384", kWeak},
    {0xC096, "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0xC097, "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", kWeak},
    {0xC098, "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0xC099, "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384", kWeak},
    {0xC09A, "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", kWeak},
    {0xC09B, "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", kWeak},
    {0xC09C, "TLS_RSA_WITH_AES_128_CCM", kWeak},
    {0xC09D, "TLS_RSA_WITH_AES_256_CCM", kWeak},
    {0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", kStrong},
    {0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", kStrong},
    {0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", kWeak},
    {0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", kWeak},
    {0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", kStrong},
    {0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", kStrong},
    {0xC0A4, "TLS_PSK_WITH_AES_128_CCM", kWeak},
    {0xC0A5, "TLS_PSK_WITH_AES_256_CCM", kWeak},
    {0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM", kStrong},
    {0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM", kStrong},
    {0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", kWeak},
    {0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8", kWeak},
    {0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", kStrong},
    {0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8", kStrong},
    {0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", kStrong},
    {0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", kStrong},
    {0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", kStrong},
    {0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", kStrong},
    {0xC0B0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256", kStrong},
    {0xC0B1, "TLS_ECCPWD_WITH_AES_256_GCM_SHA384", kStrong},
    {0xC0B2, "TLS_ECCPWD_WITH_AES_128_CCM_SHA256", kStrong},
    {0xC0B3, "TLS_ECCPWD_WITH_AES_256_CCM_SHA384", kStrong},
    {0xC0B4, "TLS_SHA256_SHA256", kInsecure},
    {0xC0B5, "TLS_SHA384_SHA384", kInsecure},
    {0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC", kWeak},
    {0xC101, "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC", kWeak},
    {0xC102, "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT", kWeak},
    {0xC103, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L", kWeak},
    {0xC104, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L", kWeak},
    {0xC105, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S", kWeak},
    {0xC106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", kWeak},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", kStrong},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", kStrong},
    {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", kStrong},
    {0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", kWeak},
    {0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", kStrong},
    {0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", kStrong},
    {0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", kWeak},
    {0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", kStrong},
    {0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", kStrong},
    {0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", kStrong},
    {0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", kStrong},
};

constexpr std::size_t kSuiteCount = std::size(kSuites);

constexpr bool sortedUniqueById() {
  for (std::size_t i = 1; i < kSuiteCount; ++i)
    if (kSuites[i - 1].id >= kSuites[i].id) return false;
  return true;
}
static_assert(sortedUniqueById(), "kSuites must be strictly ascending by id");

constexpr bool strengthsFollowRules() {
  for (const auto& s : kSuites)
    if (s.strength != classify(s.name)) return false;
  return true;
}
static_assert(strengthsFollowRules(),
              "a kSuites strength disagrees with classify()");

// Indices into kSuites ordered by case-insensitive name, so name lookup is a
// binary search too. Built once, on first use (thread-safe static init); a
// constexpr std::sort over 352 names exceeds clang's constexpr step limit.
// Name uniqueness is checked by the unit test.
using NameIndex = std::array<uint16_t, kSuiteCount>;

const NameIndex& nameIndex() {
  static const NameIndex kIndex = [] {
    NameIndex idx{};
    for (std::size_t i = 0; i < kSuiteCount; ++i)
      idx[i] = static_cast<uint16_t>(i);
    std::sort(idx.begin(), idx.end(), [](uint16_t a, uint16_t b) {
      return compareNoCase(kSuites[a].name, kSuites[b].name) < 0;
    });
    return idx;
  }();
  return kIndex;
}

}  // namespace

CipherStrength classifyCipherSuiteName(std::string_view iana_name) {
  return classify(iana_name);
}

const CipherSuite* findCipherSuite(uint16_t id) {
  const auto* end = kSuites + kSuiteCount;
  const auto* it = std::lower_bound(
      kSuites, end, id,
      [](const CipherSuite& s, uint16_t v) { return s.id < v; });
  return (it != end && it->id == id) ? it : nullptr;
}

const CipherSuite* findCipherSuite(std::string_view iana_name) {
  const NameIndex& by_name = nameIndex();
  const auto it = std::lower_bound(
      by_name.begin(), by_name.end(), iana_name,
      [](uint16_t i, std::string_view v) {
        return compareNoCase(kSuites[i].name, v) < 0;
      });
  if (it == by_name.end() || compareNoCase(kSuites[*it].name, iana_name) != 0)
    return nullptr;
  return &kSuites[*it];
}

std::span<const CipherSuite> allCipherSuites() { return kSuites; }

std::string_view toString(CipherStrength s) {
  switch (s) {
    case CipherStrength::Insecure: return "insecure";
    case CipherStrength::Weak: return "weak";
    case CipherStrength::Strong: return "strong";
    case CipherStrength::Unknown: break;
  }
  return "unknown";
}

std::optional<CipherStrength> parseCipherStrength(std::string_view s) {
  for (const auto v : {kUnknown, kInsecure, kWeak, kStrong})
    if (compareNoCase(toString(v), s) == 0) return v;
  return std::nullopt;
}

}  // namespace fg
