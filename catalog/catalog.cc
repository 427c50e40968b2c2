#include "catalog/catalog.h"

#include <algorithm>
#include <cstring>

#include "common/ascii.h"

namespace fg::catalog {

std::string_view toString(Origin o) { return o == Origin::Operator ? "operator" : "shipped"; }

bool App::portAllowed(uint16_t port) const {
  if (ports.empty()) return true;
  return std::any_of(ports.begin(), ports.end(),
                     [&](const PortRange& r) { return port >= r.first && port <= r.last; });
}

size_t Catalog::RangeKeyHash::operator()(const std::array<uint8_t, 16>& k) const noexcept {
  uint64_t a = 0, b = 0;
  std::memcpy(&a, k.data(), 8);
  std::memcpy(&b, k.data() + 8, 8);
  return static_cast<size_t>((a * 0x9E3779B97F4A7C15ull) ^ (b + 0x632BE59BD9B4E019ull + (a >> 7)));
}

Match Catalog::matchName(std::string_view hostname) const {
  if (!hostname.empty() && hostname.back() == '.') hostname.remove_suffix(1);
  if (hostname.empty() || hostname.size() > 255) return {};
  char buf[256];
  for (size_t i = 0; i < hostname.size(); ++i) buf[i] = lowerAscii(hostname[i]);
  const std::string_view host(buf, hostname.size());

  if (auto it = exact_.find(host); it != exact_.end()) return Match{it->second.app, it->second.pattern};
  // Walk the label boundaries left to right: the first suffix found is the
  // longest one, hence the most specific.
  for (size_t dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
    const std::string_view rest = host.substr(dot + 1);
    auto it = suffix_.find(rest);
    if (it == suffix_.end()) continue;
    const Suffix& s = it->second;
    const std::string_view head = host.substr(0, dot);
    if (head.find('.') == std::string_view::npos) {
      for (const Glob& g : s.globs) {
        if (head.size() >= g.prefix.size() + g.suffix.size() && head.starts_with(g.prefix) &&
            head.ends_with(g.suffix))
          return Match{g.app, g.pattern};
      }
    }
    if (s.any) return Match{s.any, s.any_pattern};
  }
  return {};
}

Match Catalog::matchAddress(const policy::IpAddress& address, uint16_t port) const {
  const bool v4 = address.family == policy::IpFamily::V4;
  if (!v4 && address.family != policy::IpFamily::V6) return {};
  const auto& lengths = v4 ? v4_lengths_ : v6_lengths_;
  const auto& tables = v4 ? v4_ : v6_;
  for (int len : lengths) {
    const RangeTable& t = tables.find(len)->second;
    auto it = t.find(address.masked(len).bytes);
    if (it == t.end()) continue;
    for (const RangeEntry& e : it->second)
      if ((port == 0 && e.app->ports.empty()) || (port != 0 && e.app->portAllowed(port)))
        return Match{e.app, e.text};
  }
  return {};
}

const App* Catalog::find(std::string_view name) const {
  if (name.size() > 255) return nullptr;
  char buf[256];
  for (size_t i = 0; i < name.size(); ++i) buf[i] = lowerAscii(name[i]);
  auto it = by_name_.find(std::string_view(buf, name.size()));
  return it == by_name_.end() ? nullptr : it->second;
}

bool Catalog::knows(std::string_view ndpi_name) const {
  if (ndpi_name.size() > 255) return false;
  char buf[256];
  for (size_t i = 0; i < ndpi_name.size(); ++i) buf[i] = lowerAscii(ndpi_name[i]);
  return known_.find(std::string_view(buf, ndpi_name.size())) != known_.end();
}

const App* Catalog::aliasOf(std::string_view master, std::string_view app) const {
  if (aliases_.empty() || master.size() + app.size() > 254) return nullptr;
  char buf[256];
  size_t n = 0;
  if (!master.empty()) {
    for (char c : master) buf[n++] = lowerAscii(c);
    buf[n++] = '/';
    for (char c : app) buf[n++] = lowerAscii(c);
    if (auto it = aliases_.find(std::string_view(buf, n)); it != aliases_.end()) return it->second;
  }
  n = 0;
  for (char c : app) buf[n++] = lowerAscii(c);
  auto it = aliases_.find(std::string_view(buf, n));
  return it == aliases_.end() ? nullptr : it->second;
}

void Catalog::addNames(policy::NameCatalog& names) const {
  auto add = [](std::vector<std::string>& list, const std::string& n) {
    if (std::none_of(list.begin(), list.end(), [&](const std::string& x) { return iequalsAscii(x, n); }))
      list.push_back(n);
  };
  for (const auto& a : apps_) {
    add(names.protocols, a->name);
    add(names.categories, a->category);
  }
}

}  // namespace fg::catalog
