// TOML -> PolicyData. Collects every error (never stops at the first one
// except for TOML syntax errors, which end that file's parse) and builds a
// PolicySet only when there are none.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include <toml++/toml.h>

#include "common/cipher_suites.h"
#include "common/tls_version.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"

namespace fg::policy {
namespace {

// ---- did-you-mean -------------------------------------------------------------

// Optimal string alignment distance (Levenshtein plus adjacent
// transpositions, so "TSL" is one edit from "TLS"), case-insensitive.
size_t editDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const bool same = lowerAscii(a[i - 1]) == lowerAscii(b[j - 1]);
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 && lowerAscii(a[i - 1]) == lowerAscii(b[j - 2]) &&
          lowerAscii(a[i - 2]) == lowerAscii(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

template <typename Range>
std::string didYouMean(std::string_view word, const Range& candidates) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    const std::string_view cv(c);
    const size_t d = editDistance(word, cv);
    if (d < best_d) {
      best_d = d;
      best = std::string(cv);
    }
  }
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  if (best.empty() || best_d > limit) return "";
  return " (did you mean '" + best + "'?)";
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string typeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

bool validName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// ---- match key table ----------------------------------------------------------

struct KeySpec {
  std::string_view name;
  Key key;
};
constexpr KeySpec kMatchKeys[] = {
    {"application", Key::Application},
    {"l7_protocol", Key::L7Protocol},
    {"category", Key::Category},
    {"hostname", Key::Hostname},
    {"tls_version", Key::TlsVersion},
    {"cipher", Key::Cipher},
    {"cipher_strength", Key::CipherStrength},
    {"ja3c", Key::Ja3c},
    {"ja3s", Key::Ja3s},
    {"alpn", Key::Alpn},
    {"src", Key::Src},
    {"dst", Key::Dst},
    {"src_port", Key::SrcPort},
    {"dst_port", Key::DstPort},
    {"proto", Key::Proto},
    {"in_interface", Key::InInterface},
    {"out_interface", Key::OutInterface},
    {"confidence", Key::Confidence},
    {"days", Key::Days},
    {"time", Key::Time},
};

std::vector<std::string> allMatchKeyNames() {
  std::vector<std::string> out;
  for (const auto& k : kMatchKeys) {
    out.emplace_back(k.name);
    out.push_back("not_" + std::string(k.name));
  }
  return out;
}

const std::vector<std::string> kTopKeys = {"policy", "class",         "route",          "set",
                                           "address_group", "verified_ranges", "rule"};
const std::vector<std::string> kPolicyKeys = {"default_action", "default_log", "timezone",
                                              "mark_mask",      "mark_shift",  "exempt"};
const std::vector<std::string> kRuleKeys = {"name",  "description", "enabled", "mode",       "match",
                                            "action", "class",      "route",   "add_to_set", "log",
                                            "exempt", "require_verified_name"};
const std::vector<std::string> kRouteKeys = {"table", "via", "dev", "fwmark", "fwmark_mask"};
const std::vector<std::string> kSetKeys = {"family", "address", "timeout", "route", "class", "verdict"};
const std::vector<std::string> kConfidences = {"dpi", "guessed", "unknown", "dns", "cache"};
const std::vector<std::string> kStrengths = {"insecure", "weak", "strong", "unknown"};
const std::vector<std::string> kDayNames = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::optional<Verdict> parseVerdict(std::string_view s) {
  if (s == "accept") return Verdict::Accept;
  if (s == "drop") return Verdict::Drop;
  if (s == "reject") return Verdict::Reject;
  return std::nullopt;
}

// ---- the compiler ----------------------------------------------------------------

struct Doc {
  std::string file;
  toml::table table;
};

struct Where {
  std::string file;
  int line = 0;
};

class Compiler {
 public:
  Compiler(const LoadOptions& options, uint64_t generation) : options_(options) {
    data_ = std::make_unique<PolicyData>();
    data_->generation = generation;
    if (options.catalog != nullptr) {
      for (const auto& p : options.catalog->protocols) protocols_.emplace(toLower(p), p);
      for (const auto& c : options.catalog->categories) categories_.emplace(toLower(c), c);
    }
    for (const auto& s : allCipherSuites()) cipher_names_.emplace_back(s.name);
  }

  LoadResult<std::shared_ptr<const PolicySet>> run(std::span<const PolicySource> sources) {
    data_->files = sources.size();
    for (const auto& src : sources) parse(src);
    for (const auto& d : docs_) checkTopLevel(d);
    for (const auto& d : docs_) loadGroups(d);
    for (const auto& d : docs_) loadSettings(d);
    for (const auto& d : docs_) loadClasses(d);
    for (const auto& d : docs_) loadRoutes(d);
    checkMarks();
    for (const auto& d : docs_) loadSets(d);
    for (const auto& d : docs_) loadVerifiedRanges(d);
    for (const auto& d : docs_) loadRules(d);
    if (!errors_.empty()) {
      // Report in reading order: by file (load order), then line and column.
      std::map<std::string, size_t> rank;
      for (const auto& src : sources) rank.emplace(src.name, rank.size());
      std::stable_sort(errors_.begin(), errors_.end(), [&](const LoadError& a, const LoadError& b) {
        return std::tuple(rank[a.file], a.line, a.column) < std::tuple(rank[b.file], b.line, b.column);
      });
      return std::move(errors_);
    }
    routeFamilyWarnings();
    buildIndex(*data_);
    return std::shared_ptr<const PolicySet>(std::make_shared<const PolicySet>(std::move(data_)));
  }

 private:
  // ---- errors ----
  void error(const std::string& file, const toml::source_region& src, std::string key,
             std::string message) {
    errors_.push_back(LoadError{file, static_cast<int>(src.begin.line),
                                static_cast<int>(src.begin.column), std::move(key),
                                std::move(message)});
  }
  void error(const std::string& file, const toml::node& n, std::string key, std::string message) {
    error(file, n.source(), std::move(key), std::move(message));
  }
  void typeError(const std::string& file, const toml::node& n, const std::string& key,
                 std::string_view expected) {
    error(file, n, key, "expected " + std::string(expected) + ", got " + typeName(n));
  }

  // ---- generic readers ----
  std::optional<std::string> str(const std::string& file, const toml::node& n, const std::string& key) {
    if (const auto* s = n.as_string()) return s->get();
    typeError(file, n, key, "a string");
    return std::nullopt;
  }
  std::optional<bool> boolean(const std::string& file, const toml::node& n, const std::string& key) {
    if (const auto* b = n.as_boolean()) return b->get();
    typeError(file, n, key, "a boolean (true or false)");
    return std::nullopt;
  }
  std::optional<int64_t> integer(const std::string& file, const toml::node& n, const std::string& key,
                                 int64_t lo, int64_t hi) {
    const auto* i = n.as_integer();
    if (i == nullptr) {
      typeError(file, n, key, "an integer");
      return std::nullopt;
    }
    if (i->get() < lo || i->get() > hi) {
      error(file, n, key,
            "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " +
                std::to_string(i->get()));
      return std::nullopt;
    }
    return i->get();
  }
  // A string or an array of strings; fn(value, node) per element.
  template <typename F>
  void strings(const std::string& file, const toml::node& n, const std::string& key, F&& fn) {
    if (const auto* s = n.as_string()) {
      fn(s->get(), n);
      return;
    }
    const auto* arr = n.as_array();
    if (arr == nullptr) {
      typeError(file, n, key, "a string or an array of strings");
      return;
    }
    if (arr->empty()) {
      error(file, n, key, "expected at least one value (an empty list matches nothing)");
      return;
    }
    for (const auto& el : *arr) {
      if (const auto* s = el.as_string()) {
        fn(s->get(), el);
      } else {
        typeError(file, el, key, "a string");
      }
    }
  }
  // Same for "string, integer or array of those".
  template <typename F>
  void scalars(const std::string& file, const toml::node& n, const std::string& key, F&& fn) {
    if (n.is_string() || n.is_integer()) {
      fn(n);
      return;
    }
    const auto* arr = n.as_array();
    if (arr == nullptr) {
      typeError(file, n, key, "a string, an integer or an array of them");
      return;
    }
    if (arr->empty()) {
      error(file, n, key, "expected at least one value (an empty list matches nothing)");
      return;
    }
    for (const auto& el : *arr) {
      if (el.is_string() || el.is_integer()) {
        fn(el);
      } else {
        typeError(file, el, key, "a string or an integer");
      }
    }
  }
  void unknownKey(const std::string& file, const toml::key& k, const std::string& prefix,
                  const std::vector<std::string>& valid) {
    error(file, k.source(), prefix + std::string(k.str()),
          "unknown key" + didYouMean(k.str(), valid) + "; expected one of: " + join(valid));
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

  // Address, CIDR or group name -> cidrs.
  void addresses(const std::string& file, const toml::node& n, const std::string& key,
                 std::vector<Cidr>& out) {
    strings(file, n, key, [&](const std::string& s, const toml::node& el) {
      std::string why;
      if (auto c = Cidr::parse(s, &why)) {
        out.push_back(*c);
        return;
      }
      auto g = groups_.find(s);
      if (g != groups_.end()) {
        out.insert(out.end(), g->second.begin(), g->second.end());
        return;
      }
      const bool looks_numeric = !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) ||
                                                s.find(':') != std::string::npos);
      if (looks_numeric) {
        error(file, el, key, "bad address or CIDR " + quote(s) + ": " + why);
      } else {
        std::vector<std::string> names;
        for (const auto& [name, _] : groups_) names.push_back(name);
        error(file, el, key,
              "unknown address group " + quote(s) + didYouMean(s, names) +
                  "; expected an address, a CIDR or a name from [address_group]");
      }
    });
  }

  // ---- passes ----
  void parse(const PolicySource& src) {
    try {
      docs_.push_back(Doc{src.name, toml::parse(src.text, src.name)});
    } catch (const toml::parse_error& e) {
      error(src.name, e.source(), "toml", "syntax error: " + std::string(e.description()));
    }
  }

  void checkTopLevel(const Doc& d) {
    for (const auto& [k, v] : d.table) {
      const std::string name(k.str());
      if (std::find(kTopKeys.begin(), kTopKeys.end(), name) == kTopKeys.end()) {
        unknownKey(d.file, k, "", kTopKeys);
        continue;
      }
      if (name == "rule") {
        if (!v.is_array_of_tables()) typeError(d.file, v, "rule", "[[rule]] tables");
      } else if (!v.is_table()) {
        typeError(d.file, v, name, "a table ([" + name + "])");
      }
    }
  }

  void loadGroups(const Doc& d) {
    const auto* t = d.table.get_as<toml::table>("address_group");
    if (t == nullptr) return;
    for (const auto& [k, v] : *t) {
      const std::string name(k.str());
      const std::string key = "address_group." + name;
      if (!validName(name) || Cidr::parse(name)) {
        error(d.file, k.source(), key, "address group names use letters, digits, '_', '-', '.' and are not addresses");
        continue;
      }
      if (auto it = group_where_.find(name); it != group_where_.end()) {
        error(d.file, k.source(), key, "duplicate address group (first defined at " + it->second.file + ":" + std::to_string(it->second.line) + ")");
        continue;
      }
      group_where_[name] = Where{d.file, static_cast<int>(k.source().begin.line)};
      std::vector<Cidr> cidrs;
      strings(d.file, v, key, [&](const std::string& s, const toml::node& el) {
        std::string why;
        if (auto c = Cidr::parse(s, &why)) {
          cidrs.push_back(*c);
        } else {
          error(d.file, el, key, "bad address or CIDR " + quote(s) + ": " + why);
        }
      });
      groups_[name] = std::move(cidrs);
      ++data_->address_groups;
    }
  }

  // [verified_ranges]: application = [addresses, CIDRs, address groups]. A
  // name of that application on one of these addresses counts as verified.
  void loadVerifiedRanges(const Doc& d) {
    const auto* t = d.table.get_as<toml::table>("verified_ranges");
    if (t == nullptr) return;
    for (const auto& [k, v] : *t) {
      const std::string name(k.str());
      const std::string key = "verified_ranges." + name;
      if (!protocols_.empty() && protocols_.count(toLower(name)) == 0) {
        std::vector<std::string> names;
        for (const auto& [_, canonical] : protocols_) names.push_back(canonical);
        std::sort(names.begin(), names.end());
        error(d.file, k.source(), key, "unknown nDPI protocol/application " + quote(name) + didYouMean(name, names));
        continue;
      }
      std::vector<Cidr> cidrs;
      addresses(d.file, v, key, cidrs);
      CidrSet& set = data_->verified_ranges[name];
      for (const auto& c : cidrs) set.add(c);
    }
  }

  // A setting's value as canonical text (to compare settings across files).
  static void settingText(std::ostringstream& out, const toml::node& v) {
    if (const auto* i = v.as_integer()) {
      out << i->get();
    } else if (const auto* s = v.as_string()) {
      out << quote(s->get());
    } else if (const auto* b = v.as_boolean()) {
      out << (b->get() ? "true" : "false");
    } else if (const auto* f = v.as_floating_point()) {
      out << f->get();
    } else if (const auto* a = v.as_array()) {
      out << '[';
      for (size_t n = 0; n < a->size(); ++n) {
        if (n) out << ", ";
        settingText(out, *a->get(n));
      }
      out << ']';
    } else {
      out << "(a " << v.type() << ")";
    }
  }

  // A [policy] key may be set by several files only when they agree (the
  // shipped policies each say `default_action = "accept"` and share one mark
  // layout, so the directory loads as a whole); a different value is an
  // error naming both places. True when this file's value is to be applied.
  bool claimSetting(const Doc& d, const toml::key& k, const toml::node& v) {
    const std::string name(k.str());
    // Compared as values: 0xff00 and 65280 agree.
    std::ostringstream text;
    settingText(text, v);
    auto it = settings_.find(name);
    if (it != settings_.end()) {
      if (it->second.value == text.str()) return false;
      error(d.file, k.source(), "policy." + name,
            "already set to " + it->second.value + " at " + it->second.where.file + ":" +
                std::to_string(it->second.where.line) + "; files that set it must agree");
      return false;
    }
    settings_[name] = Setting{Where{d.file, static_cast<int>(k.source().begin.line)}, text.str()};
    return true;
  }

  void loadSettings(const Doc& d) {
    const auto* t = d.table.get_as<toml::table>("policy");
    if (t == nullptr) return;
    for (const auto& [k, v] : *t) {
      const std::string name(k.str());
      const std::string key = "policy." + name;
      if (std::find(kPolicyKeys.begin(), kPolicyKeys.end(), name) == kPolicyKeys.end()) {
        unknownKey(d.file, k, "policy.", kPolicyKeys);
        continue;
      }
      if (!claimSetting(d, k, v)) continue;
      if (name == "default_action") {
        if (auto s = str(d.file, v, key)) {
          if (auto verdict = parseVerdict(*s)) {
            data_->default_verdict = *verdict;
          } else {
            error(d.file, v, key, "expected \"accept\", \"drop\" or \"reject\", got " + quote(*s) +
                                      didYouMean(*s, std::vector<std::string>{"accept", "drop", "reject"}));
          }
        }
      } else if (name == "default_log") {
        if (auto b = boolean(d.file, v, key)) data_->default_log = *b;
      } else if (name == "timezone") {
        if (auto s = str(d.file, v, key)) {
          auto tz = TimeZone::load(*s, options_.zoneinfo_dir);
          if (tz.ok()) {
            data_->tz = std::move(tz).value();
          } else {
            error(d.file, v, key, "unknown time zone " + quote(*s) + ": expected an IANA name like \"Europe/Berlin\" (" + tz.error().message() + ")");
          }
        }
      } else if (name == "mark_mask") {
        if (auto i = integer(d.file, v, key, 1, 0xffffffffLL)) {
          data_->mark_mask = static_cast<uint32_t>(*i);
          mask_node_ = Where{d.file, static_cast<int>(v.source().begin.line)};
        }
      } else if (name == "mark_shift") {
        if (auto i = integer(d.file, v, key, 0, 31)) data_->mark_shift = static_cast<uint32_t>(*i);
      } else if (name == "exempt") {
        std::vector<Cidr> cidrs;
        addresses(d.file, v, key, cidrs);
        for (const auto& c : cidrs) data_->global_exempt.add(c);
      }
    }
  }

  // value (as written) -> mark bits; reports when outside the mask.
  std::optional<uint32_t> shiftedMark(const std::string& file, const toml::node& n,
                                      const std::string& key, int64_t value, std::string_view what) {
    const uint64_t mark = static_cast<uint64_t>(value) << data_->mark_shift;
    if (mark > 0xffffffffull || (mark & ~static_cast<uint64_t>(data_->mark_mask)) != 0) {
      error(file, n, key,
            std::string(what) + " " + std::to_string(value) + " (mark " + hex(static_cast<uint32_t>(mark)) +
                " after mark_shift " + std::to_string(data_->mark_shift) + ") is outside mark_mask " +
                hex(data_->mark_mask) + "; expected a value from 1 to " +
                std::to_string(data_->mark_mask >> data_->mark_shift));
      return std::nullopt;
    }
    return static_cast<uint32_t>(mark);
  }

  void loadClasses(const Doc& d) {
    if (!masks_checked_) {
      masks_checked_ = true;
      if (((data_->mark_mask >> data_->mark_shift) << data_->mark_shift) != data_->mark_mask) {
        errors_.push_back(LoadError{mask_node_.file.empty() ? d.file : mask_node_.file, mask_node_.line, 0,
                                    "policy.mark_mask",
                                    "mark_mask " + hex(data_->mark_mask) + " has bits below mark_shift " +
                                        std::to_string(data_->mark_shift)});
      }
    }
    const auto* t = d.table.get_as<toml::table>("class");
    if (t == nullptr) return;
    for (const auto& [k, v] : *t) {
      const std::string name(k.str());
      const std::string key = "class." + name;
      if (!validName(name)) {
        error(d.file, k.source(), key, "class names use letters, digits, '_', '-', '.'");
        continue;
      }
      if (auto it = class_index_.find(name); it != class_index_.end()) {
        error(d.file, k.source(), key, "duplicate class (first defined at " + class_where_[it->second].file + ":" + std::to_string(class_where_[it->second].line) + ")");
        continue;
      }
      auto value = integer(d.file, v, key, 1, 0xffffffffLL);
      if (!value) continue;
      auto mark = shiftedMark(d.file, v, key, *value, "class value");
      if (!mark) continue;
      class_index_[name] = data_->classes.size();
      class_where_.push_back(Where{d.file, static_cast<int>(v.source().begin.line)});
      class_nodes_.push_back(MarkUse{d.file, v.source(), key});
      data_->classes.push_back(ClassInfo{name, static_cast<uint32_t>(*value), *mark});
    }
  }

  void loadRoutes(const Doc& d) {
    const auto* t = d.table.get_as<toml::table>("route");
    if (t == nullptr) return;
    for (const auto& [k, v] : *t) {
      const std::string name(k.str());
      const std::string key = "route." + name;
      const auto* rt = v.as_table();
      if (rt == nullptr) {
        typeError(d.file, v, key, "a table ([route." + name + "])");
        continue;
      }
      if (!validName(name)) {
        error(d.file, k.source(), key, "route names use letters, digits, '_', '-', '.'");
        continue;
      }
      if (route_index_.count(name) != 0) {
        error(d.file, k.source(), key, "duplicate route");
        continue;
      }
      RouteInfo r;
      r.name = name;
      bool ok = true, have_table = false, have_fwmark = false;
      const toml::node* fwmark_node = nullptr;
      int64_t fwmark_mask_value = -1;
      for (const auto& [rk, rv] : *rt) {
        const std::string rname(rk.str());
        const std::string rkey = key + "." + rname;
        if (std::find(kRouteKeys.begin(), kRouteKeys.end(), rname) == kRouteKeys.end()) {
          unknownKey(d.file, rk, key + ".", kRouteKeys);
          ok = false;
        } else if (rname == "table") {
          const auto* i = rv.as_integer();
          if (i == nullptr) {
            typeError(d.file, rv, rkey, "an integer routing table number");
            ok = false;
          } else if (i->get() < 1 || i->get() > 0xffffffffLL || (i->get() >= 253 && i->get() <= 255)) {
            error(d.file, rv, rkey,
                  "routing table " + std::to_string(i->get()) +
                      " out of range: expected 1-252 or 256-4294967295 (253-255 are the kernel's default, main and local tables)");
            ok = false;
          } else {
            r.table = static_cast<uint32_t>(i->get());
            have_table = true;
          }
        } else if (rname == "via") {
          // One next hop, or one per family: via = ["10.0.3.1", "fd00:3::1"].
          const size_t before = errors_.size();
          strings(d.file, rv, rkey, [&](const std::string& s, const toml::node& el) {
            auto a = IpAddress::parse(s);
            if (!a) {
              error(d.file, el, rkey, "expected an IPv4 or IPv6 next-hop address, got " + quote(s));
            } else if (r.viaFor(a->family) != nullptr) {
              error(d.file, el, rkey,
                    std::string("a second ") + (a->family == IpFamily::V4 ? "IPv4" : "IPv6") + " next hop " +
                        quote(s) + ": a route class takes one next hop per address family");
            } else {
              r.via.push_back(*a);
            }
          });
          if (errors_.size() != before) ok = false;
        } else if (rname == "dev") {
          if (auto s = str(d.file, rv, rkey)) {
            if (s->empty() || s->size() > 15 || s->find_first_of("/ \t") != std::string::npos) {
              error(d.file, rv, rkey, "expected an interface name (1-15 characters, no '/' or spaces)");
              ok = false;
            } else {
              r.dev = *s;
            }
          } else {
            ok = false;
          }
        } else if (rname == "fwmark") {
          if (auto i = integer(d.file, rv, rkey, 1, 0xffffffffLL)) {
            if (auto m = shiftedMark(d.file, rv, rkey, *i, "fwmark")) {
              r.fwmark = *m;
              have_fwmark = true;
              fwmark_node = &rv;
            } else {
              ok = false;
            }
          } else {
            ok = false;
          }
        } else if (rname == "fwmark_mask") {
          if (auto i = integer(d.file, rv, rkey, 1, 0xffffffffLL)) {
            if (auto m = shiftedMark(d.file, rv, rkey, *i, "fwmark_mask")) {
              r.fwmark_mask = *m;
              fwmark_mask_value = *i;
            } else {
              ok = false;
            }
          } else {
            ok = false;
          }
        }
      }
      if (!have_table && rt->get("table") == nullptr) {
        error(d.file, v, key + ".table", "missing required key: a routing table number");
        ok = false;
      }
      if (!have_fwmark && rt->get("fwmark") == nullptr) {
        error(d.file, v, key + ".fwmark", "missing required key: the fwmark value that selects this route");
        ok = false;
      }
      if (fwmark_mask_value < 0) r.fwmark_mask = data_->mark_mask;
      if (ok && (r.fwmark & ~r.fwmark_mask) != 0) {
        error(d.file, *fwmark_node, key + ".fwmark",
              "fwmark " + hex(r.fwmark) + " has bits outside fwmark_mask " + hex(r.fwmark_mask));
        ok = false;
      }
      route_index_[name] = ok ? static_cast<int>(data_->routes.size()) : -1;
      if (!ok) continue;
      route_nodes_.push_back(MarkUse{d.file, fwmark_node->source(), key + ".fwmark"});
      data_->routes.push_back(std::move(r));
    }
  }

  // Conflicting mark values: every class and route needs its own mark, and
  // no class may carry a route's fwmark (the fwmark rule would catch it).
  void checkMarks() {
    std::map<uint32_t, std::string> used;
    for (size_t i = 0; i < data_->classes.size(); ++i) {
      const auto& c = data_->classes[i];
      auto [it, inserted] = used.emplace(c.mark, "class " + quote(c.name));
      if (!inserted)
        error(class_nodes_[i].file, class_nodes_[i].src, class_nodes_[i].key,
              "conflicting mark values: mark " + hex(c.mark) + " is already used by " + it->second);
    }
    for (size_t i = 0; i < data_->routes.size(); ++i) {
      const auto& r = data_->routes[i];
      std::string conflict;
      for (const auto& [mark, owner] : used)
        if ((mark & r.fwmark_mask) == r.fwmark) conflict = owner;
      if (!conflict.empty()) {
        error(route_nodes_[i].file, route_nodes_[i].src, route_nodes_[i].key,
              "conflicting mark values: fwmark " + hex(r.fwmark) + "/" + hex(r.fwmark_mask) +
                  " also matches the mark of " + conflict);
      }
      used.emplace(r.fwmark, "route " + quote(r.name));
    }
  }

  void loadSets(const Doc& d) {
    const auto* t = d.table.get_as<toml::table>("set");
    if (t == nullptr) return;
    for (const auto& [k, v] : *t) {
      const std::string name(k.str());
      const std::string key = "set." + name;
      const auto* st = v.as_table();
      if (st == nullptr) {
        typeError(d.file, v, key, "a table ([set." + name + "])");
        continue;
      }
      if (name.empty() || name.size() > 31 || !validName(name)) {
        error(d.file, k.source(), key, "nft set names use 1-31 letters, digits, '_', '-', '.'");
        continue;
      }
      if (set_index_.count(name) != 0) {
        error(d.file, k.source(), key, "duplicate set");
        continue;
      }
      SetInfo s;
      s.name = name;
      bool ok = true, have_family = false;
      // Kernel binding keys, checked together after the loop (a table's keys
      // are not visited in file order).
      const toml::node* route_node = nullptr;
      const toml::node* class_node = nullptr;
      const toml::node* verdict_node = nullptr;
      for (const auto& [sk, sv] : *st) {
        const std::string sname(sk.str());
        const std::string skey = key + "." + sname;
        if (std::find(kSetKeys.begin(), kSetKeys.end(), sname) == kSetKeys.end()) {
          unknownKey(d.file, sk, key + ".", kSetKeys);
          ok = false;
        } else if (sname == "family") {
          auto f = str(d.file, sv, skey);
          if (f && (*f == "ipv4" || *f == "ip")) {
            s.family = IpFamily::V4;
            have_family = true;
          } else if (f && *f == "ipv6") {
            s.family = IpFamily::V6;
            have_family = true;
          } else {
            if (f) error(d.file, sv, skey, "expected \"ipv4\" or \"ipv6\", got " + quote(*f));
            ok = false;
          }
        } else if (sname == "address") {
          auto f = str(d.file, sv, skey);
          if (f && *f == "src") {
            s.endpoint = SetEndpoint::Src;
          } else if (f && *f == "dst") {
            s.endpoint = SetEndpoint::Dst;
          } else {
            if (f) error(d.file, sv, skey, "expected \"src\" or \"dst\" (which endpoint's address goes in the set), got " + quote(*f));
            ok = false;
          }
        } else if (sname == "timeout") {
          if (auto secs = duration(d.file, sv, skey)) {
            s.timeout_s = *secs;
          } else {
            ok = false;
          }
        } else if (sname == "route") {
          route_node = &sv;
          if (auto r = str(d.file, sv, skey)) {
            auto it = route_index_.find(*r);
            if (it == route_index_.end()) {
              std::vector<std::string> names;
              for (const auto& [rn, _] : route_index_) names.push_back(rn);
              error(d.file, sv, skey, "undefined route " + quote(*r) + didYouMean(*r, names) + "; define it as [route." + *r + "]");
              ok = false;
            } else if (it->second < 0) {
              ok = false;  // the route itself had errors, already reported
            } else {
              s.bind_route = static_cast<uint32_t>(it->second);
            }
          } else {
            ok = false;
          }
        } else if (sname == "class") {
          class_node = &sv;
          if (auto c = str(d.file, sv, skey)) {
            auto it = class_index_.find(*c);
            if (it == class_index_.end()) {
              std::vector<std::string> names;
              for (const auto& ci : data_->classes) names.push_back(ci.name);
              error(d.file, sv, skey, "undefined class " + quote(*c) + didYouMean(*c, names) + "; define it in [class]");
              ok = false;
            } else {
              s.bind_class = static_cast<uint32_t>(it->second);
            }
          } else {
            ok = false;
          }
        } else if (sname == "verdict") {
          verdict_node = &sv;
          if (auto vs = str(d.file, sv, skey)) {
            if (auto verdict = parseVerdict(*vs)) {
              s.bind_verdict = *verdict;
            } else {
              error(d.file, sv, skey, "expected \"accept\", \"drop\" or \"reject\", got " + quote(*vs) +
                                          didYouMean(*vs, std::vector<std::string>{"accept", "drop", "reject"}));
              ok = false;
            }
          } else {
            ok = false;
          }
        }
      }
      if (!have_family && st->get("family") == nullptr) {
        error(d.file, v, key + ".family", "missing required key: \"ipv4\" or \"ipv6\"");
        ok = false;
      }
      if (!bindSet(d, key, route_node, class_node, verdict_node, s)) ok = false;
      if (ok && s.bind_route != Decision::kNone)
        set_route_uses_.push_back(RouteUse{.file = d.file, .src = route_node->source(), .key = key + ".route",
                                           .route = s.bind_route,
                                           .rule = static_cast<uint32_t>(data_->sets.size())});
      set_index_[name] = ok ? static_cast<int>(data_->sets.size()) : -1;
      if (ok) data_->sets.push_back(std::move(s));
    }
  }

  // Checks a set's kernel binding (route, class, verdict: the names are
  // already resolved into `s`) and computes bind_mark. Every problem is
  // reported at the key it concerns.
  bool bindSet(const Doc& d, const std::string& key, const toml::node* route_node,
               const toml::node* class_node, const toml::node* verdict_node, SetInfo& s) {
    bool ok = true;
    if (s.endpoint == SetEndpoint::Src) {
      for (const auto& [node, name] : {std::pair{route_node, "route"}, std::pair{class_node, "class"},
                                       std::pair{verdict_node, "verdict"}}) {
        if (node == nullptr) continue;
        error(d.file, *node, key + "." + name,
              "a kernel binding needs address = \"dst\": the kernel matches the destination of new "
              "flows against the set, and this set holds source addresses (address = \"src\")");
        ok = false;
      }
    }
    if (s.bind_verdict != Verdict::Accept) {
      for (const auto& [node, name] : {std::pair{route_node, "route"}, std::pair{class_node, "class"}}) {
        if (node == nullptr) continue;
        error(d.file, *node, key + "." + name,
              "has no effect: verdict is \"" + std::string(toString(s.bind_verdict)) +
                  "\" (a flow the kernel blocks has no route or class)");
        ok = false;
      }
    }
    if (s.bind_class != Decision::kNone) s.bind_mark |= data_->classes[s.bind_class].mark;
    if (s.bind_route != Decision::kNone) {
      const RouteInfo& ri = data_->routes[s.bind_route];
      if ((s.bind_mark & ri.fwmark_mask) != 0) {
        error(d.file, *route_node, key + ".route",
              "class mark " + hex(s.bind_mark) + " overlaps the fwmark_mask " + hex(ri.fwmark_mask) +
                  " of route " + quote(ri.name) + "; give the route a fwmark_mask of its own bits to combine both");
        ok = false;
      }
      s.bind_mark |= ri.fwmark;
    }
    return ok;
  }

  // Seconds, or "90s", "10m", "2h", "1d"; up to 365 days.
  std::optional<uint32_t> duration(const std::string& file, const toml::node& n, const std::string& key) {
    constexpr int64_t kMax = 365LL * 86400;
    const std::string expected = "expected seconds (integer) or a duration like \"30s\", \"10m\", \"2h\", \"1d\" up to 365d";
    if (const auto* i = n.as_integer()) {
      if (i->get() < 0 || i->get() > kMax) {
        error(file, n, key, expected);
        return std::nullopt;
      }
      return static_cast<uint32_t>(i->get());
    }
    const auto* s = n.as_string();
    if (s == nullptr) {
      typeError(file, n, key, "an integer or a duration string");
      return std::nullopt;
    }
    const std::string& text = s->get();
    int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    const std::string_view unit(p, static_cast<size_t>(text.data() + text.size() - p));
    int64_t mul = 0;
    if (unit == "s" || unit.empty()) mul = 1;
    else if (unit == "m") mul = 60;
    else if (unit == "h") mul = 3600;
    else if (unit == "d") mul = 86400;
    if (ec != std::errc() || mul == 0 || v < 0 || v * mul > kMax) {
      error(file, n, key, expected + ", got " + quote(text));
      return std::nullopt;
    }
    return static_cast<uint32_t>(v * mul);
  }

  // ---- rules ----
  void loadRules(const Doc& d) {
    const auto* arr = d.table.get_as<toml::array>("rule");
    if (arr == nullptr || !arr->is_array_of_tables()) return;
    for (const auto& el : *arr) loadRule(d, *el.as_table());
  }

  void loadRule(const Doc& d, const toml::table& t) {
    Rule r;
    r.info.file = d.file;
    r.info.line = static_cast<int>(t.source().begin.line);
    const size_t number = ++rule_number_;
    bool ok = true;
    // The name first, so every other error can name the rule.
    std::string label = "rule[#" + std::to_string(number) + "]";
    if (const toml::node* n = t.get("name")) {
      if (auto s = str(d.file, *n, label + ".name")) {
        if (!validName(*s)) {
          error(d.file, *n, label + ".name", "rule names use 1-64 letters, digits, '_', '-', '.', got " + quote(*s));
          ok = false;
        } else {
          r.info.name = *s;
          label = "rule[" + *s + "]";
          if (auto it = rule_where_.find(*s); it != rule_where_.end()) {
            error(d.file, *n, label + ".name",
                  "duplicate rule name (first defined at " + it->second.file + ":" + std::to_string(it->second.line) + ")");
            ok = false;
          } else {
            rule_where_[*s] = Where{d.file, static_cast<int>(n->source().begin.line)};
          }
        }
      } else {
        ok = false;
      }
    } else {
      error(d.file, t.source(), label + ".name", "missing required key: every rule needs a unique name");
      ok = false;
    }

    const toml::node* class_node = nullptr;
    const toml::node* route_node = nullptr;
    const toml::node* verified_node = nullptr;
    std::optional<bool> require_verified;
    for (const auto& [k, v] : t) {
      const std::string name(k.str());
      const std::string key = label + "." + name;
      if (std::find(kRuleKeys.begin(), kRuleKeys.end(), name) == kRuleKeys.end()) {
        unknownKey(d.file, k, label + ".", kRuleKeys);
        ok = false;
      } else if (name == "name") {
        // handled above
      } else if (name == "description") {
        if (!str(d.file, v, key)) ok = false;
      } else if (name == "enabled") {
        if (auto b = boolean(d.file, v, key)) r.info.enabled = *b; else ok = false;
      } else if (name == "mode") {
        auto s = str(d.file, v, key);
        if (s && (*s == "enforce" || *s == "shadow")) {
          r.info.shadow = *s == "shadow";
        } else {
          if (s) error(d.file, v, key, "expected \"enforce\" or \"shadow\", got " + quote(*s));
          ok = false;
        }
      } else if (name == "match") {
        const auto* mt = v.as_table();
        if (mt == nullptr) {
          typeError(d.file, v, key, "a table (match = { key = value, ... })");
          ok = false;
        } else if (!loadMatch(d, *mt, label + ".match.", r)) {
          ok = false;
        }
      } else if (name == "action") {
        auto s = str(d.file, v, key);
        if (s) {
          if (auto verdict = parseVerdict(*s)) {
            r.info.verdict = *verdict;
          } else {
            error(d.file, v, key, "expected \"accept\", \"drop\" or \"reject\", got " + quote(*s) +
                                      didYouMean(*s, std::vector<std::string>{"accept", "drop", "reject"}));
            ok = false;
          }
        } else {
          ok = false;
        }
      } else if (name == "class") {
        class_node = &v;
        if (auto s = str(d.file, v, key)) {
          auto it = class_index_.find(*s);
          if (it == class_index_.end()) {
            std::vector<std::string> names;
            for (const auto& c : data_->classes) names.push_back(c.name);
            error(d.file, v, key, "undefined class " + quote(*s) + didYouMean(*s, names) + "; define it in [class]");
            ok = false;
          } else {
            r.cls = static_cast<int>(it->second);
          }
        } else {
          ok = false;
        }
      } else if (name == "route") {
        route_node = &v;
        if (auto s = str(d.file, v, key)) {
          auto it = route_index_.find(*s);
          if (it == route_index_.end()) {
            std::vector<std::string> names;
            for (const auto& [rn, _] : route_index_) names.push_back(rn);
            error(d.file, v, key, "undefined route " + quote(*s) + didYouMean(*s, names) + "; define it as [route." + *s + "]");
            ok = false;
          } else if (it->second < 0) {
            ok = false;  // the route itself had errors, already reported
          } else {
            r.route = it->second;
          }
        } else {
          ok = false;
        }
      } else if (name == "add_to_set") {
        strings(d.file, v, key, [&](const std::string& s, const toml::node& el) {
          auto it = set_index_.find(s);
          if (it == set_index_.end()) {
            std::vector<std::string> names;
            for (const auto& [sn, _] : set_index_) names.push_back(sn);
            error(d.file, el, key, "undefined set " + quote(s) + didYouMean(s, names) + "; define it as [set." + s + "]");
            ok = false;
          } else if (it->second < 0) {
            ok = false;
          } else if (r.sets.size() == Decision::kMaxSets) {
            error(d.file, el, key, "at most " + std::to_string(Decision::kMaxSets) + " sets per rule");
            ok = false;
          } else if (std::find(r.sets.begin(), r.sets.end(), static_cast<uint32_t>(it->second)) == r.sets.end()) {
            r.sets.push_back(static_cast<uint32_t>(it->second));
          }
        });
      } else if (name == "log") {
        if (auto b = boolean(d.file, v, key)) r.log = *b; else ok = false;
      } else if (name == "require_verified_name") {
        verified_node = &v;
        if (auto b = boolean(d.file, v, key)) require_verified = *b; else ok = false;
      } else if (name == "exempt") {
        std::vector<Cidr> cidrs;
        const size_t before = errors_.size();
        addresses(d.file, v, key, cidrs);
        if (errors_.size() != before) ok = false;
        for (const auto& c : cidrs) r.exempt.add(c);
      }
    }

    // Actions.
    if (r.info.verdict != Verdict::Accept && (class_node != nullptr || route_node != nullptr)) {
      const toml::node* n = class_node != nullptr ? class_node : route_node;
      error(d.file, *n, label + (class_node != nullptr ? ".class" : ".route"),
            "has no effect: action is \"" + std::string(toString(r.info.verdict)) +
                "\" (classes and routes only apply to accepted flows)");
      ok = false;
    }
    // Verified names: by default, rules that act beyond the verdict (route,
    // class, sets) on a name act on verified names only.
    for (const Cond& c : r.conds)
      if (c.key == Key::Application || c.key == Key::Category || c.key == Key::Hostname) r.info.reads_name = true;
    const bool acts = r.cls >= 0 || r.route >= 0 || !r.sets.empty();
    if (require_verified.value_or(false) && !r.info.reads_name) {
      error(d.file, *verified_node, label + ".require_verified_name",
            "has no effect: the rule matches no name (application, category or hostname)");
      ok = false;
    }
    r.info.require_verified_name = r.info.reads_name && require_verified.value_or(acts);
    if (r.cls >= 0) {
      r.mark |= data_->classes[static_cast<size_t>(r.cls)].mark;
      r.mark_mask = data_->mark_mask;
    }
    if (r.route >= 0) {
      const RouteInfo& ri = data_->routes[static_cast<size_t>(r.route)];
      if ((r.mark & ri.fwmark_mask) != 0) {
        error(d.file, *route_node, label + ".route",
              "class mark " + hex(r.mark) + " overlaps the fwmark_mask " + hex(ri.fwmark_mask) +
                  " of route " + quote(ri.name) + "; give the route a fwmark_mask of its own bits to combine both");
        ok = false;
      }
      r.mark |= ri.fwmark;
      r.mark_mask = data_->mark_mask;
    }
    if (ok && r.route >= 0 && r.info.enabled && !r.info.shadow)
      route_uses_.push_back(RouteUse{.file = d.file, .src = route_node->source(), .key = label + ".route",
                                     .route = static_cast<uint32_t>(r.route),
                                     .rule = static_cast<uint32_t>(data_->rules.size())});
    if (ok) data_->rules.push_back(std::move(r));
  }

  // The address families a rule can match: both, unless a positive `src` or
  // `dst` key lists addresses of one family only.
  static std::pair<bool, bool> ruleFamilies(const Rule& r) {
    bool v4 = true, v6 = true;
    for (const auto& c : r.conds) {
      if (c.negate || (c.key != Key::Src && c.key != Key::Dst)) continue;
      bool c4 = false, c6 = false;
      for (const auto& cidr : c.cidr_list) {
        c4 |= cidr.network.family == IpFamily::V4;
        c6 |= cidr.network.family == IpFamily::V6;
      }
      v4 &= c4;
      v6 &= c6;
    }
    return {v4, v6};
  }

  // Warnings: rules and kernel-bound sets that would route flows of a family
  // their route class does not cover (they would leave by the main table).
  void routeFamilyWarnings() {
    auto familyName = [](IpFamily f) { return f == IpFamily::V4 ? std::string("IPv4") : std::string("IPv6"); };
    auto advice = [&](const RouteInfo& ri, IpFamily f) {
      return "route " + quote(ri.name) + " covers " + std::string(familiesName(ri)) + " only (via = " +
             (ri.via.empty() ? std::string("none") : ri.via.front().toString()) + "): such flows find no " +
             familyName(f) + " route in table " + std::to_string(ri.table) +
             " and leave by the main table's default route; add an " + familyName(f) +
             " next hop (via = [\"...\", \"...\"])";
    };
    for (const auto& u : route_uses_) {
      const RouteInfo& ri = data_->routes[u.route];
      const Rule& rule = data_->rules[u.rule];
      const auto [v4, v6] = ruleFamilies(rule);
      for (auto [f, can] : {std::pair{IpFamily::V4, v4}, std::pair{IpFamily::V6, v6}}) {
        if (!can || ri.covers(f)) continue;
        data_->warnings.push_back(LoadError{
            u.file, static_cast<int>(u.src.begin.line), static_cast<int>(u.src.begin.column), u.key,
            "rule " + quote(rule.info.name) + " routes " + familyName(f) + " flows, but " + advice(ri, f) +
                ", or restrict the rule with dst"});
      }
    }
    for (const auto& u : set_route_uses_) {
      const SetInfo& si = data_->sets[u.rule];
      const RouteInfo& ri = data_->routes[u.route];
      if (ri.covers(si.family)) continue;
      data_->warnings.push_back(LoadError{
          u.file, static_cast<int>(u.src.begin.line), static_cast<int>(u.src.begin.column), u.key,
          "set " + quote(si.name) + " (" + (si.family == IpFamily::V4 ? "ipv4" : "ipv6") +
              ") is bound to route " + quote(ri.name) + ", which has no " + familyName(si.family) +
              " next hop: " + advice(ri, si.family)});
    }
  }

  bool loadMatch(const Doc& d, const toml::table& mt, const std::string& prefix, Rule& r) {
    bool ok = true;
    const size_t errors_before = errors_.size();
    bool have_days = false, have_not_days = false;
    uint8_t days_pos = 0x7f, days_neg = 0;
    const toml::node* time_node = nullptr;
    for (const auto& [k, v] : mt) {
      const std::string name(k.str());
      const std::string key = prefix + name;
      const bool negate = name.rfind("not_", 0) == 0;
      const std::string base = negate ? name.substr(4) : name;
      const KeySpec* spec = nullptr;
      for (const auto& s : kMatchKeys)
        if (s.name == base) spec = &s;
      if (spec == nullptr) {
        unknownKey(d.file, k, prefix, allMatchKeyNames());
        ok = false;
        continue;
      }
      if (spec->key == Key::Days) {
        uint8_t mask = 0;
        if (!parseDays(d, v, key, mask)) continue;
        if (negate) {
          have_not_days = true;
          days_neg = mask;
        } else {
          have_days = true;
          days_pos = mask;
        }
        continue;
      }
      if (spec->key == Key::Time) {
        if (time_node != nullptr) {
          error(d.file, v, key, "use either time or not_time, not both");
          continue;
        }
        time_node = &v;
        r.times_negated = negate;
        parseTimes(d, v, key, r.times);
        continue;
      }
      Cond c;
      c.key = spec->key;
      c.negate = negate;
      compileCond(d, v, key, c);
      r.conds.push_back(std::move(c));
    }
    if (have_days || have_not_days || time_node != nullptr) {
      r.has_schedule = true;
      r.days = static_cast<uint8_t>(days_pos & ~days_neg & 0x7f);
      if (r.days == 0 && errors_.size() == errors_before)
        error(d.file, mt, prefix + "days", "days and not_days leave no day at all: the rule could never match");
    }
    return ok && errors_.size() == errors_before;
  }

  bool parseDays(const Doc& d, const toml::node& v, const std::string& key, uint8_t& mask) {
    const size_t before = errors_.size();
    strings(d.file, v, key, [&](const std::string& s, const toml::node& el) {
      const std::string l = toLower(s);
      auto day = [&](std::string_view n) -> int {
        for (size_t i = 0; i < kDayNames.size(); ++i) {
          static constexpr std::string_view kLong[] = {"monday", "tuesday", "wednesday", "thursday",
                                                       "friday", "saturday", "sunday"};
          if (n == kDayNames[i] || n == kLong[i]) return static_cast<int>(i);
        }
        return -1;
      };
      if (l == "weekdays") {
        mask |= 0x1f;
        return;
      }
      if (l == "weekend") {
        mask |= 0x60;
        return;
      }
      const size_t dash = l.find('-');
      if (dash != std::string::npos) {
        const int a = day(l.substr(0, dash)), b = day(l.substr(dash + 1));
        if (a < 0 || b < 0) {
          error(d.file, el, key, "bad day range " + quote(s) + ": expected like \"mon-fri\" (days mon tue wed thu fri sat sun)");
          return;
        }
        for (int i = a;; i = (i + 1) % 7) {
          mask |= static_cast<uint8_t>(1u << i);
          if (i == b) break;
        }
        return;
      }
      const int a = day(l);
      if (a < 0) {
        std::vector<std::string> names(kDayNames);
        names.insert(names.end(), {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "weekdays", "weekend"});
        error(d.file, el, key, "unknown day " + quote(s) + didYouMean(l, names) +
                                   "; expected mon, tue, wed, thu, fri, sat, sun, a range like \"mon-fri\", \"weekdays\" or \"weekend\"");
        return;
      }
      mask |= static_cast<uint8_t>(1u << a);
    });
    return errors_.size() == before;
  }

  void parseTimes(const Doc& d, const toml::node& v, const std::string& key, std::vector<TimeRange>& out) {
    strings(d.file, v, key, [&](const std::string& s, const toml::node& el) {
      auto hm = [](std::string_view t, bool allow24) -> int {
        if (t.size() != 5 || t[2] != ':') return -1;
        int h = 0, m = 0;
        if (std::from_chars(t.data(), t.data() + 2, h).ptr != t.data() + 2) return -1;
        if (std::from_chars(t.data() + 3, t.data() + 5, m).ptr != t.data() + 5) return -1;
        if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow24))) return -1;
        return h * 60 + m;
      };
      const size_t dash = s.find('-');
      const int a = dash == std::string::npos ? -1 : hm(s.substr(0, dash), false);
      const int b = dash == std::string::npos ? -1 : hm(s.substr(dash + 1), true);
      if (a < 0 || b < 0) {
        error(d.file, el, key, "bad time range " + quote(s) + ": expected \"HH:MM-HH:MM\" (24-hour, end may be 24:00; \"22:00-06:00\" crosses midnight)");
        return;
      }
      if (a == b) {
        error(d.file, el, key, "empty time range " + quote(s) + "; use \"00:00-24:00\" for the whole day");
        return;
      }
      out.push_back(TimeRange{a, b});
    });
  }

  void compileCond(const Doc& d, const toml::node& v, const std::string& key, Cond& c) {
    const std::string& f = d.file;
    switch (c.key) {
      case Key::Application:
      case Key::L7Protocol:
      case Key::Category: {
        const bool category = c.key == Key::Category;
        const auto& known = category ? categories_ : protocols_;
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          const std::string l = toLower(s);
          if (!known.empty() && known.count(l) == 0) {
            std::vector<std::string> names;
            for (const auto& [_, canonical] : known) names.push_back(canonical);
            std::sort(names.begin(), names.end());
            error(f, el, key,
                  std::string(category ? "unknown nDPI category " : "unknown nDPI protocol/application ") +
                      quote(s) + didYouMean(s, names));
            return;
          }
          c.strings.push_back(l);
        });
        break;
      }
      case Key::Hostname:
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          if (!s.empty() && s[0] == '~') {
            try {
              c.host.regexes.emplace_back(s.substr(1), std::regex::ECMAScript | std::regex::icase |
                                                           std::regex::optimize);
            } catch (const std::regex_error& e) {
              error(f, el, key, "invalid regular expression " + quote(s.substr(1)) + ": " + e.what());
            }
            return;
          }
          std::string l = toLower(s);
          if (!l.empty() && l.back() == '.') l.pop_back();
          const bool wildcard = l.rfind("*.", 0) == 0;
          const std::string body = wildcard ? l.substr(2) : l;
          if (!validHostname(body)) {
            error(f, el, key,
                  "bad hostname " + quote(s) + ": expected \"www.example.com\", \"*.example.com\" (subdomains) or \"~regex\"");
            return;
          }
          (wildcard ? c.host.suffixes : c.host.exact).push_back(body);
        });
        break;
      case Key::TlsVersion:
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          std::string_view t(s);
          auto trim = [](std::string_view x) {
            while (!x.empty() && x.front() == ' ') x.remove_prefix(1);
            while (!x.empty() && x.back() == ' ') x.remove_suffix(1);
            return x;
          };
          t = trim(t);
          VersionCmp cmp;
          static constexpr std::pair<std::string_view, CmpOp> kOps[] = {
              {"<=", CmpOp::Le}, {">=", CmpOp::Ge}, {"==", CmpOp::Eq},
              {"<", CmpOp::Lt},  {">", CmpOp::Gt},  {"=", CmpOp::Eq}};
          for (const auto& [op, value] : kOps) {
            if (t.substr(0, op.size()) == op) {
              cmp.op = value;
              t = trim(t.substr(op.size()));
              break;
            }
          }
          auto wire = parseTlsVersion(t);
          if (!wire) {
            error(f, el, key,
                  "bad TLS version " + quote(s) +
                      didYouMean(t, std::vector<std::string>{"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "DTLSv1.0", "DTLSv1.2", "DTLSv1.3"}) +
                      ": expected a version like \"TLSv1.2\" or a comparison like \"< TLSv1.2\" (<, <=, >, >=, =)");
            return;
          }
          cmp.wire = *wire;
          cmp.rank = tlsVersionRank(*wire);
          c.versions.push_back(cmp);
        });
        break;
      case Key::Cipher:
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          const CipherSuite* suite = nullptr;
          if (s.size() > 2 && (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0)) {
            unsigned id = 0;
            auto [p, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), id, 16);
            if (ec == std::errc() && p == s.data() + s.size() && id <= 0xffff)
              suite = findCipherSuite(static_cast<uint16_t>(id));
          } else {
            suite = findCipherSuite(std::string_view(s));
          }
          if (suite == nullptr) {
            error(f, el, key, "unknown cipher suite " + quote(s) + didYouMean(s, cipher_names_) +
                                  "; expected an IANA name like \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\" or an id like \"0xC02F\"");
            return;
          }
          c.ciphers.push_back(suite->id);
        });
        break;
      case Key::CipherStrength:
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          auto st = parseCipherStrength(toLower(s));
          if (!st) {
            error(f, el, key, "unknown cipher strength " + quote(s) + didYouMean(s, kStrengths) +
                                  "; expected \"insecure\", \"weak\", \"strong\" or \"unknown\"");
            return;
          }
          c.strengths |= static_cast<uint8_t>(1u << static_cast<unsigned>(*st));
        });
        break;
      case Key::Ja3c:
      case Key::Ja3s:
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          const bool hex32 = s.size() == 32 && std::all_of(s.begin(), s.end(), [](char ch) {
                               return std::isxdigit(static_cast<unsigned char>(ch));
                             });
          if (!hex32) {
            error(f, el, key, "bad JA3 hash " + quote(s) + ": expected 32 hexadecimal digits (an MD5)");
            return;
          }
          c.strings.push_back(toLower(s));
        });
        break;
      case Key::Alpn:
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          if (s.empty() || s.size() > 255) {
            error(f, el, key, "expected an ALPN protocol id like \"h2\" or \"http/1.1\" (1-255 bytes)");
            return;
          }
          c.strings.push_back(s);
        });
        break;
      case Key::Src:
      case Key::Dst:
        addresses(f, v, key, c.cidr_list);
        for (const auto& cidr : c.cidr_list) c.cidrs.add(cidr);
        break;
      case Key::SrcPort:
      case Key::DstPort:
        scalars(f, v, key, [&](const toml::node& el) {
          const std::string expected = "expected a port 0-65535 or a range like \"1024-65535\"";
          if (const auto* i = el.as_integer()) {
            if (i->get() < 0 || i->get() > 65535) {
              error(f, el, key, "bad port " + std::to_string(i->get()) + ": " + expected);
              return;
            }
            c.ports.push_back(PortRange{static_cast<uint16_t>(i->get()), static_cast<uint16_t>(i->get())});
            return;
          }
          const std::string& s = el.as_string()->get();
          const size_t dash = s.find('-');
          auto num = [](std::string_view t) -> int {
            int x = -1;
            auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
            if (t.empty() || ec != std::errc() || p != t.data() + t.size() || x < 0 || x > 65535) return -1;
            return x;
          };
          const int lo = num(std::string_view(s).substr(0, dash));
          const int hi = dash == std::string::npos ? lo : num(std::string_view(s).substr(dash + 1));
          if (lo < 0 || hi < 0 || lo > hi) {
            error(f, el, key, "bad port range " + quote(s) + ": " + expected + " (low <= high)");
            return;
          }
          c.ports.push_back(PortRange{static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)});
        });
        break;
      case Key::Proto:
        scalars(f, v, key, [&](const toml::node& el) {
          if (const auto* i = el.as_integer()) {
            if (i->get() < 0 || i->get() > 255) {
              error(f, el, key, "bad IP protocol number " + std::to_string(i->get()) + ": expected 0-255");
              return;
            }
            c.protos.set(static_cast<size_t>(i->get()));
            return;
          }
          const std::string& s = el.as_string()->get();
          auto p = parseIpProto(toLower(s));
          if (!p) {
            error(f, el, key, "unknown IP protocol " + quote(s) +
                                  didYouMean(s, std::vector<std::string>{"tcp", "udp", "icmp", "ipv6-icmp", "sctp", "gre", "esp", "ah", "igmp", "udplite"}) +
                                  "; expected tcp, udp, icmp, ipv6-icmp, sctp, gre, esp, ah, igmp, udplite or a number 0-255");
            return;
          }
          c.protos.set(*p);
        });
        break;
      case Key::InInterface:
      case Key::OutInterface:
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          const bool prefix = !s.empty() && s.back() == '*';
          const std::string body = prefix ? s.substr(0, s.size() - 1) : s;
          if (body.size() > 15 || (body.empty() && !prefix) ||
              body.find_first_of("*/ \t") != std::string::npos) {
            error(f, el, key, "bad interface name " + quote(s) + ": expected a name like \"eth0\" or a prefix like \"wg*\"");
            return;
          }
          (prefix ? c.prefixes : c.strings).push_back(body);
        });
        break;
      case Key::Confidence:
        strings(f, v, key, [&](const std::string& s, const toml::node& el) {
          const std::string l = toLower(s);
          if (std::find(kConfidences.begin(), kConfidences.end(), l) == kConfidences.end()) {
            error(f, el, key, "unknown confidence " + quote(s) + didYouMean(s, kConfidences) +
                                  "; expected dpi, guessed, unknown, dns or cache");
            return;
          }
          c.strings.push_back(l);
        });
        break;
      case Key::Days:
      case Key::Time:
        break;  // handled by loadMatch
    }
  }

  static bool validHostname(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    size_t label = 0;
    for (char ch : h) {
      if (ch == '.') {
        if (label == 0) return false;
        label = 0;
        continue;
      }
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_')) return false;
      if (++label > 63) return false;
    }
    return label > 0;
  }

  struct MarkUse {
    std::string file;
    toml::source_region src;
    std::string key;
  };

  const LoadOptions& options_;
  std::unique_ptr<PolicyData> data_;
  LoadErrors errors_;
  std::vector<Doc> docs_;
  std::unordered_map<std::string, std::string> protocols_, categories_;  // lower -> canonical
  std::vector<std::string> cipher_names_;
  std::map<std::string, std::vector<Cidr>> groups_;
  std::map<std::string, Where> group_where_;
  struct Setting {
    Where where;
    std::string value;  // as TOML text, to compare
  };
  std::map<std::string, Setting> settings_;
  Where mask_node_;
  bool masks_checked_ = false;
  std::map<std::string, size_t> class_index_;
  std::vector<Where> class_where_;
  std::vector<MarkUse> class_nodes_;
  std::map<std::string, int> route_index_;  // -1: defined but invalid
  std::vector<MarkUse> route_nodes_;
  // Where a rule (or a set) names a route: for routeFamilyWarnings().
  struct RouteUse {
    std::string file;
    toml::source_region src;
    std::string key;
    uint32_t route = 0;
    uint32_t rule = 0;  // rule id, or set index in set_route_uses_
  };
  std::vector<RouteUse> route_uses_, set_route_uses_;
  std::map<std::string, int> set_index_;
  std::map<std::string, Where> rule_where_;
  size_t rule_number_ = 0;
};

}  // namespace

LoadResult<std::vector<PolicySource>> readPolicyPaths(std::span<const std::string> paths) {
  namespace fs = std::filesystem;
  LoadErrors errors;
  std::vector<PolicySource> out;
  auto readFile = [&](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      errors.push_back(LoadError{p.string(), 0, 0, "", "cannot read file"});
      return;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    out.push_back(PolicySource{p.string(), std::move(text)});
  };
  if (paths.empty()) errors.push_back(LoadError{"(policy)", 0, 0, "", "no policy path given"});
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.path().extension() == ".toml" && !entry.is_directory()) files.push_back(entry.path());
      if (ec) {
        errors.push_back(LoadError{path, 0, 0, "", "cannot list directory: " + ec.message()});
        continue;
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) errors.push_back(LoadError{path, 0, 0, "", "directory has no *.toml files"});
      for (const auto& f : files) readFile(f);
    } else if (fs::exists(path, ec)) {
      readFile(path);
    } else {
      errors.push_back(LoadError{path, 0, 0, "", "no such file or directory"});
    }
  }
  if (!errors.empty()) return errors;
  return out;
}

LoadResult<std::shared_ptr<const PolicySet>> compilePolicy(std::span<const PolicySource> sources,
                                                           const LoadOptions& options,
                                                           uint64_t generation) {
  Compiler c(options, generation);
  return c.run(sources);
}

LoadResult<std::shared_ptr<const PolicySet>> loadPolicy(std::span<const std::string> paths,
                                                        const LoadOptions& options,
                                                        uint64_t generation) {
  auto sources = readPolicyPaths(paths);
  if (!sources.ok()) return sources.errors();
  return compilePolicy(sources.value(), options, generation);
}

}  // namespace fg::policy
