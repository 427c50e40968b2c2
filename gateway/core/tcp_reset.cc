#include "gateway/core/tcp_reset.h"

#include <cstring>

namespace fg::core {
namespace {

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) acc += static_cast<uint32_t>(p[n - 1] << 8);
  return acc;
}

uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace

bool rewriteAsTcpReset(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  if (in.empty()) return false;
  const uint8_t version = in[0] >> 4;
  size_t ip_len;
  if (version == 4) {
    if (in.size() < 20) return false;
    ip_len = static_cast<size_t>(in[0] & 0x0f) * 4;
    if (ip_len < 20 || in[9] != 6) return false;
    if ((in[6] & 0x1f) != 0 || in[7] != 0) return false;  // not a first fragment
  } else if (version == 6) {
    ip_len = 40;
    if (in.size() < 40 || in[6] != 6) return false;  // extension headers: not handled
  } else {
    return false;
  }
  if (in.size() < ip_len + 20) return false;
  out.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(ip_len + 20));
  uint8_t* ip = out.data();
  uint8_t* tcp = ip + ip_len;
  tcp[12] = 5 << 4;              // data offset 5, no options
  tcp[13] = 0x04 | 0x10;         // RST | ACK
  put16(tcp + 14, 0);            // window
  put16(tcp + 16, 0);            // checksum (computed below)
  put16(tcp + 18, 0);            // urgent pointer
  uint32_t pseudo;
  if (version == 4) {
    put16(ip + 2, static_cast<uint16_t>(ip_len + 20));
    ip[6] = 0x40;                // DF, no fragment offset
    ip[7] = 0;
    put16(ip + 10, 0);
    put16(ip + 10, fold(sum16(ip, ip_len)));
    pseudo = sum16(ip + 12, 8) + 6 + 20;
  } else {
    put16(ip + 4, 20);
    pseudo = sum16(ip + 8, 32) + 6 + 20;
  }
  put16(tcp + 16, fold(sum16(tcp, 20, pseudo)));
  return true;
}

}  // namespace fg::core
