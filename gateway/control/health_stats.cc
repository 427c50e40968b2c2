#include "gateway/control/health_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace fg::ctl {

size_t LatencyHistogram::bucketOf(int64_t us) {
  if (us < 16) return us < 0 ? 0 : static_cast<size_t>(us);
  const auto v = static_cast<uint64_t>(us);
  const int e = std::bit_width(v) - 1;  // >= 4
  const uint64_t sub = (v >> (e - 4)) & 15;
  return 16 + static_cast<size_t>(e - 4) * 16 + sub;
}

int64_t LatencyHistogram::lowerBound(size_t b) {
  if (b < 16) return static_cast<int64_t>(b);
  const size_t e = (b - 16) / 16 + 4, sub = (b - 16) % 16;
  return static_cast<int64_t>((16 + sub) << (e - 4));
}

int64_t LatencyHistogram::upperBound(size_t b) {
  if (b < 16) return static_cast<int64_t>(b) + 1;
  const size_t e = (b - 16) / 16 + 4;
  return lowerBound(b) + (int64_t{1} << (e - 4));
}

void LatencyHistogram::add(int64_t us) {
  if (us < 0) return;
  const size_t b = bucketOf(us);
  if (b >= buckets_.size()) buckets_.resize(b + 1, 0);
  ++buckets_[b];
  if (count_ == 0 || us < min_) min_ = us;
  if (count_ == 0 || us > max_) max_ = us;
  ++count_;
  sum_ += static_cast<uint64_t>(us);
}

int64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) {
      const int64_t lo = lowerBound(b), hi = upperBound(b);
      return std::clamp(lo + (hi - 1 - lo) / 2, min_, max_);
    }
  }
  return max_;
}

LatencyHistogram& LatencyHistogram::operator+=(const LatencyHistogram& o) {
  if (o.count_ == 0) return *this;
  if (o.buckets_.size() > buckets_.size()) buckets_.resize(o.buckets_.size(), 0);
  for (size_t b = 0; b < o.buckets_.size(); ++b) buckets_[b] += o.buckets_[b];
  min_ = count_ == 0 ? o.min_ : std::min(min_, o.min_);
  max_ = count_ == 0 ? o.max_ : std::max(max_, o.max_);
  count_ += o.count_;
  sum_ += o.sum_;
  return *this;
}

nlohmann::ordered_json LatencyHistogram::json() const {
  nlohmann::ordered_json j;
  j["count"] = count_;
  j["min_us"] = min();
  j["mean_us"] = mean();
  j["p50_us"] = percentile(0.50);
  j["p90_us"] = percentile(0.90);
  j["p99_us"] = percentile(0.99);
  j["max_us"] = max();
  return j;
}

void PromHistogram::add(int64_t us) {
  if (us < 0) return;
  const double s = static_cast<double>(us) / 1e6;
  for (size_t i = 0; i < kBounds.size(); ++i)
    if (s <= kBounds[i]) ++le[i];
  ++count;
  sum_s += s;
}

const char* failureName(size_t i) {
  static constexpr const char* kNames[kFailureKinds] = {"refused", "no_answer", "unreachable"};
  return i < kFailureKinds ? kNames[i] : "unknown";
}

void HealthStats::add(const HealthSample& s) {
  ++flows;
  handshake.add(s.handshake_us);
  handshake_server.add(s.handshake_server_us);
  handshake_client.add(s.handshake_client_us);
  response.add(s.response_us);
  tls_hello.add(s.tls_hello_us);
  tls_handshake.add(s.tls_handshake_us);
  if (s.failure != Failure::None) ++failures[static_cast<size_t>(s.failure) - 1];
  if (s.resets & 1) ++resets_client;
  if (s.resets & 2) ++resets_server;
  syn_retries += s.syn_retries;
}

nlohmann::ordered_json HealthStats::json() const {
  nlohmann::ordered_json j;
  j["flows"] = flows;
  auto latency = [&](const char* name, const LatencyHistogram& h) {
    if (h.count()) j[name] = h.json();
  };
  latency("handshake", handshake);
  latency("handshake_server", handshake_server);
  latency("handshake_client", handshake_client);
  latency("response", response);
  latency("tls_hello", tls_hello);
  latency("tls_handshake", tls_handshake);
  nlohmann::ordered_json f = nlohmann::ordered_json::object();
  for (size_t i = 0; i < kFailureKinds; ++i) f[failureName(i)] = failures[i];
  j["failures"] = std::move(f);
  j["resets"] = {{"client", resets_client}, {"server", resets_server}};
  j["syn_retries"] = syn_retries;
  return j;
}

void HealthTotals::add(const HealthSample& s) {
  handshake.add(s.handshake_us);
  handshake_server.add(s.handshake_server_us);
  response.add(s.response_us);
  tls_hello.add(s.tls_hello_us);
  if (s.failure != Failure::None) ++failures[static_cast<size_t>(s.failure) - 1];
  if (s.resets & 1) ++resets_client;
  if (s.resets & 2) ++resets_server;
}

}  // namespace fg::ctl
