// core/name_check.h: which names a flow's traffic claims, and what verifies
// them (this client's DNS answers, application ranges, the certificate).
#include "gateway/core/name_check.h"

#include <gtest/gtest.h>

#include "tests/gateway/packet_builder.h"

namespace fg::core {
namespace {

constexpr Timestamp kSec = 1'000'000;

IpAddress ip(const char* s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(IpAddress{});
}

const IpAddress kClient = ip("10.1.0.2");
const IpAddress kOther = ip("10.1.0.3");

Flow tlsFlow(const char* server, std::string host, std::string app = "NetFlix") {
  Flow f;
  f.src = kClient;
  f.dst = ip(server);
  f.src_port = 40000;
  f.dst_port = 443;
  f.proto = kProtoTcp;
  f.cls.l7_protocol = "TLS";
  f.cls.application = std::move(app);
  f.cls.hostname = std::move(host);
  f.cls.confidence = Confidence::Dpi;
  return f;
}

class FakeRanges final : public AppRanges {
 public:
  bool contains(std::string_view app, const IpAddress& a) const override {
    return app == "NetFlix" && a == ip("198.51.100.7");
  }
};

TEST(CertificateCovers, ExactAndOneLabelWildcards) {
  EXPECT_TRUE(certificateCovers("www.netflix.com", "www.netflix.com"));
  EXPECT_TRUE(certificateCovers("a.example,*.netflix.com", "WWW.Netflix.com."));
  EXPECT_TRUE(certificateCovers("x.example, www.netflix.com", "www.netflix.com"));
  EXPECT_FALSE(certificateCovers("*.netflix.com", "netflix.com"));
  EXPECT_FALSE(certificateCovers("*.netflix.com", "a.b.netflix.com"));
  EXPECT_FALSE(certificateCovers("*.netflix.com", "evilnetflix.com"));
  EXPECT_FALSE(certificateCovers("netflix.com", "www.netflix.com"));
  EXPECT_FALSE(certificateCovers("", "www.netflix.com"));
  EXPECT_FALSE(certificateCovers("*.", "x"));
  EXPECT_FALSE(certificateCovers("www.netflix.com", ""));
}

TEST(NamesServer, OnlyNamesClaimedForTheServer) {
  Flow f = tlsFlow("1.2.3.4", "www.netflix.com");
  EXPECT_TRUE(namesServer(f.cls));
  for (const char* p : {"HTTP", "QUIC"}) {
    f.cls.l7_protocol = p;
    EXPECT_TRUE(namesServer(f.cls)) << p;
  }
  for (const char* p : {"DNS", "SSH", "DHCP", "NetBIOS"}) {
    f.cls.l7_protocol = p;
    EXPECT_FALSE(namesServer(f.cls)) << p;
    EXPECT_EQ(verifyName(f, nullptr, nullptr, 0), NameProof::None) << p;
  }
  f.cls.l7_protocol = "TLS";
  f.cls.hostname.clear();
  EXPECT_EQ(verifyName(f, nullptr, nullptr, 0), NameProof::None);
}

TEST(VerifyName, UnverifiedWithoutEvidence) {
  Hints h(HintsConfig{});
  FakeRanges ranges;
  EXPECT_EQ(verifyName(tlsFlow("1.2.3.4", "www.netflix.com"), &h, &ranges, kSec), NameProof::Unverified);
  EXPECT_EQ(verifyName(tlsFlow("1.2.3.4", "www.netflix.com"), nullptr, nullptr, kSec), NameProof::Unverified);
}

TEST(VerifyName, ThisClientsDnsAnswerVerifies) {
  Hints h(HintsConfig{});
  h.learnDns(kClient, test::dnsResponse("www.netflix.com", {"1.2.3.4"}), false, 0);
  EXPECT_EQ(verifyName(tlsFlow("1.2.3.4", "www.netflix.com"), &h, nullptr, kSec), NameProof::Dns);
  EXPECT_EQ(verifyName(tlsFlow("1.2.3.4", "WWW.NETFLIX.COM."), &h, nullptr, kSec), NameProof::Dns);
  // Another address, another name, another client: no.
  EXPECT_EQ(verifyName(tlsFlow("1.2.3.5", "www.netflix.com"), &h, nullptr, kSec), NameProof::Unverified);
  EXPECT_EQ(verifyName(tlsFlow("1.2.3.4", "api.netflix.com"), &h, nullptr, kSec), NameProof::Unverified);
  Flow other = tlsFlow("1.2.3.4", "www.netflix.com");
  other.src = kOther;
  EXPECT_EQ(verifyName(other, &h, nullptr, kSec), NameProof::Unverified) << "hints are per client";
  // The answer expires (TTL 300 s, clamped to [60 s, 3600 s]).
  EXPECT_EQ(verifyName(tlsFlow("1.2.3.4", "www.netflix.com"), &h, nullptr, 301 * kSec), NameProof::Unverified);
}

TEST(VerifyName, EveryNameOfACnameChainAndEarlierAnswersVerify) {
  Hints h(HintsConfig{});
  h.learnDns(kClient,
             test::dnsResponse("www.netflix.com", {"1.1.1.1"}, 300, {"www.dradis.netflix.com", "edge.cdn.example"}),
             false, 0);
  for (const char* n : {"www.netflix.com", "www.dradis.netflix.com", "edge.cdn.example"})
    EXPECT_TRUE(h.resolvedTo(kClient, ip("1.1.1.1"), n, kSec)) << n;
  // A second name resolved to the same (shared) address joins the first.
  h.learnDns(kClient, test::dnsResponse("other.example", {"1.1.1.1"}), false, kSec);
  EXPECT_TRUE(h.resolvedTo(kClient, ip("1.1.1.1"), "www.netflix.com", 2 * kSec));
  EXPECT_TRUE(h.resolvedTo(kClient, ip("1.1.1.1"), "other.example", 2 * kSec));
  EXPECT_FALSE(h.resolvedTo(kClient, ip("1.1.1.1"), "third.example", 2 * kSec));
  EXPECT_EQ(h.lookup(kClient, ServerKey{ip("1.1.1.1"), 443, kProtoTcp}, 2 * kSec)->hostname, "other.example")
      << "the early answer is still the latest name";
}

TEST(VerifyName, ANameOfTheResolvedApplicationVerifies) {
  Flow f = tlsFlow("1.2.3.4", "api-global.netflix.com");
  f.early = std::make_unique<EarlyAnswer>();
  f.early->source = Confidence::Dns;
  f.early->hostname = "api-global.latency.prodaa.netflix.com";
  f.early->application = "NetFlix";
  EXPECT_EQ(verifyName(f, nullptr, nullptr, kSec), NameProof::Dns);
  f.early->source = Confidence::Cache;  // a learned server is no DNS answer of this client
  EXPECT_EQ(verifyName(f, nullptr, nullptr, kSec), NameProof::Unverified);
  f.early->source = Confidence::Dns;
  f.cls.application = "TLS";  // no application of its own to compare
  EXPECT_EQ(verifyName(f, nullptr, nullptr, kSec), NameProof::Unverified);
}

TEST(VerifyName, ApplicationRangesVerify) {
  FakeRanges ranges;
  EXPECT_EQ(verifyName(tlsFlow("198.51.100.7", "www.netflix.com"), nullptr, &ranges, kSec), NameProof::Range);
  EXPECT_EQ(verifyName(tlsFlow("198.51.100.7", "www.youtube.com", "YouTube"), nullptr, &ranges, kSec),
            NameProof::Unverified);
}

TEST(VerifyName, CertificateNamesVerify) {
  Flow f = tlsFlow("1.2.3.4", "www.netflix.com");
  f.cls.cert_names = "*.netflix.com,netflix.com";
  EXPECT_EQ(verifyName(f, nullptr, nullptr, kSec), NameProof::Certificate);
  f.cls.cert_names = "*.example.com";
  EXPECT_EQ(verifyName(f, nullptr, nullptr, kSec), NameProof::Unverified);
}

TEST(Hints, AnUnverifiedNameTeachesNoServer) {
  Hints h(HintsConfig{});
  Flow f = tlsFlow("1.2.3.4", "www.netflix.com");
  f.cls.name_proof = NameProof::Unverified;
  h.learnFlow(f, 0);
  EXPECT_EQ(h.counters().learned, 0u);
  EXPECT_FALSE(h.lookup(kOther, ServerKey{ip("1.2.3.4"), 443, kProtoTcp}, kSec));
  f.cls.name_proof = NameProof::Certificate;
  h.learnFlow(f, 0);
  EXPECT_EQ(h.counters().learned, 1u);
}

}  // namespace
}  // namespace fg::core
