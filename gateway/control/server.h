// ControlServer: the control socket. A Unix stream socket speaking the
// newline-delimited JSON protocol of protocol.h (docs/control.md), and
// HttpMetricsListener: an optional loopback HTTP listener for Prometheus.
//
// Threading: everything runs on one boost::asio::io_context, run by the
// caller's control thread. start(), publish(), shutdown() and counters()
// must be called on that thread (or before it runs). No method blocks:
// replies and events are written with async_write, one write in flight per
// client; requests that need the workers (flows, flow) are answered when the
// ControlHandler calls back. No worker thread ever touches this class; the
// daemon drains the workers' EventQueues on the control thread and calls
// publish() there.
//
// Clients: at most `max_clients` sessions; one more is accepted, told
// {"ok":false,"error":{"code":"too_many_clients",...}} and closed. A session
// handles one request at a time in order (pipelined lines wait in its
// bounded buffer; it is not read further until the reply is written, so a
// client that does not read its replies only stalls itself). A line longer
// than `max_line` gets a too_long error and the session is closed; invalid
// lines get an error answer and the session stays open; an unterminated
// line at end of input gets a bad_json error. A session that sends no
// complete request for `request_timeout` gets a timeout error and is closed.
//
// Subscriptions: after a successful `subscribe` the session is a one-way
// event stream. Further input is read and discarded (only to notice the
// close); one connection carries one subscription. publish() copies an
// event into every matching subscriber's bounded SubscriberQueue (never
// waits); a subscriber that does not keep up loses events, counted, and is
// told {"event":"missed","count":N}.
//
// Socket file: the parent directory is created when missing; an existing
// socket file is removed only when nothing accepts on it (else start()
// fails with EADDRINUSE); a path that exists and is not a socket is never
// removed. After bind the file gets `mode` (default 0660) and, when `group`
// is set, that group (getgrnam). Until the chmod the file has the umask's
// mode, which under the usual umasks grants no write permission, so nobody
// outside the owner can connect in that window. shutdown() closes every
// session and removes the socket file if it is still the one we bound.
//
// Errors: start() returns fg::Result with the failing step and path in the
// context. Exceptions thrown by the ControlHandler are caught and answered
// with an "internal" error.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/result.h"
#include "gateway/control/handler.h"
#include "gateway/control/metrics.h"
#include "gateway/control/protocol.h"
#include "gateway/control/subscriber.h"

namespace fg::ctl {

// The steps every Unix stream listener of the control thread takes (see
// "Socket file" above): create the parent directory, remove a stale socket
// nobody accepts on (never a non-socket), bind, listen, chmod `mode`, chown
// to `group`. `what` names the socket in errors. The result identifies the
// file for removeUnixSocketFile().
struct UnixSocketFile {
  dev_t dev = 0;
  ino_t ino = 0;
};
[[nodiscard]] Result<UnixSocketFile> listenUnix(boost::asio::local::stream_protocol::acceptor& acceptor,
                                                const std::string& path, mode_t mode, const std::string& group,
                                                const std::string& what);
// Removes `path` if it is still the socket listenUnix() created.
void removeUnixSocketFile(const std::string& path, const UnixSocketFile& file);
// Opens, binds (SO_REUSEADDR) and listens on ADDRESS:PORT; the bound port
// (PORT 0: a free one). `what` names the listener in errors.
[[nodiscard]] Result<uint16_t> listenTcp(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address,
                                         uint16_t port, const std::string& what);

struct ServerOptions {
  std::string socket_path = "/run/flowgate/control.sock";
  std::string group;  // group owner of the socket file; "" = leave as created
  mode_t mode = 0660;
  size_t max_clients = 1024;
  size_t max_line = kMaxLineBytes;
  size_t subscriber_max_events = SubscriberQueue::kDefaultMaxEvents;
  size_t subscriber_max_bytes = SubscriberQueue::kDefaultMaxBytes;
  std::chrono::milliseconds request_timeout{std::chrono::minutes(5)};  // 0 = none
  // The Netify-style form of an event for `"format":"netify"` subscribers
  // (nullopt: the event has none, e.g. an aggregate, and is not sent to
  // them). Unset: such subscriptions get nothing.
  std::function<std::optional<std::string>(const Event&)> netify;
};

struct ServerCounters {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // over max_clients
  uint64_t accept_errors = 0;
  uint64_t requests = 0;              // request lines received (valid or not)
  uint64_t errors = 0;                // error answers sent
  uint64_t events_published = 0;      // publish() calls
  uint64_t events_queued = 0;         // event copies queued to subscribers
  uint64_t events_dropped = 0;        // event copies dropped by full subscriber queues
  size_t clients = 0;                 // open sessions now
  size_t subscribers = 0;             // subscribed sessions now
  std::array<uint64_t, 12> errors_by_code{};  // indexed by ErrorCode
};

class ControlSession;

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, ControlHandler& handler, ServerOptions options);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates, binds and listens on the socket and starts accepting.
  [[nodiscard]] Result<void> start();

  // Fans `e` out to matching subscribers. Never blocks; control thread only.
  void publish(const Event& e);

  // Closes the listener and every session, removes the socket file. Idempotent.
  void shutdown();

  ServerCounters counters() const;
  // flowgate_control_* families (clients, subscribers, requests, errors,
  // subscriber drops) for the daemon's ControlHandler::metrics().
  void appendMetrics(Exposition& out) const;
  const ServerOptions& options() const { return opt_; }

 private:
  friend class ControlSession;
  void startAccept();
  void onAccepted(boost::asio::local::stream_protocol::socket socket);
  void rejectClient(boost::asio::local::stream_protocol::socket socket);
  void removeSession(const std::shared_ptr<ControlSession>& s);
  void setSubscribed(const std::shared_ptr<ControlSession>& s);
  void countError(ErrorCode c);

  ControlHandler& handler_;
  ServerOptions opt_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  std::unordered_set<std::shared_ptr<ControlSession>> sessions_;
  std::unordered_set<std::shared_ptr<ControlSession>> subscribers_;
  ServerCounters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool listening_ = false;
  UnixSocketFile sock_file_;
};

struct HttpMetricsOptions {
  std::string address = "127.0.0.1";  // a loopback address is strongly advised
  uint16_t port = 9464;               // 0 = any free port (tests); see port()
  size_t max_connections = 64;
  size_t max_request_bytes = 8192;    // request line + headers; larger requests are closed
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

// GET /metrics -> 200 with ControlHandler::metrics() (text/plain; version=0.0.4);
// HEAD likewise without body; other paths 404; other methods 405. Same
// threading rules as ControlServer.
class HttpMetricsListener {
 public:
  HttpMetricsListener(boost::asio::io_context& io, ControlHandler& handler, HttpMetricsOptions options);
  ~HttpMetricsListener();
  HttpMetricsListener(const HttpMetricsListener&) = delete;
  HttpMetricsListener& operator=(const HttpMetricsListener&) = delete;

  [[nodiscard]] Result<void> start();
  uint16_t port() const { return port_; }  // the bound port after start()
  void shutdown();
  uint64_t requests() const { return requests_; }

 private:
  class Connection;
  void startAccept();

  boost::asio::io_context& io_;
  ControlHandler& handler_;
  HttpMetricsOptions opt_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  uint64_t requests_ = 0;
  std::shared_ptr<size_t> open_connections_ = std::make_shared<size_t>(0);
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace fg::ctl
