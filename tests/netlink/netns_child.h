// Kernel tests of netlink/: run a body in a forked child inside a fresh
// network namespace (unshare(CLONE_NEWNET)), so the test process's own
// namespace never changes and nothing leaks into the host. The child reports
// failures as text through a pipe; GTEST_SKIP when not root or when the
// namespace (or a precondition) is unavailable.
#pragma once

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace fg::nl::testing {

struct Log {
  std::string text;
  void fail(const std::string& m) { text += m + "\n"; }
};
#define KCHECK(log, cond, msg)                                                     \
  do {                                                                             \
    if (!(cond)) (log).fail(std::string(__FILE__ ":") + std::to_string(__LINE__) + \
                            " " #cond ": " + std::string(msg));                   \
  } while (0)

inline constexpr int kSkipExit = 77;

// `precondition` (in the child, inside the namespace) returns "" when the
// test can run, else why it is skipped.
inline void inNetns(const std::function<void(Log&)>& body,
                    const std::function<std::string()>& precondition = {}) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN for unshare)";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    Log log;
    int code = 0;
    if (unshare(CLONE_NEWNET) != 0) {
      log.text = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      code = kSkipExit;
    } else if (std::string why = precondition ? precondition() : ""; !why.empty()) {
      log.text = why;
      code = kSkipExit;
    } else {
      (void)std::system("ip link set lo up");
      body(log);
      code = log.text.empty() ? 0 : 1;
    }
    const char* p = log.text.data();
    std::size_t left = log.text.size();
    while (left > 0) {
      const ssize_t n = write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    close(fds[1]);
    std::fflush(nullptr);
    _exit(code);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child crashed; output so far:\n" << out;
  if (WEXITSTATUS(status) == kSkipExit) GTEST_SKIP() << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
}

}  // namespace fg::nl::testing
