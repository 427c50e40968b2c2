// Kernel state of the daemon: the nft table's writer thread, the policy
// routes, the single-instance lock, and how a policy maps onto them. Part of
// the daemon's wiring (joins netlink/, nfq/ and policy/).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "gateway/config.h"
#include "gateway/nfq/worker.h"
#include "netlink/nft.h"
#include "netlink/rtnl.h"
#include "netlink/socket.h"
#include "policy/policy.h"

namespace fg::daemon {

using cli::Config;

// The policy's mark bits must lie inside the configured value mask, or the
// kernel would see bits flowgate does not own.
inline std::vector<std::string> checkMarks(const policy::PolicySet& p, const core::MarkLayout& m) {
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

// The ct mark bits a kernel-bound set gives the first packet of a new flow
// to one of its addresses: route/class value bits (provisional: the flow is
// still inspected), or decided + drop/reject (blocked in the kernel).
inline uint32_t setBindBits(const policy::SetInfo& s, const core::MarkLayout& m) {
  switch (s.bind_verdict) {
    case policy::Verdict::Drop: return m.decided | m.drop;
    case policy::Verdict::Reject: return m.decided | m.reject;
    case policy::Verdict::Accept: break;
  }
  return s.bind_mark & m.value_mask;
}

inline nl::NftTableSpec tableSpec(const Config& cfg, const policy::PolicySet& p, nl::QueueMode mode) {
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
  spec.observe_dns = cfg.observe_dns && cfg.hints.enabled;
  for (const auto& s : p.sets())
    spec.sets.push_back({.name = s.name,
                         .family = s.family == policy::IpFamily::V6 ? nl::SetFamily::V6 : nl::SetFamily::V4,
                         .timeout_s = s.timeout_s,
                         .bind_bits = setBindBits(s, cfg.marks)});
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
      // netlink/rtnl.h planRouteClass: a rule and a default route per family
      // the route class has a next hop for (docs/kernel.md).
      nl::RouteClassSpec spec{.table = r.table, .fwmark = r.fwmark, .fwmask = r.fwmark_mask, .priority = prio};
      for (const auto& via : r.via)
        spec.gateways.push_back(nl::RouteAddress{
            .family = via.family == policy::IpFamily::V6 ? nl::IpFamily::V6 : nl::IpFamily::V4, .bytes = via.bytes});
      if (!r.dev.empty()) {
        auto idx = nl::interfaceIndex(r.dev);
        if (!idx) return Error{idx.error().code, "route '" + r.name + "': " + idx.error().context};
        spec.oif = *idx;
      }
      auto plan = nl::planRouteClass(spec);
      if (!plan) return Error{plan.error().code, "route '" + r.name + "': " + plan.error().context};
      for (const auto& rule : plan->rules) {
        auto msg = nl::buildRuleMessage(nl::RtnlOp::Add, rule);
        if (!msg) return msg.error();
        if (auto s = sock_.request(*msg); !s && s.error().code != std::errc::file_exists)
          return Error{s.error().code, "route '" + r.name + "': ip rule: " + s.error().context};
        rules_.push_back(rule);
      }
      for (const auto& route : plan->routes) {
        auto rmsg = nl::buildRouteMessage(nl::RtnlOp::Replace, route);
        if (!rmsg) return rmsg.error();
        if (auto s = sock_.request(*rmsg); !s) {
          // An IPv6 default via a device without IPv6 is not fatal.
          if (route.family == nl::IpFamily::V6 && !route.gateway) {
            log::warn("route_family_unavailable", {{"route", r.name}, {"family", "ipv6"}, {"error", s.error().message()}});
            continue;
          }
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
inline int lockInstance(const std::string& table, std::string& error) {
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

// Becomes `user` (its uid, gid, no supplementary groups) keeping only
// CAP_NET_ADMIN, which every later netlink message needs (verdicts, set
// elements, routes on reload, conntrack dumps). Must run before the process
// starts threads: capabilities are per thread. Also sets no_new_privs and
// drops every other capability from the bounding set.
Result<void> dropPrivileges(const std::string& user);

}  // namespace fg::daemon
