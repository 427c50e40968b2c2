// Loading the application catalog for the flowgate binary's commands
// (classify, apps, policy check, run): where the shipped files are, and the
// nDPI category list every entry's category is checked against.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "policy/name_catalog.h"

namespace fg::cli {

// The shipped catalog directory when none is configured: the installed one
// (PREFIX/share/flowgate/apps) when it exists, else the source tree's apps/
// (a binary run from its build tree).
std::string defaultAppsDir();
inline constexpr const char* kDefaultLocalAppsDir = "/etc/flowgate/apps.d";

// Loads both directories; categories are validated against nDPI's.
policy::LoadResult<std::shared_ptr<const catalog::Catalog>> loadAppCatalog(const std::string& shipped,
                                                                           const std::string& local);

// nDPI's names plus the catalog's (for policy validation).
policy::NameCatalog namesWithCatalog(const catalog::Catalog* c);

// The daemon's catalog: the snapshot its pipelines read, and the names its
// policy loads are validated against (nDPI's plus the catalog's). One per
// process (appCatalogState()). load() is called at start-up and by the
// reload path before the policy is reloaded (SIGHUP, control `reload`),
// never concurrently with a policy load: `names` is updated in place.
class AppCatalogState {
 public:
  // Loads the configured directories (nothing when `enabled` is false).
  // All-or-nothing: on errors the running catalog and names stay, and every
  // error is returned formatted (file:line:col: key: message).
  std::vector<std::string> load(bool enabled, const std::string& shipped, const std::string& local) {
    auto errors = prepare(enabled, shipped, local);
    if (errors.empty()) commit();
    return errors;
  }
  // The two halves of load() for an all-or-nothing reload with the policy:
  // prepare() reads the files and, when they are valid, makes their names
  // the ones policies are validated against; then either commit() (the
  // pipelines take the new catalog) or rollback() (the old names return).
  std::vector<std::string> prepare(bool enabled, const std::string& shipped, const std::string& local);
  void commit();
  void rollback();
  const catalog::CatalogHolder& holder() const { return holder_; }
  const policy::NameCatalog* names() const { return &names_; }

 private:
  catalog::CatalogHolder holder_;
  policy::NameCatalog names_ = namesWithCatalog(nullptr);
  std::shared_ptr<const catalog::Catalog> pending_;
  policy::NameCatalog previous_names_;
};
AppCatalogState& appCatalogState();

}  // namespace fg::cli
