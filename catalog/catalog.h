// catalog: flowgate's application catalog (docs/catalog.md).
//
// Applications as data: each has a name (current nDPI's spelling where nDPI
// knows the application), a category, hostname patterns, optional server
// address ranges with optional port hints, the nDPI names it refines, and
// whether it is an address owner (a cloud or CDN that hosts other
// applications). Files come from two places: the shipped catalog
// (/usr/share/flowgate/apps/*.toml) and the operator's overrides
// (/etc/flowgate/apps.d/*.toml); an operator entry beats a shipped one.
//
// Pure: no kernel, nDPI, Asio or JSON headers; toml++ only in the loader.
// A Catalog is immutable once loaded and may be shared by any number of
// threads (lookups are const and allocate nothing). Reload builds a new
// Catalog and swaps the snapshot (CatalogHolder); a failed load keeps the
// old one. Errors: LoadResult with every error (file:line:col: key: message).
//
// Matching:
//   hosts  "name.example"      exactly that name
//          "*.example.com"     any name below example.com (not example.com itself)
//          "edge*.example.com" one first label with a literal prefix (and/or
//                              suffix) around a single '*', below example.com
//   The most specific pattern wins: exact, then the longest suffix; at one
//   suffix an anchored label beats "*.". Lookup is a hashed label walk: one
//   hash probe per label of the name, never a scan of the patterns.
//   ranges "192.0.2.0/24", "2001:db8::/32": longest prefix wins (one hash
//   probe per prefix length in use). An entry's `ports` restrict its ranges
//   (never its hosts) to those server ports.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/ip_address.h"
#include "policy/name_catalog.h"
#include "policy/load_error.h"

namespace fg::catalog {

enum class Origin : uint8_t { Shipped, Operator };
std::string_view toString(Origin o);

struct PortRange {
  uint16_t first = 0, last = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct App {
  std::string name;
  std::string category;
  std::vector<std::string> hosts;     // patterns as written (lower case)
  std::vector<std::string> ranges;    // CIDRs as written (canonical text)
  std::vector<PortRange> ports;       // restrict `ranges`; empty = any port
  std::vector<std::string> refines;   // nDPI application names this one refines
  // Names (older) nDPI gives this application: "IPsec" renames a master or
  // an application, "STUN/Teams" an application under that master only.
  std::vector<std::string> aliases;
  bool owner = false;                 // an address owner (cloud, CDN), not an application
  Origin origin = Origin::Shipped;
  std::string file;                   // where it was defined (the last file that set it)
  int line = 0;

  bool portAllowed(uint16_t port) const;
};

// What matched, and how.
struct Match {
  const App* app = nullptr;
  std::string_view pattern;  // the host pattern or range that matched
  explicit operator bool() const { return app != nullptr; }
};

class Catalog {
 public:
  Catalog() = default;
  Catalog(Catalog&&) noexcept = default;
  Catalog& operator=(Catalog&&) noexcept = default;
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // The most specific host pattern matching `hostname` (ASCII case-insensitive,
  // one trailing dot ignored). Never allocates for names up to 255 bytes.
  Match matchName(std::string_view hostname) const;
  // The longest range containing `address` whose entry allows `port` (0 =
  // any port: only entries without port hints).
  Match matchAddress(const policy::IpAddress& address, uint16_t port) const;
  // The application called `name` (case-insensitive), or nullptr.
  const App* find(std::string_view name) const;
  // True when `ndpi_name` is a catalog application or one some entry
  // refines: the catalog then has the last word on flows nDPI gives it.
  bool knows(std::string_view ndpi_name) const;
  // The application an nDPI name is an alias of: `master`/`app` first, then
  // `app` alone (pass an empty master to look up a bare name).
  const App* aliasOf(std::string_view master, std::string_view app) const;

  const std::vector<std::unique_ptr<App>>& apps() const { return apps_; }
  size_t hostPatterns() const { return host_patterns_; }
  size_t rangeCount() const { return range_count_; }

  // The catalog's application and category names added to `names` (for
  // policy validation), keeping names already there.
  void addNames(policy::NameCatalog& names) const;

 private:
  friend class Builder;
  struct Glob {  // one anchored first label: prefix*suffix
    std::string prefix, suffix;
    const App* app;
    std::string pattern;
  };
  struct Suffix {
    const App* any = nullptr;  // "*.suffix"
    std::string any_pattern;
    std::vector<Glob> globs;
  };
  struct Exact {
    const App* app = nullptr;
    std::string pattern;
  };
  struct RangeEntry {
    const App* app = nullptr;
    std::string text;
  };
  struct RangeKeyHash {
    size_t operator()(const std::array<uint8_t, 16>& k) const noexcept;
  };
  using RangeTable = std::unordered_map<std::array<uint8_t, 16>, std::vector<RangeEntry>, RangeKeyHash>;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  std::vector<std::unique_ptr<App>> apps_;
  StringMap<const App*> by_name_;   // lower-case name
  StringMap<bool> known_;           // lower-case names of apps and refined nDPI names
  StringMap<const App*> aliases_;   // lower-case "name" or "master/name"
  StringMap<Exact> exact_;
  StringMap<Suffix> suffix_;
  // Per family: prefix lengths in use (longest first) and one table each.
  std::vector<int> v4_lengths_, v6_lengths_;
  std::unordered_map<int, RangeTable> v4_, v6_;
  size_t host_patterns_ = 0, range_count_ = 0;
};

struct CatalogSource {
  std::string name;  // file name for errors
  std::string text;  // TOML
  Origin origin = Origin::Shipped;
};

struct LoadOptions {
  // When set, every `category` must be one of these (case-insensitive).
  const std::vector<std::string>* categories = nullptr;
};

// Builds a catalog from sources in order (shipped first, then operator).
policy::LoadResult<std::shared_ptr<const Catalog>> loadCatalog(const std::vector<CatalogSource>& sources,
                                                               const LoadOptions& options = {});

// Reads every *.toml of `shipped_dir` then of `operator_dir` (each sorted by
// name; a directory that does not exist contributes nothing, one that cannot
// be read is an error) and loads them.
policy::LoadResult<std::shared_ptr<const Catalog>> loadCatalogDirs(const std::string& shipped_dir,
                                                                   const std::string& operator_dir,
                                                                   const LoadOptions& options = {});

// The current catalog for many readers, swapped whole on reload. Readers keep
// their own shared_ptr and poll generation() (one relaxed atomic load) to
// learn when to take the new snapshot, so the hot path takes no lock.
class CatalogHolder {
 public:
  explicit CatalogHolder(std::shared_ptr<const Catalog> initial = nullptr) { set(std::move(initial)); }
  void set(std::shared_ptr<const Catalog> c) {
    std::lock_guard lock(mu_);
    current_ = std::move(c);
    generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const Catalog> get() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Catalog> current_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace fg::catalog
