// refineWithCatalog: where flowgate's application catalog answers after the
// classifier (docs/catalog.md, "Precedence"). Pure; called by the pipeline.
//
// Given the classifier's answer in `cls`, the flow's name (SNI, HTTP Host,
// DNS query, or the name the client resolved) and its server address:
//  1. An address owner is not the application. When the answer names a
//     catalog entry marked `owner` (AmazonAWS, Cloudflare, ...) and neither
//     the catalog nor the classifier's own host rules tie the flow's name to
//     that owner, the owner moves to cls.owner and the application falls
//     back to the master protocol (TLS, QUIC, HTTP, ...). An owner that is
//     also the master protocol came from nDPI's dissector and stays.
//  2. The catalog's answer is the most specific host pattern matching the
//     name; without one, the longest application range (not an owner's)
//     holding the server address with the server port allowed. An owner's
//     range only fills cls.owner.
//  3. The catalog's answer replaces a generic one (Unknown, the master
//     protocol itself, TLS/QUIC/HTTP/DNS), a port guess, a demoted owner,
//     and any application the catalog itself knows (by name or `refines`).
//     An application the catalog does not know stays: nDPI knew better.
//  4. Otherwise an nDPI name the catalog lists as an alias (an older
//     name: "IPsec", or "STUN/Teams" under one master) is renamed.
//  Operator entries beat shipped ones already inside the catalog.
// Returns true when the catalog changed the application.
#pragma once

#include <string_view>

#include "catalog/catalog.h"
#include "gateway/core/classifier.h"
#include "gateway/core/flow.h"

namespace fg::core {

struct RefineInput {
  std::string_view name;         // "" = none
  const IpAddress* server = nullptr;  // nullptr = no address lookup
  uint16_t server_port = 0;
  // The classifier's own host rules (for rule 1), or nullptr.
  Classifier* classifier = nullptr;
};

bool refineWithCatalog(const catalog::Catalog& catalog, Classification& cls, const RefineInput& in);

// True for answers that say nothing about the application: empty, Unknown,
// the master protocol repeated, or a bare transport/web protocol.
bool isGenericApplication(const Classification& cls);

policy::IpAddress toPolicyAddress(const IpAddress& a);

}  // namespace fg::core
