#include "gateway/daemon/netify_socket.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "common/log.h"
#include "gateway/core/clock.h"

namespace fg::daemon {
namespace {

int64_t nowUs() { return core::SystemClock().now(); }

// Resident set size now (kB), from /proc/self/statm.
uint64_t residentKb() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

}  // namespace

std::string NetifySocket::agentStatus() {
  AgentFacts f;
  f.now_ms = nowUs() / 1000;
  f.uptime_s = (nowUs() - started_us_) / 1'000'000;
  f.update_interval_s = cfg_.netify_socket.update_interval;
  f.flows = accounting_.counters().tracked;
  f.flows_purged = accounting_.counters().ended;
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    f.cpu_user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
    f.cpu_system = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
    f.maxrss_kb = static_cast<uint64_t>(ru.ru_maxrss);
  }
  f.memrss_kb = residentKb();
  f.cpu_cores = std::max(1u, std::thread::hardware_concurrency());
  f.dhc_status = cfg_.hints.enabled;
  // The previous status's values (the first status repeats its own).
  const bool first = prev_.now_ms == 0;
  f.flows_prev = first ? f.flows : prev_.flows;
  f.cpu_user_prev = first ? f.cpu_user : prev_.cpu_user;
  f.cpu_system_prev = first ? f.cpu_system : prev_.cpu_system;
  f.maxrss_kb_prev = first ? f.maxrss_kb : prev_.maxrss_kb;
  f.memrss_kb_prev = first ? f.memrss_kb : prev_.memrss_kb;
  prev_ = f;
  return netifyAgentStatus(f);
}

bool NetifySocket::start(boost::asio::io_context& io, EventRouter& events, output::NetifyOptions netify) {
  const cli::NetifySocketConfig& c = cfg_.netify_socket;
  if (!c.enabled()) return true;
  ctl::NetifyServerOptions o;
  o.socket_path = c.path;
  o.group = c.group;
  o.listen = c.listen;
  o.max_clients = c.max_clients;
  o.queue_events = c.queue_events;
  o.queue_bytes = c.queue_bytes;
  o.update_interval = std::chrono::seconds(c.update_interval);
  o.hello = [version = cfg_.netify_version] { return netifyAgentHello(version); };
  o.status = [this] { return agentStatus(); };
  server_ = std::make_unique<ctl::NetifyServer>(io, std::move(o));
  if (auto r = server_->start(); !r) {
    log::error("start_failed", {{"error", "netify socket: " + r.error().message()}});
    return false;
  }
  events.addSink(
      [this, netify = std::move(netify)](const ctl::Event& e) {
        for (const std::string& m : netifyMessages(e, netify)) server_->publish(m);
      },
      (uint64_t{1} << static_cast<unsigned>(ctl::Topic::Flow)) |
          (uint64_t{1} << static_cast<unsigned>(ctl::Topic::FlowEnd)) |
          (uint64_t{1} << static_cast<unsigned>(ctl::Topic::FlowStats)));
  return true;
}

}  // namespace fg::daemon
