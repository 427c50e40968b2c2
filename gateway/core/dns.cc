#include "gateway/core/dns.h"

#include <algorithm>
#include <limits>

namespace fg::core {
namespace {

uint16_t be16(std::span<const uint8_t> m, size_t at) {
  return static_cast<uint16_t>((m[at] << 8) | m[at + 1]);
}
uint32_t be32(std::span<const uint8_t> m, size_t at) {
  return (uint32_t{m[at]} << 24) | (uint32_t{m[at + 1]} << 16) | (uint32_t{m[at + 2]} << 8) |
         uint32_t{m[at + 3]};
}

// Reads the (possibly compressed) name starting at `pos` into `out`
// (lower-case, dot-separated, no trailing dot). Returns the offset just past
// the name where it starts (past the first pointer if there is one), or
// nullopt if the name is malformed. Every access is bounds-checked against
// `msg`; termination is guaranteed because each pointer must go strictly
// backwards, and bounded further by kDnsMaxPointerJumps.
std::optional<size_t> readName(std::span<const uint8_t> msg, size_t pos, std::string& out) {
  out.clear();
  size_t wire_len = 0;
  int jumps = 0;
  std::optional<size_t> end;
  size_t cur = pos;
  for (;;) {
    if (cur >= msg.size()) return std::nullopt;
    const uint8_t len = msg[cur];
    if ((len & 0xC0) == 0xC0) {
      if (cur + 1 >= msg.size()) return std::nullopt;
      const size_t target = (size_t{len & 0x3Fu} << 8) | msg[cur + 1];
      // Only backwards into the body: a forward or self pointer is how a
      // hostile message builds loops, and no name lives in the header.
      if (target >= cur || target < kDnsHeaderSize) return std::nullopt;
      if (++jumps > kDnsMaxPointerJumps) return std::nullopt;
      if (!end) end = cur + 2;
      cur = target;
      continue;
    }
    // 0x40 and 0x80 are the reserved/obsolete label types; they also cover
    // every length above kDnsMaxLabelLength (63 = 0x3f).
    if ((len & 0xC0) != 0) return std::nullopt;
    if (len == 0) {
      if (wire_len + 1 > kDnsMaxNameLength) return std::nullopt;
      return end ? *end : cur + 1;
    }
    wire_len += 1 + size_t{len};
    // Leave room for the terminating zero octet.
    if (wire_len + 1 > kDnsMaxNameLength) return std::nullopt;
    if (cur + 1 + len > msg.size()) return std::nullopt;
    if (!out.empty()) out.push_back('.');
    for (size_t i = cur + 1; i < cur + 1 + len; ++i) {
      const uint8_t c = msg[i];
      if (c <= 0x20 || c >= 0x7f || c == '.') return std::nullopt;
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
    }
    cur += 1 + size_t{len};
  }
}

struct Record {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string target;  // CNAME
  IpAddress address;   // A / AAAA
};

// One answer RR at `pos`. Returns the offset of the next RR, or nullopt if
// the RR itself runs out of the message (the section is unreadable from
// here). `rec` is filled only for IN-class A/AAAA/CNAME records with
// well-formed data; `keep` tells whether it was.
std::optional<size_t> readRecord(std::span<const uint8_t> msg, size_t pos, Record& rec,
                                 bool& keep) {
  keep = false;
  const auto after_name = readName(msg, pos, rec.owner);
  if (!after_name) return std::nullopt;
  size_t at = *after_name;
  if (msg.size() - at < 10) return std::nullopt;
  rec.type = be16(msg, at);
  const uint16_t klass = be16(msg, at + 2);
  const uint32_t ttl = be32(msg, at + 4);
  const size_t rdlength = be16(msg, at + 8);
  at += 10;
  if (msg.size() - at < rdlength) return std::nullopt;
  const size_t next = at + rdlength;
  // RFC 2181 section 8: a TTL with the top bit set is treated as zero.
  rec.ttl = (ttl & 0x80000000u) ? 0 : ttl;
  if (klass != kDnsClassIn) return next;
  switch (rec.type) {
    case kDnsTypeA:
      if (rdlength != 4) return next;
      rec.address = IpAddress::v4(msg.data() + at);
      keep = true;
      break;
    case kDnsTypeAaaa:
      if (rdlength != 16) return next;
      rec.address = IpAddress::v6(msg.data() + at);
      keep = true;
      break;
    case kDnsTypeCname: {
      // The target must be exactly the RDATA (it may point backwards into
      // the message, but may not run past the RDATA).
      const auto end = readName(msg, at, rec.target);
      keep = end && *end == next;
      break;
    }
    default:
      break;
  }
  return next;
}

// Follows the CNAME chain from the question name and attributes every
// A/AAAA record on it to the question.
void resolve(const std::vector<Record>& records, DnsAnswer& answer) {
  // (name, min TTL of the CNAMEs leading to it). The views point into
  // answer.qname and `records`, neither of which changes below.
  std::vector<std::pair<std::string_view, uint32_t>> chain;
  chain.emplace_back(answer.qname, std::numeric_limits<uint32_t>::max());
  for (size_t hop = 0; hop < kDnsMaxCnameChain; ++hop) {
    // Copies (emplace_back below may reallocate); no structured binding:
    // clang 14 cannot capture one in the lambda.
    const std::string_view current = chain.back().first;
    const uint32_t ttl = chain.back().second;
    const auto it = std::find_if(records.begin(), records.end(), [&](const Record& r) {
      return r.type == kDnsTypeCname && r.owner == current;
    });
    if (it == records.end()) break;
    const bool loop = std::any_of(chain.begin(), chain.end(),
                                  [&](const auto& c) { return c.first == it->target; });
    if (loop) break;
    answer.cnames.push_back(it->target);
    chain.emplace_back(it->target, std::min(ttl, it->ttl));
  }
  for (const Record& r : records) {
    if (r.type != kDnsTypeA && r.type != kDnsTypeAaaa) continue;
    const auto link = std::find_if(chain.begin(), chain.end(),
                                   [&](const auto& c) { return c.first == r.owner; });
    if (link == chain.end()) continue;
    const uint32_t ttl = std::min(r.ttl, link->second);
    auto dup = std::find_if(answer.addresses.begin(), answer.addresses.end(),
                            [&](const DnsAddress& a) { return a.address == r.address; });
    if (dup != answer.addresses.end()) {
      dup->ttl_s = std::min(dup->ttl_s, ttl);
    } else {
      answer.addresses.push_back({.address = r.address, .ttl_s = ttl});
    }
  }
}

}  // namespace

std::optional<DnsAnswer> parseDnsResponse(std::span<const uint8_t> msg) {
  if (msg.size() < kDnsHeaderSize) return std::nullopt;
  const uint16_t flags = be16(msg, 2);
  const bool qr = (flags & 0x8000) != 0;
  const unsigned opcode = (flags >> 11) & 0xF;
  if (!qr || opcode != 0) return std::nullopt;
  const uint16_t qdcount = be16(msg, 4);
  const uint16_t ancount = be16(msg, 6);
  if (qdcount == 0) return std::nullopt;

  DnsAnswer answer;
  answer.id = be16(msg, 0);
  answer.tc = (flags & 0x0200) != 0;
  answer.rcode = static_cast<uint8_t>(flags & 0xF);

  size_t pos = kDnsHeaderSize;
  const auto after_qname = readName(msg, pos, answer.qname);
  if (!after_qname || msg.size() - *after_qname < 4) return std::nullopt;
  answer.qtype = be16(msg, *after_qname);
  pos = *after_qname + 4;
  if (answer.rcode != kDnsRcodeNoError) return answer;

  // Further questions (servers practically never send them) are skipped.
  std::string scratch;
  for (uint16_t i = 1; i < qdcount; ++i) {
    const auto end = readName(msg, pos, scratch);
    if (!end || msg.size() - *end < 4) {
      answer.incomplete = true;
      return answer;
    }
    pos = *end + 4;
  }

  std::vector<Record> records;
  for (uint16_t i = 0; i < ancount; ++i) {
    if (i >= kDnsMaxAnswerRecords) {
      answer.incomplete = true;
      break;
    }
    Record rec;
    bool keep = false;
    const auto next = readRecord(msg, pos, rec, keep);
    if (!next) {
      answer.incomplete = true;
      break;
    }
    pos = *next;
    if (keep) records.push_back(std::move(rec));
  }
  resolve(records, answer);
  return answer;
}

std::optional<std::span<const uint8_t>> dnsTcpMessage(std::span<const uint8_t> tcp_payload) {
  if (tcp_payload.size() < 2) return std::nullopt;
  const size_t len = be16(tcp_payload, 0);
  if (tcp_payload.size() - 2 < len) return std::nullopt;
  return tcp_payload.subspan(2, len);
}

}  // namespace fg::core
