// config_fuzz: the daemon configuration loader (gateway/config.h) on
// arbitrary text.
//
// parseConfig must never throw or crash; every error it reports must be
// formattable. A configuration it accepts must be one the daemon can start
// with (the limits config.cc promises): a valid mark layout, at least one
// worker, queue numbers within 16 bits, a non-empty policy path list, a
// control socket path that fits sun_path, interface names that fit IFNAMSIZ
// and positive timeouts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fg;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const cli::ConfigLoad load = cli::parseConfig(text, "fuzz.toml");
  if (!load.errors.empty()) {
    for (const auto& e : load.errors) (void)cli::formatConfigError("fuzz.toml", e);
    return 0;
  }
  const cli::Config& c = load.config;
  if (!c.marks.validate().empty()) __builtin_trap();
  if (c.workers == 0 || c.policy_paths.empty()) __builtin_trap();
  if (uint64_t{c.queue_num} + c.workers - 1 > 65535) __builtin_trap();
  if (c.packet_budget == 0 || c.max_flows == 0) __builtin_trap();
  if (c.control_socket.empty() || c.control_socket[0] != '/' || c.control_socket.size() >= 108)
    __builtin_trap();  // sun_path holds 108 bytes with the NUL
  for (const auto& i : c.interfaces)
    if (i.empty() || i.size() > 15) __builtin_trap();  // IFNAMSIZ
  for (core::Timestamp t : {c.timeouts.tcp_opening, c.timeouts.tcp_established,
                            c.timeouts.tcp_closed, c.timeouts.udp, c.timeouts.other,
                            c.timeouts.decided})
    if (t <= 0) __builtin_trap();
  return 0;
}
