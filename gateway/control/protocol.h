// The control protocol: one JSON object per line, both ways (docs/control.md).
//
// This module is pure: it parses one request line into a Request value and
// encodes responses, errors and subscription notices. It does no I/O and
// keeps no state; it is safe to call from any thread.
//
// Requests: {"request":"NAME", "id":ANY-SCALAR?, ...fields}. Parsing is
// strict: an unknown request name, an unknown field, a missing required
// field or a field of the wrong type is an error naming the field. The
// optional client-chosen "id" (string, integer or null) is echoed in the
// response, also in error responses when the line was at least a JSON object.
//
// Responses:  {"ok":true,"id":ID,"result":{...}}
//             {"ok":false,"id":ID,"error":{"code":"bad_field","message":"..."}}
// Subscriptions stream the published Event::json lines unchanged, plus
// {"event":"missed","count":N} when the subscriber's queue overflowed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/control/handler.h"

namespace fg::ctl {

// Longest request line accepted, newline excluded.
inline constexpr size_t kMaxLineBytes = 64 * 1024;
// Bounds of the `limit` field of `flows`.
inline constexpr size_t kMaxFlowLimit = 10'000;
inline constexpr size_t kDefaultFlowLimit = 100;

struct StatusRequest {
  bool operator==(const StatusRequest&) const = default;
};
struct FlowsRequest {
  FlowQuery query;
  bool operator==(const FlowsRequest& o) const {
    return query.limit == o.query.limit && query.filter.application == o.query.filter.application &&
           query.filter.address == o.query.filter.address && query.filter.rule == o.query.filter.rule;
  }
};
struct FlowRequest {
  std::string flow_id;
  bool operator==(const FlowRequest&) const = default;
};
struct PolicyRequest {
  bool operator==(const PolicyRequest&) const = default;
};
struct ReloadRequest {
  bool operator==(const ReloadRequest&) const = default;
};
struct SubscribeRequest {
  std::vector<Topic> topics;  // never empty after parsing; no duplicates
  EventFilter filter;
  bool netify = false;        // "format":"netify": flow/flow_end as Netify-style records
  bool operator==(const SubscribeRequest& o) const {
    return topics == o.topics && filter.application == o.filter.application &&
           filter.address == o.filter.address && filter.rule == o.filter.rule && netify == o.netify;
  }
};
struct MetricsRequest {
  bool operator==(const MetricsRequest&) const = default;
};
struct HintRequest {
  std::string address;  // as sent; the handler parses it
  bool operator==(const HintRequest&) const = default;
};

// The daemon's log level: `level` "" asks, otherwise sets it (debug, info,
// warn, error). Answered by the server itself (the level is process-wide).
struct LogLevelRequest {
  std::string level;
  bool operator==(const LogLevelRequest&) const = default;
};

using RequestBody = std::variant<StatusRequest, FlowsRequest, FlowRequest, PolicyRequest,
                                 ReloadRequest, SubscribeRequest, MetricsRequest, HintRequest,
                                 LogLevelRequest>;

struct Request {
  nlohmann::json id;  // null when the client sent none
  RequestBody body;
};

enum class ErrorCode : uint8_t {
  BadJson,          // not JSON, or an empty line
  NotObject,        // JSON, but not an object
  MissingRequest,   // no "request" field
  UnknownRequest,   // "request" names no known request
  UnknownField,     // a field this request does not take
  BadField,         // a field of the wrong type or out of range
  TooLong,          // line longer than kMaxLineBytes (the session is then closed)
  NotFound,         // `flow`: no such flow
  ReloadFailed,     // `reload`: the policy did not validate (details in "errors")
  TooManyClients,   // connection refused by the client cap (then closed)
  Timeout,          // no complete request line in time (then closed)
  Internal,         // the daemon failed to answer
};
std::string_view toString(ErrorCode c);

struct ProtocolError {
  ErrorCode code = ErrorCode::BadJson;
  std::string message;
  nlohmann::json id;  // echoed id when known, else null
};

// Either a Request or the error to answer with.
class ParseResult {
 public:
  ParseResult(Request r) : v_(std::move(r)) {}         // NOLINT(google-explicit-constructor)
  ParseResult(ProtocolError e) : v_(std::move(e)) {}   // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  const Request& request() const { return std::get<0>(v_); }
  const ProtocolError& error() const { return std::get<1>(v_); }

 private:
  std::variant<Request, ProtocolError> v_;
};

// Parses one line (without its '\n'; a trailing '\r' is tolerated).
ParseResult parseRequest(std::string_view line);

// The request name as sent on the wire ("status", "flows", ...).
std::string_view requestName(const RequestBody& body);

// The request as one JSON line without newline (what flowgatectl sends).
// parseRequest(encodeRequest(r)) == r.
std::string encodeRequest(const Request& r);

// Response lines, each terminated by '\n'.
std::string okResponse(const nlohmann::json& id, const nlohmann::json& result);
std::string errorResponse(const ProtocolError& e);
// `extra` members are merged into the error object (reload: "errors").
std::string errorResponse(const ProtocolError& e, const nlohmann::json& extra);
std::string missedNotice(uint64_t count);

}  // namespace fg::ctl
