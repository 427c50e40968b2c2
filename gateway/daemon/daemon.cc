#include "gateway/daemon/daemon.h"

#include <linux/netlink.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <boost/asio.hpp>

#include "common/log.h"
#include "gateway/app_catalog.h"
#include "gateway/control/server.h"
#include "gateway/core/clock.h"
#include "gateway/core/name_check.h"
#include "gateway/daemon/accounting.h"
#include "gateway/daemon/conntrack_feed.h"
#include "gateway/daemon/control_handler.h"
#include "gateway/daemon/event_router.h"
#include "gateway/daemon/events_file.h"
#include "gateway/daemon/kernel_side.h"
#include "gateway/daemon/kernel_writer.h"
#include "gateway/daemon/netify_host.h"
#include "gateway/daemon/netify_socket.h"
#include "gateway/daemon/outputs.h"
#include "gateway/daemon/process.h"
#include "gateway/daemon/reload.h"
#include "gateway/daemon/watchdog.h"
#include "gateway/daemon/worker_setup.h"
#include "gateway/dissect/dissecting_classifier.h"
#include "gateway/dpi/ndpi_catalog.h"
#include "gateway/dpi/ndpi_classifier.h"
#include "gateway/sd_notify.h"
#include "netlink/conntrack.h"

namespace fg::daemon {
namespace {

namespace asio = boost::asio;
using cli::Config;

int64_t nowUs() { return core::SystemClock().now(); }

class Daemon final {
 public:
  Daemon(const Config& cfg, const policy::LoadOptions& options)
      : cfg_(cfg), options_(options), holder_(options), hints_(cfg.hints),
        accounting_(ctl::Aggregator::Options{.interval_s = cfg.aggregate_interval,
                                             .per_address = cfg.aggregate_per_address,
                                             .per_rule = cfg.aggregate_per_rule,
                                             .start_us = nowUs()}),
        events_(accounting_),
        conntrack_(io_, accounting_, events_, cfg.marks.decided, cfg.conntrack_dump_interval, statsInterval(cfg)),
        drain_timer_(io_),
        host_(std::make_shared<const HostNetworks>(HostNetworks::read(),
                                                   cfg.lan_interfaces.empty() ? cfg.interfaces : cfg.lan_interfaces,
                                                   cfg.wan_interfaces)) {}

  int run();

  output::NetifyOptions netifyOptions() const {
    output::NetifyOptions n = netifyOptionsOf(cfg_, host_);
    n.protocol_id = dpi::ndpiProtocolId;
    return n;
  }

 private:
  bool startKernel();
  bool startWorkers();
  bool startControl();
  void scheduleDrain();
  void checkProgress(ProgressCheck& progress, bool watchdog);

  const Config cfg_;
  const policy::LoadOptions options_;
  policy::PolicyHolder holder_;
  core::Hints hints_;  // shared by the workers (DNS answers, learned servers)
  core::PolicyRanges ranges_{holder_};  // [verified_ranges] for name verification
  std::unique_ptr<NftOwner> nft_;        // the nft table's socket, then its writer thread
  std::unique_ptr<PolicyKernel> kernel_;  // table and routes of the policy in force
  std::unique_ptr<Reloader> reloader_;
  std::vector<std::unique_ptr<nfq::Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  asio::io_context io_;  // the control thread's
  Accounting accounting_;
  EventRouter events_;  // decisions and log lines -> accounting and the sinks
  ConntrackFeed conntrack_;
  std::unique_ptr<DaemonControl> control_;
  std::unique_ptr<ctl::ControlServer> server_;
  std::unique_ptr<ctl::HttpMetricsListener> http_;
  EventsFile events_file_;  // [output] events_file
  std::unique_ptr<Outputs> outputs_;  // MQTT sinks
  asio::steady_timer drain_timer_;
  std::shared_ptr<const HostNetworks> host_;  // the kernel's LAN side (netify records)
  NetifySocket netify_{cfg_, accounting_, nowUs()};  // [output.netify_socket]
  std::atomic<uint64_t> control_beat_{0};  // bumped by a task on the control thread
  bool test_hooks_ = false;                // FLOWGATE_TEST_HOOKS=1 at start
};

bool Daemon::startKernel() {
  auto nft = nl::NlSocket::open(NETLINK_NETFILTER);
  if (!nft) {
    log::error("start_failed", {{"error", nft.error().message()}});
    return false;
  }
  auto mode = nl::detectQueueMode(*nft);
  if (!mode) {
    log::error("start_failed", {{"error", "no usable NFQUEUE support: " + mode.error().message()}});
    return false;
  }
  log::info("kernel_queue_mode",
            {{"mode", nl::queueModeName(*mode)},
             {"detail", *mode == nl::QueueMode::Native
                            ? "native nft queue expression"
                            : "native nft queue unavailable; xtables NFQUEUE target via nft compat"}});
  nft_ = std::make_unique<NftOwner>(std::move(*nft), cfg_.table);
  auto rt = nl::NlSocket::open(NETLINK_ROUTE);
  if (!rt) {
    log::error("start_failed", {{"error", rt.error().message()}});
    return false;
  }
  kernel_ = std::make_unique<PolicyKernel>(
      cfg_, *mode,
      [nft = nft_.get()](const nl::NftTableSpec& spec, bool replace) { return nft->installTable(spec, replace); },
      std::make_unique<NetlinkRouting>(std::move(*rt)));
  if (auto r = kernel_->install(*holder_.current()); !r) {
    log::error("start_failed", {{"error", r.error().message()}});
    return false;
  }
  log::info("nft_table_installed", {{"table", "inet " + cfg_.table}, {"workers", cfg_.workers}});
  reloader_ = std::make_unique<Reloader>(
      [this](uint64_t generation) { return policy::loadPolicy(cfg_.policy_paths, options_, generation); },
      cfg_.marks, holder_, *kernel_,
      // The application catalog reloads with the policy, first (the policy
      // may name its applications): a broken catalog or policy keeps both old ones.
      ReloadCompanion{.prepare = [this] {
                        return cli::appCatalogState().prepare(cfg_.apps_enabled, cfg_.apps_shipped, cfg_.apps_local);
                      },
                      .commit = [] { cli::appCatalogState().commit(); },
                      .rollback = [] { cli::appCatalogState().rollback(); }});

  conntrack_.open();
  return true;
}

bool Daemon::startWorkers() {
  const WorkerShared shared{.hints = &hints_, .catalog = &cli::appCatalogState().holder(), .app_ranges = &ranges_};
  for (uint32_t i = 0; i < cfg_.workers; ++i) {
    nfq::WorkerConfig wc = workerConfig(cfg_, i, shared);
    auto qs = nfq::QueueSocket::open(wc.queue);
    if (!qs) {
      log::error("start_failed", {{"error", qs.error().message()}});
      return false;
    }
    nfq::WorkerObservers obs;
    obs.decided = [this](const core::Flow& f, const policy::Decision& d, const policy::PolicySet& p,
                         std::string_view in_if) { events_.onDecided(f, d, p, in_if); };
    obs.ended = [this](const core::EndedFlow& f) { events_.onUndecidedEnd(f); };
    workers_.push_back(std::make_unique<nfq::Worker>(
        static_cast<int>(i), wc, std::move(*qs),
        std::make_unique<dissect::DissectingClassifier>(std::make_unique<dpi::NdpiClassifier>()), holder_,
        [this](const std::vector<nfq::SetElementRequest>& r) { nft_->writer()->addElements(r); }, std::move(obs)));
  }
  return true;
}

bool Daemon::startControl() {
  ctl::ServerOptions so;
  so.socket_path = cfg_.control_socket;
  so.group = cfg_.control_group;
  so.netify = [netify = netifyOptions()](const ctl::Event& e) { return netifyPayload(e, netify); };
  control_ = std::make_unique<DaemonControl>(ControlParts{.cfg = cfg_,
                                                         .holder = holder_,
                                                         .hints = hints_,
                                                         .workers = workers_,
                                                         .accounting = accounting_,
                                                         .events = events_,
                                                         .nft = *nft_,
                                                         .kernel = *kernel_,
                                                         .reloader = *reloader_,
                                                         .outputs = outputs_,
                                                         .server = server_,
                                                         .conntrack_events = conntrack_.hasEvents(),
                                                         .io = io_,
                                                         .netify = &netify_.server()});
  server_ = std::make_unique<ctl::ControlServer>(io_, *control_, so);
  events_.addSink([this](const ctl::Event& e) { server_->publish(e); });
  events_.addSink([this](const ctl::Event& e) {
    if (outputs_) outputs_->emit(e);
  });
  if (auto r = server_->start(); !r) {
    log::error("start_failed", {{"error", "control socket: " + r.error().message()}});
    return false;
  }
  if (!cfg_.metrics_listen.empty()) {
    const auto colon = cfg_.metrics_listen.rfind(':');
    ctl::HttpMetricsOptions ho;
    ho.address = cfg_.metrics_listen.substr(0, colon);
    ho.port = static_cast<uint16_t>(std::stoul(cfg_.metrics_listen.substr(colon + 1)));
    http_ = std::make_unique<ctl::HttpMetricsListener>(io_, *control_, ho);
    if (auto r = http_->start(); !r) {
      log::error("start_failed", {{"error", "metrics listener: " + r.error().message()}});
      return false;
    }
  }
  if (!events_file_.start(cfg_, events_)) return false;
  if (!netify_.start(io_, events_, netifyOptions())) return false;
  scheduleDrain();
  conntrack_.start();
  return true;
}

// One watchdog check (main thread): reads every heartbeat, pings systemd when
// all moved, logs a thread that stopped or resumed making progress, then asks
// the control thread to prove itself alive before the next check.
void Daemon::checkProgress(ProgressCheck& progress, bool watchdog) {
  std::vector<uint64_t> beats;
  beats.reserve(workers_.size());
  for (const auto& w : workers_) beats.push_back(w->heartbeat());
  const auto out = progress.check(beats, control_beat_.load(std::memory_order_relaxed), static_cast<uint64_t>(nowUs()));
  logProgress(out, watchdog);
  if (watchdog && out.ping) (void)cli::sdNotify("WATCHDOG=1");
  asio::post(io_, [this] { control_beat_.fetch_add(1, std::memory_order_relaxed); });
}

void Daemon::scheduleDrain() {
  drain_timer_.expires_after(std::chrono::milliseconds(20));
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    events_.drain();
    scheduleDrain();
  });
}

int Daemon::run() {
  auto lock = lockInstance(cfg_.table, cfg_.control_socket);
  if (!lock) {
    log::error("start_failed", {{"error", lock.error().message()}});
    return 1;
  }
  const int lock_fd = *lock;
  // Signals are handled synchronously by this thread; no other thread sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&sigs, s);
  if (const char* hooks = std::getenv("FLOWGATE_TEST_HOOKS"); hooks && std::strcmp(hooks, "1") == 0) {
    test_hooks_ = true;
    log::warn("test_hooks_enabled", {{"detail", "FLOWGATE_TEST_HOOKS=1: SIGUSR2 stalls worker 0; never in production"}});
  }
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  if (auto r = holder_.reload(cfg_.policy_paths); !r) {
    for (const auto& e : r.errors()) log::error("policy_error", {{"error", policy::formatError(e)}});
    ::close(lock_fd);
    return 1;
  }
  const auto summary = holder_.current()->summary();
  log::info("policy_loaded", {{"generation", holder_.current()->generation()},
                              {"rules", summary.rules},
                              {"sets", summary.sets},
                              {"routes", summary.routes}});
  logPolicyWarnings(*holder_.current());

  auto cleanupKernel = [&] {
    if (kernel_ && kernel_->tableInstalled()) (void)nft_->deleteTable();
    if (kernel_) kernel_->removeRoutes();
  };
  bool ok = startKernel() && startWorkers() && startControl();
  // Every socket that needs privileges is open: drop them before any other
  // thread exists (capabilities are per thread; threads inherit them).
  if (ok && !cfg_.user.empty()) {
    if (auto d = dropPrivileges(cfg_.user); !d) {
      log::error("start_failed", {{"error", d.error().message()}});
      ok = false;
    } else {
      log::info("privileges_dropped", {{"user", cfg_.user}, {"capabilities", "CAP_NET_ADMIN"}});
    }
  }
  // The MQTT sinks' threads start after the privilege drop (they keep only
  // CAP_NET_ADMIN, like every thread after it; they use none).
  if (ok && !cfg_.mqtt_sinks.empty()) {
    outputs_ = std::make_unique<Outputs>(cfg_.mqtt_sinks, netifyOptions());
    if (auto o = outputs_->start(); !o) {
      log::error("start_failed", {{"error", o.error().message()}});
      ok = false;
    }
  }
  if (!ok) {
    cleanupKernel();
    ::close(lock_fd);
    return 1;
  }
  nft_->startWriter();
  log::setSink(&EventRouter::logSink, &events_);
  for (auto& w : workers_) threads_.emplace_back([this, wp = w.get()] { wp->run(stop_); });
  std::thread control([this] { io_.run(); });

  log::info("started", {{"queues", std::to_string(cfg_.queue_num) + "-" +
                                        std::to_string(cfg_.queue_num + cfg_.workers - 1)},
                        {"workers", cfg_.workers},
                        {"policy_generation", holder_.current()->generation()},
                        {"control_socket", cfg_.control_socket}});
  (void)cli::sdNotify("READY=1\nSTATUS=inspecting");

  // The watchdog: a progress check every tick (half systemd's interval, at
  // most 1 s), WATCHDOG=1 only when every worker and the control thread
  // moved since the previous check (watchdog.h).
  const auto watchdog_us = watchdogIntervalUs(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
  const auto tick = std::chrono::microseconds(watchdogTickUs(watchdog_us));
  if (watchdog_us) log::info("watchdog_enabled", {{"interval_ms", *watchdog_us / 1000}, {"check_ms", tick.count() / 1000}});
  ProgressCheck progress(workers_.size(), static_cast<uint64_t>(nowUs()));
  asio::post(io_, [this] { control_beat_.fetch_add(1, std::memory_order_relaxed); });
  auto next_check = std::chrono::steady_clock::now() + tick;

  while (true) {
    siginfo_t info{};
    const auto left = std::max(std::chrono::nanoseconds(next_check - std::chrono::steady_clock::now()),
                               std::chrono::nanoseconds(0));
    timespec wait{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
    const int sig = sigtimedwait(&sigs, &info, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (std::chrono::steady_clock::now() >= next_check) {
      checkProgress(progress, watchdog_us.has_value());
      next_check = std::chrono::steady_clock::now() + tick;
    }
    if (sig == SIGUSR2) {
      toggleTestStall(workers_, test_hooks_);
    } else if (sig == SIGUSR1) {
      events_file_.requestReopen();
    } else if (sig == SIGHUP) {
      (void)cli::sdNotify("RELOADING=1");
      std::promise<void> done;
      asio::post(io_, [&] {
        const ReloadOutcome r = reloader_->reload();
        (void)cli::sdNotify(r.ok ? "READY=1\nSTATUS=inspecting" : "READY=1\nSTATUS=reload failed; previous policy in force");
        done.set_value();
      });
      done.get_future().wait();
    }
  }

  log::info("stopping", {});
  (void)cli::sdNotify("STOPPING=1");
  // Remove the queue rule first so nothing new is queued, then let the
  // workers answer what is still waiting.
  if (auto del = nft_->deleteTable(); !del) log::warn("nft_delete_failed", {{"error", del.error().message()}});
  kernel_->removeRoutes();
  stop_.store(true);
  for (auto& t : threads_) t.join();
  std::promise<void> closed;
  asio::post(io_, [&] {
    events_.drain();
    drain_timer_.cancel();
    conntrack_.stop();
    // Every flow still open gets its end record (flow_end, flow_purge);
    // the socket clients get a moment to read them.
    conntrack_.finish();
    drain_timer_.expires_after(std::chrono::milliseconds(300));
    drain_timer_.async_wait([&](const boost::system::error_code&) {
      netify_.shutdown();
      if (http_) http_->shutdown();
      server_->shutdown();
      closed.set_value();
    });
  });
  closed.get_future().wait();
  io_.stop();
  control.join();
  log::setSink(nullptr, nullptr);
  if (outputs_) outputs_->stop(2000);
  const WorkerTotals totals = control_->totals();
  KernelWriter& writer = *nft_->writer();
  writer.stop();
  log::info("stopped", {{"packets", totals.packets},
                        {"flows_decided", totals.decided},
                        {"set_elements_written", writer.written()},
                        {"set_elements_dropped", writer.dropped()},
                        {"set_elements_failed", writer.failed()},
                        {"events_dropped", events_.dropped()}});
  ::close(lock_fd);
  return 0;
}

}  // namespace

int run(const cli::Config& config, const policy::LoadOptions& options) {
  Daemon d(config, options);
  return d.run();
}

}  // namespace fg::daemon
