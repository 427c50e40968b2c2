// Process-level set-up of the daemon: the single-instance lock and the
// privilege drop. Both run in start-up, before any thread exists.
//
// Error convention: fg::Result (start-up fails fast on any error).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace fg::daemon {

// Single instance per table and network namespace: an exclusive lock on
// <control socket's directory>/<table>-<netns inode>.lock, taken before the
// kernel is touched. The directory is the one the instance owns anyway (the
// unit's RuntimeDirectory /run/flowgate, or a test's own), so instances with
// their own control sockets and tables never share a lock, and the
// unprivileged service user can create it. (The nft table's owner flag
// refuses a second instance too; the lock makes the refusal early and clear.)
// Returns the lock's descriptor (close it to release the lock).
[[nodiscard]] Result<int> lockInstance(const std::string& table, const std::string& control_socket);
// The lock file's path (for tests and messages).
std::string lockPath(const std::string& table, const std::string& control_socket, uint64_t netns);

// Becomes `user` (its uid, gid, no supplementary groups) keeping only
// CAP_NET_ADMIN, which every later netlink message needs (verdicts, set
// elements, routes on reload, conntrack dumps). Must run before the process
// starts threads: capabilities are per thread. Also sets no_new_privs and
// drops every other capability from the bounding set.
[[nodiscard]] Result<void> dropPrivileges(const std::string& user);

}  // namespace fg::daemon
