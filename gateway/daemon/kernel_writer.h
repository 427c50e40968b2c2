// The one thread that writes flowgate's nft table (see KernelWriter below).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "gateway/nfq/worker.h"
#include "netlink/nft.h"
#include "netlink/socket.h"

namespace fg::daemon {

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
  void loop();
  void writeElements(const std::vector<nfq::SetElementRequest>& reqs);

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

// Owner of the nft table's netlink socket: used directly during start-up,
// handed to a KernelWriter thread by startWriter() (after the privilege
// drop: capabilities are per thread). Calls from one thread at a time.
class NftOwner {
 public:
  NftOwner(nl::NlSocket sock, std::string table) : sock_(std::move(sock)), table_(std::move(table)) {}

  void startWriter();
  // Creates the table (replace: drops and recreates it in one transaction).
  [[nodiscard]] Result<void> installTable(const nl::NftTableSpec& spec, bool replace);
  [[nodiscard]] Result<void> deleteTable();
  // Null before startWriter().
  KernelWriter* writer() { return writer_.get(); }
  const KernelWriter* writer() const { return writer_.get(); }

 private:
  template <typename Fn>
  Result<void> onOwner(Fn fn) {
    if (writer_) return writer_->call(std::move(fn));
    return fn(*sock_);
  }

  std::optional<nl::NlSocket> sock_;
  std::string table_;
  std::unique_ptr<KernelWriter> writer_;
};

}  // namespace fg::daemon
