#include "gateway/daemon/netify_host.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <bit>

namespace fg::daemon {
namespace {

bool listed(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

bool matches(const core::IpAddress& base, unsigned prefix, const core::IpAddress& a) {
  if (base.version != a.version) return false;
  const unsigned whole = prefix / 8, rest = prefix % 8;
  for (unsigned i = 0; i < whole; ++i)
    if (base.bytes[i] != a.bytes[i]) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (base.bytes[whole] & mask) == (a.bytes[whole] & mask);
}

unsigned prefixOf(const sockaddr* mask) {
  if (!mask) return 0;
  const uint8_t* p = nullptr;
  size_t n = 0;
  if (mask->sa_family == AF_INET) {
    p = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else if (mask->sa_family == AF_INET6) {
    p = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  unsigned bits = 0;
  for (size_t i = 0; i < n; ++i) bits += static_cast<unsigned>(std::popcount(p[i]));
  return bits;
}

}  // namespace

HostNetworks::HostNetworks(const std::vector<InterfaceAddress>& addresses, const std::vector<std::string>& lan,
                           const std::vector<std::string>& wan) {
  for (const InterfaceAddress& a : addresses) {
    if (a.address.version != 4 && a.address.version != 6) continue;
    const unsigned max = a.address.version == 4 ? 32 : 128;
    const bool lan_side = a.loopback || (lan.empty() ? !listed(wan, a.interface) : listed(lan, a.interface));
    // The host's own address counts as local whatever its interface, except
    // on the WAN side (it faces the other networks there).
    if (!listed(wan, a.interface)) nets_.push_back(Net{a.address, max});
    if (lan_side) nets_.push_back(Net{a.address, std::min(a.prefix, max)});
  }
}

std::vector<InterfaceAddress> HostNetworks::read() {
  std::vector<InterfaceAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || !i->ifa_name) continue;
    InterfaceAddress a;
    a.interface = i->ifa_name;
    a.loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
    if (i->ifa_addr->sa_family == AF_INET) {
      a.address = core::IpAddress::v4(
          reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      a.address = core::IpAddress::v6(
          reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr));
    } else {
      continue;
    }
    a.prefix = prefixOf(i->ifa_netmask);
    out.push_back(std::move(a));
  }
  freeifaddrs(list);
  return out;
}

bool HostNetworks::onLan(std::string_view ip) const {
  const auto a = core::IpAddress::parse(ip);
  if (!a) return false;
  return std::any_of(nets_.begin(), nets_.end(), [&](const Net& n) { return matches(n.base, n.prefix, *a); });
}

output::NetifyOptions netifyOptionsOf(const cli::Config& cfg, std::shared_ptr<const HostNetworks> host) {
  output::NetifyOptions n;
  n.local_networks = cfg.local_networks;
  n.lan_interfaces = cfg.lan_interfaces.empty() ? cfg.interfaces : cfg.lan_interfaces;
  n.wan_interfaces = cfg.wan_interfaces;
  n.interface = cfg.interfaces.empty() ? "any" : cfg.interfaces.front();
  n.version = cfg.netify_version;
  n.on_lan = [host = std::move(host)](std::string_view ip) { return host->onLan(ip); };
  return n;
}

}  // namespace fg::daemon
