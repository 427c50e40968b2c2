#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "gateway/daemon/process.h"

namespace fg::daemon {

std::string lockPath(const std::string& table, const std::string& control_socket, uint64_t netns) {
  std::string dir = std::filesystem::path(control_socket).parent_path().string();
  if (dir.empty()) dir = ".";
  return dir + "/" + table + "-" + std::to_string(netns) + ".lock";
}

Result<int> lockInstance(const std::string& table, const std::string& control_socket) {
  struct stat ns {};
  const uint64_t netns = ::stat("/proc/self/ns/net", &ns) == 0 ? static_cast<uint64_t>(ns.st_ino) : 0;
  const std::string path = lockPath(table, control_socket, netns);
  // The control socket's directory (the unit's RuntimeDirectory, or the one
  // the configuration names): created as the control server would.
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  std::filesystem::create_directories(parent, ec);
  if (ec) return Error{ec, "create directory " + parent.string() + " for the instance lock"};
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errnoError("instance lock " + path, errno);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    ::close(fd);
    return Error{std::error_code{},
                 "another flowgate instance is running for table '" + table + "' (lock " + path + " is held)"};
  }
  return fd;
}

}  // namespace fg::daemon
