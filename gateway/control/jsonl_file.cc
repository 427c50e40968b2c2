#include "gateway/control/jsonl_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace fg::ctl {

namespace {

Result<int> openAppend(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return errnoError("open event log " + path, errno);
  return fd;
}

}  // namespace

Result<std::unique_ptr<JsonLinesFile>> JsonLinesFile::open(const std::string& path) {
  Result<int> fd = openAppend(path);
  if (!fd) return fd.error();
  std::unique_ptr<JsonLinesFile> f(new JsonLinesFile(path));
  f->fd_ = *fd;
  return f;
}

JsonLinesFile::~JsonLinesFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> JsonLinesFile::reopen() {
  reopen_requested_.store(false, std::memory_order_relaxed);
  Result<int> fd = openAppend(path_);
  if (!fd) return fd.error();  // keep writing to the old descriptor
  if (fd_ >= 0) ::close(fd_);
  fd_ = *fd;
  ++reopens_;
  return {};
}

Result<void> JsonLinesFile::write(std::string_view line) {
  if (reopen_requested_.load(std::memory_order_relaxed)) {
    Result<void> r = reopen();
    if (!r) ++errors_;  // not fatal: the old file still takes the line
  }
  scratch_.assign(line);
  if (scratch_.empty() || scratch_.back() != '\n') scratch_.push_back('\n');
  size_t off = 0;
  while (off < scratch_.size()) {
    ssize_t n = ::write(fd_, scratch_.data() + off, scratch_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ++errors_;
      return errnoError("write event log " + path_, errno);
    }
    off += static_cast<size_t>(n);
  }
  ++lines_;
  return {};
}

}  // namespace fg::ctl
