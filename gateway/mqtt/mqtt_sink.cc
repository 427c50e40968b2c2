#include "gateway/mqtt/mqtt_sink.h"

#include <mosquitto.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "common/log.h"

namespace fg::mqtt {
namespace {

std::once_flag g_lib_init;

// A topic level from untrusted text: MQTT wildcards and separators, and
// anything outside a conservative set, become '_'.
std::string topicLevel(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out;
}

// Spools hold flow metadata: readable by flowgate's user only.
void ownerOnly(const std::string& path) {
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
}

void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

MqttSink::MqttSink(SinkConfig config, std::string hostname)
    : config_(std::move(config)), hostname_(std::move(hostname)) {}

MqttSink::~MqttSink() { stop(0); }

Result<std::unique_ptr<MqttSink>> MqttSink::start(SinkConfig config, std::string hostname) {
  std::call_once(g_lib_init, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttSink> s(new MqttSink(std::move(config), std::move(hostname)));
  const SinkConfig& c = s->config_;
  const std::string client_id = c.client_id.empty() ? "flowgate-" + s->hostname_ + "-" + c.name : c.client_id;
  s->mosq_ = mosquitto_new(client_id.c_str(), true, s.get());
  if (!s->mosq_) return makeError("mqtt " + c.name + ": cannot create a client");
  if (!c.username.empty() &&
      mosquitto_username_pw_set(s->mosq_, c.username.c_str(), c.password.empty() ? nullptr : c.password.c_str()) !=
          MOSQ_ERR_SUCCESS)
    return makeError("mqtt " + c.name + ": cannot set the username");
  if (!c.ca_file.empty() || !c.ca_path.empty()) {
    const int rc = mosquitto_tls_set(s->mosq_, c.ca_file.empty() ? nullptr : c.ca_file.c_str(),
                                     c.ca_path.empty() ? nullptr : c.ca_path.c_str(),
                                     c.cert_file.empty() ? nullptr : c.cert_file.c_str(),
                                     c.key_file.empty() ? nullptr : c.key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS)
      return makeError("mqtt " + c.name + ": TLS setup failed (" + mosquitto_strerror(rc) +
                       "): check ca_file/ca_path/cert_file/key_file");
  }
  mosquitto_connect_callback_set(s->mosq_, &MqttSink::onConnect);
  mosquitto_disconnect_callback_set(s->mosq_, &MqttSink::onDisconnect);
  mosquitto_publish_callback_set(s->mosq_, &MqttSink::onPublish);
  mosquitto_reconnect_delay_set(s->mosq_, c.reconnect_min_s, c.reconnect_max_s, true);

  if (!c.spool_file.empty()) {
    // A spool left by an earlier run is replayed first.
    // A last line without its newline (a crash or a full disk while
    // writing) is cut off: it could not be replayed, and the next append
    // would glue onto it.
    std::error_code ec;
    const auto size = std::filesystem::file_size(c.spool_file, ec);
    if (!ec && size > 0) {
      std::ifstream in(c.spool_file, std::ios::binary);
      std::string line;
      uint64_t complete = 0, lines = 0;
      while (std::getline(in, line)) {
        if (in.eof()) break;  // no newline after it
        complete += line.size() + 1;
        ++lines;
      }
      in.close();
      if (complete < size) {
        std::filesystem::resize_file(c.spool_file, complete, ec);
        log::warn("mqtt_spool_truncated", {{"sink", c.name}, {"file", c.spool_file},
                                           {"partial_bytes", static_cast<uint64_t>(size - complete)}});
      }
      s->spool_waiting_ = lines;
      s->spool_bytes_ = complete;
      // Picked up from the last run: they count as produced by this one.
      s->c_.produced = lines;
    }
    s->spool_out_.open(c.spool_file, std::ios::app | std::ios::binary);
    if (!s->spool_out_) return makeError("mqtt " + c.name + ": cannot open the spool file " + c.spool_file);
    ownerOnly(c.spool_file);
    s->spool_in_.open(c.spool_file, std::ios::binary);
  }

  if (int rc = mosquitto_loop_start(s->mosq_); rc != MOSQ_ERR_SUCCESS)
    return makeError("mqtt " + c.name + ": cannot start the network thread (" + mosquitto_strerror(rc) + ")");
  // Asynchronous: a broker that is not there yet is retried by the network
  // thread with the backoff above.
  if (int rc = mosquitto_connect_async(s->mosq_, c.host.c_str(), c.port, c.keepalive_s); rc != MOSQ_ERR_SUCCESS)
    log::warn("mqtt_connect_failed", {{"sink", c.name}, {"broker", c.host + ":" + std::to_string(c.port)},
                                      {"error", rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc)},
                                      {"retry", "with backoff"}});
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

std::string MqttSink::topicFor(std::string_view event, std::string_view application) const {
  std::string t = config_.topic;
  replaceAll(t, "{hostname}", topicLevel(hostname_));
  replaceAll(t, "{event}", topicLevel(event));
  replaceAll(t, "{application}", topicLevel(application));
  replaceAll(t, "{name}", topicLevel(config_.name));
  return t;
}

void MqttSink::offer(std::string_view event, std::string_view application, std::string payload) {
  Message m{topicFor(event, application), std::move(payload)};
  std::lock_guard lock(mu_);
  ++c_.produced;
  if (stopping_ || m.topic.empty()) {  // an empty topic cannot be published
    ++c_.dropped;
    return;
  }
  const bool spool = spool_out_.is_open();
  // Behind anything already spooled (order), or when memory is full.
  if (spool && (spool_waiting_ > 0 || queue_.size() >= config_.queue_events)) {
    if (!spoolAppend(m)) ++c_.dropped;
    cv_.notify_one();
    return;
  }
  if (queue_.size() >= config_.queue_events) {
    ++c_.dropped;
    return;
  }
  queue_.push_back(std::move(m));
  cv_.notify_one();
}

bool MqttSink::spoolAppend(const Message& m) {
  const uint64_t size = m.topic.size() + m.payload.size() + 2;
  if (spool_bytes_ + size > config_.spool_max_bytes) return false;
  spool_out_ << m.topic << '\t' << m.payload << '\n';
  spool_out_.flush();
  if (!spool_out_) {
    spool_out_.clear();
    return false;
  }
  spool_bytes_ += size;
  ++spool_waiting_;
  ++c_.spooled;
  return true;
}

bool MqttSink::spoolRead(Message& m) {
  std::string line;
  if (!std::getline(spool_in_, line)) {
    spool_in_.clear();
    return false;
  }
  const auto tab = line.find('\t');
  m.topic = line.substr(0, tab == std::string::npos ? 0 : tab);
  m.payload = tab == std::string::npos ? line : line.substr(tab + 1);
  if (--spool_waiting_ == 0) spoolReset();
  return true;
}

void MqttSink::spoolReset() {
  // Everything spooled is out: start the file afresh.
  spool_in_.close();
  spool_out_.close();
  spool_out_.open(config_.spool_file, std::ios::trunc | std::ios::binary);
  spool_out_.close();
  spool_out_.open(config_.spool_file, std::ios::app | std::ios::binary);
  spool_in_.open(config_.spool_file, std::ios::binary);
  spool_bytes_ = 0;
}

// Rewrites the spool as: the memory queue, then the spool lines not read
// yet (what was sent is not replayed again). Atomic by rename.
void MqttSink::spoolPersist() {
  const std::string tmp = config_.spool_file + ".tmp";
  std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
  ownerOnly(tmp);
  uint64_t lines = 0, bytes = 0;
  for (const Message& m : queue_) {
    out << m.topic << '\t' << m.payload << '\n';
    ++lines;
    bytes += m.topic.size() + m.payload.size() + 2;
  }
  std::string line;
  for (uint64_t i = 0; i < spool_waiting_ && std::getline(spool_in_, line); ++i) {
    out << line << '\n';
    ++lines;
    bytes += line.size() + 1;
  }
  out.flush();
  if (!out) {
    log::warn("mqtt_spool_persist_failed", {{"sink", config_.name}, {"file", tmp}});
    return;
  }
  out.close();
  std::error_code ec;
  std::filesystem::rename(tmp, config_.spool_file, ec);
  if (ec) {
    log::warn("mqtt_spool_persist_failed", {{"sink", config_.name}, {"error", ec.message()}});
    return;
  }
  queue_.clear();  // kept, not dropped
  spool_waiting_ = lines;
  spool_bytes_ = bytes;
  spool_in_.close();
  spool_out_.close();
}

void MqttSink::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200), [&] {
      return stopping_ || (connected_.load() && c_.inflight < config_.max_inflight &&
                           (!queue_.empty() || spool_waiting_ > 0));
    });
    if (stopping_) break;
    if (!connected_.load() || c_.inflight >= config_.max_inflight) continue;
    if (queue_.empty() && spool_waiting_ == 0) continue;  // woken by the timeout: nothing to send
    Message m;
    if (!queue_.empty()) {  // the memory queue is older than anything spooled
      m = std::move(queue_.front());
      queue_.pop_front();
    } else if (!spoolRead(m)) {
      // The file holds fewer lines than counted (it was changed behind our
      // back): resynchronise instead of spinning on it.
      log::warn("mqtt_spool_lost", {{"sink", config_.name}, {"messages", spool_waiting_}});
      c_.dropped += spool_waiting_;
      spool_waiting_ = 0;
      spoolReset();
      continue;
    }
    ++c_.inflight;
    const uint64_t epoch = epoch_;
    lock.unlock();
    const int rc = mosquitto_publish(mosq_, nullptr, m.topic.c_str(), static_cast<int>(m.payload.size()),
                                     m.payload.data(), config_.qos, config_.retain);
    lock.lock();
    if (rc != MOSQ_ERR_SUCCESS) {
      // Not taken. If the connection went down meanwhile, onDisconnect
      // already counted a QoS 0 message in flight as dropped: take that back.
      if (config_.qos == 0 && epoch != epoch_) --c_.dropped;
      else --c_.inflight;
      ++c_.publish_errors;
      if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST) {
        queue_.push_front(std::move(m));  // the connection went away: it stays ours
      } else {
        ++c_.dropped;  // the message itself is refused (e.g. topic or size): retrying cannot help
        static log::RateLimit limit(1);
        uint64_t suppressed = 0;
        if (limit.allow(suppressed))
          log::warn("mqtt_publish_refused", {{"sink", config_.name}, {"error", mosquitto_strerror(rc)},
                                             {"suppressed", suppressed}});
      }
    }
  }
}

void MqttSink::stop(int drain_ms) {
  {
    std::unique_lock lock(mu_);
    if (!mosq_) return;
    if (!stopping_ && drain_ms > 0 && connected_.load()) {
      cv_.wait_for(lock, std::chrono::milliseconds(drain_ms),
                   [&] { return queue_.empty() && spool_waiting_ == 0 && c_.inflight == 0; });
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  mosquitto_disconnect(mosq_);
  // force: a network thread stuck in a blocking reconnect would otherwise
  // never notice the disconnect request (libmosquitto 2.0).
  mosquitto_loop_stop(mosq_, true);
  {
    std::lock_guard lock(mu_);
    // With a spool, what waits in memory is kept for the next start, in
    // front of the unread spool lines (oldest first). Without one, it is
    // lost with this process; so are unacknowledged messages.
    if (spool_out_.is_open()) spoolPersist();
    c_.dropped += queue_.size() + c_.inflight;
    queue_.clear();
    c_.inflight = 0;
  }
  mosquitto_destroy(mosq_);
  mosq_ = nullptr;
}

SinkCounters MqttSink::counters() const {
  std::lock_guard lock(mu_);
  SinkCounters c = c_;
  c.connected = connected_.load();
  c.queued = queue_.size();
  c.spool_waiting = spool_waiting_;
  c.spool_bytes = spool_bytes_;
  return c;
}

void MqttSink::onConnect(struct mosquitto*, void* self, int rc) {
  auto* s = static_cast<MqttSink*>(self);
  if (rc != 0) {
    log::warn("mqtt_refused", {{"sink", s->config_.name}, {"reason", mosquitto_connack_string(rc)}});
    return;
  }
  {
    std::lock_guard lock(s->mu_);
    ++s->c_.connects;
    s->connected_ = true;
  }
  log::info("mqtt_connected", {{"sink", s->config_.name},
                               {"broker", s->config_.host + ":" + std::to_string(s->config_.port)}});
  s->cv_.notify_all();
}

void MqttSink::onDisconnect(struct mosquitto*, void* self, int rc) {
  auto* s = static_cast<MqttSink*>(self);
  {
    std::lock_guard lock(s->mu_);
    ++s->c_.disconnects;
    ++s->epoch_;
    s->connected_ = false;
    // QoS 0 messages libmosquitto had not written yet are discarded with the
    // connection, without a publish callback: count them as dropped. QoS 1
    // messages in flight are resent after the reconnect.
    if (s->config_.qos == 0) {
      s->c_.dropped += s->c_.inflight;
      s->c_.inflight = 0;
    }
  }
  if (rc != 0) log::warn("mqtt_disconnected", {{"sink", s->config_.name}, {"retry", "with backoff"}});
  s->cv_.notify_all();
}

void MqttSink::onPublish(struct mosquitto*, void* self, int) {
  auto* s = static_cast<MqttSink*>(self);
  {
    std::lock_guard lock(s->mu_);
    ++s->c_.delivered;
    if (s->c_.inflight > 0) --s->c_.inflight;
  }
  s->cv_.notify_all();
}

}  // namespace fg::mqtt
