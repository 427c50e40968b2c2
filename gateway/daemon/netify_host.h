// The kernel's view of which addresses are on the LAN side, for the Netify
// records' `internal`, local_*/other_* orientation and `other_type`
// (output::NetifyOptions::on_lan), when output.local_networks does not say.
//
// What it does: from the interfaces' addresses (getifaddrs at start-up:
// each address with its prefix is the interface's connected network) it
// keeps the host's own addresses, loopback and the connected networks of
// the LAN-side interfaces: those listed in output.lan_interfaces, or when
// none is listed every interface not in output.wan_interfaces. Addresses on
// the WAN side's connected networks are remote (the agent's external
// interfaces).
//
// What it never does: refresh itself (addresses added later are not seen
// until a restart), or look at routes other than the connected ones.
//
// Threading: immutable after construction; onLan() from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "gateway/core/ip_address.h"
#include "gateway/output/netify.h"

namespace fg::daemon {

struct InterfaceAddress {
  std::string interface;
  core::IpAddress address;
  unsigned prefix = 0;
  bool loopback = false;
};

class HostNetworks {
 public:
  HostNetworks(const std::vector<InterfaceAddress>& addresses, const std::vector<std::string>& lan,
               const std::vector<std::string>& wan);
  // The host's interfaces now (getifaddrs); empty when it fails.
  static std::vector<InterfaceAddress> read();

  bool onLan(std::string_view ip) const;
  size_t networks() const { return nets_.size(); }

 private:
  struct Net {
    core::IpAddress base;
    unsigned prefix;
  };
  std::vector<Net> nets_;
};

// How the daemon writes Netify records: the configured interface roles and
// local networks, the host's LAN side as the fallback (the caller adds the
// classifier's protocol ids: fg_daemon does not link nDPI).
output::NetifyOptions netifyOptionsOf(const cli::Config& cfg, std::shared_ptr<const HostNetworks> host);

}  // namespace fg::daemon
