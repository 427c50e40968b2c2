// Builds a TCP reset that answers for a packet: used to cut a rejected flow
// at the deciding packet. Pure; no kernel headers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fg::core {

// Rewrites `ip_packet` (IPv4 or IPv6 + TCP, starting at the IP header) into a
// RST|ACK segment with the same addresses, ports, sequence and
// acknowledgement numbers and no payload, with valid IP and TCP checksums:
// delivered in place of the original, it resets the receiver's connection.
// Returns false (and leaves `out` unspecified) when the packet is not a
// complete TCP header over IPv4/IPv6 without extension headers.
bool rewriteAsTcpReset(std::span<const uint8_t> ip_packet, std::vector<uint8_t>& out);

}  // namespace fg::core
