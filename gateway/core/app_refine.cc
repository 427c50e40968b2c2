#include "gateway/core/app_refine.h"

#include <array>

#include "common/ascii.h"

namespace fg::core {

namespace {

constexpr std::array<std::string_view, 8> kGeneric = {"Unknown", "TLS", "QUIC", "HTTP", "DNS", "DTLS",
                                                      "HTTP_Proxy", "HTTP_Connect"};

}  // namespace

policy::IpAddress toPolicyAddress(const IpAddress& a) {
  policy::IpAddress p;
  if (a.version == 4) p.family = policy::IpFamily::V4;
  else if (a.version == 6) p.family = policy::IpFamily::V6;
  p.bytes = a.bytes;
  return p;
}

bool isGenericApplication(const Classification& cls) {
  if (cls.application.empty() || iequalsAscii(cls.application, cls.l7_protocol)) return true;
  for (std::string_view g : kGeneric)
    if (iequalsAscii(cls.application, g)) return true;
  return false;
}

bool refineWithCatalog(const catalog::Catalog& catalog, Classification& cls, const RefineInput& in) {
  catalog::Match m;
  if (!in.name.empty()) m = catalog.matchName(in.name);

  // 1. An owner named as the application without the name to back it.
  bool demoted = false;
  if (!cls.application.empty()) {
    const catalog::App* cur = catalog.find(cls.application);
    // (An owner as master too is nDPI's dissector speaking, not an address.)
    if (cur && cur->owner && m.app != cur && !iequalsAscii(cls.l7_protocol, cls.application)) {
      Classification by_rules;
      const bool named = !in.name.empty() && in.classifier &&
                         in.classifier->matchHostname(in.name, by_rules) &&
                         iequalsAscii(by_rules.application, cls.application);
      if (!named) {
        cls.owner = cur->name;
        cls.application = cls.l7_protocol;
        cls.category = "Unspecified";
        demoted = true;
      }
    }
  }

  // 2. Without a name match: an application range, or an owner's.
  if (!m && in.server) {
    const policy::IpAddress addr = toPolicyAddress(*in.server);
    catalog::Match a = catalog.matchAddress(addr, in.server_port);
    if (a && a.app->owner) {
      if (cls.owner.empty()) cls.owner = a.app->name;
    } else if (a) {
      m = a;
    }
  }
  // 3. Does the catalog's answer replace the classifier's?
  const bool replace = m && (demoted || cls.app_source == AppSource::Port || isGenericApplication(cls) ||
                             catalog.knows(cls.application));
  if (!replace) {
    // 4. Names (older) nDPI gives applications the catalog calls otherwise.
    bool renamed = false;
    if (const catalog::App* a = catalog.aliasOf(cls.l7_protocol, cls.application)) {
      if (iequalsAscii(cls.l7_protocol, cls.application)) cls.l7_protocol = a->name;
      cls.application = a->name;
      cls.category = a->category;
      renamed = true;
    }
    if (const catalog::App* a = catalog.aliasOf({}, cls.l7_protocol)) cls.l7_protocol = a->name;
    return renamed;
  }
  cls.category = m.app->category;
  if (iequalsAscii(cls.application, m.app->name)) return false;  // the classifier agreed
  cls.application = m.app->name;
  cls.app_source = AppSource::Catalog;
  if (cls.l7_protocol.empty()) cls.l7_protocol = "Unknown";
  return true;
}

}  // namespace fg::core
