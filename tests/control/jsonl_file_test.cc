#include "gateway/control/jsonl_file.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fg::ctl {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(JsonLinesFile, AppendsAndReopensAfterRotation) {
  char tmpl[] = "/tmp/fgjsonl-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, path = dir + "/events.jsonl";
  auto f = JsonLinesFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message();
  JsonLinesFile& log = **f;
  ASSERT_TRUE(log.write(R"({"event":"flow","n":1})").ok());
  ASSERT_TRUE(log.write("{\"event\":\"flow\",\"n\":2}\n").ok());
  EXPECT_EQ(slurp(path), "{\"event\":\"flow\",\"n\":1}\n{\"event\":\"flow\",\"n\":2}\n");

  // logrotate: rename, then SIGUSR1 -> requestReopen(); the next line goes to a new file.
  std::filesystem::rename(path, path + ".1");
  ASSERT_TRUE(log.write(R"({"n":3})").ok());  // still the renamed file
  log.requestReopen();
  ASSERT_TRUE(log.write(R"({"n":4})").ok());
  EXPECT_EQ(slurp(path + ".1"), "{\"event\":\"flow\",\"n\":1}\n{\"event\":\"flow\",\"n\":2}\n{\"n\":3}\n");
  EXPECT_EQ(slurp(path), "{\"n\":4}\n");
  EXPECT_EQ(log.reopens(), 1u);
  EXPECT_EQ(log.linesWritten(), 4u);

  // Direct reopen, and a directory that vanished: reopen fails, writing continues.
  std::filesystem::rename(path, path + ".2");
  ASSERT_TRUE(log.reopen().ok());
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(log.reopen().ok());
  EXPECT_TRUE(log.write(R"({"n":5})").ok());  // into the unlinked file, but no error
  EXPECT_FALSE(JsonLinesFile::open(dir + "/x/y.jsonl").ok());
}

}  // namespace
}  // namespace fg::ctl
