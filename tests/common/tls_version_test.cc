#include "common/tls_version.h"

#include <gtest/gtest.h>

namespace fg {
namespace {

TEST(TlsVersion, NamesRoundTrip) {
  for (uint16_t v : {0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0xfeff, 0xfefd, 0xfefc}) {
    auto parsed = parseTlsVersion(tlsVersionName(v));
    ASSERT_TRUE(parsed.has_value()) << tlsVersionName(v);
    EXPECT_EQ(*parsed, v);
  }
  EXPECT_EQ(tlsVersionName(0x0303), "TLSv1.2");
  EXPECT_EQ(tlsVersionName(0x0301), "TLSv1");
  EXPECT_EQ(tlsVersionName(0x7f1c), "TLS (7F1C)");
  EXPECT_EQ(parseTlsVersion("tlsv1.0"), std::optional<uint16_t>(0x0301));
  EXPECT_FALSE(parseTlsVersion("TLSv9").has_value());
}

TEST(TlsVersion, RankOrdersAcrossTlsAndDtls) {
  EXPECT_LT(tlsVersionRank(0x0300), tlsVersionRank(0x0301));
  EXPECT_LT(tlsVersionRank(0x0302), tlsVersionRank(0x0303));
  EXPECT_EQ(tlsVersionRank(0xfefd), tlsVersionRank(0x0303));
  EXPECT_EQ(tlsVersionRank(0x1234), 0);
}

TEST(TlsVersion, Deprecation) {
  EXPECT_TRUE(tlsVersionDeprecated(0x0300));
  EXPECT_TRUE(tlsVersionDeprecated(0x0301));
  EXPECT_TRUE(tlsVersionDeprecated(0x0302));
  EXPECT_TRUE(tlsVersionDeprecated(0xfeff));
  EXPECT_FALSE(tlsVersionDeprecated(0x0303));
  EXPECT_FALSE(tlsVersionDeprecated(0x0304));
  EXPECT_FALSE(tlsVersionDeprecated(0x9999));
}

}  // namespace
}  // namespace fg
