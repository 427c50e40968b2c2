// `flowgate run --config PATH`: the inline gateway daemon.
//
// Start-up order (fail fast, and never touch the kernel before the config
// and the policy are valid):
//   config -> policy (+ mark layout check) -> single-instance lock ->
//   queue mode detection -> nft table (one atomic batch, owner flag) ->
//   fwmark rules and routes -> queue workers -> READY=1 to systemd.
// SIGHUP reloads the policy (all-or-nothing; sets and routes follow a good
// one). SIGTERM/SIGINT: delete the table (no new packets are queued), let
// the workers answer what is still queued, remove rules/routes, exit 0.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>

#include <linux/netlink.h>

#include "common/log.h"
#include "gateway/commands.h"
#include "gateway/config.h"
#include "gateway/dpi/ndpi_catalog.h"
#include "gateway/dpi/ndpi_classifier.h"
#include "gateway/nfq/worker.h"
#include "gateway/sd_notify.h"
#include "netlink/nft.h"
#include "netlink/rtnl.h"
#include "netlink/socket.h"

namespace fg::cli {
namespace {

constexpr const char* kUsage =
    "usage: flowgate run [--config PATH] [--check]\n"
    "  Runs the inline gateway: NFQUEUE verdicts, nft table, conntrack marks,\n"
    "  sets and fwmark routes (needs CAP_NET_ADMIN).\n"
    "options:\n"
    "  --config PATH   configuration file (default /etc/flowgate/flowgate.toml)\n"
    "  --check         validate the configuration and the policy, then exit\n";

// The policy's mark bits must lie inside the configured value mask, or the
// kernel would see bits flowgate does not own.
std::vector<std::string> checkMarks(const policy::PolicySet& p, const core::MarkLayout& m) {
  std::vector<std::string> errors;
  char buf[160];
  for (const auto& c : p.classes())
    if (c.mark & ~m.value_mask) {
      std::snprintf(buf, sizeof buf, "class '%s': mark 0x%x lies outside [marks] value_mask 0x%x",
                    c.name.c_str(), c.mark, m.value_mask);
      errors.emplace_back(buf);
    }
  for (const auto& r : p.routes())
    if ((r.fwmark | r.fwmark_mask) & ~m.value_mask) {
      std::snprintf(buf, sizeof buf, "route '%s': fwmark 0x%x/0x%x lies outside [marks] value_mask 0x%x",
                    r.name.c_str(), r.fwmark, r.fwmark_mask, m.value_mask);
      errors.emplace_back(buf);
    }
  return errors;
}

// Loads and checks a policy without installing it.
bool loadChecked(const Config& cfg, const policy::LoadOptions& options, uint64_t generation,
                 std::shared_ptr<const policy::PolicySet>& out) {
  auto loaded = policy::loadPolicy(cfg.policy_paths, options, generation);
  if (!loaded) {
    for (const auto& e : loaded.errors()) log::error("policy_error", {{"error", policy::formatError(e)}});
    return false;
  }
  auto mark_errors = checkMarks(*loaded.value(), cfg.marks);
  for (const auto& e : mark_errors) log::error("policy_error", {{"error", e}});
  if (!mark_errors.empty()) return false;
  out = loaded.value();
  return true;
}

nl::NftTableSpec tableSpec(const Config& cfg, const policy::PolicySet& p, nl::QueueMode mode) {
  nl::NftTableSpec spec{.table = cfg.table,
                        .decided_bit = cfg.marks.decided,
                        .drop_bit = cfg.marks.drop,
                        .reject_bit = cfg.marks.reject,
                        .value_mask = cfg.marks.value_mask,
                        .queue_num = cfg.queue_num,
                        .queue_count = static_cast<uint16_t>(cfg.workers),
                        .queue_bypass = true,
                        .queue_cpu_fanout = false,
                        .queue_mode = mode,
                        .interfaces = cfg.interfaces,
                        .skip_bare_tcp = cfg.skip_bare_tcp,
                        .counters = true,
                        .fast_path = cfg.fast_path,
                        .sets = {}};
  for (const auto& s : p.sets())
    spec.sets.push_back({.name = s.name,
                         .family = s.family == policy::IpFamily::V6 ? nl::SetFamily::V6 : nl::SetFamily::V4,
                         .timeout_s = s.timeout_s});
  return spec;
}

// fwmark rules and per-route tables of the active policy.
class Routes {
 public:
  explicit Routes(nl::NlSocket sock) : sock_(std::move(sock)) {}

  Result<void> install(const policy::PolicySet& p, uint32_t priority_base) {
    uint32_t prio = priority_base;
    if (!p.routes().empty()) {
      // `lookup main suppress_prefixlength 0` first: every specific route of
      // the main table (the LAN subnets, so the replies of a zero-rated flow)
      // still wins; the route classes below override only the default route.
      for (nl::IpFamily fam : {nl::IpFamily::V4, nl::IpFamily::V6}) {
        nl::RuleSpec rule{.family = fam, .fwmark = 0, .fwmask = 0, .table = 254 /* main */,
                          .priority = prio, .suppress_prefixlen = 0};
        auto msg = nl::buildRuleMessage(nl::RtnlOp::Add, rule);
        if (!msg) return msg.error();
        if (auto s = sock_.request(*msg); !s && s.error().code != std::errc::file_exists)
          return Error{s.error().code, "ip rule lookup main suppress_prefixlength 0: " + s.error().context};
        rules_.push_back(rule);
      }
      ++prio;
    }
    for (const auto& r : p.routes()) {
      for (nl::IpFamily fam : {nl::IpFamily::V4, nl::IpFamily::V6}) {
        nl::RuleSpec rule{.family = fam, .fwmark = r.fwmark, .fwmask = r.fwmark_mask,
                          .table = r.table, .priority = prio, .suppress_prefixlen = -1};
        auto msg = nl::buildRuleMessage(nl::RtnlOp::Add, rule);
        if (!msg) return msg.error();
        if (auto s = sock_.request(*msg); !s && s.error().code != std::errc::file_exists)
          return Error{s.error().code, "route '" + r.name + "': ip rule: " + s.error().context};
        rules_.push_back(rule);
        // The route itself: via a gateway of one family, or a device (both families).
        const bool v6 = fam == nl::IpFamily::V6;
        nl::RouteSpec route{.family = fam, .table = r.table};
        if (r.via) {
          if ((r.via->family == policy::IpFamily::V6) != v6) continue;
          nl::RouteAddress gw{.family = fam};
          gw.bytes = r.via->bytes;
          route.gateway = gw;
        }
        if (!r.dev.empty()) {
          auto idx = nl::interfaceIndex(r.dev);
          if (!idx) return Error{idx.error().code, "route '" + r.name + "': " + idx.error().context};
          route.oif = *idx;
        }
        if (!route.gateway && !route.oif) continue;  // table managed by the admin
        auto rmsg = nl::buildRouteMessage(nl::RtnlOp::Replace, route);
        if (!rmsg) return rmsg.error();
        if (auto s = sock_.request(*rmsg); !s) {
          // An IPv6 default via a device without IPv6 is not fatal.
          if (v6 && !r.via) continue;
          return Error{s.error().code, "route '" + r.name + "': ip route: " + s.error().context};
        }
        routes_.push_back(route);
      }
      ++prio;
    }
    return {};
  }

  void remove() {
    for (const auto& rule : rules_)
      if (auto m = nl::buildRuleMessage(nl::RtnlOp::Delete, rule)) (void)sock_.request(*m);
    for (const auto& route : routes_)
      if (auto m = nl::buildRouteMessage(nl::RtnlOp::Delete, route)) (void)sock_.request(*m);
    rules_.clear();
    routes_.clear();
  }

 private:
  nl::NlSocket sock_;
  std::vector<nl::RuleSpec> rules_;
  std::vector<nl::RouteSpec> routes_;
};

// The one thread that talks to flowgate's nft table. The table is created
// with the owner flag, so only the socket that created it may change it
// (set elements included): every write goes through this thread. Workers
// hand set additions over without waiting (a bounded queue: beyond it they
// are dropped and counted); start-up, reload and shutdown run tasks on it.
class KernelWriter {
 public:
  static constexpr size_t kMaxPending = 65536;

  KernelWriter(nl::NlSocket owner, std::string table)
      : sock_(std::move(owner)), table_(std::move(table)), thread_([this] { loop(); }) {}
  ~KernelWriter() { stop(); }
  KernelWriter(const KernelWriter&) = delete;
  KernelWriter& operator=(const KernelWriter&) = delete;

  void addElements(const std::vector<nfq::SetElementRequest>& reqs) {
    {
      std::lock_guard lock(mu_);
      for (const auto& r : reqs) {
        if (pending_.size() >= kMaxPending) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        pending_.push_back(r);
      }
    }
    cv_.notify_one();
  }

  // Runs fn(owner socket) on the writer thread and returns its result.
  template <typename Fn>
  auto call(Fn fn) -> decltype(fn(std::declval<nl::NlSocket&>())) {
    using R = decltype(fn(std::declval<nl::NlSocket&>()));
    std::packaged_task<R(nl::NlSocket&)> task(std::move(fn));
    auto result = task.get_future();
    {
      std::lock_guard lock(mu_);
      tasks_.emplace_back([t = std::make_shared<decltype(task)>(std::move(task))](nl::NlSocket& s) { (*t)(s); });
    }
    cv_.notify_one();
    return result.get();
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  uint64_t written() const { return written_.load(); }
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty() || !tasks_.empty(); });
      auto tasks = std::move(tasks_);
      tasks_.clear();
      std::vector<nfq::SetElementRequest> elements(pending_.begin(), pending_.end());
      pending_.clear();
      const bool stop_now = stopping_;
      lock.unlock();
      for (auto& t : tasks) t(sock_);
      writeElements(elements);
      lock.lock();
      if (stop_now && tasks_.empty()) return;
    }
  }

  void writeElements(const std::vector<nfq::SetElementRequest>& reqs) {
    if (reqs.empty()) return;
    // One batch per set and timeout.
    std::map<std::pair<std::string, uint32_t>, std::vector<nl::IpAddressBytes>> groups;
    for (const auto& r : reqs) {
      nl::IpAddressBytes a;
      a.family = r.address.family == policy::IpFamily::V6 ? nl::SetFamily::V6 : nl::SetFamily::V4;
      a.bytes = r.address.bytes;
      auto& v = groups[{r.set, r.timeout_s}];
      if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
    }
    for (auto& [key, addrs] : groups) {
      auto batch = nl::buildSetElementsBatch(table_, key.first, addrs.front().family, addrs, key.second);
      Result<void> sent = batch ? sock_.sendBatch(*batch) : Result<void>(batch.error());
      if (sent) {
        written_.fetch_add(addrs.size(), std::memory_order_relaxed);
        continue;
      }
      failed_.fetch_add(addrs.size(), std::memory_order_relaxed);
      uint64_t suppressed = 0;
      if (limit_.allow(suppressed))
        log::warn("set_update_failed", {{"set", key.first},
                                        {"error", sent.error().message()},
                                        {"suppressed", suppressed}});
    }
  }

  nl::NlSocket sock_;
  std::string table_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nfq::SetElementRequest> pending_;
  std::vector<std::function<void(nl::NlSocket&)>> tasks_;
  bool stopping_ = false;
  std::atomic<uint64_t> written_{0}, dropped_{0}, failed_{0};
  log::RateLimit limit_{5};
  std::thread thread_;  // last: starts after every member above exists
};

// Single instance per table and network namespace: an exclusive lock on
// /run/flowgate/<table>-<netns inode>.lock, taken before the kernel is
// touched. (The nft table's owner flag refuses a second instance too; the
// lock makes the refusal early and clear.)
int lockInstance(const std::string& table, std::string& error) {
  const std::string dir = "/run/flowgate";
  ::mkdir(dir.c_str(), 0755);
  struct stat ns {};
  const std::string netns = ::stat("/proc/self/ns/net", &ns) == 0 ? std::to_string(ns.st_ino) : "0";
  const std::string path = dir + "/" + table + "-" + netns + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    error = "another flowgate instance is running for table '" + table + "' (lock " + path + " is held)";
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int runCommand(std::span<const std::string_view> args) {
  std::string config_path = "/etc/flowgate/flowgate.toml";
  bool check_only = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = std::string(args[++i]);
    } else if (args[i] == "--check") {
      check_only = true;
    } else if (args[i] == "-h" || args[i] == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "flowgate run: unexpected argument '" << args[i] << "'\n" << kUsage;
      return 2;
    }
  }

  ConfigLoad load = loadConfig(config_path);
  if (!load.errors.empty()) {
    for (const auto& e : load.errors) std::cerr << formatConfigError(config_path, e) << "\n";
    std::cerr << "flowgate run: " << load.errors.size() << " error(s) in the configuration; nothing was changed\n";
    return 2;
  }
  const Config cfg = load.config;
  log::Level level;
  if (log::parseLevel(cfg.log_level, level)) log::setLevel(level);

  const policy::NameCatalog catalog = dpi::ndpiNameCatalog();
  const policy::LoadOptions options{.catalog = &catalog, .zoneinfo_dir = "/usr/share/zoneinfo"};
  std::shared_ptr<const policy::PolicySet> initial;
  if (!loadChecked(cfg, options, 1, initial)) {
    std::cerr << "flowgate run: the policy is invalid (see above); nothing was changed\n";
    return 1;
  }
  policy::PolicyHolder holder(options);
  if (auto r = holder.reload(cfg.policy_paths); !r) {
    for (const auto& e : r.errors()) log::error("policy_error", {{"error", policy::formatError(e)}});
    return 1;
  }
  const auto summary = holder.current()->summary();
  log::info("policy_loaded", {{"generation", holder.current()->generation()},
                              {"rules", summary.rules},
                              {"sets", summary.sets},
                              {"routes", summary.routes}});
  if (check_only) {
    std::cout << "configuration and policy are valid\n";
    return 0;
  }

  std::string lock_error;
  const int lock_fd = lockInstance(cfg.table, lock_error);
  if (lock_fd < 0) {
    log::error("start_failed", {{"error", lock_error}});
    return 1;
  }

  // Signals are handled synchronously by this thread; workers never see them.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto nft = nl::NlSocket::open(NETLINK_NETFILTER);
  if (!nft) {
    log::error("start_failed", {{"error", nft.error().message()}});
    return 1;
  }
  auto mode = nl::detectQueueMode(*nft);
  if (!mode) {
    log::error("start_failed", {{"error", "no usable NFQUEUE support: " + mode.error().message()}});
    return 1;
  }
  log::info("kernel_queue_mode",
            {{"mode", nl::queueModeName(*mode)},
             {"detail", *mode == nl::QueueMode::Native
                            ? "native nft queue expression"
                            : "native nft queue unavailable; xtables NFQUEUE target via nft compat"}});

  if (auto r = nl::installTable(*nft, tableSpec(cfg, *holder.current(), *mode)); !r) {
    log::error("start_failed", {{"error", r.error().message()}});
    return 1;
  }
  log::info("nft_table_installed", {{"table", "inet " + cfg.table}, {"workers", cfg.workers}});

  auto rt_sock = nl::NlSocket::open(NETLINK_ROUTE);
  if (!rt_sock) {
    log::error("start_failed", {{"error", rt_sock.error().message()}});
    return 1;
  }
  Routes routes(std::move(*rt_sock));
  // From here on only the writer thread uses the socket that owns the table.
  KernelWriter kernel(std::move(*nft), cfg.table);
  auto deleteTable = [&] {
    return kernel.call([&](nl::NlSocket& s) -> Result<void> {
      auto del = nl::buildDeleteTableBatch(cfg.table);
      if (!del) return del.error();
      return s.sendBatch(*del);
    });
  };
  auto cleanupKernel = [&] {
    (void)deleteTable();
    routes.remove();
  };
  if (auto r = routes.install(*holder.current(), cfg.rule_priority); !r) {
    log::error("start_failed", {{"error", r.error().message()}});
    cleanupKernel();
    return 1;
  }

  // Workers: one queue, one thread, one engine each.
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<nfq::Worker>> workers;
  for (uint32_t i = 0; i < cfg.workers; ++i) {
    nfq::QueueConfig qc{.queue_num = static_cast<uint16_t>(cfg.queue_num + i),
                        .max_len = cfg.queue_max_len,
                        .rcvbuf_bytes = cfg.socket_buffer,
                        .copy_range = 0xffff,
                        .fail_open = cfg.fail_open,
                        .gso = true};
    auto qs = nfq::QueueSocket::open(qc);
    if (!qs) {
      log::error("start_failed", {{"error", qs.error().message()}});
      cleanupKernel();
      return 1;
    }
    core::EngineConfig ec;
    ec.pipeline.packet_budget = cfg.packet_budget;
    ec.pipeline.table.max_flows = cfg.max_flows;
    ec.pipeline.table.timeouts = cfg.timeouts;
    ec.marks = cfg.marks;
    workers.push_back(std::make_unique<nfq::Worker>(
        static_cast<int>(i), nfq::WorkerConfig{.queue = qc, .engine = ec, .max_round = 256},
        std::move(*qs), std::make_unique<dpi::NdpiClassifier>(), holder,
        [&kernel](const std::vector<nfq::SetElementRequest>& r) { kernel.addElements(r); }));
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&stop, wp = w.get()] { wp->run(stop); });

  log::info("started", {{"queues", std::to_string(cfg.queue_num) + "-" +
                                        std::to_string(cfg.queue_num + cfg.workers - 1)},
                        {"workers", cfg.workers},
                        {"policy_generation", holder.current()->generation()}});
  (void)sdNotify("READY=1\nSTATUS=inspecting");

  // Signal loop.
  while (true) {
    siginfo_t info{};
    timespec tick{1, 0};
    const int sig = sigtimedwait(&sigs, &info, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig != SIGHUP) continue;
    (void)sdNotify("RELOADING=1");
    std::shared_ptr<const policy::PolicySet> next;
    const uint64_t gen = holder.current()->generation() + 1;
    if (!loadChecked(cfg, options, gen, next)) {
      log::error("reload_failed", {{"kept_generation", holder.current()->generation()}});
      (void)sdNotify("READY=1\nSTATUS=reload failed; previous policy in force");
      continue;
    }
    auto old = holder.current();
    auto r = holder.reload(cfg.policy_paths);
    if (!r) {
      for (const auto& e : r.errors()) log::error("policy_error", {{"error", policy::formatError(e)}});
      log::error("reload_failed", {{"kept_generation", old->generation()}});
      (void)sdNotify("READY=1");
      continue;
    }
    // Bring sets and routes in line with the new policy.
    bool sets_changed = old->sets().size() != holder.current()->sets().size();
    for (size_t i = 0; !sets_changed && i < old->sets().size(); ++i) {
      const auto& a = old->sets()[i];
      const auto& b = holder.current()->sets()[i];
      sets_changed = a.name != b.name || a.family != b.family || a.timeout_s != b.timeout_s;
    }
    if (sets_changed) {
      const nl::NftTableSpec spec = tableSpec(cfg, *holder.current(), *mode);
      if (auto t = kernel.call([&](nl::NlSocket& s) { return nl::installTable(s, spec, true); }); !t)
        log::error("reload_sets_failed", {{"error", t.error().message()}});
    }
    routes.remove();
    if (auto rr = routes.install(*holder.current(), cfg.rule_priority); !rr)
      log::error("reload_routes_failed", {{"error", rr.error().message()}});
    log::info("policy_reloaded", {{"generation", r.value()}, {"sets_replaced", sets_changed ? 1 : 0}});
    (void)sdNotify("READY=1\nSTATUS=inspecting");
  }

  log::info("stopping", {});
  (void)sdNotify("STOPPING=1");
  // Remove the queue rule first so nothing new is queued, then let the
  // workers answer what is still waiting.
  if (auto s = deleteTable(); !s) log::warn("nft_delete_failed", {{"error", s.error().message()}});
  stop.store(true);
  for (auto& t : threads) t.join();
  routes.remove();
  uint64_t packets = 0, decided = 0;
  for (const auto& w : workers) {
    packets += w->counters().packets.load();
    decided += w->counters().decided.load();
  }
  kernel.stop();
  log::info("stopped", {{"packets", packets},
                        {"flows_decided", decided},
                        {"set_elements_written", kernel.written()},
                        {"set_elements_dropped", kernel.dropped()},
                        {"set_elements_failed", kernel.failed()}});
  ::close(lock_fd);
  return 0;
}

}  // namespace fg::cli
