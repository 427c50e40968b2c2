// PolicyHolder: generations, all-or-nothing reload, directory loading.
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/policy/policy_test_util.h"

namespace fg::policy {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("fg-policy-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
             std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

const std::string kDropTls = "[[rule]]\nname = \"drop-tls\"\nmatch = { l7_protocol = \"TLS\" }\naction = \"drop\"\n";
const std::string kRejectTls = "[[rule]]\nname = \"reject-tls\"\nmatch = { l7_protocol = \"TLS\" }\naction = \"reject\"\n";

TEST(ReloadTest, StartsWithEmptyPolicy) {
  PolicyHolder holder(testing::testOptions());
  EXPECT_EQ(holder.current()->generation(), 0u);
  EXPECT_EQ(holder.current()->evaluate(testing::webFlow(), testing::mondayNoonUtc()).verdict, Verdict::Accept);
}

TEST(ReloadTest, KeepsOldSnapshotOnError) {
  PolicyHolder holder(testing::testOptions());
  const std::vector<PolicySource> good{{"p.toml", kDropTls}};
  auto r1 = holder.reloadSources(good);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1.value(), 1u);
  const auto before = holder.current();
  EXPECT_EQ(before->generation(), 1u);

  // One good rule and one broken: nothing of it may be applied.
  const std::vector<PolicySource> bad{
      {"p.toml", kRejectTls + "[[rule]]\nname = \"broken\"\nmatch = { dst_port = \"x\" }\n"},
      {"q.toml", "[[rule]]\nname = \"other\"\nacton = \"drop\"\n"}};
  auto r2 = holder.reloadSources(bad);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.errors().size(), 2u);
  EXPECT_EQ(r2.errors()[0].line, 7);
  EXPECT_EQ(r2.errors()[1].file, "q.toml");
  EXPECT_EQ(holder.current(), before);
  const Decision d = holder.current()->evaluate(testing::webFlow(), testing::mondayNoonUtc());
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.generation, 1u);

  const std::vector<PolicySource> fixed{{"p.toml", kRejectTls}};
  auto r3 = holder.reloadSources(fixed);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3.value(), 2u);
  EXPECT_EQ(holder.current()->evaluate(testing::webFlow(), testing::mondayNoonUtc()).verdict, Verdict::Reject);
  // The old snapshot is still valid for whoever holds it.
  EXPECT_EQ(before->evaluate(testing::webFlow(), testing::mondayNoonUtc()).verdict, Verdict::Drop);
}

TEST(ReloadTest, LoadsDirectoryInNameOrder) {
  TempDir dir;
  dir.write("20-reject.toml", kRejectTls);
  dir.write("10-drop.toml", kDropTls);
  dir.write("README.txt", "not a policy");
  PolicyHolder holder(testing::testOptions());
  const std::vector<std::string> paths{dir.path()};
  auto r = holder.reload(paths);
  ASSERT_TRUE(r.ok()) << formatError(r.errors()[0]);
  const auto p = holder.current();
  EXPECT_EQ(p->summary().files, 2u);
  EXPECT_EQ(p->ruleName(0), "drop-tls");
  EXPECT_EQ(p->evaluate(testing::webFlow(), testing::mondayNoonUtc()).verdict, Verdict::Drop);
}

TEST(ReloadTest, FileErrorsKeepOldSnapshot) {
  TempDir dir;
  const std::string good = dir.write("good.toml", kDropTls);
  PolicyHolder holder(testing::testOptions());
  ASSERT_TRUE(holder.reload(std::vector<std::string>{good}).ok());
  dir.write("good.toml", "[[rule]]\nname = \"x\"\nmatch = { application = \"Netflx\" }\n");
  auto r = holder.reload(std::vector<std::string>{good});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors()[0].file, good);
  EXPECT_EQ(r.errors()[0].line, 3);
  EXPECT_EQ(holder.current()->generation(), 1u);
  auto empty = holder.reload(std::vector<std::string>{dir.path() + "/nope"});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(holder.current()->generation(), 1u);
}

TEST(ReloadTest, ReadersRaceWithReloads) {
  PolicyHolder holder(testing::testOptions());
  const std::vector<PolicySource> a{{"p.toml", kDropTls}};
  const std::vector<PolicySource> b{{"p.toml", kRejectTls}};
  ASSERT_TRUE(holder.reloadSources(a).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      const FlowFacts f = testing::webFlow();
      while (!stop.load()) {
        const auto p = holder.current();
        const Decision d = p->evaluate(f, testing::mondayNoonUtc());
        if (d.verdict == Verdict::Accept || d.generation != p->generation()) ++bad;
      }
    });
  }
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(holder.reloadSources(i % 2 ? a : b).ok());
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(holder.current()->generation(), 201u);
}

}  // namespace
}  // namespace fg::policy
