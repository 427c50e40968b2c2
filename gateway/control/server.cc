#include "gateway/control/server.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <utility>
#include <vector>

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/log.h"

namespace fg::ctl {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
using boost::system::error_code;

// ---------------------------------------------------------------------------
// ControlSession: one client. Lives as long as the server's set or a pending
// async operation holds it; server_ is cleared when the server lets go.

class ControlSession : public std::enable_shared_from_this<ControlSession> {
 public:
  ControlSession(ControlServer* server, Local::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        events_(server->opt_.subscriber_max_events, server->opt_.subscriber_max_bytes) {}

  void start() { readRequest(); }

  // Closes the socket now; pending operations complete with errors.
  void close() {
    if (closed_) return;
    closed_ = true;
    cancelTimer();
    error_code ignored;
    socket_.shutdown(Local::socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (server_) {
      ControlServer* s = server_;
      server_ = nullptr;
      s->removeSession(shared_from_this());
    }
  }
  // The server is going away: forget it, then close.
  void detach() {
    server_ = nullptr;
    close();
  }

  bool subscribed() const { return subscribed_; }
  const Subscription& subscription() const { return sub_; }

  // Returns false when the event was dropped.
  bool deliver(const std::string& line) {
    if (closed_) return true;
    const bool queued = events_.push(line);
    startWrite();
    return queued;
  }

 private:
  // -- reading -------------------------------------------------------------
  void readRequest() {
    if (closed_) return;
    if (auto nl = inbuf_.find('\n'); nl != std::string::npos) {
      // A pipelined line is already buffered.
      std::string line = inbuf_.substr(0, nl);
      inbuf_.erase(0, nl + 1);
      handleLine(line);
      return;
    }
    armTimer();
    asio::async_read_until(
        socket_, asio::dynamic_buffer(inbuf_, server_->opt_.max_line + 1), '\n',
        [self = shared_from_this()](const error_code& ec, size_t n) { self->onRead(ec, n); });
  }

  void onRead(const error_code& ec, size_t n) {
    cancelTimer();
    if (closed_ || !server_) return;
    if (ec == asio::error::not_found) {
      replyError(ProtocolError{ErrorCode::TooLong, "request line longer than " +
                                                       std::to_string(server_->opt_.max_line) + " bytes", nullptr});
      close_after_write_ = true;
      inbuf_.clear();
      startWrite();
      return;
    }
    if (ec == asio::error::operation_aborted) {
      if (!close_after_write_) close();  // else the timeout answer is being written
      return;
    }
    if (ec) {
      if (ec == asio::error::eof && !inbuf_.empty()) {
        // A half-written line: the client closed its side before the newline.
        inbuf_.clear();
        replyError(ProtocolError{ErrorCode::BadJson, "unterminated request line (no newline before end of input)", nullptr});
        close_after_write_ = true;
        startWrite();
        return;
      }
      if (ec == asio::error::eof && (writing_ || !replies_.empty())) {
        close_after_write_ = true;
        return;
      }
      close();
      return;
    }
    std::string line = inbuf_.substr(0, n - 1);
    inbuf_.erase(0, n);
    handleLine(line);
  }

  // After subscribe: read and discard, only to notice the close.
  void readDiscard() {
    if (closed_) return;
    socket_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](const error_code& ec, size_t) {
      if (ec) {
        self->close();
        return;
      }
      self->readDiscard();
    });
  }

  void armTimer() {
    if (!server_ || server_->opt_.request_timeout.count() <= 0) return;
    const uint64_t gen = ++timer_gen_;
    timer_.expires_after(server_->opt_.request_timeout);
    timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
      if (ec || gen != self->timer_gen_ || self->closed_ || !self->server_) return;
      self->replyError(ProtocolError{ErrorCode::Timeout, "no complete request line within " +
                                                             std::to_string(self->server_->opt_.request_timeout.count()) +
                                                             " ms",
                                                         nullptr});
      self->close_after_write_ = true;
      // The pending read is abandoned: cancel it so it does not race the reply.
      error_code ignored;
      self->socket_.cancel(ignored);
      self->startWrite();
    });
  }
  void cancelTimer() {
    ++timer_gen_;
    timer_.cancel();
  }

  // -- requests ------------------------------------------------------------
  void handleLine(const std::string& line) {
    ControlServer& srv = *server_;
    ++srv.counters_.requests;
    ParseResult parsed = parseRequest(line);
    if (!parsed.ok()) {
      replyError(parsed.error());
      continueAfterReply();
      return;
    }
    const Request& req = parsed.request();
    const nlohmann::json id = req.id;
    try {
      std::visit([&](const auto& body) { dispatch(id, body); }, req.body);
    } catch (const std::exception& e) {
      awaiting_ = false;
      log::error("control_handler_failed", {{"request", requestName(req.body)}, {"error", e.what()}});
      replyError(ProtocolError{ErrorCode::Internal, std::string("internal error: ") + e.what(), id});
      continueAfterReply();
    }
  }

  void dispatch(const nlohmann::json& id, const StatusRequest&) { replyOk(id, server_->handler_.status()); }
  void dispatch(const nlohmann::json& id, const PolicyRequest&) { replyOk(id, server_->handler_.policy()); }
  void dispatch(const nlohmann::json& id, const MetricsRequest&) {
    replyOk(id, nlohmann::json{{"content_type", "text/plain; version=0.0.4"},
                               {"text", server_->handler_.metrics()}});
  }
  void dispatch(const nlohmann::json& id, const HintRequest& r) {
    ControlHandler::HintResult h = server_->handler_.hint(r.address);
    if (!h.error.empty()) {
      replyError(ProtocolError{ErrorCode::BadField, h.error, id});
      continueAfterReply();
    } else {
      replyOk(id, std::move(h.result));
    }
  }
  void dispatch(const nlohmann::json& id, const LogLevelRequest& r) {
    if (!r.level.empty()) {
      log::Level level = log::level();
      (void)log::parseLevel(r.level, level);  // validated by parseRequest
      const log::Level before = log::level();
      log::setLevel(level);
      log::write(log::Level::Info, "log_level_changed",
                 {{"from", log::toString(before)}, {"to", log::toString(level)}});
    }
    replyOk(id, nlohmann::json{{"level", std::string(log::toString(log::level()))}});
    continueAfterReply();
  }
  void dispatch(const nlohmann::json& id, const ReloadRequest&) {
    ControlHandler::ReloadResult r = server_->handler_.reload();
    if (r.ok) {
      replyOk(id, nlohmann::json{{"generation", r.generation}});
    } else {
      const std::string msg = r.errors.empty() ? std::string("policy reload failed")
                                               : "policy reload failed with " + std::to_string(r.errors.size()) +
                                                     " error(s); the previous policy stays in force";
      replyError(ProtocolError{ErrorCode::ReloadFailed, msg, id}, nlohmann::json{{"errors", r.errors}});
    }
    continueAfterReply();
  }
  void dispatch(const nlohmann::json& id, const FlowsRequest& r) {
    awaiting_ = true;
    server_->handler_.flows(r.query, [weak = weak_from_this(), id](nlohmann::json flows) {
      auto self = weak.lock();
      if (!self || self->closed_ || !self->server_) return;
      self->awaiting_ = false;
      if (!flows.is_array()) flows = nlohmann::json::array();
      self->replyOk(id, nlohmann::json{{"flows", std::move(flows)}});
    });
  }
  void dispatch(const nlohmann::json& id, const FlowRequest& r) {
    awaiting_ = true;
    server_->handler_.flow(r.flow_id, [weak = weak_from_this(), id, flow_id = r.flow_id](nlohmann::json flow) {
      auto self = weak.lock();
      if (!self || self->closed_ || !self->server_) return;
      self->awaiting_ = false;
      if (flow.is_null()) {
        self->replyError(ProtocolError{ErrorCode::NotFound, "no active flow with id \"" + flow_id + "\"", id});
        self->continueAfterReply();
      } else {
        self->replyOk(id, std::move(flow));
      }
    });
  }
  void dispatch(const nlohmann::json& id, const SubscribeRequest& r) {
    sub_.topics = r.topics;
    sub_.filter = r.filter;
    sub_.netify = r.netify;
    nlohmann::json topics = nlohmann::json::array();
    for (Topic t : r.topics) topics.push_back(std::string(toString(t)));
    nlohmann::json filter = nlohmann::json::object();
    if (!r.filter.application.empty()) filter["application"] = r.filter.application;
    if (!r.filter.address.empty()) filter["address"] = r.filter.address;
    if (!r.filter.rule.empty()) filter["rule"] = r.filter.rule;
    replies_.push_back(okResponse(id, nlohmann::json{{"topics", topics},
                                                     {"filter", filter},
                                                     {"format", r.netify ? "netify" : "flowgate"},
                                                     {"queue_events", server_->opt_.subscriber_max_events},
                                                     {"queue_bytes", server_->opt_.subscriber_max_bytes}}));
    subscribed_ = true;
    server_->setSubscribed(shared_from_this());
    inbuf_.clear();
    startWrite();
    readDiscard();
  }

  void replyOk(const nlohmann::json& id, const nlohmann::json& result) {
    replies_.push_back(okResponse(id, result));
    continueAfterReply();
  }
  void replyError(const ProtocolError& e, const nlohmann::json& extra = nlohmann::json::object()) {
    if (server_) server_->countError(e.code);
    replies_.push_back(errorResponse(e, extra));
  }
  // The reply is queued: write it; the next request is read once it is out.
  void continueAfterReply() {
    read_after_write_ = true;
    startWrite();
  }

  // -- writing -------------------------------------------------------------
  void startWrite() {
    if (writing_ || closed_) return;
    if (!replies_.empty()) {
      out_ = std::move(replies_.front());
      replies_.pop_front();
    } else if (auto ev = events_.pop()) {
      out_ = std::move(*ev);
    } else {
      if (close_after_write_) {
        close();
        return;
      }
      if (read_after_write_ && !awaiting_ && !subscribed_) {
        read_after_write_ = false;
        readRequest();
      }
      return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](const error_code& ec, size_t) {
      self->writing_ = false;
      if (ec) {
        self->close();  // the client went away mid-write
        return;
      }
      self->startWrite();
    });
  }

  ControlServer* server_;
  Local::socket socket_;
  asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  std::string inbuf_;
  std::array<char, 4096> scratch_{};
  std::deque<std::string> replies_;
  SubscriberQueue events_;
  Subscription sub_;
  std::string out_;
  bool writing_ = false;
  bool closed_ = false;
  bool close_after_write_ = false;
  bool read_after_write_ = false;
  bool awaiting_ = false;
  bool subscribed_ = false;
};

// ---------------------------------------------------------------------------
// ControlServer

namespace {

Result<gid_t> lookupGroup(const std::string& name) {
  std::vector<char> buf(16384);
  struct group gr {};
  struct group* result = nullptr;
  int rc = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &result);
  if (rc != 0) return errnoError("getgrnam " + name, rc);
  if (!result) return makeError("control socket group \"" + name + "\" does not exist", std::errc::invalid_argument);
  return result->gr_gid;
}

// True when something accepts connections on the socket at `path`.
Result<bool> somebodyListens(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errnoError("socket", errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (rc == 0) return true;
  if (err == ECONNREFUSED) return false;
  return errnoError("connect " + path, err);
}

}  // namespace

ControlServer::ControlServer(asio::io_context& io, ControlHandler& handler, ServerOptions options)
    : handler_(handler), opt_(std::move(options)), acceptor_(io), accept_retry_(io) {
  if (opt_.max_line == 0) opt_.max_line = kMaxLineBytes;
}

ControlServer::~ControlServer() {
  shutdown();
  *alive_ = false;
}

Result<UnixSocketFile> listenUnix(Local::acceptor& acceptor, const std::string& path, mode_t mode,
                                  const std::string& group, const std::string& what) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return makeError(what + " path \"" + path + "\" is empty or too long", std::errc::filename_too_long);
  }
  std::error_code fs_ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, fs_ec);
    if (fs_ec) return Error{fs_ec, "create directory " + parent.string()};
  }

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return makeError(path + " exists and is not a socket; not removing it", std::errc::file_exists);
    }
    Result<bool> listens = somebodyListens(path);
    if (!listens) return listens.error();
    if (*listens) return makeError("another process is listening on " + path, std::errc::address_in_use);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errnoError("remove stale socket " + path, errno);
    log::info("control_stale_socket_removed", {{"path", path}});
  } else if (errno != ENOENT) {
    return errnoError("stat " + path, errno);
  }

  std::optional<gid_t> gid;
  if (!group.empty()) {
    Result<gid_t> g = lookupGroup(group);
    if (!g) return g.error();
    gid = *g;
  }

  error_code ec;
  acceptor.open(Local(), ec);
  if (ec) return Error{ec, what};
  acceptor.bind(Local::endpoint(path), ec);
  if (ec) {
    acceptor.close(ec);
    return Error{ec, "bind " + path};
  }
  auto fail = [&](Error e) -> Result<UnixSocketFile> {
    error_code ignored;
    acceptor.close(ignored);
    ::unlink(path.c_str());
    return e;
  };
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Error{ec, "listen " + path});
  if (::chmod(path.c_str(), mode) != 0) return fail(errnoError("chmod " + path, errno));
  if (gid && ::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
    return fail(errnoError("chown " + path + " to group " + group, errno));
  }
  if (::stat(path.c_str(), &st) != 0) return fail(errnoError("stat " + path, errno));
  return UnixSocketFile{st.st_dev, st.st_ino};
}

void removeUnixSocketFile(const std::string& path, const UnixSocketFile& file) {
  struct stat st {};
  // Remove the file only if it is still ours (a newer instance may have replaced it).
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == file.dev && st.st_ino == file.ino) ::unlink(path.c_str());
}

Result<uint16_t> listenTcp(asio::ip::tcp::acceptor& acceptor, const std::string& address, uint16_t port,
                           const std::string& what) {
  using Tcp = asio::ip::tcp;
  error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  if (ec) return Error{ec, what + " address \"" + address + "\""};
  const Tcp::endpoint ep(addr, port);
  const std::string where = address + ":" + std::to_string(port);
  acceptor.open(ep.protocol(), ec);
  if (ec) return Error{ec, what + " " + where};
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(ep, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return Error{ec, "bind " + where};
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return Error{ec, "listen " + where};
  }
  return acceptor.local_endpoint(ec).port();
}

Result<void> ControlServer::start() {
  const std::string& path = opt_.socket_path;
  Result<UnixSocketFile> file = listenUnix(acceptor_, path, opt_.mode, opt_.group, "control socket");
  if (!file) return file.error();
  sock_file_ = *file;
  listening_ = true;
  log::info("control_listening", {{"path", path}, {"group", opt_.group}, {"max_clients", opt_.max_clients}});
  startAccept();
  return {};
}

void ControlServer::startAccept() {
  if (!listening_) return;
  acceptor_.async_accept([this, alive = std::weak_ptr<bool>(alive_)](const error_code& ec, Local::socket socket) {
    if (alive.expired() || !listening_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      ++counters_.accept_errors;
      static log::RateLimit limit(5);
      uint64_t suppressed = 0;
      if (limit.allow(suppressed)) {
        log::warn("control_accept_failed", {{"error", ec.message()}, {"suppressed", suppressed}});
      }
      // EMFILE and friends: wait a little instead of spinning.
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this, alive](const error_code& tec) {
        if (tec || alive.expired()) return;
        startAccept();
      });
      return;
    }
    onAccepted(std::move(socket));
    startAccept();
  });
}

void ControlServer::onAccepted(Local::socket socket) {
  if (sessions_.size() >= opt_.max_clients) {
    rejectClient(std::move(socket));
    return;
  }
  ++counters_.connections_accepted;
  auto s = std::make_shared<ControlSession>(this, std::move(socket));
  sessions_.insert(s);
  s->start();
}

void ControlServer::rejectClient(Local::socket socket) {
  ++counters_.connections_rejected;
  countError(ErrorCode::TooManyClients);
  auto sock = std::make_shared<Local::socket>(std::move(socket));
  auto line = std::make_shared<std::string>(errorResponse(ProtocolError{
      ErrorCode::TooManyClients,
      "too many control clients (limit " + std::to_string(opt_.max_clients) + "); try again later", nullptr}));
  asio::async_write(*sock, asio::buffer(*line), [sock, line](const error_code&, size_t) {
    error_code ignored;
    sock->shutdown(Local::socket::shutdown_both, ignored);
    sock->close(ignored);
  });
}

void ControlServer::removeSession(const std::shared_ptr<ControlSession>& s) {
  sessions_.erase(s);
  subscribers_.erase(s);
}

void ControlServer::setSubscribed(const std::shared_ptr<ControlSession>& s) { subscribers_.insert(s); }

void ControlServer::countError(ErrorCode c) {
  ++counters_.errors;
  const auto i = static_cast<size_t>(c);
  if (i < counters_.errors_by_code.size()) ++counters_.errors_by_code[i];
}

void ControlServer::publish(const Event& e) {
  ++counters_.events_published;
  std::optional<std::optional<std::string>> netify;  // converted once, for the first netify subscriber
  for (const auto& s : subscribers_) {
    if (!s->subscription().wants(e)) continue;
    const std::string* line = &e.json;
    if (s->subscription().netify) {
      if (!netify) netify = opt_.netify ? opt_.netify(e) : std::nullopt;
      if (!*netify) continue;
      line = &**netify;
    }
    if (s->deliver(*line)) ++counters_.events_queued;
    else ++counters_.events_dropped;
  }
}

void ControlServer::shutdown() {
  if (listening_) {
    listening_ = false;
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    removeUnixSocketFile(opt_.socket_path, sock_file_);
  }
  auto sessions = std::move(sessions_);
  sessions_.clear();
  subscribers_.clear();
  for (const auto& s : sessions) s->detach();
}

ServerCounters ControlServer::counters() const {
  ServerCounters c = counters_;
  c.clients = sessions_.size();
  c.subscribers = subscribers_.size();
  return c;
}

void ControlServer::appendMetrics(Exposition& out) const {
  const ServerCounters c = counters();
  out.gauge("flowgate_control_clients", "Open control socket sessions.", static_cast<double>(c.clients));
  out.gauge("flowgate_control_subscribers", "Control socket sessions with a subscription.",
            static_cast<double>(c.subscribers));
  out.counter("flowgate_control_connections_total", "Control socket connections accepted.",
              c.connections_accepted);
  out.counter("flowgate_control_connections_rejected_total", "Control socket connections refused over the client limit.",
              c.connections_rejected);
  out.counter("flowgate_control_requests_total", "Control request lines received.", c.requests);
  out.family("flowgate_control_errors_total", MetricType::Counter, "Control error answers by code.");
  for (size_t i = 0; i < c.errors_by_code.size(); ++i) {
    out.sample(c.errors_by_code[i], {{"code", std::string(toString(static_cast<ErrorCode>(i)))}});
  }
  out.counter("flowgate_control_events_published_total", "Events published to the control socket.",
              c.events_published);
  out.counter("flowgate_control_subscriber_events_dropped_total",
              "Event copies dropped because a subscriber did not keep up.", c.events_dropped);
}

// ---------------------------------------------------------------------------
// HttpMetricsListener

namespace beast = boost::beast;
namespace http = boost::beast::http;
using Tcp = asio::ip::tcp;

class HttpMetricsListener::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpMetricsListener* owner, Tcp::socket socket)
      : owner_(owner),
        alive_(owner->alive_),
        open_(owner->open_connections_),
        opt_(owner->opt_),
        stream_(std::move(socket)),
        buffer_(opt_.max_request_bytes) {
    ++*open_;
  }
  ~Connection() { --*open_; }

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(opt_.max_request_bytes));
    parser_->body_limit(0);
    stream_.expires_after(opt_.timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](const error_code& ec, size_t) {
      self->onRead(ec);
    });
  }

  void onRead(const error_code& ec) {
    if (ec) {
      close();  // includes oversized requests (header_limit, buffer_overflow) and timeouts
      return;
    }
    const auto& req = parser_->get();
    const bool head = req.method() == http::verb::head;
    http::status status = http::status::ok;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    if (req.method() != http::verb::get && !head) {
      status = http::status::method_not_allowed;
      body = "method not allowed\n";
    } else if (req.target() != "/metrics") {
      status = http::status::not_found;
      body = "not found; try /metrics\n";
    } else if (alive_.expired()) {
      close();
      return;
    } else {
      ++owner_->requests_;
      content_type = "text/plain; version=0.0.4; charset=utf-8";
      try {
        body = owner_->handler_.metrics();
      } catch (const std::exception& e) {
        status = http::status::internal_server_error;
        content_type = "text/plain; charset=utf-8";
        body = std::string("metrics failed: ") + e.what() + "\n";
      }
    }
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    auto fill = [&](auto& res) {
      res.result(status);
      res.version(version);
      res.keep_alive(keep_alive);
      res.set(http::field::server, "flowgate");
      res.set(http::field::content_type, content_type);
      if (status == http::status::method_not_allowed) res.set(http::field::allow, "GET, HEAD");
    };
    stream_.expires_after(opt_.timeout);
    if (head) {
      // HEAD: the headers of the GET answer, no body.
      auto res = std::make_shared<http::response<http::empty_body>>();
      fill(*res);
      res->content_length(body.size());
      http::async_write(stream_, *res, [self = shared_from_this(), res](const error_code& wec, size_t) {
        self->afterWrite(wec, res->keep_alive());
      });
      return;
    }
    auto res = std::make_shared<http::response<http::string_body>>();
    fill(*res);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](const error_code& wec, size_t) {
      self->afterWrite(wec, res->keep_alive());
    });
  }

  void afterWrite(const error_code& ec, bool keep_alive) {
    if (ec || !keep_alive) {
      close();
      return;
    }
    read();
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(Tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  HttpMetricsListener* owner_;
  std::weak_ptr<bool> alive_;
  std::shared_ptr<size_t> open_;
  HttpMetricsOptions opt_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
};

HttpMetricsListener::HttpMetricsListener(asio::io_context& io, ControlHandler& handler, HttpMetricsOptions options)
    : io_(io), handler_(handler), opt_(std::move(options)), acceptor_(io) {}

HttpMetricsListener::~HttpMetricsListener() {
  shutdown();
  *alive_ = false;
}

Result<void> HttpMetricsListener::start() {
  error_code ec;
  const auto addr = asio::ip::make_address(opt_.address, ec);
  if (!ec && !addr.is_loopback()) {
    log::warn("metrics_listener_not_loopback", {{"address", opt_.address}});
  }
  Result<uint16_t> port = listenTcp(acceptor_, opt_.address, opt_.port, "metrics listen");
  if (!port) return port.error();
  port_ = *port;
  log::info("metrics_listening", {{"address", opt_.address}, {"port", port_}});
  startAccept();
  return {};
}

void HttpMetricsListener::startAccept() {
  acceptor_.async_accept([this, alive = std::weak_ptr<bool>(alive_)](const error_code& ec, Tcp::socket socket) {
    if (alive.expired() || !acceptor_.is_open()) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Transient (EMFILE, ECONNABORTED): keep accepting.
      asio::post(io_, [this, alive] {
        if (!alive.expired() && acceptor_.is_open()) startAccept();
      });
      return;
    }
    if (*open_connections_ >= opt_.max_connections) {
      error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Connection>(this, std::move(socket))->start();
    }
    startAccept();
  });
}

void HttpMetricsListener::shutdown() {
  error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace fg::ctl
