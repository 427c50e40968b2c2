// MqttSink: publishes events to an MQTT broker (libmosquitto) without ever
// making its caller wait.
//
// What it does: offer(topic, payload) puts one message in a bounded memory
// queue (or, when configured, in an append-only spool file) and returns at
// once. A publisher thread takes messages off the queue while the broker is
// connected and fewer than max_inflight are unacknowledged; libmosquitto's
// network thread connects, reconnects with exponential backoff and reports
// acknowledgements. Order is kept: once the spool holds a message, every
// newer one goes behind it, and the spool is replayed in order before the
// memory queue takes new messages again.
//
// Accounting: every offered message (and every line a previous run left in
// the spool) is counted once as produced, and ends up as delivered (QoS 1:
// PUBACK received; QoS 0: written to the socket), dropped (queue and spool
// full, refused by libmosquitto, lost with a connection at QoS 0, or left in
// memory at stop without a spool), or still waiting (queued, spooled, in
// flight):
//   produced == delivered + dropped + queued + spool_waiting + inflight.
// At stop with a spool, the memory queue and the unsent spool lines are
// written back to the spool (oldest first) for the next start: delivery is
// at least once across a crash (lines already sent may be replayed), exactly
// once across a clean stop.
// The spool is written by offer() (a buffered line write and flush, no
// fsync) and read by the publisher thread, both under the sink's mutex.
//
// What it must never do: block offer() (it takes one mutex for a deque
// push), grow beyond queue_events messages in memory or spool_max_bytes on
// disk, or lose count of a message.
// Threading: offer() and counters() from any thread; start()/stop() from the
// owner. Error convention: start() returns fg::Result (bad TLS files, a
// broker name that cannot be set up); later broker failures are counted and
// logged, never returned.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "gateway/mqtt/sink_config.h"

struct mosquitto;

namespace fg::mqtt {

struct SinkCounters {
  bool connected = false;
  uint64_t produced = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t spooled = 0;          // messages ever written to the spool
  uint64_t queued = 0;           // waiting in memory now
  uint64_t spool_waiting = 0;    // waiting in the spool now
  uint64_t spool_bytes = 0;      // spool file size now
  uint64_t inflight = 0;
  uint64_t connects = 0;         // successful connections (1 + reconnects)
  uint64_t disconnects = 0;
  uint64_t publish_errors = 0;   // mosquitto_publish refused (requeued when the connection
                                 // went away, dropped otherwise)
};

class MqttSink {
 public:
  ~MqttSink();
  MqttSink(const MqttSink&) = delete;
  MqttSink& operator=(const MqttSink&) = delete;

  // Sets the client up and starts connecting (asynchronously: a broker that
  // is down is retried, not an error). `hostname` fills {hostname}.
  static Result<std::unique_ptr<MqttSink>> start(SinkConfig config, std::string hostname);

  // Never blocks. `event`/`application` fill the topic template.
  void offer(std::string_view event, std::string_view application, std::string payload);

  // Stops publishing: waits up to `drain_ms` for the queue to empty and the
  // in-flight messages to be acknowledged, then disconnects. What is still
  // in memory is counted as dropped; the spool file stays for the next start.
  void stop(int drain_ms = 2000);

  SinkCounters counters() const;
  const SinkConfig& config() const { return config_; }
  std::string topicFor(std::string_view event, std::string_view application) const;

 private:
  struct Message {
    std::string topic;
    std::string payload;
  };

  MqttSink(SinkConfig config, std::string hostname);
  void run();
  bool spoolAppend(const Message& m);           // mu_ held
  bool spoolRead(Message& m);                   // mu_ held
  void spoolReset();                            // mu_ held
  void spoolPersist();                          // mu_ held, publisher stopped

  static void onConnect(struct mosquitto*, void* self, int rc);
  static void onDisconnect(struct mosquitto*, void* self, int rc);
  static void onPublish(struct mosquitto*, void* self, int mid);

  SinkConfig config_;
  std::string hostname_;
  struct mosquitto* mosq_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> queue_;
  std::ofstream spool_out_;
  std::ifstream spool_in_;
  uint64_t spool_bytes_ = 0;
  uint64_t spool_waiting_ = 0;
  SinkCounters c_;
  bool stopping_ = false;
  uint64_t epoch_ = 0;  // connections lost so far (QoS 0 in-flight accounting)
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace fg::mqtt
