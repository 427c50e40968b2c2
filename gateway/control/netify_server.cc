#include "gateway/control/netify_server.h"

#include <array>

#include <boost/asio/write.hpp>

#include "common/log.h"

namespace fg::ctl {

namespace asio = boost::asio;
using boost::system::error_code;

std::string netifyFrame(std::string_view json) {
  const bool has_newline = !json.empty() && json.back() == '\n';
  const size_t n = json.size() + (has_newline ? 0 : 1);
  std::string out = "{\"length\":" + std::to_string(n) + "}\n";
  out.reserve(out.size() + n);
  out.append(json);
  if (!has_newline) out.push_back('\n');
  return out;
}

// One connected consumer, whatever its socket type.
class NetifyClient : public std::enable_shared_from_this<NetifyClient> {
 public:
  NetifyClient(NetifyServer* server, size_t max_events, size_t max_bytes)
      : server_(server), queue_(max_events, max_bytes, /*notices=*/false) {}
  virtual ~NetifyClient() = default;

  virtual void start() = 0;
  // Closes now; pending operations complete with errors.
  virtual void close() = 0;

  // False when the frame was dropped.
  bool deliver(const std::string& frame) {
    if (closed_) return true;
    const bool queued = queue_.push(frame);
    if (!queued) dropped_ = true;
    startWrite();
    return queued;
  }
  void detach() {
    server_ = nullptr;
    close();
  }
  bool everDropped() const { return dropped_; }

 protected:
  virtual void write(std::string& out) = 0;
  virtual void readDiscard() = 0;

  void startWrite() {
    if (writing_ || closed_) return;
    auto next = queue_.pop();
    if (!next) return;
    out_ = std::move(*next);
    writing_ = true;
    write(out_);
  }
  void afterWrite(const error_code& ec) {
    writing_ = false;
    if (ec) {
      close();
      return;
    }
    startWrite();
  }
  void forget() {
    if (server_) {
      NetifyServer* s = server_;
      server_ = nullptr;
      s->removeClient(shared_from_this());
    }
  }

  NetifyServer* server_;
  SubscriberQueue queue_;
  std::string out_;
  std::array<char, 1024> scratch_{};
  bool writing_ = false;
  bool closed_ = false;
  bool dropped_ = false;
};

namespace {

template <typename Socket>
class SocketClient final : public NetifyClient {
 public:
  SocketClient(NetifyServer* server, Socket socket, size_t max_events, size_t max_bytes)
      : NetifyClient(server, max_events, max_bytes), socket_(std::move(socket)) {}

  void start() override { readDiscard(); }

  void close() override {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    forget();
  }

 private:
  void write(std::string& out) override {
    asio::async_write(socket_, asio::buffer(out),
                      [self = shared_from_this()](const error_code& ec, size_t) {
                        static_cast<SocketClient&>(*self).afterWrite(ec);
                      });
  }
  void readDiscard() override {
    socket_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](const error_code& ec, size_t) {
      auto& me = static_cast<SocketClient&>(*self);
      if (ec) {
        me.close();  // the consumer went away
        return;
      }
      me.readDiscard();
    });
  }

  Socket socket_;
};

// "ADDRESS:PORT" or "[ADDRESS]:PORT".
bool splitHostPort(const std::string& s, std::string& host, uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size()) return false;
  host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long p = 0;
  try {
    size_t used = 0;
    p = std::stoul(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1 || p > 65535) return false;
  } catch (...) {
    return false;
  }
  port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

NetifyServer::NetifyServer(asio::io_context& io, NetifyServerOptions options)
    : io_(io), opt_(std::move(options)), unix_(io), status_timer_(io) {
  if (opt_.update_interval.count() <= 0) opt_.update_interval = std::chrono::seconds(15);
}

NetifyServer::~NetifyServer() {
  shutdown();
  *alive_ = false;
}

Result<void> NetifyServer::start() {
  auto fail = [this](Error e) -> Result<void> {
    shutdown();
    return e;
  };
  if (!opt_.socket_path.empty()) {
    Result<UnixSocketFile> f = listenUnix(unix_, opt_.socket_path, opt_.mode, opt_.group, "netify socket");
    if (!f) return fail(f.error());
    sock_file_ = *f;
    unix_listening_ = true;
  }
  for (const std::string& l : opt_.listen) {
    std::string host;
    uint16_t port = 0;
    if (!splitHostPort(l, host, port))
      return fail(makeError("netify socket listen \"" + l + "\": expected ADDRESS:PORT", std::errc::invalid_argument));
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io_);
    Result<uint16_t> bound = listenTcp(*acceptor, host, port, "netify socket listen");
    if (!bound) return fail(bound.error());
    tcp_ports_.push_back(*bound);
    tcp_.push_back(std::move(acceptor));
  }
  running_ = true;
  if (unix_listening_) accept(unix_);
  for (auto& a : tcp_) accept(*a);
  std::string tcp_where;
  for (size_t i = 0; i < tcp_.size(); ++i)
    tcp_where += (i ? "," : "") + opt_.listen[i] + "(" + std::to_string(tcp_ports_[i]) + ")";
  log::info("netify_socket_listening", {{"path", opt_.socket_path},
                                        {"listen", tcp_where},
                                        {"update_interval_ms", static_cast<int64_t>(opt_.update_interval.count())},
                                        {"max_clients", opt_.max_clients}});
  scheduleStatus();
  return {};
}

template <typename Acceptor>
void NetifyServer::accept(Acceptor& acceptor) {
  acceptor.async_accept([this, &acceptor, alive = std::weak_ptr<bool>(alive_)](const error_code& ec,
                                                                              typename Acceptor::protocol_type::socket s) {
    if (alive.expired() || !running_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Transient (EMFILE, ECONNABORTED): try again shortly, never spin.
      auto retry = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      retry->async_wait([this, &acceptor, alive, retry](const error_code& tec) {
        if (!tec && !alive.expired() && running_) accept(acceptor);
      });
      return;
    }
    onAccepted(std::move(s));
    accept(acceptor);
  });
}

template <typename Socket>
void NetifyServer::onAccepted(Socket socket) {
  if (clients_.size() >= opt_.max_clients) {
    ++counters_.connections_rejected;
    error_code ignored;
    socket.close(ignored);
    return;
  }
  ++counters_.connections_accepted;
  auto c = std::make_shared<SocketClient<Socket>>(this, std::move(socket), opt_.queue_events, opt_.queue_bytes);
  clients_.insert(c);
  c->start();
  // The agent's greeting: who is talking, then where it stands.
  if (opt_.hello) deliver(*c, netifyFrame(opt_.hello()));
  if (opt_.status) deliver(*c, netifyFrame(opt_.status()));
}

void NetifyServer::deliver(NetifyClient& c, const std::string& frame) {
  const bool had_dropped = c.everDropped();
  if (c.deliver(frame)) {
    ++counters_.queued;
  } else {
    ++counters_.dropped;
    if (!had_dropped) ++counters_.clients_dropping;
  }
}

void NetifyServer::publish(std::string_view json) {
  ++counters_.published;
  if (clients_.empty()) return;
  const std::string frame = netifyFrame(json);
  // Copy: a failed write may remove a client while we iterate.
  std::vector<std::shared_ptr<NetifyClient>> clients(clients_.begin(), clients_.end());
  for (const auto& c : clients) deliver(*c, frame);
}

void NetifyServer::scheduleStatus() {
  status_timer_.expires_after(opt_.update_interval);
  status_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const error_code& ec) {
    if (ec || alive.expired() || !running_) return;
    if (opt_.status && !clients_.empty()) {
      const std::string frame = netifyFrame(opt_.status());
      std::vector<std::shared_ptr<NetifyClient>> clients(clients_.begin(), clients_.end());
      for (const auto& c : clients) deliver(*c, frame);
    }
    scheduleStatus();
  });
}

void NetifyServer::removeClient(const std::shared_ptr<NetifyClient>& c) { clients_.erase(c); }

void NetifyServer::shutdown() {
  running_ = false;
  status_timer_.cancel();
  error_code ignored;
  if (unix_listening_) {
    unix_listening_ = false;
    unix_.close(ignored);
    removeUnixSocketFile(opt_.socket_path, sock_file_);
  }
  for (auto& a : tcp_) a->close(ignored);
  auto clients = std::move(clients_);
  clients_.clear();
  for (const auto& c : clients) c->detach();
}

NetifyServerCounters NetifyServer::counters() const {
  NetifyServerCounters c = counters_;
  c.clients = clients_.size();
  return c;
}

void NetifyServer::appendMetrics(Exposition& out) const {
  const NetifyServerCounters c = counters();
  out.gauge("flowgate_netify_socket_clients", "Consumers connected to the Netify socket.",
            static_cast<double>(c.clients));
  out.counter("flowgate_netify_socket_connections_total", "Netify socket connections accepted.",
              c.connections_accepted);
  out.counter("flowgate_netify_socket_rejected_total", "Netify socket connections refused over the client limit.",
              c.connections_rejected);
  out.counter("flowgate_netify_socket_messages_total", "Flow messages published to the Netify socket.",
              c.published);
  out.counter("flowgate_netify_socket_queued_total", "Frames queued to Netify socket consumers.", c.queued);
  out.counter("flowgate_netify_socket_dropped_total",
              "Frames dropped because a Netify socket consumer did not keep up.", c.dropped);
}

}  // namespace fg::ctl
