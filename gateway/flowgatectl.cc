// flowgatectl: the command-line client of flowgate's control socket
// (docs/control.md). One request per invocation, except `watch` and `top`,
// which subscribe and stream until interrupted.
//
// Output is a human-readable table by default and the daemon's JSON with
// --json (one line per response or event, for scripts). Exit codes: 0 ok,
// 1 error (daemon not running, access denied, error answer, failed reload),
// 2 usage.
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "gateway/control/protocol.h"

namespace {

using nlohmann::json;
using namespace fg::ctl;

constexpr const char* kDefaultSocket = "/run/flowgate/control.sock";

struct Args {
  std::string socket = kDefaultSocket;
  bool json_out = false;
  bool netify = false;  // watch: Netify-style records (implies --json)
  std::string command;
  std::vector<std::string> positional;
  EventFilter filter;
  std::optional<size_t> limit;
};

// Errors are printed as JSON on stdout under --json (the shape of the
// daemon's own error answers), as one text line on stderr otherwise.
bool g_json_errors = false;

[[noreturn]] void failWith(int code, const std::string& error_code, const std::string& msg) {
  if (g_json_errors) {
    std::cout << json{{"ok", false}, {"error", {{"code", error_code}, {"message", msg}}}}.dump() << std::endl;
  } else {
    std::cerr << "flowgatectl: " << msg << "\n";
  }
  std::exit(code);
}

// Exit 2: the command line is wrong; nothing was sent.
[[noreturn]] void usage(const std::string& why) {
  failWith(2, "usage", why + " (flowgatectl --help for usage)");
}

struct CommandSpec {
  const char* name;
  const char* help;
  const char* arg;  // positional argument's name, nullptr = none
  int min_args, max_args;
};

constexpr CommandSpec kCommands[] = {
    {"status", "daemon status: kernel mode, queues, policy generation, counters", nullptr, 0, 0},
    {"flows", "active flows (filters: --app --address --rule; --limit N, default 100)", nullptr, 0, 0},
    {"flow", "one flow by id", "ID", 1, 1},
    {"policy", "active rules with hit counters", nullptr, 0, 0},
    {"reload", "reload the policy (like SIGHUP); exits 1 and prints every error when refused", nullptr, 0, 0},
    {"watch", "stream events; topics flow flow_end aggregate log (default: flow flow_end)", "TOPIC", 0, 4},
    {"top", "live per-application bandwidth from the aggregates", nullptr, 0, 0},
    {"metrics", "Prometheus text exposition", nullptr, 0, 0},
    {"hint", "what the first-packet hint caches know about a server address", "ADDRESS", 1, 1},
    {"log-level", "show the daemon's log level, or set it (debug, info, warn, error)", "LEVEL", 0, 1},
};

// One parser (CLI11) for every option form: `--opt value`, `--opt=value`,
// `-s value`, and `--` to end the options; options may come before or
// after the command.
Args parseArgs(int argc, char** argv) {
  Args a;
  CLI::App app{"flowgatectl: control a running flowgate gateway (flowgatectl(8), docs/control.md)", "flowgatectl"};
  app.set_version_flag("--version", std::string("flowgatectl ") + FLOWGATE_VERSION);
  app.fallthrough();
  app.require_subcommand(1, 1);
  app.add_option("-s,--socket", a.socket, "control socket")->capture_default_str();
  app.add_flag("-j,--json", a.json_out, "the daemon's JSON (one line per response or event) instead of tables");
  app.add_flag("--netify", a.netify, "watch: flow records in the Netify agent's format (JSON lines)");
  app.add_option("--app,--application", a.filter.application, "filter: application name");
  app.add_option("--address", a.filter.address, "filter: an address of the flow");
  app.add_option("--rule", a.filter.rule, "filter: the deciding rule");
  size_t limit = 0;
  auto* limit_opt = app.add_option("--limit", limit, "flows: at most N flows")
                        ->check(CLI::Range(size_t{1}, size_t{kMaxFlowLimit}));
  for (const CommandSpec& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    if (c.arg) sub->add_option(c.arg, a.positional, c.arg)->expected(c.min_args, c.max_args)->required(c.min_args > 0);
  }
  // Before parsing: under --json even a usage error is JSON.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--json" || arg == "-j" || arg == "--netify") g_json_errors = true;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    std::exit(app.exit(e));  // --help, --version
  } catch (const CLI::ParseError& e) {
    // CLI11 says "A subcommand is required" for a misspelt command: name it.
    if (app.get_subcommands().empty()) {
      for (const std::string& extra : app.remaining()) {
        if (!extra.starts_with("-")) usage("unknown command \"" + extra + "\"");
      }
    }
    usage(e.what());
  }
  a.command = app.get_subcommands().front()->get_name();
  if (*limit_opt) a.limit = limit;
  if (a.netify) a.json_out = true;
  return a;
}

// ---- connection -----------------------------------------------------------

class Connection {
 public:
  explicit Connection(const std::string& path) : path_(path) {}
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Connects or prints why not and exits 1.
  void open() {
    if (path_.size() >= sizeof(sockaddr_un{}.sun_path)) fail("socket path too long: " + path_);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail(std::string("socket: ") + std::strerror(errno));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return;
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
      fail("flowgate is not running (no socket at " + path_ + ")", "not_running");
    }
    if (err == EACCES || err == EPERM) {
      fail("permission denied: " + path_ + " (are you in group " + socketGroup() + "?)", "permission_denied");
    }
    fail("cannot connect to " + path_ + ": " + std::strerror(err));
  }

  void send(const std::string& line) {
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(std::string("sending to flowgate: ") + std::strerror(errno));
      off += static_cast<size_t>(n);
    }
  }

  // The next line, or nullopt at end of stream.
  std::optional<std::string> readLine() {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail(std::string("reading from flowgate: ") + std::strerror(errno));
      if (n == 0) return std::nullopt;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  json readJson() {
    auto l = readLine();
    if (!l) fail("flowgate closed the connection");
    json j = json::parse(*l, nullptr, false);
    if (j.is_discarded()) fail("flowgate sent invalid JSON: " + l->substr(0, 200));
    return j;
  }

  [[noreturn]] static void fail(const std::string& msg, const std::string& code = "connection") {
    failWith(1, code, msg);
  }

 private:
  std::string socketGroup() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0) {
      if (const struct group* g = ::getgrgid(st.st_gid)) return g->gr_name;
      return std::to_string(st.st_gid);
    }
    return "flowgate";
  }

  std::string path_;
  int fd_ = -1;
  std::string buf_;
};

// ---- formatting -------------------------------------------------------------

std::string scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_array()) {
    std::string s;
    for (const auto& e : v) {
      if (!s.empty()) s += ",";
      s += scalar(e);
    }
    return s;
  }
  return v.dump();
}

std::string humanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (b >= 1024 && u < 5) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f %s", b, units[u]);
  else std::snprintf(buf, sizeof buf, "%.1f %s", b, units[u]);
  return buf;
}

std::string humanDuration(double s) {
  auto t = static_cast<long long>(s);
  char buf[64];
  if (t >= 86400) std::snprintf(buf, sizeof buf, "%lldd %lldh %lldm", t / 86400, t % 86400 / 3600, t % 3600 / 60);
  else if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh %lldm %llds", t / 3600, t % 3600 / 60, t % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm %llds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%llds", t);
  return buf;
}

std::string clock(double ts) {
  time_t t = static_cast<time_t>(ts);
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

std::string fit(std::string s, size_t width) {
  if (s.size() > width && width > 1) {
    s.resize(width - 1);
    s += "~";
  }
  return s;
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> right;  // right-aligned columns
  size_t max_width = 40;

  void print(std::ostream& os) const {
    std::vector<size_t> w(header.size(), 0);
    for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], std::min(r[i].size(), max_width));
    }
    auto line = [&](const std::vector<std::string>& r) {
      std::string out;
      for (size_t i = 0; i < w.size(); ++i) {
        std::string cell = fit(i < r.size() ? r[i] : "", max_width);
        const std::string pad(w[i] - cell.size(), ' ');
        const bool ra = i < right.size() && right[i];
        out += ra ? pad + cell : cell + (i + 1 < w.size() ? pad : "");
        if (i + 1 < w.size()) out += "  ";
      }
      os << out << "\n";
    };
    line(header);
    for (const auto& r : rows) line(r);
  }
};

// Objects as "key: value" lines (nested objects indented); arrays of
// objects as tables.
void printTree(std::ostream& os, const json& v, int indent);

void printArrayOfObjects(std::ostream& os, const json& arr, int indent) {
  std::vector<std::string> cols;
  for (const auto& o : arr) {
    if (!o.is_object()) continue;
    for (const auto& [k, _] : o.items()) {
      if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
    }
  }
  auto name = std::find(cols.begin(), cols.end(), "name");
  if (name != cols.end()) std::rotate(cols.begin(), name, name + 1);
  Table t;
  t.header = cols;
  for (const auto& o : arr) {
    std::vector<std::string> row;
    for (const auto& c : cols) row.push_back(o.contains(c) ? scalar(o[c]) : "");
    t.rows.push_back(row);
  }
  std::ostringstream ss;
  t.print(ss);
  std::istringstream in(ss.str());
  for (std::string l; std::getline(in, l);) os << std::string(indent, ' ') << l << "\n";
}

void printEntry(std::ostream& os, const std::string& k, const json& val, int indent) {
  const std::string pad(indent, ' ');
  if (val.is_object() && !val.empty()) {
    os << pad << k << ":\n";
    printTree(os, val, indent + 2);
  } else if (val.is_array() && !val.empty() && val[0].is_object()) {
    os << pad << k << ":\n";
    printArrayOfObjects(os, val, indent + 2);
  } else if (k == "uptime_s" && val.is_number()) {
    os << pad << k << ": " << scalar(val) << " (" << humanDuration(val.get<double>()) << ")\n";
  } else if (val.is_number() && (k == "loaded_at" || k == "ts" || k == "started_at")) {
    os << pad << k << ": " << scalar(val) << " (" << clock(val.get<double>()) << ")\n";
  } else {
    os << pad << k << ": " << scalar(val) << "\n";
  }
}

void printTree(std::ostream& os, const json& v, int indent) {
  if (!v.is_object()) {
    os << std::string(indent, ' ') << scalar(v) << "\n";
    return;
  }
  for (const auto& [k, val] : v.items()) printEntry(os, k, val, indent);
}

std::string endpoint(const json& f, const char* ip, const char* port) {
  std::string a = f.value(ip, std::string("?"));
  if (a.find(':') != std::string::npos) a = "[" + a + "]";
  if (f.contains(port) && !f[port].is_null()) a += ":" + scalar(f[port]);
  return a;
}

// A string field for display: "" when absent, `null_text` when null.
std::string text(const json& o, const char* key, const std::string& null_text) {
  if (!o.contains(key)) return "";
  const json& v = o[key];
  if (v.is_null()) return null_text;
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void printFlows(const json& flows) {
  Table t;
  t.header = {"ID", "SRC", "DST", "PROTO", "APP", "HOSTNAME", "NAME", "VERDICT", "RULE", "BYTES"};
  t.right = {false, false, false, false, false, false, false, false, false, true};
  // NAME: how the hostname is verified (dns, range, certificate), "unverified", or "-".
  auto verified = [](const json& f) -> std::string {
    if (!f.contains("name_verified") || !f["name_verified"].is_boolean()) return "-";
    return f["name_verified"].get<bool>() ? f.value("name_verified_by", std::string("yes")) : "unverified";
  };
  for (const auto& f : flows) {
    t.rows.push_back({f.contains("flow_id") ? scalar(f["flow_id"]) : "-", endpoint(f, "src_ip", "src_port"),
                      endpoint(f, "dst_ip", "dst_port"), f.value("proto", std::string("-")),
                      text(f, "application", "-"), text(f, "hostname", ""), verified(f),
                      f.contains("verdict") ? text(f, "verdict", "-") : std::string("-"),
                      text(f, "rule", "(default)"),
                      f.contains("bytes") ? humanBytes(f["bytes"].get<double>()) : "-"});
  }
  t.print(std::cout);
  std::cout << flows.size() << " flow(s)\n";
}

void printPolicy(const json& p) {
  json rules = p.contains("rules") ? p["rules"] : json::array();
  for (const auto& [k, v] : p.items()) {
    if (k != "rules") std::cout << k << ": " << scalar(v) << "\n";
  }
  if (rules.is_array() && !rules.empty()) {
    printArrayOfObjects(std::cout, rules, 0);
  } else {
    std::cout << "no rules\n";
  }
}

std::string humanEvent(const json& e) {
  const std::string kind = e.value("event", std::string("?"));
  const std::string when = e.contains("ts") && e["ts"].is_number() ? clock(e["ts"].get<double>()) + " " : "";
  char buf[64];
  if (kind == "missed") {
    return "!! missed " + scalar(e.value("count", json(0))) + " event(s): this client did not keep up";
  }
  if (kind == "flow" || kind == "flow_end") {
    std::snprintf(buf, sizeof buf, "%-8s", kind.c_str());
    std::string s = when + buf + " " + (e.contains("flow_id") ? scalar(e["flow_id"]) : "-") + " " +
                    e.value("proto", std::string("?")) + " " + endpoint(e, "src_ip", "src_port") + " -> " +
                    endpoint(e, "dst_ip", "dst_port") + " " + e.value("application", std::string("?"));
    if (e.contains("hostname") && e["hostname"].is_string()) s += " " + e["hostname"].get<std::string>();
    if (e.contains("verdict")) s += " verdict=" + scalar(e["verdict"]);
    if (e.contains("rule") && !e["rule"].is_null()) s += " rule=" + scalar(e["rule"]);
    if (e.contains("bytes")) s += " bytes=" + scalar(e["bytes"]);
    if (e.contains("packets")) s += " packets=" + scalar(e["packets"]);
    if (e.contains("end_reason")) s += " reason=" + scalar(e["end_reason"]);
    return s;
  }
  if (kind == "aggregate") {
    const std::string by = e.value("by", std::string("total"));
    std::string s = clock(e.value("interval_start", 0.0)) + " aggregate " + scalar(e.value("interval_s", json(0))) +
                    "s " + by;
    if (by != "total" && e.contains(by)) s += "=" + scalar(e[by]);
    s += " up=" + humanBytes(e.value("bytes_up", 0.0)) + " down=" + humanBytes(e.value("bytes_down", 0.0)) +
         " packets=" + std::to_string(e.value("packets_up", uint64_t{0}) + e.value("packets_down", uint64_t{0})) +
         " new_flows=" + scalar(e.value("flows_new", json(0)));
    if (e.value("partial", false)) s += " (partial)";
    return s;
  }
  std::string s = when + kind;
  for (const auto& [k, v] : e.items()) {
    if (k == "event" || k == "ts") continue;
    s += " " + k + "=" + scalar(v);
  }
  return s;
}

// ---- commands ---------------------------------------------------------------

// Sends one request; returns the result or exits 1 on an error answer.
json request(Connection& c, const Args& a, RequestBody body, bool print_json = true) {
  c.send(encodeRequest(Request{nullptr, std::move(body)}) + "\n");
  json r = c.readJson();
  if (a.json_out && print_json) std::cout << r.dump() << "\n";
  if (!r.value("ok", false)) {
    const json& err = r.contains("error") ? r["error"] : json::object();
    if (!a.json_out || !print_json) {
      std::cerr << "flowgatectl: " << err.value("message", std::string("request failed")) << " ("
                << err.value("code", std::string("?")) << ")\n";
      if (err.contains("errors")) {
        for (const auto& e : err["errors"]) std::cerr << "  " << scalar(e) << "\n";
      }
    }
    std::exit(1);
  }
  return r.contains("result") ? r["result"] : json();
}

int runWatch(Connection& c, const Args& a) {
  SubscribeRequest s;
  for (const auto& t : a.positional) {
    auto topic = parseTopic(t);
    if (!topic) usage("unknown topic \"" + t + "\" (flow, flow_end, aggregate, log)");
    if (std::find(s.topics.begin(), s.topics.end(), *topic) == s.topics.end()) s.topics.push_back(*topic);
  }
  if (s.topics.empty()) s.topics = {Topic::Flow, Topic::FlowEnd};
  s.filter = a.filter;
  s.netify = a.netify;
  (void)request(c, a, s, false);
  std::cout.setf(std::ios::unitbuf);
  while (auto l = c.readLine()) {
    if (a.json_out) {
      std::cout << *l << "\n";
      continue;
    }
    json e = json::parse(*l, nullptr, false);
    if (e.is_discarded()) continue;
    std::cout << humanEvent(e) << "\n";
  }
  Connection::fail("flowgate closed the connection");
}

int runTop(Connection& c, const Args& a) {
  SubscribeRequest s;
  s.topics = {Topic::Aggregate};
  s.filter = a.filter;
  json sub = request(c, a, s, false);
  const bool tty = ::isatty(STDOUT_FILENO);
  if (!a.json_out) std::cout << "waiting for the first complete aggregate interval...\n" << std::flush;
  std::map<std::string, json> apps;
  int64_t current = -1;
  uint64_t missed = 0;
  while (auto l = c.readLine()) {
    json e = json::parse(*l, nullptr, false);
    if (e.is_discarded()) continue;
    if (e.value("event", std::string()) == "missed") {
      missed += e.value("count", uint64_t{0});
      continue;
    }
    if (a.json_out) {
      std::cout << *l << "\n" << std::flush;
      continue;
    }
    const int64_t start = e.value("interval_start", int64_t{0});
    if (start != current) {
      apps.clear();
      current = start;
    }
    const std::string by = e.value("by", std::string());
    if (by == "application") {
      apps[e.value("application", std::string("?"))] = e;
      continue;
    }
    if (by != "total") continue;
    // The total row ends the interval: redraw.
    const double secs = std::max(1.0, e.value("interval_s", 60.0));
    std::vector<std::pair<std::string, json>> sorted(apps.begin(), apps.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) {
      return x.second.value("bytes_up", 0.0) + x.second.value("bytes_down", 0.0) >
             y.second.value("bytes_up", 0.0) + y.second.value("bytes_down", 0.0);
    });
    if (tty) std::cout << "\033[H\033[2J";
    std::cout << "flowgate top  interval " << clock(static_cast<double>(start)) << " (" << secs << " s)"
              << (e.value("partial", false) ? " partial" : "") << "  total up "
              << humanBytes(e.value("bytes_up", 0.0) / secs) << "/s  down "
              << humanBytes(e.value("bytes_down", 0.0) / secs) << "/s  new flows " << e.value("flows_new", 0)
              << (missed ? "  (missed " + std::to_string(missed) + " rows)" : "") << "\n\n";
    Table t;
    t.header = {"APPLICATION", "UP/s", "DOWN/s", "UP", "DOWN", "PACKETS", "NEW FLOWS"};
    t.right = {false, true, true, true, true, true, true};
    for (const auto& [name, r] : sorted) {
      t.rows.push_back({name, humanBytes(r.value("bytes_up", 0.0) / secs) + "/s",
                        humanBytes(r.value("bytes_down", 0.0) / secs) + "/s", humanBytes(r.value("bytes_up", 0.0)),
                        humanBytes(r.value("bytes_down", 0.0)),
                        std::to_string(r.value("packets_up", uint64_t{0}) + r.value("packets_down", uint64_t{0})),
                        scalar(r.value("flows_new", json(0)))});
    }
    t.print(std::cout);
    std::cout << std::flush;
  }
  (void)sub;
  Connection::fail("flowgate closed the connection");
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  auto no_args = [&] {
    if (!a.positional.empty()) usage(a.command + " takes no arguments");
  };
  auto no_filters = [&] {
    if (!a.filter.application.empty() || !a.filter.address.empty() || !a.filter.rule.empty() || a.limit) {
      usage(a.command + " takes no filters");
    }
  };
  if (a.command == "hint" || a.command == "log-level") no_filters();
  if (a.command != "flows" && a.command != "flow" && a.command != "watch" && a.command != "hint" &&
      a.command != "log-level") {
    no_args();
    if (a.command != "top") no_filters();
  }
  if (a.command == "flows") no_args();
  if (a.command == "watch" && a.limit) usage("watch takes no --limit");
  if (a.command == "log-level" && !a.positional.empty()) {
    fg::log::Level level;
    if (!fg::log::parseLevel(a.positional[0], level))
      usage("log-level: \"" + a.positional[0] + "\" is not one of debug, info, warn, error");
  }

  Connection c(a.socket);
  c.open();

  if (a.command == "status") {
    json r = request(c, a, StatusRequest{});
    if (!a.json_out && r.is_object()) {
      // The summary first, then everything else, counters last.
      const std::vector<std::string> first = {"version", "uptime_s", "kernel", "workers", "queues", "policy"};
      for (const auto& k : first) {
        if (r.contains(k)) printEntry(std::cout, k, r[k], 0);
      }
      for (const auto& [k, v] : r.items()) {
        if (std::find(first.begin(), first.end(), k) == first.end() && k != "counters") printEntry(std::cout, k, v, 0);
      }
      if (r.contains("counters")) printEntry(std::cout, "counters", r["counters"], 0);
    }
  } else if (a.command == "flows") {
    FlowsRequest f;
    f.query.filter = a.filter;
    f.query.limit = a.limit.value_or(kDefaultFlowLimit);
    json r = request(c, a, f);
    if (!a.json_out) printFlows(r.contains("flows") ? r["flows"] : json::array());
  } else if (a.command == "flow") {
    json r = request(c, a, FlowRequest{a.positional[0]});
    if (!a.json_out) printTree(std::cout, r, 0);
  } else if (a.command == "policy") {
    json r = request(c, a, PolicyRequest{});
    if (!a.json_out) printPolicy(r);
  } else if (a.command == "reload") {
    json r = request(c, a, ReloadRequest{});
    if (!a.json_out) std::cout << "policy reloaded: generation " << scalar(r.value("generation", json())) << "\n";
  } else if (a.command == "metrics") {
    json r = request(c, a, MetricsRequest{});
    if (!a.json_out) std::cout << r.value("text", std::string());
  } else if (a.command == "hint") {
    json r = request(c, a, HintRequest{a.positional[0]});
    if (!a.json_out) {
      std::cout << "address " << scalar(r.value("address", json())) << "\n";
      const json dns = r.value("dns", json::array());
      if (dns.empty()) std::cout << "  dns: none\n";
      for (const auto& d : dns)
        std::cout << "  dns: " << scalar(d.value("hostname", json())) << " for client "
                  << scalar(d.value("client", json())) << " (expires in " << scalar(d.value("expires_in_s", json()))
                  << " s)\n";
      const json learned = r.value("learned", json::array());
      if (learned.empty()) std::cout << "  learned: none\n";
      for (const auto& l : learned)
        std::cout << "  learned: " << scalar(l.value("proto", json())) << "/" << scalar(l.value("port", json()))
                  << " " << scalar(l.value("application", json())) << " (" << scalar(l.value("l7_protocol", json()))
                  << ", " << scalar(l.value("category", json())) << ") host " << scalar(l.value("hostname", json()))
                  << ", expires in " << scalar(l.value("expires_in_s", json())) << " s\n";
    }
  } else if (a.command == "log-level") {
    json r = request(c, a, LogLevelRequest{a.positional.empty() ? std::string() : a.positional[0]});
    if (!a.json_out) std::cout << "log level: " << scalar(r.value("level", json())) << "\n";
  } else if (a.command == "watch") {
    return runWatch(c, a);
  } else if (a.command == "top") {
    return runTop(c, a);
  }
  return 0;
}
