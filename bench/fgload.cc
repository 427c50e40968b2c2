// fgload: a small TCP load generator for the inline-gateway benchmark
// (bench/inline_bench.sh). One binary, three modes:
//
//   fgload server --addr IP --port P [--threads T]
//       epoll server, one thread and one SO_REUSEPORT listener per thread.
//       Per connection it reads a request:
//         "BULK <bytes>\n"          -> sends that many bytes, then closes;
//         "PING\n"                  -> sends a ~200-byte HTTP response, closes;
//         "GET ... \r\n\r\n"        -> same response as PING (HTTP request, so
//                                      a DPI engine has something to classify).
//   fgload conn --addr IP --port P --seconds S --parallel N [--threads T]
//               [--src IP,IP,...] [--timeout-ms MS] [--ping]
//       N concurrent loops of connect -> HTTP GET (Host header) -> read the
//       response to EOF -> close. Prints connections/s and latency
//       percentiles of connect-start to first response byte.
//   fgload bulk --addr IP --port P --bytes N [--streams K] [--max-seconds S]
//               [--src IP]
//       downloads N bytes over K connections, prints Gbit/s.
//
// Output is one "key=value ..." line on stdout (easy to parse from a
// script) plus a human line on stderr. Every socket operation has a timeout;
// resets and refused connections are counted, never fatal.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  fgload server --addr IP --port P [--threads T]\n"
               "  fgload conn --addr IP --port P --seconds S --parallel N [--threads T]\n"
               "              [--src IP,IP,...] [--timeout-ms MS] [--ping]\n"
               "  fgload bulk --addr IP --port P --bytes N [--streams K] [--max-seconds S] [--src IP]\n");
  std::exit(2);
}

struct Options {
  std::string mode;
  std::string addr = "127.0.0.1";
  int port = 5201;
  int threads = 0;  // 0 = number of CPUs
  double seconds = 5;
  int parallel = 32;
  int timeout_ms = 3000;
  bool ping = false;
  std::vector<std::string> src;
  uint64_t bytes = 1ull << 30;
  int streams = 1;
  double max_seconds = 30;
};

uint64_t parseSize(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || v < 0) usage();
  std::string suf(end);
  if (suf == "" || suf == "B") return static_cast<uint64_t>(v);
  if (suf == "K" || suf == "k") return static_cast<uint64_t>(v * 1e3);
  if (suf == "M") return static_cast<uint64_t>(v * 1e6);
  if (suf == "G") return static_cast<uint64_t>(v * 1e9);
  if (suf == "Ki") return static_cast<uint64_t>(v * 1024);
  if (suf == "Mi") return static_cast<uint64_t>(v * 1048576);
  if (suf == "Gi") return static_cast<uint64_t>(v * 1073741824.0);
  usage();
}

Options parseArgs(int argc, char** argv) {
  if (argc < 2) usage();
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--addr") o.addr = val();
    else if (a == "--port") o.port = std::atoi(val().c_str());
    else if (a == "--threads") o.threads = std::atoi(val().c_str());
    else if (a == "--seconds") o.seconds = std::atof(val().c_str());
    else if (a == "--parallel") o.parallel = std::atoi(val().c_str());
    else if (a == "--timeout-ms") o.timeout_ms = std::atoi(val().c_str());
    else if (a == "--ping") o.ping = true;
    else if (a == "--bytes") o.bytes = parseSize(val());
    else if (a == "--streams") o.streams = std::atoi(val().c_str());
    else if (a == "--max-seconds") o.max_seconds = std::atof(val().c_str());
    else if (a == "--src") {
      std::string s = val();
      size_t p = 0;
      while (p <= s.size()) {
        size_t q = s.find(',', p);
        if (q == std::string::npos) q = s.size();
        if (q > p) o.src.push_back(s.substr(p, q - p));
        p = q + 1;
      }
    } else usage();
  }
  if (o.threads <= 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  if (o.parallel < 1 || o.streams < 1 || o.port <= 0 || o.port > 65535) usage();
  return o;
}

sockaddr_in makeAddr(const std::string& ip, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "fgload: bad IPv4 address %s\n", ip.c_str());
    std::exit(2);
  }
  return sa;
}

std::atomic<bool> g_stop{false};
void onSignal(int) { g_stop.store(true); }

// ---------------------------------------------------------------- server

const std::string& pingResponse() {
  static const std::string r = [] {
    std::string body(64, 'x');
    std::string h =
        "HTTP/1.1 200 OK\r\nServer: fgload\r\nContent-Type: text/plain\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n";
    return h + body;
  }();
  return r;
}

struct ServerConn {
  std::string in;
  uint64_t to_send = 0;   // bulk bytes still to send
  size_t resp_off = 0;    // offset in the ping response
  bool responding = false;
  bool bulk = false;
  Clock::time_point deadline;
};

void serverThread(const Options& o, std::atomic<uint64_t>& served) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in sa = makeAddr(o.addr, o.port);
  if (bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(ls, 4096) != 0) {
    std::perror("fgload server: bind/listen");
    std::exit(1);
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = ls;
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  static std::vector<char> bulkbuf(1 << 20, 'B');
  std::unordered_map<int, ServerConn> conns;
  std::vector<epoll_event> evs(256);
  auto lastSweep = Clock::now();
  auto closeConn = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  // Returns false when the connection was closed.
  auto pump = [&](int fd, ServerConn& c) -> bool {
    if (!c.responding) {
      char buf[4096];
      for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<size_t>(n));
          if (c.in.size() > 65536) { closeConn(fd); return false; }
          continue;
        }
        if (n == 0) { closeConn(fd); return false; }
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        closeConn(fd);
        return false;
      }
      size_t nl = c.in.find('\n');
      if (nl == std::string::npos) return true;
      std::string_view line(c.in.data(), nl);
      if (line.starts_with("BULK ")) {
        c.bulk = true;
        c.to_send = std::strtoull(std::string(line.substr(5)).c_str(), nullptr, 10);
        c.responding = true;
      } else if (line.starts_with("GET ") || line.starts_with("HEAD ")) {
        if (c.in.find("\r\n\r\n") == std::string::npos && c.in.find("\n\n") == std::string::npos)
          return true;  // wait for the whole request head
        c.responding = true;
      } else {
        c.responding = true;  // PING or anything else: the small response
      }
      epoll_event e{};
      e.events = EPOLLOUT;
      e.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
      c.deadline = Clock::now() + std::chrono::seconds(60);
    }
    // Responding.
    for (;;) {
      ssize_t n;
      if (c.bulk) {
        if (c.to_send == 0) break;
        size_t len = static_cast<size_t>(std::min<uint64_t>(c.to_send, bulkbuf.size()));
        n = send(fd, bulkbuf.data(), len, MSG_NOSIGNAL);
        if (n > 0) { c.to_send -= static_cast<uint64_t>(n); continue; }
      } else {
        const std::string& r = pingResponse();
        if (c.resp_off == r.size()) break;
        n = send(fd, r.data() + c.resp_off, r.size() - c.resp_off, MSG_NOSIGNAL);
        if (n > 0) { c.resp_off += static_cast<size_t>(n); continue; }
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n < 0 && errno == EINTR) continue;
      closeConn(fd);  // reset or error
      return false;
    }
    served.fetch_add(1, std::memory_order_relaxed);
    closeConn(fd);  // graceful close: FIN after the data
    return false;
  };
  while (!g_stop.load(std::memory_order_relaxed)) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 500);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        for (;;) {
          int cfd = accept4(ls, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event e{};
          e.events = EPOLLIN | EPOLLRDHUP;
          e.data.fd = cfd;
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e);
          auto& c = conns[cfd];
          c = ServerConn{};
          c.deadline = Clock::now() + std::chrono::seconds(10);
          pump(cfd, c);  // the request is often already there
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      if ((evs[i].events & (EPOLLERR | EPOLLHUP)) && !(evs[i].events & EPOLLIN)) {
        closeConn(fd);
        continue;
      }
      pump(fd, it->second);
    }
    auto now = Clock::now();
    if (now - lastSweep > std::chrono::seconds(1)) {
      lastSweep = now;
      std::vector<int> dead;
      for (auto& [fd, c] : conns)
        if (now > c.deadline) dead.push_back(fd);
      for (int fd : dead) closeConn(fd);
    }
  }
  for (auto& [fd, c] : conns) close(fd);
  close(ep);
  close(ls);
}

int runServer(const Options& o) {
  std::atomic<uint64_t> served{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < o.threads; ++i) ts.emplace_back(serverThread, std::cref(o), std::ref(served));
  for (auto& t : ts) t.join();
  std::fprintf(stderr, "fgload server: served %llu requests\n",
               static_cast<unsigned long long>(served.load()));
  return 0;
}

// ---------------------------------------------------------------- conn

std::string httpRequest(const Options& o) {
  if (o.ping) return "PING\n";
  return "GET /ping HTTP/1.1\r\nHost: bench.flowgate.test\r\nUser-Agent: fgload/1.0\r\n"
         "Accept: */*\r\nConnection: close\r\n\r\n";
}

struct ConnStats {
  uint64_t ok = 0, failed = 0, timeouts = 0, refused = 0, resets = 0, addr_busy = 0;
  std::vector<uint32_t> lat_us;  // connect start -> first response byte
};

struct ClientConn {
  int fd = -1;
  int state = 0;  // 1 connecting, 2 sending, 3 reading
  size_t sent = 0;
  bool got_first = false;
  Clock::time_point start, deadline;
};

void connThread(const Options& o, int slots, int tid, Clock::time_point end, ConnStats& st) {
  const std::string req = httpRequest(o);
  const sockaddr_in dst = makeAddr(o.addr, o.port);
  std::vector<sockaddr_in> srcs;
  for (auto& s : o.src) srcs.push_back(makeAddr(s, 0));
  size_t srcNext = static_cast<size_t>(tid);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<ClientConn> cs(static_cast<size_t>(slots));
  st.lat_us.reserve(1 << 20);
  const auto tmo = std::chrono::milliseconds(o.timeout_ms);
  int one = 1;

  auto finish = [&](size_t i, int outcome) {  // 0 ok, else an errno-ish reason
    ClientConn& c = cs[i];
    if (c.fd >= 0) {
      epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
    }
    c.fd = -1;
    c.state = 0;
    if (outcome == 0) ++st.ok;
    else {
      ++st.failed;
      if (outcome == ETIMEDOUT) ++st.timeouts;
      else if (outcome == ECONNREFUSED) ++st.refused;
      else if (outcome == ECONNRESET || outcome == EPIPE) ++st.resets;
      else if (outcome == EADDRNOTAVAIL || outcome == EADDRINUSE) ++st.addr_busy;
    }
  };
  auto startConn = [&](size_t i) -> bool {
    ClientConn& c = cs[i];
    c = ClientConn{};
    c.start = Clock::now();
    c.deadline = c.start + tmo;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!srcs.empty()) {
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      const sockaddr_in& s = srcs[srcNext++ % srcs.size()];
      if (bind(fd, reinterpret_cast<const sockaddr*>(&s), sizeof s) != 0) {
        int e = errno;
        close(fd);
        finish(i, e);
        return false;
      }
    }
    c.fd = fd;
    int r = connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
    if (r != 0 && errno != EINPROGRESS) {
      finish(i, errno);
      return false;
    }
    c.state = 1;
    epoll_event e{};
    e.events = EPOLLOUT;
    e.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    return true;
  };
  // Advances one connection; returns true when it is done (ok or failed).
  auto step = [&](size_t i) {
    ClientConn& c = cs[i];
    if (c.state == 1) {
      int err = 0;
      socklen_t l = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &l);
      if (err != 0) { finish(i, err); return; }
      c.state = 2;
    }
    if (c.state == 2) {
      while (c.sent < req.size()) {
        ssize_t n = send(c.fd, req.data() + c.sent, req.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) { c.sent += static_cast<size_t>(n); continue; }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        finish(i, n < 0 ? errno : EPIPE);
        return;
      }
      c.state = 3;
      epoll_event e{};
      e.events = EPOLLIN | EPOLLRDHUP;
      e.data.u64 = i;
      epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
    }
    if (c.state == 3) {
      char buf[4096];
      for (;;) {
        ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
          if (!c.got_first) {
            c.got_first = true;
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.start).count();
            st.lat_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
          }
          continue;
        }
        if (n == 0) { finish(i, c.got_first ? 0 : ECONNRESET); return; }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        // A reset after the full response still counts as served.
        finish(i, c.got_first ? 0 : errno);
        return;
      }
    }
  };

  for (size_t i = 0; i < cs.size(); ++i) startConn(i);
  std::vector<epoll_event> evs(512);
  auto lastSweep = Clock::now();
  while (!g_stop.load(std::memory_order_relaxed)) {
    auto now = Clock::now();
    if (now >= end) break;
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 10);
    for (int k = 0; k < n; ++k) {
      size_t i = evs[k].data.u64;
      if (cs[i].fd < 0) continue;
      step(i);
      if (cs[i].fd < 0 && Clock::now() < end) {
        // Back off briefly when the kernel refuses (no ports, resets).
        if (!startConn(i)) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    now = Clock::now();
    if (now - lastSweep > std::chrono::milliseconds(50)) {
      lastSweep = now;
      for (size_t i = 0; i < cs.size(); ++i) {
        if (cs[i].fd >= 0 && now > cs[i].deadline) finish(i, ETIMEDOUT);
        if (cs[i].fd < 0 && now < end) startConn(i);
      }
    }
  }
  // Connections still in flight at the end are neither counted nor failed.
  for (auto& c : cs)
    if (c.fd >= 0) close(c.fd);
  close(ep);
}

double pct(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

int runConn(const Options& o) {
  int threads = std::min(o.threads, o.parallel);
  std::vector<ConnStats> st(static_cast<size_t>(threads));
  std::vector<std::thread> ts;
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int t = 0; t < threads; ++t) {
    int slots = o.parallel / threads + (t < o.parallel % threads ? 1 : 0);
    ts.emplace_back(connThread, std::cref(o), slots, t, end, std::ref(st[static_cast<size_t>(t)]));
  }
  for (auto& t : ts) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  ConnStats all;
  for (auto& s : st) {
    all.ok += s.ok; all.failed += s.failed; all.timeouts += s.timeouts;
    all.refused += s.refused; all.resets += s.resets; all.addr_busy += s.addr_busy;
    all.lat_us.insert(all.lat_us.end(), s.lat_us.begin(), s.lat_us.end());
  }
  double p50 = pct(all.lat_us, 50), p90 = pct(all.lat_us, 90), p99 = pct(all.lat_us, 99);
  double rate = static_cast<double>(all.ok) / secs;
  std::printf("conn_per_s=%.0f ok=%llu failed=%llu timeouts=%llu refused=%llu resets=%llu addr_busy=%llu "
              "p50_us=%.0f p90_us=%.0f p99_us=%.0f seconds=%.2f parallel=%d\n",
              rate, (unsigned long long)all.ok, (unsigned long long)all.failed,
              (unsigned long long)all.timeouts, (unsigned long long)all.refused,
              (unsigned long long)all.resets, (unsigned long long)all.addr_busy, p50, p90, p99, secs,
              o.parallel);
  std::fprintf(stderr, "fgload conn: %.0f connections/s, first byte p50 %.0f us p99 %.0f us, %llu failed\n",
               rate, p50, p99, (unsigned long long)all.failed);
  return all.ok > 0 ? 0 : 1;
}

// ---------------------------------------------------------------- bulk

struct BulkResult {
  uint64_t bytes = 0;
  int error = 0;
};

int connectTimeout(const sockaddr_in& dst, const sockaddr_in* src, int timeout_ms, int& err) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { err = errno; return -1; }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (src && bind(fd, reinterpret_cast<const sockaddr*>(src), sizeof *src) != 0) {
    err = errno; close(fd); return -1;
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    err = errno; close(fd); return -1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event e{};
  e.events = EPOLLOUT;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  int n = epoll_wait(ep, &e, 1, timeout_ms);
  close(ep);
  if (n <= 0) { err = ETIMEDOUT; close(fd); return -1; }
  socklen_t l = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err != 0) { close(fd); return -1; }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{1, 0};  // each recv/send: 1 s at most (the loop also checks the deadline)
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

void bulkStream(const Options& o, uint64_t want, Clock::time_point deadline, BulkResult& r) {
  sockaddr_in dst = makeAddr(o.addr, o.port);
  sockaddr_in src{};
  if (!o.src.empty()) src = makeAddr(o.src[0], 0);
  int fd = connectTimeout(dst, o.src.empty() ? nullptr : &src, o.timeout_ms, r.error);
  if (fd < 0) return;
  std::string req = "BULK " + std::to_string(want) + "\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    r.error = errno ? errno : EPIPE;
    close(fd);
    return;
  }
  std::vector<char> buf(1 << 20);
  while (r.bytes < want) {
    if (g_stop.load(std::memory_order_relaxed) || Clock::now() > deadline) { r.error = ETIMEDOUT; break; }
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n > 0) { r.bytes += static_cast<uint64_t>(n); continue; }
    if (n == 0) break;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    r.error = errno;
    break;
  }
  close(fd);
}

int runBulk(const Options& o) {
  std::vector<BulkResult> rs(static_cast<size_t>(o.streams));
  std::vector<std::thread> ts;
  auto t0 = Clock::now();
  auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.max_seconds));
  uint64_t per = o.bytes / static_cast<uint64_t>(o.streams);
  for (int k = 0; k < o.streams; ++k)
    ts.emplace_back(bulkStream, std::cref(o), per, deadline, std::ref(rs[static_cast<size_t>(k)]));
  for (auto& t : ts) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  uint64_t total = 0;
  int errors = 0;
  for (auto& r : rs) {
    total += r.bytes;
    if (r.error) ++errors;
  }
  double gbps = static_cast<double>(total) * 8 / secs / 1e9;
  std::printf("gbit_per_s=%.3f bytes=%llu seconds=%.3f streams=%d errors=%d complete=%d\n", gbps,
              (unsigned long long)total, secs, o.streams, errors, total >= per * static_cast<uint64_t>(o.streams) ? 1 : 0);
  std::fprintf(stderr, "fgload bulk: %.3f Gbit/s (%llu bytes in %.2f s, %d streams, %d errors)\n", gbps,
               (unsigned long long)total, secs, o.streams, errors);
  return total > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = onSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  if (o.mode == "server") return runServer(o);
  if (o.mode == "conn") return runConn(o);
  if (o.mode == "bulk") return runBulk(o);
  usage();
}
