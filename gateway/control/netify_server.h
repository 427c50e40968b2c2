// NetifyServer: a listener that speaks the Netify agent's socket stream, so
// that consumers written for the agent read flowgate unchanged
// ([output.netify_socket], docs/netify.md "The socket").
//
// What it does: listens on a Unix socket and/or TCP addresses. Every client
// is greeted with `agent_hello` and `agent_status`, gets `agent_status`
// again every update interval and every payload publish() is given, with
// no request. Each payload travels as the agent frames it: one line
// `{"length":N}` and then exactly N bytes: the JSON object and its newline
// (netifyFrame()). Whatever a client sends is read and discarded (only to
// notice the close).
//
// Backpressure: each client has a bounded queue (SubscriberQueue without
// missed notices: the agent's stream has no place for them). A frame that
// does not fit is dropped and counted, per client and in total; a client
// that reads nothing costs at most its queue. publish() never waits.
//
// Threading: everything on one io_context, the control thread's; start(),
// publish(), shutdown(), counters() and appendMetrics() on that thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/result.h"
#include "gateway/control/metrics.h"
#include "gateway/control/server.h"
#include "gateway/control/subscriber.h"

namespace fg::ctl {

// `{"length":N}\n` followed by `json` and a newline; N counts the JSON and
// its newline. A trailing newline already in `json` is not doubled.
std::string netifyFrame(std::string_view json);

struct NetifyServerOptions {
  std::string socket_path;           // "" = no Unix socket
  std::string group;                 // group owning the socket file ("" = leave)
  mode_t mode = 0660;
  std::vector<std::string> listen;   // "ADDRESS:PORT" ("[::1]:PORT" for IPv6); PORT 0 = any (tests)
  size_t max_clients = 64;
  size_t queue_events = SubscriberQueue::kDefaultMaxEvents;
  size_t queue_bytes = SubscriberQueue::kDefaultMaxBytes;
  std::chrono::milliseconds update_interval{std::chrono::seconds(15)};
  // The greeting and the periodic status: one JSON object each (no framing).
  std::function<std::string()> hello;
  std::function<std::string()> status;
};

struct NetifyServerCounters {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // over max_clients
  uint64_t published = 0;             // publish() calls (flow messages)
  uint64_t queued = 0;                // frames queued to clients (greetings and status included)
  uint64_t dropped = 0;               // frames dropped by full client queues
  uint64_t clients_dropping = 0;      // clients that dropped at least one frame (ever)
  size_t clients = 0;                 // open now
};

class NetifyClient;

class NetifyServer {
 public:
  NetifyServer(boost::asio::io_context& io, NetifyServerOptions options);
  ~NetifyServer();
  NetifyServer(const NetifyServer&) = delete;
  NetifyServer& operator=(const NetifyServer&) = delete;

  // Binds every configured listener; any failure closes them all.
  [[nodiscard]] Result<void> start();
  // One message (a JSON object) to every client. Never blocks.
  void publish(std::string_view json);
  void shutdown();

  NetifyServerCounters counters() const;
  void appendMetrics(Exposition& out) const;
  // The bound TCP ports, in `listen` order (after start()).
  const std::vector<uint16_t>& tcpPorts() const { return tcp_ports_; }

 private:
  friend class NetifyClient;
  template <typename Acceptor>
  void accept(Acceptor& acceptor);
  template <typename Socket>
  void onAccepted(Socket socket);
  void removeClient(const std::shared_ptr<NetifyClient>& c);
  void deliver(NetifyClient& c, const std::string& frame);
  void scheduleStatus();

  boost::asio::io_context& io_;
  NetifyServerOptions opt_;
  boost::asio::local::stream_protocol::acceptor unix_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> tcp_;
  std::vector<uint16_t> tcp_ports_;
  boost::asio::steady_timer status_timer_;
  std::unordered_set<std::shared_ptr<NetifyClient>> clients_;
  NetifyServerCounters counters_;
  UnixSocketFile sock_file_;
  bool unix_listening_ = false;
  bool running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace fg::ctl
