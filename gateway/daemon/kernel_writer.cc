#include "gateway/daemon/kernel_writer.h"

#include <algorithm>
#include <map>


namespace fg::daemon {

void KernelWriter::loop() {
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

void KernelWriter::writeElements(const std::vector<nfq::SetElementRequest>& reqs) {
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

void NftOwner::startWriter() {
  if (writer_ || !sock_) return;
  writer_ = std::make_unique<KernelWriter>(std::move(*sock_), table_);
  sock_.reset();
}

Result<void> NftOwner::installTable(const nl::NftTableSpec& spec, bool replace) {
  return onOwner([&](nl::NlSocket& s) { return nl::installTable(s, spec, replace); });
}

Result<void> NftOwner::deleteTable() {
  return onOwner([&](nl::NlSocket& s) -> Result<void> {
    auto del = nl::buildDeleteTableBatch(table_);
    if (!del) return del.error();
    return s.sendBatch(*del);
  });
}

}  // namespace fg::daemon
