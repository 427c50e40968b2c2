#include "common/cipher_suites.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace fg {

// Defined in common/cipher_suites.cc, deliberately not in the public header:
// the name-based rule the table's strength column is checked against.
CipherStrength classifyCipherSuiteName(std::string_view iana_name);

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string hexId(uint16_t id) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04X", id);
  return buf;
}

TEST(CipherSuites, TableSizeMatchesRegistry) {
  // 350 assigned IANA suites + the two SCSVs. Update with the registry.
  EXPECT_EQ(allCipherSuites().size(), 352u);
}

// Order by id and agreement of every entry with the naming rule are
// static_asserts in common/cipher_suites.cc (the build fails otherwise), so no
// test repeats them; the tests below check what the compiler cannot: lookups,
// names, and the rule against hand-picked facts.

TEST(CipherSuites, UniqueByNameIgnoringCase) {
  std::vector<std::string> names;
  for (const auto& s : allCipherSuites()) names.push_back(lower(s.name));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

TEST(CipherSuites, NamesHaveIanaShape) {
  for (const auto& s : allCipherSuites()) {
    EXPECT_TRUE(s.name.starts_with("TLS_")) << s.name;
    // IANA names are upper case, digits and '_', except the "anon" token.
    std::string rest(s.name);
    if (auto p = rest.find("_anon_"); p != std::string::npos) rest.erase(p, 6);
    for (char c : rest)
      EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
          << s.name;
  }
}

struct Expected {
  uint16_t id;
  std::string_view name;
  CipherStrength strength;
};

TEST(CipherSuites, WellKnownSuites) {
  constexpr auto I = CipherStrength::Insecure;
  constexpr auto W = CipherStrength::Weak;
  constexpr auto S = CipherStrength::Strong;
  constexpr auto U = CipherStrength::Unknown;
  const Expected cases[] = {
      {0x0000, "TLS_NULL_WITH_NULL_NULL", I},
      {0x0001, "TLS_RSA_WITH_NULL_MD5", I},
      {0x0002, "TLS_RSA_WITH_NULL_SHA", I},
      {0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", I},
      {0x0004, "TLS_RSA_WITH_RC4_128_MD5", I},
      {0x0005, "TLS_RSA_WITH_RC4_128_SHA", I},
      {0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", I},
      {0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", W},
      {0x0009, "TLS_RSA_WITH_DES_CBC_SHA", I},
      {0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", W},
      {0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", W},
      {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", W},
      {0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", I},
      {0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", I},
      {0x001E, "TLS_KRB5_WITH_DES_CBC_SHA", I},
      {0x001F, "TLS_KRB5_WITH_3DES_EDE_CBC_SHA", W},
      {0x0023, "TLS_KRB5_WITH_3DES_EDE_CBC_MD5", I},
      {0x002C, "TLS_PSK_WITH_NULL_SHA", I},
      {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", W},
      {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", W},
      {0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", I},
      {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", W},
      {0x003B, "TLS_RSA_WITH_NULL_SHA256", I},
      {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", W},
      {0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", W},
      {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", W},
      {0x008A, "TLS_PSK_WITH_RC4_128_SHA", I},
      {0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", W},
      {0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", W},
      {0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA", W},
      {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", W},
      {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", W},
      {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", S},
      {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", S},
      {0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", W},
      {0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", I},
      {0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", W},
      {0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", S},
      {0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", W},
      {0x00C6, "TLS_SM4_GCM_SM3", W},
      {0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", U},
      {0x1301, "TLS_AES_128_GCM_SHA256", S},
      {0x1302, "TLS_AES_256_GCM_SHA384", S},
      {0x1303, "TLS_CHACHA20_POLY1305_SHA256", S},
      {0x1304, "TLS_AES_128_CCM_SHA256", S},
      {0x1305, "TLS_AES_128_CCM_8_SHA256", S},
      {0x1306, "TLS_AEGIS_256_SHA512", W},
      {0x1307, "TLS_AEGIS_128L_SHA256", W},
      {0x5600, "TLS_FALLBACK_SCSV", U},
      {0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", I},
      {0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", W},
      {0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", I},
      {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", W},
      {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", W},
      {0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", I},
      {0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", W},
      {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", W},
      {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", W},
      {0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", I},
      {0xC01D, "TLS_SRP_SHA_WITH_AES_128_CBC_SHA", W},
      {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", W},
      {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", W},
      {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", W},
      {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", S},
      {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", S},
      {0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", W},
      {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", S},
      {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", S},
      {0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", W},
      {0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", W},
      {0xC03C, "TLS_RSA_WITH_ARIA_128_CBC_SHA256", W},
      {0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", S},
      {0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", S},
      {0xC07A, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256", W},
      {0xC08A, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", S},
      {0xC09C, "TLS_RSA_WITH_AES_128_CCM", W},
      {0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", S},
      {0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", S},
      {0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", W},
      {0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", S},
      {0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", S},
      {0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", S},
      {0xC0B0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256", S},
      {0xC0B3, "TLS_ECCPWD_WITH_AES_256_CCM_SHA384", S},
      {0xC0B4, "TLS_SHA256_SHA256", I},
      {0xC0B5, "TLS_SHA384_SHA384", I},
      {0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC", W},
      {0xC106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", W},
      {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", S},
      {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", S},
      {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", S},
      {0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", W},
      {0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", S},
      {0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", W},
      {0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", S},
      {0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", S},
  };
  for (const auto& e : cases) {
    SCOPED_TRACE(hexId(e.id));
    const CipherSuite* s = findCipherSuite(e.id);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->id, e.id);
    EXPECT_EQ(s->name, e.name);
    EXPECT_EQ(s->strength, e.strength) << toString(s->strength);
    EXPECT_EQ(findCipherSuite(e.name), s);
  }
}

TEST(CipherSuites, OnlySignallingValuesAreUnknown) {
  for (const auto& s : allCipherSuites())
    EXPECT_EQ(s.strength == CipherStrength::Unknown, s.name.ends_with("_SCSV"))
        << s.name;
}

TEST(CipherSuites, RuleOnNames) {
  // Synthetic names exercise each clause independently of the table.
  const std::pair<std::string_view, CipherStrength> cases[] = {
      {"TLS_ECDHE_RSA_WITH_NULL_SHA", CipherStrength::Insecure},
      {"TLS_ECDH_anon_WITH_AES_128_GCM_SHA256", CipherStrength::Insecure},
      {"TLS_ECDHE_RSA_EXPORT_WITH_AES_128_GCM_SHA256",
       CipherStrength::Insecure},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_MD5", CipherStrength::Insecure},
      {"TLS_ECDHE_RSA_WITH_DES_CBC_SHA", CipherStrength::Insecure},
      {"TLS_ECDHE_RSA_WITH_DES40_CBC_SHA", CipherStrength::Insecure},
      {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", CipherStrength::Insecure},
      {"TLS_SHA512_SHA512", CipherStrength::Insecure},
      {"TLS_ECDHE_RSA_WITH_IDEA_CBC_SHA", CipherStrength::Weak},
      {"TLS_ECDHE_RSA_WITH_SEED_CBC_SHA", CipherStrength::Weak},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", CipherStrength::Weak},
      {"TLS_DH_RSA_WITH_AES_256_GCM_SHA384", CipherStrength::Weak},
      {"TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", CipherStrength::Weak},
      {"TLS_RSA_WITH_CHACHA20_POLY1305_SHA256", CipherStrength::Weak},
      {"TLS_SRP_SHA_WITH_AES_128_GCM_SHA256", CipherStrength::Weak},
      {"TLS_KRB5_WITH_AES_128_GCM_SHA256", CipherStrength::Weak},
      {"TLS_SM4_CCM_SM3", CipherStrength::Weak},
      {"TLS_DHE_DSS_WITH_AES_128_CCM_8", CipherStrength::Strong},
      {"TLS_ECCPWD_WITH_AES_256_GCM_SHA384", CipherStrength::Strong},
      {"TLS_AES_256_GCM_SHA384", CipherStrength::Strong},
      {"TLS_FALLBACK_SCSV", CipherStrength::Unknown},
      {"ECDHE-RSA-AES128-GCM-SHA256", CipherStrength::Unknown},
      {"", CipherStrength::Unknown},
  };
  for (const auto& [name, strength] : cases)
    EXPECT_EQ(classifyCipherSuiteName(name), strength) << name;
}

TEST(CipherSuites, UnassignedIdsAreNotFound) {
  for (uint16_t id : {0x001C, 0x001D, 0x0047, 0x005D, 0x0060, 0x006E, 0x0083,
                      0x00C8, 0x00FE, 0x0100, 0x1300, 0x1308, 0x5601, 0xC000,
                      0xC0B6, 0xC0FF, 0xC107, 0xCC13, 0xCCA7, 0xCCAF, 0xD000,
                      0xD004, 0xD006, 0xFEFE, 0xFEFF, 0xFF00, 0xFFFF})
    EXPECT_EQ(findCipherSuite(id), nullptr) << hexId(id);
}

TEST(CipherSuites, GreaseValuesAreNotSuites) {
  for (unsigned n = 0; n < 16; ++n) {
    const auto id = static_cast<uint16_t>((n << 12) | 0x0A00 | (n << 4) | 0x0A);
    EXPECT_EQ(findCipherSuite(id), nullptr) << hexId(id);
  }
}

TEST(CipherSuites, IdLookupAgreesWithLinearScanForEveryValue) {
  const auto all = allCipherSuites();
  for (uint32_t v = 0; v <= 0xFFFF; ++v) {
    const auto id = static_cast<uint16_t>(v);
    const auto it =
        std::find_if(all.begin(), all.end(),
                     [id](const CipherSuite& s) { return s.id == id; });
    const CipherSuite* expected = it == all.end() ? nullptr : &*it;
    ASSERT_EQ(findCipherSuite(id), expected) << hexId(id);
  }
}

TEST(CipherSuites, NameLookupIsCaseInsensitive) {
  const CipherSuite* s = findCipherSuite(uint16_t{0xC02F});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(findCipherSuite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), s);
  EXPECT_EQ(findCipherSuite("tls_ecdhe_rsa_with_aes_128_gcm_sha256"), s);
  EXPECT_EQ(findCipherSuite("Tls_Ecdhe_Rsa_With_Aes_128_Gcm_Sha256"), s);
  const CipherSuite* anon = findCipherSuite(uint16_t{0x0017});
  ASSERT_NE(anon, nullptr);
  EXPECT_EQ(findCipherSuite("TLS_DH_ANON_EXPORT_WITH_RC4_40_MD5"), anon);
  for (const auto& e : allCipherSuites()) {
    EXPECT_EQ(findCipherSuite(e.name), &e) << e.name;
    EXPECT_EQ(findCipherSuite(lower(e.name)), &e) << e.name;
  }
}

TEST(CipherSuites, UnknownNamesAreNotFound) {
  for (std::string_view name :
       {"", "TLS_", "TLS_AES_128_GCM", "TLS_AES_128_GCM_SHA2566",
        " TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256 ",
        "ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA",
        "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", "ZZZ"})
    EXPECT_EQ(findCipherSuite(name), nullptr) << '"' << name << '"';
}

TEST(CipherSuites, StrengthNamesRoundTrip) {
  for (auto s : {CipherStrength::Unknown, CipherStrength::Insecure,
                 CipherStrength::Weak, CipherStrength::Strong}) {
    const auto parsed = parseCipherStrength(toString(s));
    ASSERT_TRUE(parsed.has_value()) << toString(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(toString(CipherStrength::Unknown), "unknown");
  EXPECT_EQ(toString(CipherStrength::Insecure), "insecure");
  EXPECT_EQ(toString(CipherStrength::Weak), "weak");
  EXPECT_EQ(toString(CipherStrength::Strong), "strong");
  EXPECT_EQ(parseCipherStrength("STRONG"), CipherStrength::Strong);
  EXPECT_EQ(parseCipherStrength("Weak"), CipherStrength::Weak);
  EXPECT_FALSE(parseCipherStrength("medium").has_value());
  EXPECT_FALSE(parseCipherStrength("").has_value());
  EXPECT_FALSE(parseCipherStrength("strong ").has_value());
}

}  // namespace
}  // namespace fg
