#include "gateway/control/protocol.h"

#include "common/log.h"

#include <algorithm>
#include <initializer_list>

namespace fg::ctl {

namespace {

using nlohmann::json;

// Deeper nesting than any valid request has is refused before parsing, so a
// line of 64 KiB of '[' costs nothing.
constexpr int kMaxDepth = 16;

ProtocolError err(ErrorCode c, std::string msg, json id = nullptr) {
  return ProtocolError{c, std::move(msg), std::move(id)};
}

bool tooDeep(std::string_view s) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    else if (ch == '[' || ch == '{') {
      if (++depth > kMaxDepth) return true;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return false;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// Strips nlohmann's "[json.exception.parse_error.101] " prefix.
std::string parseMessage(const char* what) {
  std::string m = what;
  if (!m.empty() && m.front() == '[') {
    auto p = m.find("] ");
    if (p != std::string::npos) m.erase(0, p + 2);
  }
  return m;
}

const char* typeName(const json& v) { return v.type_name(); }

// A required field of `doc` holding a non-empty string, into `out`.
std::optional<ProtocolError> requiredText(const json& doc, const char* field, const json& id, std::string& out) {
  auto f = doc.find(field);
  if (f == doc.end()) return err(ErrorCode::BadField, std::string("missing field \"") + field + "\"", id);
  if (!f->is_string() || f->get_ref<const std::string&>().empty())
    return err(ErrorCode::BadField, std::string("\"") + field + "\" must be a non-empty string", id);
  out = f->get<std::string>();
  return std::nullopt;
}

// Fails on the first field of `obj` not in `allowed`.
std::optional<ProtocolError> checkFields(const json& obj, std::initializer_list<std::string_view> allowed,
                                         std::string_view where, const json& id) {
  for (const auto& [key, _] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string allowed_list;
      for (auto a : allowed) {
        if (!allowed_list.empty()) allowed_list += ", ";
        allowed_list += a;
      }
      return err(ErrorCode::UnknownField,
                 "unknown field \"" + key + "\" in " + std::string(where) + " (allowed: " + allowed_list + ")",
                 id);
    }
  }
  return std::nullopt;
}

std::optional<ProtocolError> parseFilter(const json& obj, EventFilter& out, const json& id) {
  auto f = obj.find("filter");
  if (f == obj.end() || f->is_null()) return std::nullopt;
  if (!f->is_object()) {
    return err(ErrorCode::BadField, std::string("\"filter\" must be an object, not ") + typeName(*f), id);
  }
  if (auto e = checkFields(*f, {"application", "address", "rule"}, "filter", id)) return e;
  struct Slot {
    const char* name;
    std::string* dest;
  };
  for (Slot s : {Slot{"application", &out.application}, Slot{"address", &out.address},
                 Slot{"rule", &out.rule}}) {
    auto v = f->find(s.name);
    if (v == f->end()) continue;
    if (!v->is_string()) {
      return err(ErrorCode::BadField,
                 std::string("\"filter.") + s.name + "\" must be a string, not " + typeName(*v), id);
    }
    *s.dest = v->get<std::string>();
  }
  return std::nullopt;
}

constexpr std::string_view kNames[] = {"status",    "flows",   "flow", "policy",   "reload",
                                       "subscribe", "metrics", "hint", "log_level"};
static_assert(std::size(kNames) == std::variant_size_v<RequestBody>);

}  // namespace

std::string_view toString(ErrorCode c) {
  switch (c) {
    case ErrorCode::BadJson: return "bad_json";
    case ErrorCode::NotObject: return "not_object";
    case ErrorCode::MissingRequest: return "missing_request";
    case ErrorCode::UnknownRequest: return "unknown_request";
    case ErrorCode::UnknownField: return "unknown_field";
    case ErrorCode::BadField: return "bad_field";
    case ErrorCode::TooLong: return "too_long";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::ReloadFailed: return "reload_failed";
    case ErrorCode::TooManyClients: return "too_many_clients";
    case ErrorCode::Timeout: return "timeout";
    case ErrorCode::Internal: return "internal";
  }
  return "internal";
}

std::string_view requestName(const RequestBody& body) { return kNames[body.index()]; }

ParseResult parseRequest(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return err(ErrorCode::TooLong, "request line longer than " + std::to_string(kMaxLineBytes) + " bytes");
  }
  std::string_view text = trimmed(line);
  if (text.empty()) return err(ErrorCode::BadJson, "empty request line");
  if (tooDeep(text)) {
    return err(ErrorCode::BadJson, "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return err(ErrorCode::BadJson, "invalid JSON: " + parseMessage(e.what()));
  }
  if (!doc.is_object()) {
    return err(ErrorCode::NotObject, std::string("request must be a JSON object, not ") + typeName(doc));
  }

  json id = nullptr;
  if (auto it = doc.find("id"); it != doc.end()) {
    if (!(it->is_null() || it->is_string() || it->is_number_integer())) {
      return err(ErrorCode::BadField, std::string("\"id\" must be a string or an integer, not ") + typeName(*it));
    }
    id = *it;
  }

  auto rq = doc.find("request");
  if (rq == doc.end()) {
    return err(ErrorCode::MissingRequest, "missing field \"request\" (one of: status, flows, flow, policy, "
                                          "reload, subscribe, metrics, hint, log_level)", id);
  }
  if (!rq->is_string()) {
    return err(ErrorCode::BadField, std::string("\"request\" must be a string, not ") + typeName(*rq), id);
  }
  const std::string name = rq->get<std::string>();

  if (name == "status" || name == "policy" || name == "reload" || name == "metrics") {
    if (auto e = checkFields(doc, {"request", "id"}, "request \"" + name + "\"", id)) return *e;
    RequestBody body;
    if (name == "status") body = StatusRequest{};
    else if (name == "policy") body = PolicyRequest{};
    else if (name == "reload") body = ReloadRequest{};
    else body = MetricsRequest{};
    return Request{id, std::move(body)};
  }

  if (name == "flows") {
    if (auto e = checkFields(doc, {"request", "id", "filter", "limit"}, "request \"flows\"", id)) return *e;
    FlowsRequest r;
    r.query.limit = kDefaultFlowLimit;
    if (auto e = parseFilter(doc, r.query.filter, id)) return *e;
    if (auto l = doc.find("limit"); l != doc.end()) {
      if (!l->is_number_integer()) {
        return err(ErrorCode::BadField, std::string("\"limit\" must be an integer, not ") + typeName(*l), id);
      }
      const bool neg = l->is_number_unsigned() ? false : l->get<int64_t>() < 1;
      const uint64_t v = neg ? 0 : l->get<uint64_t>();
      if (neg || v < 1 || v > kMaxFlowLimit) {
        return err(ErrorCode::BadField, "\"limit\" must be between 1 and " + std::to_string(kMaxFlowLimit), id);
      }
      r.query.limit = static_cast<size_t>(v);
    }
    return Request{id, std::move(r)};
  }

  if (name == "flow") {
    if (auto e = checkFields(doc, {"request", "id", "flow_id"}, "request \"flow\"", id)) return *e;
    std::string flow_id;
    if (auto e = requiredText(doc, "flow_id", id, flow_id)) return *e;
    return Request{id, FlowRequest{std::move(flow_id)}};
  }

  if (name == "hint") {
    if (auto e = checkFields(doc, {"request", "id", "address"}, "request \"hint\"", id)) return *e;
    std::string address;
    if (auto e = requiredText(doc, "address", id, address)) return *e;
    return Request{id, HintRequest{std::move(address)}};
  }

  if (name == "log_level") {
    if (auto e = checkFields(doc, {"request", "id", "level"}, "request \"log_level\"", id)) return *e;
    LogLevelRequest r;
    if (auto l = doc.find("level"); l != doc.end() && !l->is_null()) {
      log::Level parsed;
      if (!l->is_string() || !log::parseLevel(l->get_ref<const std::string&>(), parsed)) {
        return err(ErrorCode::BadField, "\"level\" must be one of debug, info, warn, error", id);
      }
      r.level = std::string(log::toString(parsed));
    }
    return Request{id, std::move(r)};
  }

  if (name == "subscribe") {
    if (auto e = checkFields(doc, {"request", "id", "topics", "filter", "format"}, "request \"subscribe\"", id))
      return *e;
    SubscribeRequest r;
    if (auto f = doc.find("format"); f != doc.end() && !f->is_null()) {
      if (!f->is_string() || (*f != "flowgate" && *f != "netify"))
        return err(ErrorCode::BadField, "\"format\" must be \"flowgate\" or \"netify\"", id);
      r.netify = *f == "netify";
    }
    auto t = doc.find("topics");
    if (t == doc.end() || t->is_null()) {
      r.topics = {Topic::Flow, Topic::FlowEnd, Topic::Aggregate, Topic::Log};
    } else {
      if (!t->is_array()) {
        return err(ErrorCode::BadField, std::string("\"topics\" must be an array of strings, not ") + typeName(*t), id);
      }
      if (t->empty()) return err(ErrorCode::BadField, "\"topics\" must not be empty", id);
      for (const auto& v : *t) {
        if (!v.is_string()) {
          return err(ErrorCode::BadField, std::string("\"topics\" entries must be strings, not ") + typeName(v), id);
        }
        auto topic = parseTopic(v.get_ref<const std::string&>());
        if (!topic) {
          return err(ErrorCode::BadField, "unknown topic \"" + v.get<std::string>() +
                                              "\" (one of: flow, flow_end, aggregate, log)", id);
        }
        if (std::find(r.topics.begin(), r.topics.end(), *topic) == r.topics.end()) r.topics.push_back(*topic);
      }
    }
    if (auto e = parseFilter(doc, r.filter, id)) return *e;
    return Request{id, std::move(r)};
  }

  return err(ErrorCode::UnknownRequest, "unknown request \"" + name +
                                            "\" (one of: status, flows, flow, policy, reload, subscribe, metrics, hint, "
                                            "log_level)",
             id);
}

std::string encodeRequest(const Request& r) {
  json j = json::object();
  j["request"] = std::string(requestName(r.body));
  if (!r.id.is_null()) j["id"] = r.id;
  auto put_filter = [&](const EventFilter& f) {
    json o = json::object();
    if (!f.application.empty()) o["application"] = f.application;
    if (!f.address.empty()) o["address"] = f.address;
    if (!f.rule.empty()) o["rule"] = f.rule;
    if (!o.empty()) j["filter"] = o;
  };
  if (auto* f = std::get_if<FlowsRequest>(&r.body)) {
    put_filter(f->query.filter);
    j["limit"] = f->query.limit;
  } else if (auto* f1 = std::get_if<FlowRequest>(&r.body)) {
    j["flow_id"] = f1->flow_id;
  } else if (auto* h = std::get_if<HintRequest>(&r.body)) {
    j["address"] = h->address;
  } else if (auto* l = std::get_if<LogLevelRequest>(&r.body)) {
    if (!l->level.empty()) j["level"] = l->level;
  } else if (auto* s = std::get_if<SubscribeRequest>(&r.body)) {
    json topics = json::array();
    for (Topic t : s->topics) topics.push_back(std::string(toString(t)));
    j["topics"] = topics;
    put_filter(s->filter);
    if (s->netify) j["format"] = "netify";
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string okResponse(const nlohmann::json& id, const nlohmann::json& result) {
  nlohmann::ordered_json j;
  j["ok"] = true;
  j["id"] = id;
  j["result"] = result;
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

std::string errorResponse(const ProtocolError& e) { return errorResponse(e, json::object()); }

std::string errorResponse(const ProtocolError& e, const nlohmann::json& extra) {
  nlohmann::ordered_json error;
  error["code"] = std::string(toString(e.code));
  error["message"] = e.message;
  if (extra.is_object()) {
    for (const auto& [k, v] : extra.items()) error[k] = v;
  }
  nlohmann::ordered_json j;
  j["ok"] = false;
  j["id"] = e.id;
  j["error"] = error;
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

std::string missedNotice(uint64_t count) {
  return "{\"event\":\"missed\",\"count\":" + std::to_string(count) + "}\n";
}

}  // namespace fg::ctl
