// NetifyServer: the agent's framing, the greeting, publish to every client,
// the bounded per-client queue (drops counted, the stream still framed).
// A real io_context on its own thread; clients are plain sockets.
#include "gateway/control/netify_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

namespace fg::ctl {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(NetifyFrame, LengthLineThenCountedPayload) {
  EXPECT_EQ(netifyFrame(R"({"type":"agent_hello"})"), "{\"length\":23}\n{\"type\":\"agent_hello\"}\n");
  // A newline already there is counted, not doubled.
  EXPECT_EQ(netifyFrame("{}\n"), "{\"length\":3}\n{}\n");
  // Multi-byte UTF-8: the length counts bytes.
  const std::string s = "{\"h\":\"\xc3\xa9\"}";
  EXPECT_EQ(netifyFrame(s), "{\"length\":" + std::to_string(s.size() + 1) + "}\n" + s + "\n");
}

TEST(SubscriberQueueWithoutNotices, DropsAreCountedAndNothingElseIsQueued) {
  SubscriberQueue q(2, 1 << 20, /*notices=*/false);
  EXPECT_TRUE(q.push("a"));
  EXPECT_TRUE(q.push("b"));
  EXPECT_FALSE(q.push("c"));
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.pop(), "a\n");
  EXPECT_TRUE(q.push("d"));
  EXPECT_EQ(q.pop(), "b\n");
  EXPECT_EQ(q.pop(), "d\n") << "no missed notice in between";
  EXPECT_FALSE(q.pop());
}

// Reads frames the way a consumer of the agent does.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  // The next payload, or nullopt on timeout/close.
  std::optional<json> next(std::chrono::milliseconds timeout = 3000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        const json head = json::parse(buf_.substr(0, nl));
        EXPECT_TRUE(head.is_object() && head.size() == 1 && head["length"].is_number_unsigned()) << head;
        const size_t n = head["length"].get<size_t>();
        if (buf_.size() - nl - 1 >= n) {
          const std::string payload = buf_.substr(nl + 1, n);
          buf_.erase(0, nl + 1 + n);
          EXPECT_EQ(payload.back(), '\n') << "the payload ends with its counted newline";
          return json::parse(payload);
        }
      }
      if (std::chrono::steady_clock::now() >= end) return std::nullopt;
      timeval tv{0, 100'000};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char tmp[65536];
      const ssize_t r = ::recv(fd_, tmp, sizeof tmp, 0);
      if (r == 0) return std::nullopt;
      if (r > 0) buf_.append(tmp, static_cast<size_t>(r));
    }
  }

 private:
  int fd_;
  std::string buf_;
};

int connectUnix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class NetifyServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fg-netify-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "netify.sock").string();
  }
  void TearDown() override {
    if (server_) run([&] { server_->shutdown(); });
    io_.stop();
    if (thread_.joinable()) thread_.join();
    std::filesystem::remove_all(dir_);
  }
  void start(NetifyServerOptions o) {
    o.socket_path = path_;
    o.listen = {"127.0.0.1:0"};
    o.hello = [] { return std::string(R"({"type":"agent_hello","agent_version":"t"})"); };
    o.status = [this] { return R"({"type":"agent_status","n":)" + std::to_string(++statuses_) + "}"; };
    server_ = std::make_unique<NetifyServer>(io_, std::move(o));
    ASSERT_TRUE(server_->start().ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  template <typename F>
  void run(F&& f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  NetifyServerCounters counters() {
    NetifyServerCounters c;
    run([&] { c = server_->counters(); });
    return c;
  }
  int connectTcp() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(server_->tcpPorts().at(0));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{io_.get_executor()};
  std::thread thread_;
  std::unique_ptr<NetifyServer> server_;
  std::filesystem::path dir_;
  std::string path_;
  int statuses_ = 0;
};

TEST_F(NetifyServerTest, GreetingThenMessagesOnUnixAndTcp) {
  NetifyServerOptions o;
  o.update_interval = 200ms;
  start(std::move(o));
  const int u = connectUnix(path_);
  ASSERT_GE(u, 0);
  const int t = connectTcp();
  Reader ru(u), rt(t);
  for (Reader* r : {&ru, &rt}) {
    auto hello = r->next();
    ASSERT_TRUE(hello);
    EXPECT_EQ((*hello)["type"], "agent_hello");
    auto status = r->next();
    ASSERT_TRUE(status);
    EXPECT_EQ((*status)["type"], "agent_status");
  }
  run([&] { server_->publish(R"({"type":"flow_purge","flow":{"digest":"ab"}})"); });
  for (Reader* r : {&ru, &rt}) {
    // agent_status may come first (every 200 ms): skip it.
    std::optional<json> m;
    do m = r->next();
    while (m && (*m)["type"] == "agent_status");
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "flow_purge");
    EXPECT_EQ((*m)["flow"]["digest"], "ab");
  }
  // agent_status keeps coming without any request.
  int more = 0;
  for (int i = 0; i < 20 && more < 2; ++i)
    if (auto m = ru.next(500ms); m && (*m)["type"] == "agent_status") ++more;
  EXPECT_EQ(more, 2);
  const auto c = counters();
  EXPECT_EQ(c.clients, 2u);
  EXPECT_EQ(c.connections_accepted, 2u);
  EXPECT_EQ(c.dropped, 0u);
  ::close(u);
  ::close(t);
}

TEST_F(NetifyServerTest, SlowClientDropsAndIsCountedOthersGetEverything) {
  NetifyServerOptions o;
  o.queue_events = 16;
  o.update_interval = std::chrono::hours(1);
  start(std::move(o));
  const int slow = connectUnix(path_);
  const int fast = connectUnix(path_);
  ASSERT_GE(slow, 0);
  ASSERT_GE(fast, 0);
  // Shrink the slow client's receive buffer so the kernel holds little.
  int small = 4096;
  setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Reader rf(fast);
  ASSERT_TRUE(rf.next());  // hello
  ASSERT_TRUE(rf.next());  // status
  const std::string big = R"({"type":"flow_stats","pad":")" + std::string(2000, 'x') + "\"}";
  int got = 0;
  // Publish in rounds the fast reader drains between; the slow one never reads.
  for (int round = 0; round < 50; ++round) {
    run([&] {
      for (int i = 0; i < 10; ++i) server_->publish(big);
    });
    for (int i = 0; i < 10; ++i)
      if (auto m = rf.next(); m && (*m)["type"] == "flow_stats") ++got;
  }
  EXPECT_EQ(got, 500) << "the fast client is not slowed by the slow one";
  const auto c = counters();
  EXPECT_GT(c.dropped, 0u);
  EXPECT_EQ(c.clients_dropping, 1u);
  EXPECT_EQ(c.published, 500u);
  // What the slow client has is still well framed.
  Reader rs(slow);
  int framed = 0;
  while (auto m = rs.next(300ms)) ++framed;
  EXPECT_GT(framed, 0);
  EXPECT_LT(framed, 502);
  ::close(slow);
  ::close(fast);
}

TEST_F(NetifyServerTest, ClientLimit) {
  NetifyServerOptions o;
  o.max_clients = 1;
  o.update_interval = std::chrono::hours(1);
  start(std::move(o));
  const int a = connectUnix(path_);
  Reader ra(a);
  ASSERT_TRUE(ra.next());
  const int b = connectUnix(path_);
  Reader rb(b);
  EXPECT_FALSE(rb.next(500ms)) << "refused: closed without a greeting";
  EXPECT_EQ(counters().connections_rejected, 1u);
  ::close(a);
  ::close(b);
}

}  // namespace
}  // namespace fg::ctl
