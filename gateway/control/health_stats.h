// Health statistics per application (docs/health.md): the flows' handshake,
// response and TLS times as percentiles per aggregate interval, and as
// cumulative Prometheus histograms; connection failures and resets as counts.
//
// LatencyHistogram: log-linear buckets, 16 per power of two (exact below
// 16 µs), so a bucket is at most 1/16 of its lower bound wide. A percentile
// (nearest rank) is the middle of its bucket, clamped to the exact minimum
// and maximum: at most 3.2 % off the true sample, and exact when all the
// samples are equal. Memory grows with the largest value seen (about 1 KB
// up to 1 s), never with the number of samples.
//
// PromHistogram: the fixed `le` buckets of the Prometheus families (0.5 ms
// to 10 s), counts exact.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace fg::ctl {

class LatencyHistogram {
 public:
  void add(int64_t us);
  uint64_t count() const { return count_; }
  // Nearest-rank percentile, q in (0, 1]; 0 when empty.
  int64_t percentile(double q) const;
  int64_t min() const { return min_; }
  int64_t max() const { return max_; }
  int64_t mean() const { return count_ ? static_cast<int64_t>(sum_ / count_) : 0; }
  LatencyHistogram& operator+=(const LatencyHistogram& o);
  // {"count","min_us","mean_us","p50_us","p90_us","p99_us","max_us"}
  nlohmann::ordered_json json() const;

  static size_t bucketOf(int64_t us);
  static int64_t lowerBound(size_t bucket);
  static int64_t upperBound(size_t bucket);  // exclusive

 private:
  std::vector<uint32_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  int64_t min_ = 0, max_ = 0;
};

struct PromHistogram {
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  std::array<uint64_t, kBounds.size()> le{};  // cumulative: samples <= kBounds[i]
  uint64_t count = 0;
  double sum_s = 0;
  void add(int64_t us);
};

// One flow's figures in microseconds (-1 = not seen), from core::HealthFigures.
enum class Failure : uint8_t { None, Refused, NoAnswer, Unreachable };
inline constexpr size_t kFailureKinds = 3;  // without None
const char* failureName(size_t i);          // refused, no_answer, unreachable

struct HealthSample {
  int64_t handshake_us = -1;         // SYN -> client's next packet
  int64_t handshake_server_us = -1;  // SYN -> SYN-ACK
  int64_t handshake_client_us = -1;  // SYN-ACK -> client's next packet (upper bound inline)
  int64_t response_us = -1;          // first request -> first response payload
  int64_t tls_hello_us = -1;         // ClientHello -> ServerHello
  int64_t tls_handshake_us = -1;     // ClientHello -> client's first application data
  Failure failure = Failure::None;
  uint8_t resets = 0;  // bit 0 client, bit 1 server
  uint8_t syn_retries = 0;
};

// Per interval and application.
struct HealthStats {
  LatencyHistogram handshake, handshake_server, handshake_client, response, tls_hello, tls_handshake;
  std::array<uint64_t, kFailureKinds> failures{};
  uint64_t resets_client = 0, resets_server = 0, syn_retries = 0;
  uint64_t flows = 0;  // flows that brought a sample

  void add(const HealthSample& s);
  // {"flows":..,"handshake":{..},...,"failures":{"refused":n,...},"resets":{"client":n,"server":n},
  //  "syn_retries":n}; latency members only when they have samples.
  nlohmann::ordered_json json() const;
};

// Cumulative per application, for Prometheus.
struct HealthTotals {
  PromHistogram handshake, handshake_server, response, tls_hello;
  std::array<uint64_t, kFailureKinds> failures{};
  uint64_t resets_client = 0, resets_server = 0;
  void add(const HealthSample& s);
};

}  // namespace fg::ctl
