// Minimal systemd readiness notification (sd_notify protocol): one datagram
// to $NOTIFY_SOCKET. No libsystemd dependency; a no-op outside systemd.
#pragma once

#include <string_view>

namespace fg::cli {

// Sends `state` (e.g. "READY=1\nSTATUS=...") when $NOTIFY_SOCKET is set.
// Returns false only when sending failed.
bool sdNotify(std::string_view state);

}  // namespace fg::cli
