#include "gateway/dpi/ndpi_catalog.h"

#include <algorithm>
#include <map>
#include <string>
#include <set>
#include <string_view>

extern "C" {
#include <ndpi/ndpi_api.h>
}

namespace fg::dpi {
namespace {

policy::NameCatalog buildCatalog() {
  policy::NameCatalog catalog;
  ndpi_detection_module_struct* mod = ndpi_init_detection_module(ndpi_no_prefs);
  if (mod == nullptr) return catalog;  // empty catalog: callers treat it as "no validation"
  ndpi_finalize_initialization(mod);

  std::set<std::string> seen;
  const unsigned num = ndpi_get_num_supported_protocols(mod);
  for (unsigned id = 0; id < num; ++id) {
    const char* name = ndpi_get_proto_name(mod, static_cast<u_int16_t>(id));
    if (name == nullptr || *name == '\0') continue;
    if (seen.insert(name).second) catalog.protocols.emplace_back(name);
  }
  seen.clear();
  for (int c = 0; c < static_cast<int>(NDPI_PROTOCOL_NUM_CATEGORIES); ++c) {
    const char* name = ndpi_category_get_name(mod, static_cast<ndpi_protocol_category_t>(c));
    if (name == nullptr || *name == '\0') continue;
    // Unassigned enum slots come back as numbers or placeholders; keep names only.
    const std::string_view sv(name);
    if (std::all_of(sv.begin(), sv.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) continue;
    if (seen.insert(name).second) catalog.categories.emplace_back(name);
  }
  ndpi_exit_detection_module(mod);
  return catalog;
}

std::map<std::string, uint32_t, std::less<>> buildProtocolIds() {
  std::map<std::string, uint32_t, std::less<>> ids;
  ndpi_detection_module_struct* mod = ndpi_init_detection_module(ndpi_no_prefs);
  if (mod == nullptr) return ids;
  ndpi_finalize_initialization(mod);
  const unsigned num = ndpi_get_num_supported_protocols(mod);
  for (unsigned id = 0; id < num; ++id) {
    const char* name = ndpi_get_proto_name(mod, static_cast<u_int16_t>(id));
    if (name == nullptr || *name == '\0') continue;
    ids.emplace(name, id);  // the first id of a name wins
  }
  ndpi_exit_detection_module(mod);
  return ids;
}

}  // namespace

std::optional<uint32_t> ndpiProtocolId(std::string_view name) {
  static const auto ids = buildProtocolIds();
  auto it = ids.find(name);
  if (it == ids.end()) return std::nullopt;
  return it->second;
}

policy::NameCatalog ndpiNameCatalog() {
  static const policy::NameCatalog catalog = buildCatalog();
  return catalog;
}

}  // namespace fg::dpi
