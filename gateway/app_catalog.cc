#include "gateway/app_catalog.h"

#include <filesystem>

#include "gateway/dissect/dissect.h"
#include "gateway/dpi/ndpi_catalog.h"

namespace fg::cli {

std::string defaultAppsDir() {
  std::error_code ec;
  if (std::filesystem::is_directory(FLOWGATE_APPS_DIR, ec)) return FLOWGATE_APPS_DIR;
  if (std::filesystem::is_directory(FLOWGATE_SOURCE_APPS_DIR, ec)) return FLOWGATE_SOURCE_APPS_DIR;
  return FLOWGATE_APPS_DIR;
}

policy::LoadResult<std::shared_ptr<const catalog::Catalog>> loadAppCatalog(const std::string& shipped,
                                                                           const std::string& local) {
  static const policy::NameCatalog ndpi = dpi::ndpiNameCatalog();
  catalog::LoadOptions options;
  if (!ndpi.categories.empty()) options.categories = &ndpi.categories;
  return catalog::loadCatalogDirs(shipped, local, options);
}

policy::NameCatalog namesWithCatalog(const catalog::Catalog* c) {
  policy::NameCatalog names = dpi::ndpiNameCatalog();
  if (c && !names.protocols.empty()) c->addNames(names);
  if (!names.protocols.empty()) names = dissect::withDissectorNames(std::move(names));  // docs/dissectors.md
  return names;
}

std::vector<std::string> AppCatalogState::prepare(bool enabled, const std::string& shipped,
                                                  const std::string& local) {
  std::vector<std::string> errors;
  pending_.reset();
  if (enabled) {
    auto loaded = loadAppCatalog(shipped, local);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors()) errors.push_back(policy::formatError(e));
      return errors;
    }
    pending_ = loaded.value();
  }
  previous_names_ = std::move(names_);
  names_ = namesWithCatalog(pending_.get());
  return errors;
}

void AppCatalogState::commit() {
  holder_.set(std::move(pending_));
  pending_.reset();
}

void AppCatalogState::rollback() {
  names_ = std::move(previous_names_);
  pending_.reset();
}

AppCatalogState& appCatalogState() {
  static AppCatalogState state;
  return state;
}

}  // namespace fg::cli
