#include "gateway/core/name_check.h"

#include "common/ascii.h"

namespace fg::core {
namespace {

std::string_view stripDot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

// An application of its own (NetFlix), not a bare protocol (TLS) or nothing.
bool specificApp(const Classification& c) {
  return !c.application.empty() && c.application != "Unknown" && c.application != c.l7_protocol;
}

}  // namespace

bool PolicyRanges::contains(std::string_view application, const IpAddress& a) const {
  policy::IpAddress p;
  p.family = a.version == 4 ? policy::IpFamily::V4 : a.version == 6 ? policy::IpFamily::V6 : policy::IpFamily::None;
  p.bytes = a.bytes;
  return holder_.current()->inVerifiedRanges(application, p);
}

bool namesServer(const Classification& c) {
  if (c.hostname.empty()) return false;
  for (std::string_view p : {"TLS", "QUIC", "DTLS", "HTTP", "HTTP_Proxy", "HTTP_Connect", "IMAPS",
                             "POPS", "SMTPS"})
    if (c.l7_protocol == p) return true;
  return false;
}

bool certificateCovers(std::string_view names, std::string_view host) {
  host = stripDot(host);
  if (host.empty()) return false;
  while (!names.empty()) {
    const size_t comma = names.find(',');
    std::string_view n = names.substr(0, comma);
    names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
    while (!n.empty() && n.front() == ' ') n.remove_prefix(1);
    n = stripDot(n);
    if (n.empty()) continue;
    if (n.size() > 2 && n.substr(0, 2) == "*.") {
      // "*.example.com" covers "a.example.com", not "example.com" nor "a.b.example.com".
      const std::string_view base = n.substr(1);  // ".example.com"
      if (host.size() > base.size() && iequalsAscii(host.substr(host.size() - base.size()), base) &&
          host.substr(0, host.size() - base.size()).find('.') == std::string_view::npos)
        return true;
    } else if (iequalsAscii(n, host)) {
      return true;
    }
  }
  return false;
}

NameProof verifyName(const Flow& f, const Hints* hints, const AppRanges* ranges, Timestamp now) {
  const Classification& c = f.cls;
  if (!namesServer(c)) return NameProof::None;
  if (hints && hints->resolvedTo(f.src, f.dst, c.hostname, now)) return NameProof::Dns;
  // The client resolved a name of this same application to this server.
  if (f.early && f.early->source == Confidence::Dns && specificApp(c) && !f.early->application.empty() &&
      iequalsAscii(f.early->application, c.application))
    return NameProof::Dns;
  if (ranges && specificApp(c) && ranges->contains(c.application, f.dst)) return NameProof::Range;
  if (!c.cert_names.empty() && certificateCovers(c.cert_names, c.hostname)) return NameProof::Certificate;
  return NameProof::Unverified;
}

std::string_view toString(NameProof p) {
  switch (p) {
    case NameProof::None:
    case NameProof::Unverified:
      return "none";
    case NameProof::Dns:
      return "dns";
    case NameProof::Range:
      return "range";
    case NameProof::Certificate:
      return "certificate";
  }
  return "none";
}

}  // namespace fg::core
