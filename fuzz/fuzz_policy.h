// The fixed policy the packet targets evaluate flows against: the demo lab's
// use cases plus one rule per remaining match key, so every matcher (hostname
// suffix and regex, TLS version comparison, cipher, JA3, ALPN, CIDRs, address
// groups, ports, proto, interfaces, confidence, schedule) runs on facts that
// came off arbitrary packets.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace fg::fuzz {

inline constexpr const char* kFixedPolicy = R"(
[policy]
default_action = "accept"
mark_mask = 0xff00
mark_shift = 8
exempt = ["legacy"]
timezone = "Europe/Berlin"

[address_group]
legacy = ["192.0.2.10", "2001:db8:ffff::/48"]
lan = ["10.0.0.0/8", "fd00::/8"]

[class]
realtime = 1
bulk = 3

[route.zero-rated]
table = 100
via = "10.71.3.2"
fwmark = 16

[set.zero_rated]
family = "ipv4"
address = "dst"
timeout = 3600

[set.seen6]
family = "ipv6"
address = "src"

[[rule]]
name = "audit-tls12-without-h2"
mode = "shadow"
match = { tls_version = "TLSv1.2", not_alpn = ["h2"] }
action = "reject"

[[rule]]
name = "reject-old-tls"
match = { tls_version = "< TLSv1.2" }
action = "reject"
log = true

[[rule]]
name = "reject-weak-ciphers"
match = { cipher_strength = ["insecure", "weak"] }
action = "reject"

[[rule]]
name = "drop-named-cipher"
match = { cipher = ["TLS_RSA_WITH_RC4_128_SHA", "0xC02F"], dst_port = ["443", "8000-8999"] }
action = "drop"

[[rule]]
name = "zero-rate-netflix"
match = { application = "NetFlix" }
route = "zero-rated"
add_to_set = "zero_rated"
log = true

[[rule]]
name = "realtime-calls"
match = { application = ["Zoom", "Teams", "Skype_Teams"] }
class = "realtime"

[[rule]]
name = "bulk"
match = { application = "BitTorrent", not_src = "legacy" }
class = "bulk"

[[rule]]
name = "hosts"
match = { hostname = ["*.example.com", "exact.example.org", "~^[a-z0-9-]+\\.(test|invalid)$"] }
action = "drop"
add_to_set = "seen6"

[[rule]]
name = "fingerprints"
mode = "shadow"
match = { ja3c = "e7d705a3286e19ea42f587b344ee6865", not_ja3s = "00000000000000000000000000000000" }
action = "drop"

[[rule]]
name = "video-at-work"
match = { category = ["Video", "Streaming"], days = ["mon", "tue", "wed", "thu", "fri"], time = "22:00-06:00" }
action = "drop"

[[rule]]
name = "dns-from-lan"
match = { l7_protocol = "DNS", src = "lan", proto = "udp", in_interface = "lan*", confidence = ["dpi", "guessed"] }
class = "realtime"

[[rule]]
name = "quic-v6"
match = { l7_protocol = "QUIC", dst = "2000::/3", not_out_interface = "wan1" }
action = "reject"
)";

// Compiles kFixedPolicy into `holder`; aborts with the errors if it does not
// compile (a broken fixture must not silently fuzz an empty policy).
inline void loadFixedPolicy(policy::PolicyHolder& holder) {
  auto r = holder.reloadSources(std::vector<policy::PolicySource>{{"fuzz.toml", kFixedPolicy}});
  if (!r.ok()) {
    for (const auto& e : r.errors()) std::fprintf(stderr, "%s\n", policy::formatError(e).c_str());
    std::abort();
  }
}

}  // namespace fg::fuzz
