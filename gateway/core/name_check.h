// Name verification: is the name a client sent for its server (TLS/QUIC
// SNI, HTTP Host) backed by more than the client's word?
//
// A name is verified (Classification::name_proof) when
//   - Dns: the gateway saw this client resolve that name (or a CNAME chain
//     through it) to this server address (core::Hints::resolvedTo), or
//     resolve another name of the same application to it (the early answer
//     of the flow names the same application: clients resolve
//     api-global.latency.example.net and send SNI api-global.example.net);
//   - Range: the server address lies in address ranges assigned to the
//     application the name gave (the AppRanges seam: the application
//     catalog, the policy's [verified_ranges]);
//   - Certificate: the server's certificate names cover it (TLS <= 1.2,
//     where the certificate crosses in clear; Classification::cert_names).
// Otherwise it is Unverified. Names that are no claim about the server (a
// DNS query, an SSH banner, a DHCP host name) are not checked (None).
//
// What it must never do: trust a name another client resolved (hints are
// per client), block, or allocate on the packet path beyond the checks.
// Threading: the functions are pure or call thread-safe Hints/AppRanges.
// Error convention: none.
#pragma once

#include <string_view>

#include "gateway/core/flow.h"
#include "gateway/core/hints.h"
#include "policy/policy.h"

namespace fg::core {

// Seam: "does this address belong to application X's ranges". Implementations
// must be thread-safe (all workers call it). No ranges: nullptr.
class AppRanges {
 public:
  virtual ~AppRanges() = default;
  // `application` is an nDPI application name (case-insensitive).
  virtual bool contains(std::string_view application, const IpAddress& address) const = 0;
};

// The operator's ranges: the [verified_ranges] of the policy in force
// (PolicySet::inVerifiedRanges), read through the holder on every call so a
// reload takes effect at once. The application catalog's ranges join here.
class PolicyRanges final : public AppRanges {
 public:
  explicit PolicyRanges(const policy::PolicyHolder& holder) : holder_(holder) {}
  // core::AppRanges
  bool contains(std::string_view application, const IpAddress& address) const override;

 private:
  const policy::PolicyHolder& holder_;
};

// Whether `c.hostname` is a name the client claims for the server: the
// flow speaks TLS, QUIC, DTLS or HTTP (incl. proxies and TLS-wrapped mail).
bool namesServer(const Classification& c);

// Whether a certificate's comma-separated DNS names cover `host`: an exact
// name, or a wildcard "*.example.com" for exactly one more label
// (case-insensitive; a trailing dot on `host` is ignored).
bool certificateCovers(std::string_view cert_names, std::string_view host);

// The proof for `flow`'s current hostname; None when there is no name to
// check. `hints` and `ranges` may be null.
NameProof verifyName(const Flow& flow, const Hints* hints, const AppRanges* ranges, Timestamp now);

}  // namespace fg::core
