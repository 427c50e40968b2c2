// daemon::Reloader over a fake kernel side: the policy is parsed once, the
// snapshot the kernel saw is the one installed, and any failure keeps the
// old generation in force with every error reported.
#include "gateway/daemon/reload.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace fg::daemon {
namespace {

class FakeKernel final : public KernelSide {
 public:
  Result<void> apply(const policy::PolicySet& next) override {
    applied.push_back(&next);
    generations.push_back(next.generation());
    if (fail) return errnoError("route 'zero': ip route: Nexthop has invalid gateway", ENETUNREACH);
    return {};
  }
  std::vector<const policy::PolicySet*> applied;
  std::vector<uint64_t> generations;
  bool fail = false;
};

const char* kGood = R"(
[policy]
default_action = "accept"
mark_mask = 0x0000ff00
mark_shift = 8

[route.zero]
table = 100
via = "10.0.3.1"
fwmark = 1

[[rule]]
name = "zero-rate"
match = { hostname = "video.example" }
route = "zero"
)";

class ReloadPipelineTest : public ::testing::Test {
 protected:
  ReloadPipelineTest() : holder_(policy::LoadOptions{}) {
    marks_.value_mask = 0x0000ffff;
    text_ = kGood;
    const std::vector<policy::PolicySource> first{{"p.toml", text_}};
    EXPECT_TRUE(holder_.reloadSources(first).ok());
  }

  Reloader make() {
    return Reloader(
        [this](uint64_t generation) {
          ++loads_;
          const std::vector<policy::PolicySource> sources{{"p.toml", text_}};
          return policy::compilePolicy(sources, policy::LoadOptions{}, generation);
        },
        marks_, holder_, kernel_);
  }

  policy::PolicyHolder holder_;
  core::MarkLayout marks_;
  FakeKernel kernel_;
  std::string text_;
  int loads_ = 0;
};

TEST_F(ReloadPipelineTest, SuccessInstallsTheSnapshotTheKernelSaw) {
  Reloader r = make();
  text_ += "[[rule]]\nname = \"block\"\nmatch = { hostname = \"bad.example\" }\naction = \"drop\"\n";
  const ReloadOutcome out = r.reload();
  ASSERT_TRUE(out.ok);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_EQ(out.generation, 2u);
  EXPECT_EQ(loads_, 1) << "the policy is parsed once";
  ASSERT_EQ(kernel_.applied.size(), 1u);
  EXPECT_EQ(kernel_.applied[0], holder_.current().get()) << "the snapshot installed is the one applied";
  EXPECT_EQ(holder_.current()->generation(), 2u);
  EXPECT_EQ(holder_.current()->ruleCount(), 2u);
  EXPECT_EQ(r.reloadsOk(), 1u);
  EXPECT_EQ(r.reloadsFailed(), 0u);
}

TEST_F(ReloadPipelineTest, ParseErrorsAreAllReportedAndTheKernelIsNotTouched) {
  Reloader r = make();
  text_ += "[[rule]]\nname = \"a\"\nacton = \"drop\"\n[[rule]]\nname = \"b\"\nmatch = { nonsense = 1 }\n";
  const ReloadOutcome out = r.reload();
  EXPECT_FALSE(out.ok);
  EXPECT_GE(out.errors.size(), 2u);
  for (const auto& e : out.errors) EXPECT_NE(e.find("p.toml:"), std::string::npos) << e;
  EXPECT_TRUE(kernel_.applied.empty());
  EXPECT_EQ(out.generation, 1u);
  EXPECT_EQ(holder_.current()->generation(), 1u);
  EXPECT_EQ(r.reloadsFailed(), 1u);
}

TEST_F(ReloadPipelineTest, MarksOutsideTheLayoutAreRefusedBeforeTheKernel) {
  marks_.value_mask = 0x000000ff;  // the route's fwmark 0x100 lies outside
  Reloader r = make();
  const ReloadOutcome out = r.reload();
  EXPECT_FALSE(out.ok);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors[0].find("route 'zero': fwmark 0x100/0xff00 lies outside"), std::string::npos) << out.errors[0];
  EXPECT_TRUE(kernel_.applied.empty());
  EXPECT_EQ(holder_.current()->generation(), 1u);
}

TEST_F(ReloadPipelineTest, KernelFailureKeepsTheOldGeneration) {
  Reloader r = make();
  const auto old = holder_.current();
  kernel_.fail = true;
  const ReloadOutcome out = r.reload();
  EXPECT_FALSE(out.ok);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].rfind("kernel: route 'zero': ip route: Nexthop has invalid gateway", 0), 0u) << out.errors[0];
  EXPECT_EQ(out.generation, 1u);
  EXPECT_EQ(holder_.current(), old);
  EXPECT_EQ(r.reloadsFailed(), 1u);
  EXPECT_EQ(r.reloadsOk(), 0u);
  // The refused generation number is used again by the next good reload.
  kernel_.fail = false;
  const ReloadOutcome again = r.reload();
  ASSERT_TRUE(again.ok);
  EXPECT_EQ(again.generation, 2u);
  EXPECT_EQ(kernel_.generations, (std::vector<uint64_t>{2, 2}));
}

TEST_F(ReloadPipelineTest, CompanionCommitsOnlyWithTheWholeReload) {
  std::vector<std::string> calls;
  std::vector<std::string> prepare_errors;
  Reloader r(
      [this](uint64_t generation) {
        const std::vector<policy::PolicySource> sources{{"p.toml", text_}};
        return policy::compilePolicy(sources, policy::LoadOptions{}, generation);
      },
      marks_, holder_, kernel_,
      ReloadCompanion{.prepare = [&] { calls.push_back("prepare"); return prepare_errors; },
                      .commit = [&] { calls.push_back("commit"); },
                      .rollback = [&] { calls.push_back("rollback"); }});
  kernel_.fail = true;
  EXPECT_FALSE(r.reload().ok);
  EXPECT_EQ(calls, (std::vector<std::string>{"prepare", "rollback"}));
  calls.clear();
  kernel_.fail = false;
  EXPECT_TRUE(r.reload().ok);
  EXPECT_EQ(calls, (std::vector<std::string>{"prepare", "commit"}));
  // A companion that cannot prepare: its errors, no policy load, nothing to roll back.
  calls.clear();
  prepare_errors = {"apps/x.toml:1:1: name: bad"};
  const size_t applied = kernel_.applied.size();
  const ReloadOutcome out = r.reload();
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.errors, prepare_errors);
  EXPECT_EQ(calls, (std::vector<std::string>{"prepare"}));
  EXPECT_EQ(kernel_.applied.size(), applied);
  EXPECT_EQ(holder_.current()->generation(), 2u);
}

TEST(CheckMarks, NamesEveryOffendingClassAndRoute) {
  const std::vector<policy::PolicySource> sources{{"p.toml", R"(
[policy]
default_action = "accept"
mark_mask = 0x0000ff00
mark_shift = 8

[class]
bulk = 2
video = 3

[route.zero]
table = 100
via = "10.0.3.1"
fwmark = 1
)"}};
  auto p = policy::compilePolicy(sources, policy::LoadOptions{}, 1);
  ASSERT_TRUE(p.ok());
  core::MarkLayout m;
  m.value_mask = 0x000000ff;
  const auto errors = checkMarks(*p.value(), m);
  EXPECT_EQ(errors.size(), 3u);
  m.value_mask = 0x0000ffff;
  EXPECT_TRUE(checkMarks(*p.value(), m).empty());
}

}  // namespace
}  // namespace fg::daemon
