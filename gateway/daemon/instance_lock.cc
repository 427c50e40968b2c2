#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "gateway/daemon/process.h"

namespace fg::daemon {

Result<int> lockInstance(const std::string& table) {
  const std::string dir = "/run/flowgate";
  ::mkdir(dir.c_str(), 0755);
  struct stat ns {};
  const std::string netns = ::stat("/proc/self/ns/net", &ns) == 0 ? std::to_string(ns.st_ino) : "0";
  const std::string path = dir + "/" + table + "-" + netns + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errnoError(path, errno);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    ::close(fd);
    return Error{std::error_code{},
                 "another flowgate instance is running for table '" + table + "' (lock " + path + " is held)"};
  }
  return fd;
}

}  // namespace fg::daemon
