// FlowFacts: what the policy engine knows about a flow when it decides, and
// the conversion from flowgate's flow record JSON (as printed by
// `flowgate classify`) into it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>


#include "common/cipher_suites.h"
#include "common/result.h"
#include "policy/ip_address.h"

namespace fg::policy {

// Metadata that has not arrived yet. A rule reading a pending fact could still
// change its result, so Decision::final is false while it may decide.
enum PendingFlags : uint8_t {
  kPendingNone = 0,
  // application, l7_protocol, category, hostname, ja3c, alpn, confidence:
  // the classifier has not given its final answer yet.
  kPendingClassification = 1u << 0,
  // tls_version, cipher, cipher_strength, ja3s: the TLS ServerHello has not
  // been seen yet (the SNI comes one round trip earlier).
  kPendingTlsServerHello = 1u << 1,
};

// Whether the name a flow's application, category and hostname were read
// from (TLS/QUIC SNI, HTTP Host, or the DNS name the client resolved) is
// backed by more than the client's word: the gateway saw this client resolve
// it to this server, the server lies in the application's ranges, or the
// server's certificate covers it (docs/policy.md, "Verified names").
enum class NameCheck : uint8_t {
  None,        // no name: application/category from the payload or addresses alone
  Verified,
  Unverified,  // a name only the client vouches for (it could be forged)
};
std::string_view toString(NameCheck c);

struct FlowFacts {
  std::string application;   // nDPI application name ("NetFlix"), empty = unknown
  std::string l7_protocol;   // nDPI master protocol ("TLS")
  std::string category;      // nDPI category ("Video")
  std::string hostname;      // SNI / HTTP Host / DNS query name
  uint16_t tls_version = 0;  // wire value, 0 = none
  uint16_t cipher_id = 0;    // IANA id, 0 = none
  std::string cipher_name;   // IANA name; used when cipher_id is 0
  CipherStrength cipher_strength = CipherStrength::Unknown;
  std::string ja3c;
  std::string ja3s;
  std::vector<std::string> alpn;
  IpAddress src;  // the side that opened the flow
  IpAddress dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t ip_proto = 0;  // IANA protocol number (6 tcp, 17 udp, ...)
  std::string in_interface;
  std::string out_interface;
  std::string confidence;  // "dpi", "guessed", "unknown", "dns", "cache"
  uint8_t pending = kPendingNone;  // PendingFlags
  // An unverified name may still be verified while metadata is pending (the
  // certificate arrives with the TLS server hello).
  NameCheck name_check = NameCheck::None;
};

// "tcp" -> 6 etc., or a decimal number 0-255; nullopt otherwise.
std::optional<uint8_t> parseIpProto(std::string_view name);
std::string ipProtoName(uint8_t proto);

}  // namespace fg::policy
