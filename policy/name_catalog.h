// NameCatalog: the protocol/application and category names the classifier can
// report, so policy files can be validated against them without policy/
// depending on nDPI. gateway/dpi/ndpi_catalog.h builds one from libndpi.
#pragma once

#include <string>
#include <vector>

namespace fg::policy {

struct NameCatalog {
  // nDPI protocol names (used for both `application` and `l7_protocol`),
  // e.g. "TLS", "NetFlix", "BitTorrent". Matching is case-insensitive.
  std::vector<std::string> protocols;
  // nDPI category names, e.g. "Video", "Download", "Web".
  std::vector<std::string> categories;
};

}  // namespace fg::policy
