#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "gateway/daemon/process.h"

namespace fg::daemon {

Result<void> dropPrivileges(const std::string& user) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
    return makeError("gateway.user: no such user '" + user + "'");
  // Already that user (systemd's User=, or setpriv): there is nothing to
  // drop, and without CAP_SETUID/CAP_SETGID in the bounding set the calls
  // below would fail with EPERM. Only make sure nothing can be regained.
  if (::getuid() == pw.pw_uid && ::geteuid() == pw.pw_uid) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return errnoError("PR_SET_NO_NEW_PRIVS", errno);
    return {};
  }
  if (::geteuid() != 0)
    return makeError("gateway.user: running as uid " + std::to_string(::geteuid()) + ", not root: cannot become '" +
                     user + "' (start flowgate as root, or as that user with CAP_NET_ADMIN, e.g. systemd's User=)");
  // Bounding set: nothing but CAP_NET_ADMIN can ever come back.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (cap == CAP_NET_ADMIN) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      return errnoError("drop capability " + std::to_string(cap) + " from the bounding set", errno);
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return errnoError("PR_SET_KEEPCAPS", errno);
  if (setgroups(0, nullptr) < 0) return errnoError("setgroups", errno);
  if (setgid(pw.pw_gid) < 0) return errnoError("setgid " + std::to_string(pw.pw_gid), errno);
  if (setuid(pw.pw_uid) < 0) return errnoError("setuid " + std::to_string(pw.pw_uid), errno);
  // After setuid with KEEPCAPS the permitted set survives and the effective
  // set is empty: make CAP_NET_ADMIN the only permitted and effective one.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  data[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted = CAP_TO_MASK(CAP_NET_ADMIN);
  data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective = CAP_TO_MASK(CAP_NET_ADMIN);
  if (syscall(SYS_capset, &header, data) < 0) return errnoError("capset CAP_NET_ADMIN", errno);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return errnoError("PR_SET_KEEPCAPS off", errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return errnoError("PR_SET_NO_NEW_PRIVS", errno);
  // Refuse to go on if root could be regained.
  if (setuid(0) == 0) return makeError("privilege drop failed: could become root again");
  return {};
}

}  // namespace fg::daemon
