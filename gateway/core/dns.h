// DNS response parsing for hostname hints: which name did the client ask for,
// and which server addresses did it get back for it.
//
// What it does: parseDnsResponse() reads one DNS message (a UDP payload, or a
// TCP message after its 2-byte length prefix; see dnsTcpMessage()) and
// returns the question (lower-cased, no trailing dot), the header's RCODE and
// TC bit, and the A/AAAA records that answer the question, following the
// CNAME chain that starts at the question name. Every address is attributed
// to the question name, e.g.
//   www.netflix.com CNAME www.dradis.netflix.com CNAME x.y.net A 1.2.3.4
// yields {1.2.3.4} for "www.netflix.com".
//
// What it must never do: read outside the span it is given, allocate without
// bound, loop without bound, throw on any input, or trust anything in the
// message (counts, pointers, lengths, TTLs). The message is hostile input:
//   - compression pointers must point strictly backwards (to an offset below
//     the pointer itself) and at most kDnsMaxPointerJumps are followed;
//   - a label is at most 63 bytes, a name at most 255 bytes in wire form;
//   - names with bytes that would make the text form ambiguous or unprintable
//     ('.', bytes <= 0x20 or >= 0x7f inside a label) are malformed;
//   - the reserved label types 0x40/0x80 are malformed;
//   - section counts are upper bounds only: parsing stops at the end of the
//     message and at most kDnsMaxAnswerRecords answer records are read;
//   - a TTL with the top bit set is read as 0 (RFC 2181 section 8).
// A message that is not a standard-query response (QR=0, OPCODE != 0) or has
// no readable question yields nullopt. A malformed or short answer section
// yields the records read before the damage, with `incomplete` set
// ("partial but safe"). A non-zero RCODE (NXDOMAIN, SERVFAIL, ...) yields
// the question and rcode with no addresses: the answer section is not read.
// Authority and additional sections are ignored (additional records are not
// answers to the question and are the usual cache-poisoning vector).
//
// Error convention: std::optional (no Result: a malformed DNS message is
// expected traffic, not an error; callers count nullopt).
// Threading: pure functions, no state; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/core/ip_address.h"

namespace fg::core {

inline constexpr uint16_t kDnsTypeA = 1;
inline constexpr uint16_t kDnsTypeCname = 5;
inline constexpr uint16_t kDnsTypeAaaa = 28;
inline constexpr uint16_t kDnsClassIn = 1;
inline constexpr uint8_t kDnsRcodeNoError = 0;
inline constexpr uint8_t kDnsRcodeNxDomain = 3;

inline constexpr size_t kDnsHeaderSize = 12;
inline constexpr size_t kDnsMaxLabelLength = 63;
inline constexpr size_t kDnsMaxNameLength = 255;      // wire form, incl. length octets
inline constexpr int kDnsMaxPointerJumps = 16;        // per name
inline constexpr size_t kDnsMaxAnswerRecords = 256;   // answer RRs read per message
inline constexpr size_t kDnsMaxCnameChain = 16;       // CNAME hops followed from the question

struct DnsAddress {
  IpAddress address;
  // Seconds the address stays valid for the question name: the minimum of
  // the A/AAAA record's TTL and the TTLs of the CNAMEs leading to it.
  uint32_t ttl_s = 0;
  friend bool operator==(const DnsAddress&, const DnsAddress&) = default;
};

struct DnsAnswer {
  uint16_t id = 0;
  uint8_t rcode = 0;
  bool tc = false;          // header TC bit (UDP response truncated by the server)
  bool incomplete = false;  // the answer section stopped early (short or malformed)
  std::string qname;        // lower-case, no trailing dot; "" for the root
  uint16_t qtype = 0;
  // CNAME targets followed from qname, in order (www.dradis.netflix.com, ...).
  std::vector<std::string> cnames;
  // A and AAAA records for qname or a name on its CNAME chain, in message
  // order, duplicates removed (keeping the lower TTL).
  std::vector<DnsAddress> addresses;
};

// Parses one DNS response message. See the design block for what yields
// nullopt and what yields a partial answer. Never reads outside
// `dns_message`; the result owns all of its data.
std::optional<DnsAnswer> parseDnsResponse(std::span<const uint8_t> dns_message);

// DNS over TCP: the message following the 2-byte length prefix, if the
// segment holds the whole message (nullopt while it is shorter). Bytes past
// the announced length (a pipelined next message) are not included.
std::optional<std::span<const uint8_t>> dnsTcpMessage(std::span<const uint8_t> tcp_payload);

}  // namespace fg::core
