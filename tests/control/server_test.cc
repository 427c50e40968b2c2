#include "gateway/control/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "common/log.h"

namespace fg::ctl {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class FakeHandler : public ControlHandler {
 public:
  json status() override {
    ++status_calls;
    json j = {{"version", "test"}, {"workers", 2}};
    if (status_padding) j["padding"] = std::string(status_padding, 'p');
    return j;
  }
  void flows(const FlowQuery& q, std::function<void(json)> done) override {
    last_limit = q.limit;
    last_app = q.filter.application;
    pending_flows.push_back(std::move(done));  // answered later, like the workers do
  }
  void flow(const std::string& id, std::function<void(json)> done) override {
    if (id == "known") done(json{{"flow_id", "known"}, {"bytes", 10}});
    else done(nullptr);
  }
  json policy() override { return json{{"rules", json::array({{{"name", "r1"}, {"hits", 3}}})}}; }
  ReloadResult reload() override {
    if (reload_ok) return ReloadResult{.ok = true, .generation = 7, .errors = {}};
    return ReloadResult{.ok = false, .generation = 6, .errors = {"a.toml:3:1: match: bad", "b.toml:1:1: x: y"}};
  }
  HintResult hint(const std::string& address) override {
    if (address != "10.0.0.1") return {.error = "not an address we know: " + address, .result = nullptr};
    return {.error = "",
            .result = json{{"address", address},
                           {"dns", json::array({{{"client", "10.0.0.2"}, {"hostname", "www.netflix.com"}}})}}};
  }
  std::string metrics() override {
    if (throw_metrics) throw std::runtime_error("boom");
    return "# HELP flowgate_up Up.\n# TYPE flowgate_up gauge\nflowgate_up 1\n";
  }

  int status_calls = 0;
  size_t status_padding = 0;
  size_t last_limit = 0;
  std::string last_app;
  bool reload_ok = true;
  bool throw_metrics = false;
  std::vector<std::function<void(json)>> pending_flows;
};

// A blocking test client with timeouts.
class Client {
 public:
  explicit Client(const std::string& path, int rcvbuf = 0) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  bool send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // One line without '\n'; nullopt on EOF/timeout.
  std::optional<std::string> line(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  json response(std::chrono::milliseconds timeout = 5s) {
    auto l = line(timeout);
    if (!l) return json();
    return json::parse(*l);
  }
  // True when the server closed the connection (EOF) within the timeout.
  bool closedByPeer(std::chrono::milliseconds timeout = 5s) {
    while (line(timeout)) {
    }
    return eof_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
};

class ServerTest : public ::testing::Test {
 protected:
  // Runs `f` on the io thread and waits for it.
  template <typename F>
  auto onIo(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }
  void SetUp() override {
    log::setLevel(log::Level::Warn);
    char tmpl[] = "/tmp/fgctl-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    opts_.socket_path = dir_ + "/sub/control.sock";
    opts_.request_timeout = 0ms;
  }
  void TearDown() override {
    if (server_ && thread_.joinable()) onIo([&] { server_->shutdown(); });
    work_.reset();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void startServer() {
    server_ = std::make_unique<ControlServer>(io_, handler_, opts_);
    Result<void> r = server_->start();
    ASSERT_TRUE(r.ok()) << r.error().message();
    thread_ = std::thread([this] { io_.run(); });
  }
  ServerCounters counters() {
    return onIo([&] { return server_->counters(); });
  }
  const std::string& path() const { return opts_.socket_path; }

  std::string dir_;
  ServerOptions opts_;
  FakeHandler handler_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
};

TEST_F(ServerTest, SocketFileModeAndRequests) {
  opts_.mode = 0660;
  startServer();
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  Client c(path());
  ASSERT_TRUE(c.connected());
  // Pipelined: several lines in one write, answered in order, session stays open.
  ASSERT_TRUE(c.send("{\"request\":\"status\",\"id\":1}\ngarbage\n{\"request\":\"nope\",\"id\":\"x\"}\n\n"
                     "{\"request\":\"policy\",\"id\":2}\n{\"request\":\"metrics\"}\n{\"request\":\"flow\",\"flow_id\":"
                     "\"known\"}\n{\"request\":\"flow\",\"flow_id\":\"gone\",\"id\":9}\n"));
  json r = c.response();
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["result"]["version"], "test");
  r = c.response();
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"]["code"], "bad_json");
  r = c.response();
  EXPECT_EQ(r["error"]["code"], "unknown_request");
  EXPECT_EQ(r["id"], "x");
  r = c.response();
  EXPECT_EQ(r["error"]["code"], "bad_json");  // the empty line
  r = c.response();
  EXPECT_EQ(r["result"]["rules"][0]["hits"], 3);
  r = c.response();
  EXPECT_NE(r["result"]["text"].get<std::string>().find("flowgate_up 1\n"), std::string::npos);
  EXPECT_EQ(r["result"]["content_type"], "text/plain; version=0.0.4");
  r = c.response();
  EXPECT_EQ(r["result"]["flow_id"], "known");
  r = c.response();
  EXPECT_EQ(r["error"]["code"], "not_found");
  EXPECT_EQ(r["id"], 9);

  const ServerCounters k = counters();
  EXPECT_EQ(k.requests, 8u);
  EXPECT_EQ(k.errors, 4u);
  EXPECT_EQ(k.errors_by_code[static_cast<size_t>(ErrorCode::BadJson)], 2u);
}

TEST_F(ServerTest, ReloadAnswersEveryError) {
  startServer();
  Client c(path());
  handler_.reload_ok = false;
  c.send("{\"request\":\"reload\"}\n");
  json r = c.response();
  EXPECT_EQ(r["error"]["code"], "reload_failed");
  ASSERT_EQ(r["error"]["errors"].size(), 2u);
  EXPECT_EQ(r["error"]["errors"][1], "b.toml:1:1: x: y");
  onIo([&] { handler_.reload_ok = true; });
  c.send("{\"request\":\"reload\"}\n");
  r = c.response();
  EXPECT_EQ(r["result"]["generation"], 7);
  // A handler that throws yields an internal error, not a dead daemon.
  onIo([&] { handler_.throw_metrics = true; });
  c.send("{\"request\":\"metrics\"}\n");
  r = c.response();
  EXPECT_EQ(r["error"]["code"], "internal");
  c.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(c.response()["ok"], true);
}

TEST_F(ServerTest, HintAnswersOrRefusesTheAddress) {
  startServer();
  Client c(path());
  c.send("{\"request\":\"hint\",\"address\":\"10.0.0.1\",\"id\":3}\n");
  json r = c.response();
  EXPECT_EQ(r["id"], 3);
  EXPECT_EQ(r["result"]["dns"][0]["hostname"], "www.netflix.com");
  c.send("{\"request\":\"hint\",\"address\":\"nope\"}\n");
  r = c.response();
  EXPECT_EQ(r["error"]["code"], "bad_field");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("nope"), std::string::npos);
  // The connection is still usable after the error.
  c.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(c.response()["ok"], true);
}

TEST_F(ServerTest, AsyncFlowsAnswerLaterAndInOrder) {
  startServer();
  Client c(path());
  c.send("{\"request\":\"flows\",\"limit\":3,\"filter\":{\"application\":\"Netflix\"},\"id\":1}\n"
         "{\"request\":\"status\",\"id\":2}\n");
  EXPECT_FALSE(c.line(200ms).has_value());  // the flows answer is pending; status waits behind it
  onIo([&] {
    EXPECT_EQ(handler_.pending_flows.size(), 1u);
    EXPECT_EQ(handler_.last_limit, 3u);
    EXPECT_EQ(handler_.last_app, "Netflix");
    auto done = std::move(handler_.pending_flows.front());
    handler_.pending_flows.clear();
    done(json::array({{{"flow_id", "a"}}}));
  });
  json r = c.response();
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["result"]["flows"][0]["flow_id"], "a");
  EXPECT_EQ(c.response()["id"], 2);
  // A client that leaves before its answer is ready: the late answer is dropped quietly.
  {
    Client gone(path());
    gone.send("{\"request\":\"flows\"}\n");
    for (int i = 0; i < 100 && onIo([&] { return handler_.pending_flows.size(); }) == 0; ++i) {
      std::this_thread::sleep_for(5ms);
    }
  }
  std::this_thread::sleep_for(50ms);
  onIo([&] {
    ASSERT_EQ(handler_.pending_flows.size(), 1u);
    handler_.pending_flows.front()(json::array());
    handler_.pending_flows.clear();
  });
  c.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(c.response()["ok"], true);
}

TEST_F(ServerTest, OversizeLineIsAnsweredThenClosed) {
  startServer();
  Client c(path());
  std::string big(kMaxLineBytes + 10, 'a');
  c.send(big);  // no newline: the bounded buffer fills
  json r = c.response();
  EXPECT_EQ(r["error"]["code"], "too_long");
  EXPECT_TRUE(c.closedByPeer());
  // A line of exactly the maximum is fine.
  Client d(path());
  std::string ok = "{\"request\":\"status\"}";
  ok.resize(kMaxLineBytes, ' ');
  d.send(ok + "\n");
  EXPECT_EQ(d.response()["ok"], true);
}

TEST_F(ServerTest, HalfWrittenLineAtEndOfInput) {
  startServer();
  Client c(path());
  c.send("{\"request\":\"sta");
  c.shutdownWrite();
  json r = c.response();
  EXPECT_EQ(r["error"]["code"], "bad_json");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("unterminated"), std::string::npos);
  EXPECT_TRUE(c.closedByPeer());
  // A complete request followed by a half-close is answered normally.
  Client d(path());
  d.send("{\"request\":\"status\"}\n");
  d.shutdownWrite();
  EXPECT_EQ(d.response()["ok"], true);
  EXPECT_TRUE(d.closedByPeer());
}

TEST_F(ServerTest, ManyIdleClientsAndAGarbageSender) {
  startServer();
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<Client>(path()));
    ASSERT_TRUE(idle.back()->connected());
  }
  Client g(path());
  for (int i = 0; i < 50; ++i) {
    std::string junk(100 + i, static_cast<char>('!' + i % 90));
    junk += "\n";
    ASSERT_TRUE(g.send(junk));
    json r = g.response();
    ASSERT_EQ(r["ok"], false);
  }
  Client c(path());
  c.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(c.response()["ok"], true);
  EXPECT_EQ(counters().clients, 202u);
  idle.clear();
  for (int i = 0; i < 200 && counters().clients > 2; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(counters().clients, 2u);
}

TEST_F(ServerTest, ClientCapRejectsWithAnError) {
  opts_.max_clients = 3;
  startServer();
  Client a(path()), b(path()), c(path());
  a.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(a.response()["ok"], true);  // all three are sessions by now
  b.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(b.response()["ok"], true);
  c.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(c.response()["ok"], true);
  Client d(path());
  json r = d.response();
  EXPECT_EQ(r["error"]["code"], "too_many_clients");
  EXPECT_TRUE(d.closedByPeer());
  EXPECT_EQ(counters().connections_rejected, 1u);
  a.close();
  for (int i = 0; i < 200 && counters().clients > 2; ++i) std::this_thread::sleep_for(5ms);
  Client e(path());
  e.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(e.response()["ok"], true);
}

TEST_F(ServerTest, ClientDisconnectingMidResponse) {
  handler_.status_padding = 8u << 20;  // an 8 MiB answer cannot be written at once
  startServer();
  for (int i = 0; i < 3; ++i) {
    Client c(path(), 4096);
    c.send("{\"request\":\"status\"}\n");
    auto first = c.line(1s);  // read a little of it, then hang up
    (void)first;
  }
  Client c(path(), 4096);
  c.send("{\"request\":\"status\"}\n");
  c.close();
  onIo([&] { handler_.status_padding = 0; });
  Client d(path());
  d.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(d.response()["ok"], true);
  for (int i = 0; i < 200 && counters().clients > 1; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(counters().clients, 1u);
}

TEST_F(ServerTest, IdleTimeout) {
  opts_.request_timeout = 150ms;
  startServer();
  Client c(path());
  c.send("{\"request\":\"sta");  // never finished
  json r = c.response(2s);
  EXPECT_EQ(r["error"]["code"], "timeout");
  EXPECT_TRUE(c.closedByPeer());
  // Active clients are not affected: each request restarts the clock.
  Client d(path());
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(60ms);
    d.send("{\"request\":\"status\"}\n");
    EXPECT_EQ(d.response()["ok"], true);
  }
}

Event makeEvent(Topic t, const std::string& app, int n, size_t pad = 0) {
  Event e;
  e.topic = t;
  e.application = app;
  e.src = "10.0.0.2";
  e.dst = "1.1.1.1";
  e.rule = "r";
  json j = {{"event", std::string(toString(t))}, {"n", n}, {"application", app}};
  if (pad) j["pad"] = std::string(pad, 'x');
  e.json = j.dump();
  return e;
}

TEST_F(ServerTest, SubscribeFiltersAndRejectsFurtherRequests) {
  startServer();
  Client s(path());
  s.send("{\"request\":\"subscribe\",\"topics\":[\"flow_end\"],\"filter\":{\"application\":\"netflix\"},\"id\":4}\n");
  json r = s.response();
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["id"], 4);
  EXPECT_EQ(r["result"]["topics"], json::array({"flow_end"}));
  EXPECT_EQ(counters().subscribers, 1u);
  s.send("{\"request\":\"status\"}\n");  // ignored on a subscribed session
  onIo([&] {
    server_->publish(makeEvent(Topic::Flow, "Netflix", 1));
    server_->publish(makeEvent(Topic::FlowEnd, "YouTube", 2));
    server_->publish(makeEvent(Topic::FlowEnd, "Netflix", 3));
  });
  r = s.response();
  EXPECT_EQ(r["n"], 3);
  EXPECT_FALSE(s.line(100ms).has_value());
  s.close();
  for (int i = 0; i < 200 && counters().subscribers > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(counters().subscribers, 0u);
}

TEST_F(ServerTest, NetifySubscribersGetTheConvertedForm) {
  opts_.netify = [](const Event& e) -> std::optional<std::string> {
    if (e.topic != Topic::Flow) return std::nullopt;
    return std::string("{\"type\":\"flow\",\"app\":\"") + e.application + "\"}";
  };
  startServer();
  Client n(path());
  n.send("{\"request\":\"subscribe\",\"topics\":[\"flow\",\"flow_end\"],\"format\":\"netify\"}\n");
  EXPECT_EQ(n.response()["result"]["format"], "netify");
  Client plain(path());
  plain.send("{\"request\":\"subscribe\",\"topics\":[\"flow\"]}\n");
  EXPECT_EQ(plain.response()["result"]["format"], "flowgate");
  onIo([&] {
    server_->publish(makeEvent(Topic::FlowEnd, "Netflix", 1));  // no netify form: not sent to n
    server_->publish(makeEvent(Topic::Flow, "Netflix", 2));
  });
  json r = n.response();
  EXPECT_EQ(r["type"], "flow");
  EXPECT_EQ(r["app"], "Netflix");
  EXPECT_FALSE(n.line(100ms).has_value());
  EXPECT_EQ(plain.response()["n"], 2) << "flowgate subscribers get the record itself";
}

// A subscriber that does not read loses events (counted, then told how
// many); a subscriber that keeps up gets every event; publishing never
// waits, and other clients are served meanwhile.
TEST_F(ServerTest, SlowSubscriberDropsFastSubscriberGetsAll) {
  opts_.subscriber_max_events = 64;
  startServer();
  Client slow(path(), 4096);
  Client fast(path());
  slow.send("{\"request\":\"subscribe\",\"topics\":[\"flow\"]}\n");
  fast.send("{\"request\":\"subscribe\",\"topics\":[\"flow\"]}\n");
  ASSERT_EQ(slow.response()["ok"], true);
  ASSERT_EQ(fast.response()["ok"], true);

  constexpr int kBatches = 200, kPerBatch = 50;
  int fast_seen = 0, fast_missed = 0;
  bool fast_in_order = true;
  std::chrono::nanoseconds publish_time{0};
  for (int b = 0; b < kBatches; ++b) {
    publish_time += onIo([&] {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < kPerBatch; ++i) server_->publish(makeEvent(Topic::Flow, "A", b * kPerBatch + i, 900));
      return std::chrono::steady_clock::now() - t0;
    });
    while (fast_seen < (b + 1) * kPerBatch) {
      auto l = fast.line(5s);
      ASSERT_TRUE(l.has_value()) << "fast subscriber starved at " << fast_seen;
      json j = json::parse(*l);
      if (j["event"] == "missed") {
        fast_missed += j["count"].get<int>();
        continue;
      }
      if (j["n"] != fast_seen) fast_in_order = false;
      ++fast_seen;
    }
  }
  constexpr int kTotal = kBatches * kPerBatch;
  EXPECT_EQ(fast_seen, kTotal);
  EXPECT_EQ(fast_missed, 0);
  EXPECT_TRUE(fast_in_order);
  // 10000 publishes of ~1 KiB to two subscribers, one stalled: far below a second.
  EXPECT_LT(publish_time, 2s);

  const ServerCounters k = counters();
  EXPECT_GT(k.events_dropped, 0u);
  EXPECT_EQ(k.events_published, static_cast<uint64_t>(kTotal));
  EXPECT_EQ(k.events_queued + k.events_dropped, 2u * kTotal);

  // Others are served while the slow one is stalled.
  Client other(path());
  other.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(other.response()["ok"], true);

  // The slow subscriber catches up: what it got plus what it was told it
  // missed is everything, and the notice sits where the gap is.
  int slow_seen = 0;
  uint64_t slow_missed = 0;
  int last_n = -1;
  while (slow_seen + static_cast<int>(slow_missed) < kTotal) {
    auto l = slow.line(5s);
    ASSERT_TRUE(l.has_value()) << "slow subscriber: seen " << slow_seen << " missed " << slow_missed;
    json j = json::parse(*l);
    if (j["event"] == "missed") {
      slow_missed += j["count"].get<uint64_t>();
      continue;
    }
    EXPECT_GT(j["n"].get<int>(), last_n);
    last_n = j["n"].get<int>();
    ++slow_seen;
  }
  EXPECT_EQ(slow_seen + static_cast<int>(slow_missed), kTotal);
  EXPECT_EQ(slow_missed, counters().events_dropped);
  EXPECT_GT(slow_missed, 0u);
}

TEST_F(ServerTest, StaleSocketIsReplacedLiveOneIsNot) {
  startServer();
  // A second server on the same path while the first listens: refused.
  boost::asio::io_context io2;
  {
    ControlServer second(io2, handler_, opts_);
    Result<void> r = second.start();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, std::make_error_code(std::errc::address_in_use));
  }
  Client c(path());
  c.send("{\"request\":\"status\"}\n");
  EXPECT_EQ(c.response()["ok"], true);  // the first one still serves, its file untouched

  // Shutdown removes the file.
  onIo([&] { server_->shutdown(); });
  EXPECT_FALSE(std::filesystem::exists(path()));

  // A stale socket (nobody listening) is replaced.
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path().c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
  ASSERT_TRUE(std::filesystem::exists(path()));
  ControlServer third(io2, handler_, opts_);
  Result<void> r = third.start();
  ASSERT_TRUE(r.ok()) << r.error().message();
  third.shutdown();

  // A regular file is never removed.
  { std::ofstream(path()) << "not a socket"; }
  ControlServer fourth(io2, handler_, opts_);
  r = fourth.start();
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(path()));
}

TEST_F(ServerTest, UnknownGroupFails) {
  opts_.group = "no-such-group-flowgate-test";
  server_ = std::make_unique<ControlServer>(io_, handler_, opts_);
  Result<void> r = server_->start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("no-such-group"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path()));
}

// -- HTTP ---------------------------------------------------------------

std::string httpRoundTrip(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 3000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST(HttpMetricsListener, ServesMetricsOnly) {
  FakeHandler handler;
  boost::asio::io_context io;
  HttpMetricsListener http(io, handler, HttpMetricsOptions{.address = "127.0.0.1", .port = 0});
  Result<void> r = http.start();
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_NE(http.port(), 0);
  std::thread t([&] { io.run(); });

  std::string resp = httpRoundTrip(http.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp;
  EXPECT_NE(resp.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(resp.find("\r\n\r\n# HELP flowgate_up Up.\n"), std::string::npos);

  resp = httpRoundTrip(http.port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp;
  EXPECT_EQ(resp.find("flowgate_up 1"), std::string::npos);

  resp = httpRoundTrip(http.port(), "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(resp.rfind("HTTP/1.1 404", 0), 0u) << resp;
  resp = httpRoundTrip(http.port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(resp.rfind("HTTP/1.1 405", 0), 0u) << resp;
  // Oversized headers: closed without an answer.
  resp = httpRoundTrip(http.port(), "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(resp.find("200"), std::string::npos);
  // Keep-alive: two requests on one connection.
  resp = httpRoundTrip(http.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n"
                                    "Connection: close\r\n\r\n");
  EXPECT_NE(resp.find("HTTP/1.1 200"), resp.rfind("HTTP/1.1 200"));
  EXPECT_EQ(http.requests(), 4u);

  boost::asio::post(io, [&] { http.shutdown(); });
  t.join();
}

}  // namespace
}  // namespace fg::ctl
