// The Netify-compatible listener ([output.netify_socket], docs/netify.md):
// starts a ctl::NetifyServer on the control thread's io_context, hands it
// the agent's messages for every flow, flow_stats and flow_end event, and
// answers its periodic agent_status with the daemon's own figures.
// Threading: the control thread only (start() before the workers run).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "gateway/config.h"
#include "gateway/control/netify_server.h"
#include "gateway/daemon/accounting.h"
#include "gateway/daemon/event_router.h"
#include "gateway/daemon/outputs.h"
#include "gateway/output/netify.h"

namespace fg::daemon {

// flow_stats every accounting.stats_interval, else every update interval of
// the netify socket when it is on (0: none).
inline uint32_t statsInterval(const cli::Config& cfg) {
  if (cfg.stats_interval) return cfg.stats_interval;
  return cfg.netify_socket.enabled() ? cfg.netify_socket.update_interval : 0;
}

class NetifySocket {
 public:
  NetifySocket(const cli::Config& cfg, const Accounting& accounting, int64_t started_us)
      : cfg_(cfg), accounting_(accounting), started_us_(started_us) {}

  // Nothing to do when the config names no listener. False (after logging
  // start_failed) when a listener cannot be opened.
  bool start(boost::asio::io_context& io, EventRouter& events, output::NetifyOptions netify);

  // The server, null while off; for status and metrics (control_handler.h).
  const std::unique_ptr<ctl::NetifyServer>& server() const { return server_; }
  void shutdown() {
    if (server_) server_->shutdown();
  }

 private:
  std::string agentStatus();

  const cli::Config& cfg_;
  const Accounting& accounting_;
  const int64_t started_us_;
  std::unique_ptr<ctl::NetifyServer> server_;
  AgentFacts prev_;  // the previous agent_status
};

}  // namespace fg::daemon
