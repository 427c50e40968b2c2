// The catalog loader: TOML files -> one immutable Catalog (see catalog.h and
// docs/catalog.md for the format). Every error is reported with file, line
// and key; nothing is half-applied.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <toml++/toml.h>

#include "catalog/catalog.h"
#include "common/ascii.h"

namespace fg::catalog {

using policy::LoadError;
using policy::LoadErrors;
using policy::LoadResult;

class Builder {
 public:
  explicit Builder(const LoadOptions& options) : options_(options) {}

  LoadResult<std::shared_ptr<const Catalog>> run(const std::vector<CatalogSource>& sources) {
    for (const auto& src : sources) parse(src);
    if (!errors_.empty()) return std::move(errors_);
    return build();
  }

 private:
  struct Owned {  // a host pattern or range and who has it
    App* app = nullptr;
    Origin origin = Origin::Shipped;
    std::string file;
    int line = 0;
  };

  static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lowerAscii(c);
    return out;
  }
  static std::string where(const Owned& o) { return o.file + ":" + std::to_string(o.line); }

  void error(const std::string& file, const toml::source_region& src, std::string key, std::string msg) {
    errors_.push_back(LoadError{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column),
                                std::move(key), std::move(msg)});
  }

  void parse(const CatalogSource& src) {
    toml::table root;
    try {
      root = toml::parse(src.text, src.name);
    } catch (const toml::parse_error& e) {
      error(src.name, e.source(), "toml", "syntax error: " + std::string(e.description()));
      return;
    }
    for (const auto& [k, v] : root) {
      if (k.str() != "app") {
        error(src.name, k.source(), std::string(k.str()), "unknown key (expected [[app]] tables)");
        continue;
      }
      const auto* arr = v.as_array();
      if (!arr) {
        error(src.name, v.source(), "app", "expected [[app]] tables");
        continue;
      }
      for (const auto& item : *arr) {
        if (const auto* t = item.as_table()) loadApp(src, *t);
        else error(src.name, item.source(), "app", "expected a table");
      }
    }
  }

  std::optional<std::string> str(const std::string& file, const toml::node& n, const std::string& key) {
    if (const auto* s = n.as_string()) return s->get();
    error(file, n.source(), key, "expected a string");
    return std::nullopt;
  }

  std::vector<std::pair<std::string, const toml::node*>> strings(const std::string& file, const toml::node& n,
                                                                 const std::string& key) {
    std::vector<std::pair<std::string, const toml::node*>> out;
    const auto* arr = n.as_array();
    if (!arr) {
      error(file, n.source(), key, "expected an array of strings");
      return out;
    }
    for (const auto& e : *arr) {
      if (const auto* s = e.as_string()) out.emplace_back(s->get(), &e);
      else error(file, e.source(), key, "expected a string");
    }
    return out;
  }

  static bool validName(std::string_view n) {
    if (n.empty() || n.size() > 64) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             c == '-' || c == '.' || c == '+';
    });
  }

  // Checks a host pattern; returns why it is wrong, or "".
  static std::string checkPattern(const std::string& p) {
    if (p.empty() || p.size() > 253) return "a host pattern is 1 to 253 characters";
    for (char c : p)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '*'))
        return "a host pattern has letters, digits, '-', '_', '.' and one '*'";
    if (p.front() == '.' || p.back() == '.' || p.find("..") != std::string::npos) return "empty label";
    const size_t stars = static_cast<size_t>(std::count(p.begin(), p.end(), '*'));
    if (stars == 0) return "";
    if (stars > 1) return "at most one '*' per pattern";
    const size_t dot = p.find('.');
    if (dot == std::string::npos || p.find('*') > dot)
      return "'*' only in the first label (\"*.example.com\" or \"edge*.example.com\")";
    if (p.find('.', dot + 1) == std::string::npos) return "a wildcard needs at least two labels after it";
    return "";
  }

  void loadApp(const CatalogSource& src, const toml::table& t) {
    const std::string& file = src.name;
    const int line = static_cast<int>(t.source().begin.line);
    std::optional<std::string> name, category;
    std::optional<bool> owner;
    const toml::node *hosts = nullptr, *ranges = nullptr, *ports = nullptr, *refines = nullptr, *aliases = nullptr;
    for (const auto& [k, v] : t) {
      const std::string key(k.str());
      if (key == "name") name = str(file, v, key);
      else if (key == "category") category = str(file, v, key);
      else if (key == "hosts") hosts = &v;
      else if (key == "ranges") ranges = &v;
      else if (key == "ports") ports = &v;
      else if (key == "refines") refines = &v;
      else if (key == "aliases") aliases = &v;
      else if (key == "owner") {
        if (const auto* b = v.as_boolean()) owner = b->get();
        else error(file, v.source(), key, "expected true or false");
      } else if (key == "note") {
        (void)str(file, v, key);
      } else {
        error(file, k.source(), key,
              "unknown key (known: name, category, hosts, ranges, ports, refines, aliases, owner, note)");
      }
    }
    if (!name) {
      error(file, t.source(), "name", "missing");
      return;
    }
    if (!validName(*name)) {
      error(file, t.source(), "name", "\"" + *name + "\": 1 to 64 letters, digits, '_', '-', '.', '+'");
      return;
    }
    const std::string lname = lower(*name);
    App* app = nullptr;
    auto it = apps_.find(lname);
    if (it != apps_.end()) {
      App& prev = *it->second;
      if (prev.origin == src.origin) {
        error(file, t.source(), "name",
              "application \"" + *name + "\" already defined at " + prev.file + ":" + std::to_string(prev.line));
        return;
      }
      // An operator entry for a shipped application extends it: its
      // patterns are added, the fields it sets replace the shipped ones.
      app = &prev;
      app->origin = src.origin;
      app->file = file;
      app->line = line;
    } else {
      if (!category) {
        error(file, t.source(), "category", "missing for application \"" + *name + "\"");
        return;
      }
      order_.push_back(std::make_unique<App>());
      app = order_.back().get();
      app->name = *name;
      app->origin = src.origin;
      app->file = file;
      app->line = line;
      apps_[lname] = app;
    }
    if (category) {
      if (options_.categories &&
          std::none_of(options_.categories->begin(), options_.categories->end(),
                       [&](const std::string& c) { return iequalsAscii(c, *category); })) {
        error(file, t["category"].node()->source(), "category", "unknown category \"" + *category + "\"");
      } else {
        app->category = *category;
      }
    }
    if (owner) app->owner = *owner;
    if (refines) {
      app->refines.clear();
      for (auto& [r, node] : strings(file, *refines, "refines")) {
        if (!validName(r)) error(file, node->source(), "refines", "\"" + r + "\" is not an application name");
        else app->refines.push_back(r);
      }
    }
    if (aliases) {
      for (auto& [a, node] : strings(file, *aliases, "aliases")) {
        const size_t slash = a.find('/');
        const bool ok = slash == std::string::npos ? validName(a)
                                                   : validName(a.substr(0, slash)) && validName(a.substr(slash + 1));
        if (!ok) {
          error(file, node->source(), "aliases", "\"" + a + "\": expected NAME or MASTER/NAME");
          continue;
        }
        claim(aliases_, lower(a), *app, src.origin, file, static_cast<int>(node->source().begin.line),
              node->source(), "alias");
      }
    }
    if (ports) loadPorts(file, *ports, *app);
    if (hosts) {
      for (auto& [h, node] : strings(file, *hosts, "hosts")) {
        std::string p = lower(h);
        if (std::string why = checkPattern(p); !why.empty()) {
          error(file, node->source(), "hosts", "\"" + h + "\": " + why);
          continue;
        }
        claim(hosts_, p, *app, src.origin, file, static_cast<int>(node->source().begin.line), node->source(),
              "host pattern");
      }
    }
    if (ranges) {
      for (auto& [r, node] : strings(file, *ranges, "ranges")) {
        std::string why;
        auto cidr = policy::Cidr::parse(r, &why);
        if (!cidr) {
          error(file, node->source(), "ranges", "\"" + r + "\": " + (why.empty() ? "not a CIDR" : why));
          continue;
        }
        claim(ranges_, cidr->toString(), *app, src.origin, file, static_cast<int>(node->source().begin.line),
              node->source(), "range");
      }
    }
  }

  void loadPorts(const std::string& file, const toml::node& n, App& app) {
    const auto* arr = n.as_array();
    if (!arr) {
      error(file, n.source(), "ports", "expected an array of ports or \"first-last\" strings");
      return;
    }
    app.ports.clear();
    for (const auto& e : *arr) {
      if (const auto* i = e.as_integer()) {
        if (i->get() < 1 || i->get() > 65535) error(file, e.source(), "ports", "a port is 1 to 65535");
        else app.ports.push_back({static_cast<uint16_t>(i->get()), static_cast<uint16_t>(i->get())});
      } else if (const auto* s = e.as_string()) {
        unsigned a = 0, b = 0;
        char dash = 0;
        std::istringstream in(s->get());
        if (!(in >> a >> dash >> b) || dash != '-' || !in.eof() || a < 1 || b > 65535 || a > b)
          error(file, e.source(), "ports", "\"" + s->get() + "\": expected \"first-last\" within 1-65535");
        else app.ports.push_back({static_cast<uint16_t>(a), static_cast<uint16_t>(b)});
      } else {
        error(file, e.source(), "ports", "expected a port number or a \"first-last\" string");
      }
    }
  }

  // Gives `key` to `app`: an operator entry takes it from a shipped one;
  // two entries of the same origin on one key is an error.
  void claim(std::map<std::string, Owned>& table, const std::string& key, App& app, Origin origin,
             const std::string& file, int line, const toml::source_region& src, const char* what) {
    auto [it, fresh] = table.try_emplace(key, Owned{&app, origin, file, line});
    if (fresh) return;
    Owned& prev = it->second;
    if (prev.origin == origin) {
      const std::string msg = prev.app == &app
                                  ? std::string("duplicate ") + what + " \"" + key + "\" (first at " + where(prev) + ")"
                                  : std::string(what) + " \"" + key + "\" already belongs to " + prev.app->name +
                                        " (" + where(prev) + ")";
      const std::string w(what);
      error(file, src, w == "range" ? "ranges" : w == "alias" ? "aliases" : "hosts", msg);
      return;
    }
    prev = Owned{&app, origin, file, line};  // operator beats shipped
  }

  LoadResult<std::shared_ptr<const Catalog>> build() {
    auto c = std::make_shared<Catalog>();
    // Patterns and ranges as finally owned.
    for (auto& a : order_) {
      a->hosts.clear();
      a->ranges.clear();
      a->aliases.clear();
    }
    for (auto& [p, o] : hosts_) {
      o.app->hosts.push_back(p);
      ++c->host_patterns_;
      const size_t star = p.find('*');
      if (star == std::string::npos) {
        c->exact_[p] = Catalog::Exact{o.app, p};
        continue;
      }
      const size_t dot = p.find('.');
      Catalog::Suffix& s = c->suffix_[p.substr(dot + 1)];
      if (p.compare(0, dot, "*") == 0) {
        s.any = o.app;
        s.any_pattern = p;
      } else {
        s.globs.push_back(Catalog::Glob{p.substr(0, star), p.substr(star + 1, dot - star - 1), o.app, p});
      }
    }
    for (auto& [key, s] : c->suffix_) {
      // The longest literal part first: the most specific anchored label wins.
      std::stable_sort(s.globs.begin(), s.globs.end(), [](const Catalog::Glob& a, const Catalog::Glob& b) {
        return a.prefix.size() + a.suffix.size() > b.prefix.size() + b.suffix.size();
      });
    }
    for (auto& [a, o] : aliases_) {
      o.app->aliases.push_back(a);
      c->aliases_[a] = o.app;
    }
    for (auto& [text, o] : ranges_) {
      o.app->ranges.push_back(text);
      const auto cidr = *policy::Cidr::parse(text);
      const bool v4 = cidr.network.family == policy::IpFamily::V4;
      auto& tables = v4 ? c->v4_ : c->v6_;
      auto& lengths = v4 ? c->v4_lengths_ : c->v6_lengths_;
      if (!tables.contains(cidr.prefix_len)) lengths.push_back(cidr.prefix_len);
      tables[cidr.prefix_len][cidr.network.bytes].push_back(Catalog::RangeEntry{o.app, text});
      ++c->range_count_;
    }
    // Port-restricted entries are tried before unrestricted ones at one prefix.
    for (auto* tables : {&c->v4_, &c->v6_})
      for (auto& [len, t] : *tables)
        for (auto& [k, list] : t)
          std::stable_sort(list.begin(), list.end(), [](const Catalog::RangeEntry& a, const Catalog::RangeEntry& b) {
            return !a.app->ports.empty() && b.app->ports.empty();
          });
    std::sort(c->v4_lengths_.rbegin(), c->v4_lengths_.rend());
    std::sort(c->v6_lengths_.rbegin(), c->v6_lengths_.rend());
    for (auto& a : order_) {
      c->by_name_[lower(a->name)] = a.get();
      c->known_[lower(a->name)] = true;
      for (const auto& r : a->refines) c->known_[lower(r)] = true;
    }
    c->apps_ = std::move(order_);
    return std::shared_ptr<const Catalog>(std::move(c));
  }

  const LoadOptions& options_;
  LoadErrors errors_;
  std::vector<std::unique_ptr<App>> order_;
  std::map<std::string, App*> apps_;  // lower-case name
  std::map<std::string, Owned> hosts_, ranges_, aliases_;
};

LoadResult<std::shared_ptr<const Catalog>> loadCatalog(const std::vector<CatalogSource>& sources,
                                                       const LoadOptions& options) {
  return Builder(options).run(sources);
}

namespace {

bool readDir(const std::string& dir, Origin origin, std::vector<CatalogSource>& out, LoadErrors& errors) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (dir.empty() || !fs::exists(dir, ec)) return true;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".toml" && it->is_regular_file(ec)) files.push_back(it->path());
  if (ec) {
    errors.push_back(LoadError{dir, 0, 0, "", "cannot read directory: " + ec.message()});
    return false;
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) {
      errors.push_back(LoadError{p.string(), 0, 0, "", "cannot read file"});
      return false;
    }
    out.push_back(CatalogSource{p.string(), text.str(), origin});
  }
  return true;
}

}  // namespace

LoadResult<std::shared_ptr<const Catalog>> loadCatalogDirs(const std::string& shipped_dir,
                                                           const std::string& operator_dir,
                                                           const LoadOptions& options) {
  std::vector<CatalogSource> sources;
  LoadErrors errors;
  readDir(shipped_dir, Origin::Shipped, sources, errors);
  readDir(operator_dir, Origin::Operator, sources, errors);
  if (!errors.empty()) return errors;
  return loadCatalog(sources, options);
}

}  // namespace fg::catalog
