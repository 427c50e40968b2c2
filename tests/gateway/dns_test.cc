// Tests for core::parseDnsResponse (hand-built messages, hostile inputs) and
// core::HintCache (TTL clamps, expiry, LRU, counters).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/dns.h"
#include "gateway/core/hint_cache.h"
#include "gateway/core/hints.h"
#include "tests/gateway/packet_builder.h"

namespace fg::core {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint16_t kResponse = 0x8180;  // QR, RD, RA, NOERROR
constexpr uint16_t kNxDomain = 0x8183;
constexpr uint16_t kQuery = 0x0100;     // RD

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

// Appends the labels of `dotted` ("" = none), then a compression pointer to
// `ptr` or the root label. Returns the offset the name starts at.
size_t putName(Bytes& b, std::string_view dotted, std::optional<uint16_t> ptr = std::nullopt) {
  const size_t start = b.size();
  while (!dotted.empty()) {
    const size_t dot = dotted.find('.');
    const std::string_view label = dotted.substr(0, dot);
    b.push_back(static_cast<uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
  }
  if (ptr) {
    put16(b, static_cast<uint16_t>(0xC000 | *ptr));
  } else {
    b.push_back(0);
  }
  return start;
}

void putHeader(Bytes& b, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns = 0,
               uint16_t ar = 0) {
  put16(b, 0x1234);
  put16(b, flags);
  put16(b, qd);
  put16(b, an);
  put16(b, ns);
  put16(b, ar);
}

void putQuestion(Bytes& b, std::string_view name, uint16_t qtype = kDnsTypeA) {
  putName(b, name);
  put16(b, qtype);
  put16(b, kDnsClassIn);
}

// Type, class IN, TTL and a placeholder RDLENGTH; returns where RDATA starts.
size_t putRrFixed(Bytes& b, uint16_t type, uint32_t ttl, uint16_t klass = kDnsClassIn) {
  put16(b, type);
  put16(b, klass);
  put32(b, ttl);
  put16(b, 0);
  return b.size();
}
void patchRdLength(Bytes& b, size_t rdata_start) {
  const size_t len = b.size() - rdata_start;
  b[rdata_start - 2] = static_cast<uint8_t>(len >> 8);
  b[rdata_start - 1] = static_cast<uint8_t>(len);
}

void putA(Bytes& b, uint32_t ttl, std::initializer_list<uint8_t> addr) {
  const size_t rd = putRrFixed(b, addr.size() == 4 ? kDnsTypeA : kDnsTypeAaaa, ttl);
  b.insert(b.end(), addr.begin(), addr.end());
  patchRdLength(b, rd);
}
// A CNAME whose target is `labels` followed by a pointer (or root).
void putCname(Bytes& b, uint32_t ttl, std::string_view labels,
              std::optional<uint16_t> ptr = std::nullopt) {
  const size_t rd = putRrFixed(b, kDnsTypeCname, ttl);
  putName(b, labels, ptr);
  patchRdLength(b, rd);
}

IpAddress ip(std::string_view text) { return *IpAddress::parse(text); }

std::optional<DnsAnswer> parse(const Bytes& b) { return parseDnsResponse(b); }

// The question name always starts right after the header.
constexpr uint16_t kQname = 12;

Bytes simpleA() {
  Bytes b;
  putHeader(b, kResponse, 1, 1);
  putQuestion(b, "WWW.Example.COM");
  putName(b, "", kQname);
  putA(b, 300, {93, 184, 216, 34});
  return b;
}

// www.netflix.com CNAME www.dradis.netflix.com CNAME dradis-eu.ap.nflx.net
//   CNAME edge.ap.nflx.net; A 1.2.3.4, A 5.6.7.8; everything compressed.
Bytes cnameChain() {
  Bytes b;
  putHeader(b, kResponse, 1, 5);
  putQuestion(b, "www.netflix.com");
  const uint16_t netflix_com = kQname + 4;  // "netflix.com" inside the question
  putName(b, "", kQname);
  const size_t cname1_rdata = b.size() + 10;
  putCname(b, 300, "www.dradis", netflix_com);
  putName(b, "", static_cast<uint16_t>(cname1_rdata));
  const size_t cname2_rdata = b.size() + 10;
  putCname(b, 60, "dradis-eu.ap.nflx.net");
  putName(b, "", static_cast<uint16_t>(cname2_rdata));
  const size_t ap_nflx_net = cname2_rdata + 10;  // after "\x09dradis-eu"
  const size_t cname3_rdata = b.size() + 10;
  putCname(b, 600, "edge", static_cast<uint16_t>(ap_nflx_net));
  putName(b, "", static_cast<uint16_t>(cname3_rdata));
  putA(b, 120, {1, 2, 3, 4});
  putName(b, "", static_cast<uint16_t>(cname3_rdata));
  putA(b, 30, {5, 6, 7, 8});
  return b;
}

// --- parseDnsResponse: well-formed answers -------------------------------

TEST(DnsParse, SimpleA) {
  const auto r = parse(simpleA());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 0x1234);
  EXPECT_EQ(r->rcode, kDnsRcodeNoError);
  EXPECT_FALSE(r->tc);
  EXPECT_FALSE(r->incomplete);
  EXPECT_EQ(r->qname, "www.example.com");
  EXPECT_EQ(r->qtype, kDnsTypeA);
  EXPECT_TRUE(r->cnames.empty());
  ASSERT_EQ(r->addresses.size(), 1u);
  EXPECT_EQ(r->addresses[0].address, ip("93.184.216.34"));
  EXPECT_EQ(r->addresses[0].ttl_s, 300u);
}

TEST(DnsParse, Aaaa) {
  Bytes b;
  putHeader(b, kResponse, 1, 1);
  putQuestion(b, "v6.example.org", kDnsTypeAaaa);
  putName(b, "", kQname);
  putA(b, 42, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->qtype, kDnsTypeAaaa);
  ASSERT_EQ(r->addresses.size(), 1u);
  EXPECT_EQ(r->addresses[0].address, ip("2001:db8::1"));
  EXPECT_EQ(r->addresses[0].address.version, 6);
  EXPECT_EQ(r->addresses[0].ttl_s, 42u);
}

TEST(DnsParse, CnameChainThreeLevelsWithCompression) {
  const auto r = parse(cnameChain());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->qname, "www.netflix.com");
  EXPECT_EQ(r->cnames, (std::vector<std::string>{"www.dradis.netflix.com",
                                                  "dradis-eu.ap.nflx.net", "edge.ap.nflx.net"}));
  // TTL = min over the chain (60 on the second CNAME) and the record.
  EXPECT_EQ(r->addresses, (std::vector<DnsAddress>{{ip("1.2.3.4"), 60}, {ip("5.6.7.8"), 30}}));
  EXPECT_FALSE(r->incomplete);
}

TEST(DnsParse, CnameRecordsInAnyOrder) {
  Bytes b;
  putHeader(b, kResponse, 1, 3);
  putQuestion(b, "a.example");
  putName(b, "c.example");
  putA(b, 100, {10, 0, 0, 3});
  putName(b, "b.example");
  putCname(b, 100, "c.example");
  putName(b, "", kQname);
  putCname(b, 100, "b.example");
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cnames, (std::vector<std::string>{"b.example", "c.example"}));
  EXPECT_EQ(r->addresses, (std::vector<DnsAddress>{{ip("10.0.0.3"), 100}}));
}

TEST(DnsParse, UnrelatedAnswersAndAdditionalsIgnored) {
  Bytes b;
  putHeader(b, kResponse, 1, 3, 0, 1);
  putQuestion(b, "www.example.com");
  putName(b, "evil.example.net");
  putA(b, 300, {6, 6, 6, 6});
  putName(b, "", kQname);
  putA(b, 300, {1, 1, 1, 1});
  putName(b, "other.example.com");  // CNAME not on the question's chain
  putCname(b, 300, "", kQname);
  putName(b, "", kQname);           // additional section: never an answer
  putA(b, 300, {7, 7, 7, 7});
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->cnames.empty());
  EXPECT_EQ(r->addresses, (std::vector<DnsAddress>{{ip("1.1.1.1"), 300}}));
}

TEST(DnsParse, NonInClassAndBadRdataSkippedNotFatal) {
  Bytes b;
  putHeader(b, kResponse, 1, 4);
  putQuestion(b, "x.test");
  putName(b, "", kQname);
  size_t rd = putRrFixed(b, kDnsTypeA, 10, /*klass=*/3);  // CHAOS
  b.insert(b.end(), {9, 9, 9, 9});
  patchRdLength(b, rd);
  putName(b, "", kQname);
  rd = putRrFixed(b, kDnsTypeA, 10);  // A with 5 bytes of RDATA
  b.insert(b.end(), {8, 8, 8, 8, 8});
  patchRdLength(b, rd);
  putName(b, "", kQname);
  rd = putRrFixed(b, 16, 10);  // TXT
  b.insert(b.end(), {3, 'a', 'b', 'c'});
  patchRdLength(b, rd);
  putName(b, "", kQname);
  putA(b, 10, {4, 4, 4, 4});
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->incomplete);
  EXPECT_EQ(r->addresses, (std::vector<DnsAddress>{{ip("4.4.4.4"), 10}}));
}

TEST(DnsParse, MultipleARecordsDuplicatesKeepLowerTtl) {
  Bytes b;
  putHeader(b, kResponse, 1, 4);
  putQuestion(b, "multi.example");
  for (auto [ttl, last] : {std::pair{50u, 1}, {40u, 2}, {30u, 3}, {20u, 1}}) {
    putName(b, "", kQname);
    putA(b, ttl, {192, 0, 2, static_cast<uint8_t>(last)});
  }
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->addresses, (std::vector<DnsAddress>{
                              {ip("192.0.2.1"), 20}, {ip("192.0.2.2"), 40}, {ip("192.0.2.3"), 30}}));
}

TEST(DnsParse, NxDomainHasQuestionButNoAddresses) {
  Bytes b;
  putHeader(b, kNxDomain, 1, 1);
  putQuestion(b, "nope.example");
  putName(b, "", kQname);  // bogus answer in an NXDOMAIN: not read
  putA(b, 300, {1, 2, 3, 4});
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rcode, kDnsRcodeNxDomain);
  EXPECT_EQ(r->qname, "nope.example");
  EXPECT_TRUE(r->addresses.empty());
}

TEST(DnsParse, TcBitReported) {
  Bytes b = simpleA();
  b[2] |= 0x02;
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->tc);
}

TEST(DnsParse, RootQuestionAndMaxLengthNames) {
  Bytes b;
  putHeader(b, kResponse, 1, 0);
  putQuestion(b, "");
  auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->qname, "");

  // 3 x 63 + 61 = 255 bytes in wire form: the longest legal name.
  const std::string l63(63, 'a'), l61(61, 'b');
  const std::string longest = l63 + "." + l63 + "." + l63 + "." + l61;
  b.clear();
  putHeader(b, kResponse, 1, 0);
  putQuestion(b, longest);
  r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->qname, longest);
}

// --- parseDnsResponse: not a response / hostile ---------------------------

TEST(DnsParse, NotAResponse) {
  EXPECT_FALSE(parse(Bytes{}));
  EXPECT_FALSE(parse(Bytes(11, 0)));
  Bytes b = simpleA();
  b[2] = kQuery >> 8;  // QR = 0
  EXPECT_FALSE(parse(b));
  b = simpleA();
  b[2] |= 0x10;  // OPCODE 2 (STATUS)
  EXPECT_FALSE(parse(b));
  b.clear();
  putHeader(b, kResponse, 0, 0);  // no question
  EXPECT_FALSE(parse(b));
}

TEST(DnsParse, TruncatedAtEveryOffset) {
  for (const Bytes& full : {simpleA(), cnameChain()}) {
    const auto whole = parse(full);
    ASSERT_TRUE(whole);
    for (size_t len = 0; len < full.size(); ++len) {
      // An exactly sized heap copy, so ASan flags any read past the end.
      const Bytes prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
      const auto r = parse(prefix);
      if (!r) continue;
      EXPECT_TRUE(r->incomplete) << "len " << len;
      EXPECT_EQ(r->qname, whole->qname);
      for (const DnsAddress& a : r->addresses) {
        EXPECT_NE(std::find(whole->addresses.begin(), whole->addresses.end(), a),
                  whole->addresses.end())
            << "len " << len;
      }
    }
  }
}

TEST(DnsParse, PointerLoops) {
  Bytes b;
  putHeader(b, kResponse, 1, 0);
  put16(b, 0xC000 | kQname);  // points at itself
  put16(b, kDnsTypeA);
  put16(b, kDnsClassIn);
  EXPECT_FALSE(parse(b));

  b.clear();
  putHeader(b, kResponse, 1, 0);
  putName(b, "a", kQname);  // "a" then back to "a": a.a.a.a...
  put16(b, kDnsTypeA);
  put16(b, kDnsClassIn);
  EXPECT_FALSE(parse(b));

  // A CNAME whose RDATA loops: the record is dropped, the rest survives.
  b.clear();
  putHeader(b, kResponse, 1, 2);
  putQuestion(b, "q.test");
  putName(b, "", kQname);
  const size_t rd = putRrFixed(b, kDnsTypeCname, 10);
  put16(b, static_cast<uint16_t>(0xC000 | rd));
  patchRdLength(b, rd);
  putName(b, "", kQname);
  putA(b, 10, {1, 1, 1, 1});
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->cnames.empty());
  EXPECT_EQ(r->addresses.size(), 1u);
}

TEST(DnsParse, CnameLoopBetweenNamesStops) {
  Bytes b;
  putHeader(b, kResponse, 1, 3);
  putQuestion(b, "a.test");
  putName(b, "a.test");
  putCname(b, 10, "b.test");
  putName(b, "b.test");
  putCname(b, 10, "a.test");
  putName(b, "b.test");
  putA(b, 10, {2, 2, 2, 2});
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cnames, (std::vector<std::string>{"b.test"}));
  EXPECT_EQ(r->addresses, (std::vector<DnsAddress>{{ip("2.2.2.2"), 10}}));
}

TEST(DnsParse, LongCnameChainIsCut) {
  Bytes b;
  putHeader(b, kResponse, 1, static_cast<uint16_t>(kDnsMaxCnameChain + 2));
  putQuestion(b, "n0.test");
  for (size_t i = 0; i <= kDnsMaxCnameChain; ++i) {
    putName(b, "n" + std::to_string(i) + ".test");
    putCname(b, 10, "n" + std::to_string(i + 1) + ".test");
  }
  putName(b, "n" + std::to_string(kDnsMaxCnameChain + 1) + ".test");
  putA(b, 10, {3, 3, 3, 3});
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cnames.size(), kDnsMaxCnameChain);
  EXPECT_TRUE(r->addresses.empty());
}

TEST(DnsParse, PointerOutOfRange) {
  for (uint16_t target : {uint16_t{0x3FFF}, uint16_t{40}, uint16_t{14}, uint16_t{0}, uint16_t{5}}) {
    Bytes b;
    putHeader(b, kResponse, 1, 0);
    putName(b, "x", target);  // pointer at offset 14: forward, self, into header
    put16(b, kDnsTypeA);
    put16(b, kDnsClassIn);
    b.resize(b.size() + 40, 0);
    EXPECT_FALSE(parse(b)) << "target " << target;
  }
  // Pointer whose second byte is missing.
  Bytes b;
  putHeader(b, kResponse, 1, 0);
  b.push_back(0xC0);
  EXPECT_FALSE(parse(b));
}

TEST(DnsParse, LabelTypesAndLengths) {
  Bytes ok;
  putHeader(ok, kResponse, 1, 0);
  putQuestion(ok, std::string(63, 'x') + ".test");
  EXPECT_TRUE(parse(ok));

  for (uint8_t first : {uint8_t{64}, uint8_t{0x40}, uint8_t{0x80}, uint8_t{0xBF}}) {
    Bytes b;
    putHeader(b, kResponse, 1, 0);
    b.push_back(first);
    b.resize(b.size() + 200, 'x');
    b.push_back(0);
    put16(b, kDnsTypeA);
    put16(b, kDnsClassIn);
    EXPECT_FALSE(parse(b)) << int{first};
  }
}

TEST(DnsParse, NameOver255) {
  const std::string l63(63, 'a');
  Bytes b;
  putHeader(b, kResponse, 1, 0);
  putQuestion(b, l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b'));  // 256
  EXPECT_FALSE(parse(b));

  // Over 255 only through compression: the answer owner is 5 x 63 labels
  // built from pointers into earlier names.
  b.clear();
  putHeader(b, kResponse, 1, 1);
  putQuestion(b, l63 + "." + l63);  // at 12, 129 bytes in wire form
  putName(b, "", kQname);
  putA(b, 10, {1, 1, 1, 1});
  putName(b, l63 + "." + l63, kQname);  // 2 x 64 + 129 = 257 bytes
  putA(b, 10, {2, 2, 2, 2});
  b[7] = 2;  // ancount
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->incomplete);  // the second owner name is unreadable
  EXPECT_EQ(r->addresses, (std::vector<DnsAddress>{{ip("1.1.1.1"), 10}}));
}

TEST(DnsParse, UnprintableOrDottedLabelsRejected) {
  for (char bad : {'.', ' ', '\0', '\x7f'}) {
    Bytes b;
    putHeader(b, kResponse, 1, 0);
    b.insert(b.end(), {3, 'a', static_cast<uint8_t>(bad), 'b', 0});
    put16(b, kDnsTypeA);
    put16(b, kDnsClassIn);
    EXPECT_FALSE(parse(b)) << int{bad};
  }
}

TEST(DnsParse, CountsLying) {
  Bytes b = simpleA();
  b[6] = 0x00;
  b[7] = 50;  // ancount 50, one record present
  auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->incomplete);
  EXPECT_EQ(r->addresses.size(), 1u);

  b = simpleA();
  b[6] = 0xFF;
  b[7] = 0xFF;  // ancount 65535
  r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->incomplete);
  EXPECT_EQ(r->addresses.size(), 1u);

  b = simpleA();
  b[4] = 0xFF;
  b[5] = 0xFF;  // qdcount 65535: the answer section cannot be located
  r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->incomplete);
  EXPECT_EQ(r->qname, "www.example.com");
  EXPECT_TRUE(r->addresses.empty());

  b = simpleA();
  b[7] = 0;  // ancount 0: the trailing record is not an answer
  r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->incomplete);
  EXPECT_TRUE(r->addresses.empty());

  // RDLENGTH past the end of the message.
  b = simpleA();
  b[b.size() - 6] = 0xFF;
  r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->incomplete);
  EXPECT_TRUE(r->addresses.empty());
}

TEST(DnsParse, AnswerRecordCap) {
  Bytes b;
  putHeader(b, kResponse, 1, 0xFFFF);
  putQuestion(b, "many.test");
  for (size_t i = 0; i < kDnsMaxAnswerRecords + 10; ++i) {
    putName(b, "", kQname);
    putA(b, 10, {10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)});
  }
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->incomplete);
  EXPECT_EQ(r->addresses.size(), kDnsMaxAnswerRecords);
}

TEST(DnsParse, HugeTtls) {
  Bytes b;
  putHeader(b, kResponse, 1, 2);
  putQuestion(b, "ttl.test");
  putName(b, "", kQname);
  putA(b, 0xFFFFFFFFu, {1, 0, 0, 1});  // top bit set: read as 0
  putName(b, "", kQname);
  putA(b, 0x7FFFFFFFu, {1, 0, 0, 2});
  const auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->addresses, (std::vector<DnsAddress>{{ip("1.0.0.1"), 0}, {ip("1.0.0.2"), 0x7FFFFFFFu}}));
}

TEST(DnsParse, RandomMutationsNeverCrash) {
  // Deterministic byte flips over the compressed chain; run under ASan to
  // check bounds. Any result must still be self-consistent.
  const Bytes base = cnameChain();
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 20000; ++iter) {
    Bytes m = base;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) m.resize(rng() % m.size());
    const auto r = parseDnsResponse(m);
    if (r) {
      EXPECT_LE(r->qname.size(), 253u);
      EXPECT_LE(r->cnames.size(), kDnsMaxCnameChain);
    }
  }
}

TEST(DnsTcp, LengthPrefix) {
  const Bytes msg = simpleA();
  Bytes seg;
  put16(seg, static_cast<uint16_t>(msg.size()));
  seg.insert(seg.end(), msg.begin(), msg.end());
  seg.push_back(0xAB);  // start of a pipelined next message
  const auto inner = dnsTcpMessage(seg);
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->size(), msg.size());
  const auto r = parseDnsResponse(*inner);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->addresses.size(), 1u);

  EXPECT_FALSE(dnsTcpMessage(std::span<const uint8_t>(seg.data(), 1)));
  EXPECT_FALSE(dnsTcpMessage(std::span<const uint8_t>(seg.data(), msg.size())));  // short
}

// --- HintCache -------------------------------------------------------------

constexpr Timestamp kSec = 1'000'000;

// The cache as core::Hints uses it for DNS answers, keyed by address here:
// the TTL/LRU behaviour under test is TtlLruCache's.
class HintCache {
 public:
  explicit HintCache(HintCacheConfig config) : cache_(config) {}
  void insert(const IpAddress& addr, std::string_view name, uint32_t ttl_s, Timestamp now) {
    cache_.insert(addr, std::string(name), ttl_s, now);
  }
  std::optional<std::string_view> lookup(const IpAddress& addr, Timestamp now) {
    const auto* e = cache_.lookup(addr, now);
    return e ? std::optional<std::string_view>(e->value) : std::nullopt;
  }
  void clear() { cache_.clear(); }
  size_t size() const { return cache_.size(); }
  const HintCacheConfig& config() const { return cache_.config(); }
  const HintCacheCounters& counters() const { return cache_.counters(); }

 private:
  TtlLruCache<IpAddress, std::string, IpAddressHash> cache_;
};

HintCacheConfig smallConfig(size_t max_entries = 3) {
  return {.max_entries = max_entries, .min_ttl_s = 10, .max_ttl_s = 100};
}

TEST(HintCache, HitAndMiss) {
  HintCache c(smallConfig());
  c.insert(ip("1.2.3.4"), "www.netflix.com", 50, 0);
  EXPECT_EQ(c.lookup(ip("1.2.3.4"), kSec), "www.netflix.com");
  EXPECT_FALSE(c.lookup(ip("1.2.3.5"), kSec));
  EXPECT_FALSE(c.lookup(ip("::1.2.3.4"), kSec));  // v6 is a different key
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.counters().hits, 1u);
  EXPECT_EQ(c.counters().misses, 2u);
  EXPECT_EQ(c.counters().inserts, 1u);
}

TEST(HintCache, TtlClampedToRange) {
  HintCache c(smallConfig());
  const Timestamp t0 = 1000 * kSec;
  c.insert(ip("10.0.0.1"), "short", 0, t0);    // -> 10 s
  c.insert(ip("10.0.0.2"), "long", 100000, t0);  // -> 100 s
  c.insert(ip("10.0.0.3"), "mid", 50, t0);
  EXPECT_TRUE(c.lookup(ip("10.0.0.1"), t0 + 10 * kSec - 1));
  EXPECT_FALSE(c.lookup(ip("10.0.0.1"), t0 + 10 * kSec));
  EXPECT_TRUE(c.lookup(ip("10.0.0.2"), t0 + 100 * kSec - 1));
  EXPECT_FALSE(c.lookup(ip("10.0.0.2"), t0 + 100 * kSec));
  EXPECT_TRUE(c.lookup(ip("10.0.0.3"), t0 + 50 * kSec - 1));
  EXPECT_FALSE(c.lookup(ip("10.0.0.3"), t0 + 50 * kSec));
}

TEST(HintCache, MaxTtlWinsWhenConfigCrosses) {
  HintCache c({.max_entries = 4, .min_ttl_s = 100, .max_ttl_s = 5});
  c.insert(ip("10.0.0.1"), "x", 1, 0);
  EXPECT_TRUE(c.lookup(ip("10.0.0.1"), 5 * kSec - 1));
  EXPECT_FALSE(c.lookup(ip("10.0.0.1"), 5 * kSec));
}

TEST(HintCache, ExpiredEntryIsMissAndRemoved) {
  HintCache c(smallConfig());
  c.insert(ip("10.0.0.1"), "a", 20, 0);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_FALSE(c.lookup(ip("10.0.0.1"), 20 * kSec));
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.counters().expirations, 1u);
  EXPECT_EQ(c.counters().misses, 1u);
  EXPECT_EQ(c.counters().hits, 0u);
  EXPECT_FALSE(c.lookup(ip("10.0.0.1"), 20 * kSec));
  EXPECT_EQ(c.counters().expirations, 1u);  // counted once
}

TEST(HintCache, LruEvictionOrder) {
  HintCache c(smallConfig(3));
  c.insert(ip("10.0.0.1"), "a", 50, 0);
  c.insert(ip("10.0.0.2"), "b", 50, 0);
  c.insert(ip("10.0.0.3"), "c", 50, 0);
  EXPECT_TRUE(c.lookup(ip("10.0.0.1"), 1));  // a is now most recent: b is LRU
  c.insert(ip("10.0.0.4"), "d", 50, 2);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.counters().evictions, 1u);
  EXPECT_FALSE(c.lookup(ip("10.0.0.2"), 3));
  c.insert(ip("10.0.0.5"), "e", 50, 4);  // LRU now c
  EXPECT_FALSE(c.lookup(ip("10.0.0.3"), 5));
  EXPECT_EQ(c.lookup(ip("10.0.0.1"), 6), "a");
  EXPECT_EQ(c.lookup(ip("10.0.0.4"), 6), "d");
  EXPECT_EQ(c.lookup(ip("10.0.0.5"), 6), "e");
  EXPECT_EQ(c.counters().evictions, 2u);
  EXPECT_EQ(c.counters().expirations, 0u);
}

TEST(HintCache, ExpiredLruVictimCountsAsExpiration) {
  HintCache c(smallConfig(1));
  c.insert(ip("10.0.0.1"), "a", 10, 0);
  c.insert(ip("10.0.0.2"), "b", 10, 10 * kSec);
  EXPECT_EQ(c.counters().expirations, 1u);
  EXPECT_EQ(c.counters().evictions, 0u);
  EXPECT_EQ(c.size(), 1u);
}

TEST(HintCache, ReinsertRefreshesNameExpiryAndRecency) {
  HintCache c(smallConfig(2));
  c.insert(ip("10.0.0.1"), "old.example", 10, 0);
  c.insert(ip("10.0.0.2"), "b", 50, 0);
  c.insert(ip("10.0.0.1"), "new.example", 50, 5 * kSec);  // 1 is now MRU, expires at 55 s
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.counters().inserts, 3u);
  EXPECT_EQ(c.counters().refreshes, 1u);
  EXPECT_EQ(c.lookup(ip("10.0.0.1"), 20 * kSec), "new.example");
  EXPECT_TRUE(c.lookup(ip("10.0.0.1"), 55 * kSec - 1));
  c.insert(ip("10.0.0.3"), "c", 50, 30 * kSec);  // evicts 2 (LRU), not 1
  EXPECT_FALSE(c.lookup(ip("10.0.0.2"), 31 * kSec));
  EXPECT_TRUE(c.lookup(ip("10.0.0.1"), 31 * kSec));
  EXPECT_EQ(c.counters().evictions, 1u);
}

TEST(HintCache, CountersAddUp) {
  HintCache c(smallConfig(2));
  for (int i = 0; i < 5; ++i) {
    c.insert(ip("10.0.0." + std::to_string(i)), "n" + std::to_string(i), 10, i);
  }
  EXPECT_EQ(c.counters().inserts, 5u);
  EXPECT_EQ(c.counters().evictions, 3u);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_TRUE(c.lookup(ip("10.0.0.4"), 10));
  EXPECT_TRUE(c.lookup(ip("10.0.0.3"), 10));
  EXPECT_FALSE(c.lookup(ip("10.0.0.0"), 10));
  EXPECT_FALSE(c.lookup(ip("10.0.0.4"), 100 * kSec));
  const auto& k = c.counters();
  EXPECT_EQ(k.hits, 2u);
  EXPECT_EQ(k.misses, 2u);
  EXPECT_EQ(k.expirations, 1u);
  EXPECT_EQ(c.size(), 1u);
  c.clear();
  EXPECT_EQ(c.size(), 0u);
}

TEST(HintCache, ZeroCapacityDisables) {
  HintCache c(smallConfig(0));
  c.insert(ip("10.0.0.1"), "a", 50, 0);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.counters().inserts, 0u);
  EXPECT_FALSE(c.lookup(ip("10.0.0.1"), 1));
}

TEST(HintCache, FedFromDnsAnswer) {
  HintCache c(smallConfig(8));
  const auto r = parseDnsResponse(cnameChain());
  ASSERT_TRUE(r);
  for (const DnsAddress& a : r->addresses) c.insert(a.address, r->qname, a.ttl_s, 0);
  EXPECT_EQ(c.lookup(ip("1.2.3.4"), kSec), "www.netflix.com");
  EXPECT_EQ(c.lookup(ip("5.6.7.8"), 29 * kSec), "www.netflix.com");  // 30 s TTL
  EXPECT_FALSE(c.lookup(ip("5.6.7.8"), 30 * kSec));
}

}  // namespace
}  // namespace fg::core

// --- Hints: the shared store the pipeline feeds and asks ---------------------

namespace fg::core {
namespace {

const IpAddress kClient = *IpAddress::parse("10.1.0.2");

Flow classifiedFlow(std::string_view dst, uint16_t port, std::string app, std::string host) {
  Flow f;
  f.src = *IpAddress::parse("10.1.0.2");
  f.dst = *IpAddress::parse(dst);
  f.src_port = 40000;
  f.dst_port = port;
  f.proto = kProtoTcp;
  f.cls.application = std::move(app);
  f.cls.l7_protocol = "TLS";
  f.cls.category = "Video";
  f.cls.hostname = std::move(host);
  f.cls.confidence = Confidence::Dpi;
  return f;
}

TEST(Hints, DnsAnswerOverUdpAndTcpGivesTheQuestionName) {
  Hints h(HintsConfig{});
  h.learnDns(kClient, cnameChain(), /*tcp=*/false, 0);
  auto a = h.lookup(kClient, ServerKey{ip("1.2.3.4"), 443, kProtoTcp}, kSec);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->source, Confidence::Dns);
  EXPECT_EQ(a->hostname, "www.netflix.com");
  EXPECT_EQ(a->application, "") << "the caller matches the name (nDPI host rules)";
  // Over TCP the message follows a 2-byte length.
  std::vector<uint8_t> tcp = {0, 0};
  const auto msg = cnameChain();
  tcp[0] = static_cast<uint8_t>(msg.size() >> 8);
  tcp[1] = static_cast<uint8_t>(msg.size());
  tcp.insert(tcp.end(), msg.begin(), msg.end());
  Hints h2(HintsConfig{});
  h2.learnDns(kClient, tcp, /*tcp=*/true, 0);
  EXPECT_TRUE(h2.lookup(kClient, ServerKey{ip("5.6.7.8"), 443, kProtoTcp}, kSec));
  const HintsCounters c = h2.counters();
  EXPECT_EQ(c.dns_responses, 1u);
  EXPECT_EQ(c.dns_entries, 2u);
  EXPECT_EQ(c.dns_hits, 1u);
}

TEST(Hints, ALaterQuestionForACnameTargetKeepsTheNameFirstAsked) {
  Hints h(HintsConfig{});
  h.learnDns(kClient, test::dnsResponse("www.netflix.com", {"1.1.1.1"}, 300, {"www.dradis.netflix.com", "edge.cdn.example"}),
             false, 0);
  // The client (or its stub resolver) now asks for the chain's target itself.
  h.learnDns(kClient, test::dnsResponse("edge.cdn.example", {"1.1.1.1", "2.2.2.2"}), false, kSec);
  auto a = h.lookup(kClient, ServerKey{ip("2.2.2.2"), 443, kProtoTcp}, 2 * kSec);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->hostname, "www.netflix.com");
  EXPECT_EQ(h.lookup(kClient, ServerKey{ip("1.1.1.1"), 443, kProtoTcp}, 2 * kSec)->hostname, "www.netflix.com");
  EXPECT_EQ(h.counters().dns_aliased, 1u);
  // A name nobody reached through a chain is its own.
  h.learnDns(kClient, test::dnsResponse("other.example", {"3.3.3.3"}), false, kSec);
  EXPECT_EQ(h.lookup(kClient, ServerKey{ip("3.3.3.3"), 443, kProtoTcp}, 2 * kSec)->hostname, "other.example");
}

TEST(Hints, GarbageIsCountedNotLearned) {
  Hints h(HintsConfig{});
  const std::vector<uint8_t> junk = {1, 2, 3};
  h.learnDns(kClient, junk, false, 0);
  h.learnDns(kClient, junk, true, 0);
  const HintsCounters c = h.counters();
  EXPECT_EQ(c.dns_responses, 2u);
  EXPECT_EQ(c.dns_unparsed, 2u);
  EXPECT_EQ(c.dns_entries, 0u);
}

TEST(Hints, LearnedServerAnswersAloneOrAddsTheApplicationForTheSameName) {
  Hints h(HintsConfig{});
  h.learnFlow(classifiedFlow("1.2.3.4", 443, "NetFlix", "www.netflix.com"), 0);
  auto a = h.lookup(kClient, ServerKey{ip("1.2.3.4"), 443, kProtoTcp}, kSec);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->source, Confidence::Cache);
  EXPECT_EQ(a->application, "NetFlix");
  EXPECT_EQ(a->l7_protocol, "TLS");
  EXPECT_FALSE(h.lookup(kClient, ServerKey{ip("1.2.3.4"), 80, kProtoTcp}, kSec)) << "per port";
  EXPECT_FALSE(h.lookup(kClient, ServerKey{ip("1.2.3.4"), 443, kProtoUdp}, kSec)) << "per protocol";
  // The DNS name wins; the learned application only counts for that name.
  h.learnDns(kClient, cnameChain(), false, kSec);
  a = h.lookup(kClient, ServerKey{ip("1.2.3.4"), 443, kProtoTcp}, 2 * kSec);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->source, Confidence::Dns);
  EXPECT_EQ(a->application, "NetFlix");
  h.learnFlow(classifiedFlow("1.2.3.4", 443, "Cloudflare", "cdn.example"), 3 * kSec);
  a = h.lookup(kClient, ServerKey{ip("1.2.3.4"), 443, kProtoTcp}, 4 * kSec);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->hostname, "www.netflix.com");
  EXPECT_EQ(a->application, "") << "a shared address: another name's application is not this one's";
}

TEST(Hints, OnlyDpiAnswersAreLearnedAndLearnedEntriesExpire) {
  Hints h(HintsConfig{.enabled = true, .dns = {}, .learned_entries = 4, .learned_ttl_s = 10});
  Flow guessed = classifiedFlow("1.2.3.4", 443, "NetFlix", "");
  guessed.cls.confidence = Confidence::Guessed;
  h.learnFlow(guessed, 0);
  Flow unknown = classifiedFlow("1.2.3.5", 443, "Unknown", "");
  h.learnFlow(unknown, 0);
  Flow lookup = classifiedFlow("1.2.3.6", 53, "NetFlix", "www.netflix.com");
  lookup.cls.l7_protocol = "DNS";  // a resolver asked for a Netflix name
  h.learnFlow(lookup, 0);
  EXPECT_EQ(h.counters().learned_entries, 0u);
  h.learnFlow(classifiedFlow("1.2.3.4", 443, "NetFlix", ""), 0);
  EXPECT_TRUE(h.lookup(kClient, ServerKey{ip("1.2.3.4"), 443, kProtoTcp}, 10 * kSec - 1));
  EXPECT_FALSE(h.lookup(kClient, ServerKey{ip("1.2.3.4"), 443, kProtoTcp}, 10 * kSec));
}

TEST(Hints, DisabledLearnsAndAnswersNothing) {
  Hints h(HintsConfig{.enabled = false});
  h.learnDns(kClient, cnameChain(), false, 0);
  h.learnFlow(classifiedFlow("1.2.3.4", 443, "NetFlix", ""), 0);
  EXPECT_FALSE(h.lookup(kClient, ServerKey{ip("1.2.3.4"), 443, kProtoTcp}, kSec));
  EXPECT_EQ(h.counters().dns_entries + h.counters().learned_entries, 0u);
}

TEST(Hints, DescribeListsWhatIsKnownWithoutCountingIt) {
  Hints h(HintsConfig{});
  h.learnDns(kClient, cnameChain(), false, 0);
  h.learnFlow(classifiedFlow("1.2.3.4", 443, "NetFlix", "www.netflix.com"), 0);
  h.learnFlow(classifiedFlow("1.2.3.4", 80, "HTTP", "www.netflix.com"), 0);
  const HintInfo info = h.describe(ip("1.2.3.4"), kSec);
  ASSERT_EQ(info.dns.size(), 1u);
  EXPECT_EQ(info.dns[0].hostname, "www.netflix.com");
  EXPECT_EQ(info.dns[0].client, kClient);
  EXPECT_GT(info.dns[0].expires, kSec);
  EXPECT_EQ(info.learned.size(), 2u);
  EXPECT_EQ(h.counters().lookups, 0u);
  EXPECT_TRUE(h.describe(ip("9.9.9.9"), kSec).dns.empty());
}

TEST(Hints, OneClientsAnswersNeverSpeakForAnother) {
  // What a client resolved is what it asked for; another client (or anyone
  // able to send from port 53) must not name servers for its neighbours.
  Hints h(HintsConfig{});
  h.learnDns(kClient, test::dnsResponse("ads.blocked.example", {"9.9.9.9"}, 300, {"www.popular.example"}), false, 0);
  const IpAddress other = ip("10.1.0.3");
  EXPECT_TRUE(h.lookup(kClient, ServerKey{ip("9.9.9.9"), 443, kProtoTcp}, kSec));
  EXPECT_FALSE(h.lookup(other, ServerKey{ip("9.9.9.9"), 443, kProtoTcp}, kSec));
  // The other client's own lookup of the CNAME target stays its own name.
  h.learnDns(other, test::dnsResponse("www.popular.example", {"9.9.9.9"}), false, kSec);
  EXPECT_EQ(h.lookup(other, ServerKey{ip("9.9.9.9"), 443, kProtoTcp}, 2 * kSec)->hostname, "www.popular.example");
  EXPECT_EQ(h.lookup(kClient, ServerKey{ip("9.9.9.9"), 443, kProtoTcp}, 2 * kSec)->hostname, "ads.blocked.example");
}

}  // namespace
}  // namespace fg::core
