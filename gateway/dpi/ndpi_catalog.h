// The nDPI name catalog used to validate policy files: every protocol and
// category name the linked libndpi (4.2 on Debian 12) can report.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/name_catalog.h"

namespace fg::dpi {

// Builds the catalog once (a short-lived nDPI detection module is created and
// destroyed on first call) and returns a copy of the cached value. Thread-safe
// (function-local static). Names are de-duplicated and keep nDPI's spelling.
policy::NameCatalog ndpiNameCatalog();

// nDPI's numeric id of a protocol name as the linked libndpi reports it
// (e.g. "TLS"), for the Netify agent's `detected_protocol`; nullopt for a
// name nDPI does not know. The table is built once, like the catalog.
std::optional<uint32_t> ndpiProtocolId(std::string_view name);

}  // namespace fg::dpi
