// daemon::lockInstance: one instance per table, network namespace and
// control socket directory; a second is refused with a clear message.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/daemon/process.h"

namespace fg::daemon {
namespace {

class InstanceLock : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/flowgate-lock-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(InstanceLock, LivesNextToTheControlSocket) {
  EXPECT_EQ(lockPath("flowgate", "/run/flowgate/control.sock", 4026531840), "/run/flowgate/flowgate-4026531840.lock");
  EXPECT_EQ(lockPath("t2", "/tmp/x/ctl.sock", 7), "/tmp/x/t2-7.lock");
  EXPECT_EQ(lockPath("t", "control.sock", 7), "./t-7.lock");
}

TEST_F(InstanceLock, ASecondInstanceIsRefusedUntilTheFirstEnds) {
  const std::string sock = dir_ + "/run/control.sock";  // the directory does not exist yet
  auto first = lockInstance("flowgate", sock);
  ASSERT_TRUE(first) << first.error().message();
  struct stat ns {};
  ASSERT_EQ(::stat("/proc/self/ns/net", &ns), 0);
  const std::string path = lockPath("flowgate", sock, ns.st_ino);
  EXPECT_TRUE(std::filesystem::exists(path)) << path;

  auto second = lockInstance("flowgate", sock);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("another flowgate instance is running for table 'flowgate'"),
            std::string::npos)
      << second.error().message();
  EXPECT_NE(second.error().message().find(path), std::string::npos) << second.error().message();

  // Another table, or another control socket directory: another instance.
  auto other_table = lockInstance("flowgate2", sock);
  ASSERT_TRUE(other_table) << other_table.error().message();
  auto other_dir = lockInstance("flowgate", dir_ + "/other/control.sock");
  ASSERT_TRUE(other_dir) << other_dir.error().message();

  ::close(*first);
  auto again = lockInstance("flowgate", sock);
  ASSERT_TRUE(again) << "the lock is free once its holder closed it";
  for (int fd : {*again, *other_table, *other_dir}) ::close(fd);
}

TEST_F(InstanceLock, AnUncreatableDirectoryIsAnError) {
  const std::string file = dir_ + "/file";
  std::ofstream(file) << "x";
  ASSERT_TRUE(std::filesystem::is_regular_file(file));
  auto r = lockInstance("flowgate", file + "/control.sock");  // a file where the directory should be
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(file), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace fg::daemon
