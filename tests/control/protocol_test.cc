#include "gateway/control/protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace fg::ctl {
namespace {

EventFilter filt(const std::string& app, const std::string& addr = "", const std::string& rule = "") {
  EventFilter f;
  f.application = app;
  f.address = addr;
  f.rule = rule;
  return f;
}

using nlohmann::json;

TEST(ProtocolParse, EveryRequest) {
  struct Case {
    std::string line;
    RequestBody want;
  };
  FlowsRequest flows_default;
  flows_default.query.limit = kDefaultFlowLimit;
  FlowsRequest flows_filtered;
  flows_filtered.query.limit = 5;
  flows_filtered.query.filter = filt("Netflix", "10.0.0.2", "zero-rate");
  SubscribeRequest sub_all{.topics = {Topic::Flow, Topic::FlowEnd, Topic::Aggregate, Topic::Log}, .filter = {}};
  SubscribeRequest sub_some{.topics = {Topic::Aggregate, Topic::Flow}, .filter = filt("YouTube")};
  const Case cases[] = {
      {R"({"request":"status"})", StatusRequest{}},
      {R"({"request":"flows"})", flows_default},
      {R"({"request":"flows","limit":5,"filter":{"application":"Netflix","address":"10.0.0.2","rule":"zero-rate"}})",
       flows_filtered},
      {R"({"request":"flow","flow_id":"abc-1"})", FlowRequest{"abc-1"}},
      {R"({"request":"policy"})", PolicyRequest{}},
      {R"({"request":"reload"})", ReloadRequest{}},
      {R"({"request":"subscribe"})", sub_all},
      {R"({"request":"subscribe","topics":["aggregate","flow","aggregate"],"filter":{"application":"YouTube"}})",
       sub_some},
      {R"({"request":"metrics"})", MetricsRequest{}},
      {R"({"request":"hint","address":"10.1.2.3"})", HintRequest{"10.1.2.3"}},
      {R"({"request":"subscribe","topics":["flow"],"format":"netify"})",
       SubscribeRequest{.topics = {Topic::Flow}, .filter = {}, .netify = true}},
      {R"({"request":"subscribe","topics":["flow"],"format":"flowgate"})",
       SubscribeRequest{.topics = {Topic::Flow}, .filter = {}, .netify = false}},
      {"  {\"request\":\"status\"}\r", StatusRequest{}},
      {R"({"request":"flows","filter":null})", flows_default},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    ParseResult r = parseRequest(c.line);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.request().body, c.want);
    EXPECT_TRUE(r.request().id.is_null());
  }
}

TEST(ProtocolParse, IdIsEchoed) {
  ParseResult r = parseRequest(R"({"id":42,"request":"status"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.request().id, json(42));
  r = parseRequest(R"({"id":"a-b","request":"policy"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.request().id, json("a-b"));
  // Errors after the object was parsed keep the id.
  r = parseRequest(R"({"id":7,"request":"nope"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().id, json(7));
  const json resp = json::parse(errorResponse(r.error()));
  EXPECT_EQ(resp["id"], json(7));
  EXPECT_EQ(resp["ok"], false);
  EXPECT_EQ(resp["error"]["code"], "unknown_request");
}

TEST(ProtocolParse, ErrorPaths) {
  struct Case {
    std::string line;
    ErrorCode code;
    std::string in_message;
  };
  const Case cases[] = {
      {"", ErrorCode::BadJson, "empty"},
      {"   \r", ErrorCode::BadJson, "empty"},
      {"garbage", ErrorCode::BadJson, "invalid JSON"},
      {"\x01\x02\xff\xfe", ErrorCode::BadJson, "invalid JSON"},
      {R"({"request":"status")", ErrorCode::BadJson, "invalid JSON"},
      {R"({"request":"status"} trailing)", ErrorCode::BadJson, "invalid JSON"},
      {"{\"request\":\"st\xff\"}", ErrorCode::BadJson, "invalid JSON"},
      {std::string(100, '[') + std::string(100, ']'), ErrorCode::BadJson, "nested"},
      {"[1,2]", ErrorCode::NotObject, "array"},
      {"\"status\"", ErrorCode::NotObject, "string"},
      {"42", ErrorCode::NotObject, "number"},
      {"null", ErrorCode::NotObject, "null"},
      {"{}", ErrorCode::MissingRequest, "missing field \"request\""},
      {R"({"id":1})", ErrorCode::MissingRequest, "request"},
      {R"({"request":5})", ErrorCode::BadField, "\"request\" must be a string"},
      {R"({"request":"shutdown"})", ErrorCode::UnknownRequest, "unknown request \"shutdown\""},
      {R"({"request":"STATUS"})", ErrorCode::UnknownRequest, "STATUS"},
      {R"({"request":"status","verbose":true})", ErrorCode::UnknownField, "unknown field \"verbose\""},
      {R"({"request":"reload","force":1})", ErrorCode::UnknownField, "force"},
      {R"({"request":"metrics","limit":1})", ErrorCode::UnknownField, "limit"},
      {R"({"request":"hint"})", ErrorCode::BadField, "missing field \"address\""},
      {R"({"request":"subscribe","format":"xml"})", ErrorCode::BadField, "\"format\" must be"},
      {R"({"request":"subscribe","format":1})", ErrorCode::BadField, "\"format\" must be"},
      {R"({"request":"hint","address":""})", ErrorCode::BadField, "non-empty string"},
      {R"({"request":"hint","address":7})", ErrorCode::BadField, "non-empty string"},
      {R"({"request":"hint","address":"::1","port":1})", ErrorCode::UnknownField, "port"},
      {R"({"request":"policy","filter":{}})", ErrorCode::UnknownField, "filter"},
      {R"({"request":"flows","flow_id":"x"})", ErrorCode::UnknownField, "flow_id"},
      {R"({"request":"flows","filter":{"app":"x"}})", ErrorCode::UnknownField, "unknown field \"app\" in filter"},
      {R"({"request":"flows","filter":"Netflix"})", ErrorCode::BadField, "\"filter\" must be an object"},
      {R"({"request":"flows","filter":{"application":3}})", ErrorCode::BadField, "filter.application"},
      {R"({"request":"flows","limit":"5"})", ErrorCode::BadField, "\"limit\" must be an integer"},
      {R"({"request":"flows","limit":1.5})", ErrorCode::BadField, "integer"},
      {R"({"request":"flows","limit":0})", ErrorCode::BadField, "between 1 and 10000"},
      {R"({"request":"flows","limit":-3})", ErrorCode::BadField, "between"},
      {R"({"request":"flows","limit":10001})", ErrorCode::BadField, "between"},
      {R"({"request":"flows","limit":18446744073709551615})", ErrorCode::BadField, "between"},
      {R"({"request":"flow"})", ErrorCode::BadField, "missing field \"flow_id\""},
      {R"({"request":"flow","flow_id":""})", ErrorCode::BadField, "non-empty"},
      {R"({"request":"flow","flow_id":12})", ErrorCode::BadField, "flow_id"},
      {R"({"request":"flow","id":"x","flowid":"1"})", ErrorCode::UnknownField, "flowid"},
      {R"({"request":"subscribe","topics":"flow"})", ErrorCode::BadField, "array"},
      {R"({"request":"subscribe","topics":[]})", ErrorCode::BadField, "must not be empty"},
      {R"({"request":"subscribe","topics":[1]})", ErrorCode::BadField, "strings"},
      {R"({"request":"subscribe","topics":["flows"]})", ErrorCode::BadField, "unknown topic \"flows\""},
      {R"({"request":"subscribe","filter":{"rule":["a"]}})", ErrorCode::BadField, "filter.rule"},
      {R"({"request":"subscribe","limit":3})", ErrorCode::UnknownField, "limit"},
      {R"({"request":"status","id":{"a":1}})", ErrorCode::BadField, "\"id\" must be a string or an integer"},
      {R"({"request":"status","id":1.5})", ErrorCode::BadField, "\"id\""},
      {std::string(kMaxLineBytes + 1, ' '), ErrorCode::TooLong, "longer than 65536"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line.substr(0, 120));
    ParseResult r = parseRequest(c.line);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(toString(r.error().code), toString(c.code));
    EXPECT_NE(r.error().message.find(c.in_message), std::string::npos) << r.error().message;
    // Every error encodes to one valid JSON line.
    const std::string line = errorResponse(r.error());
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    const json j = json::parse(line);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["error"]["code"], std::string(toString(c.code)));
  }
}

TEST(ProtocolParse, LineOfExactlyMaxLengthIsParsed) {
  std::string line = R"({"request":"status"})";
  line.resize(kMaxLineBytes, ' ');
  EXPECT_TRUE(parseRequest(line).ok());
}

TEST(ProtocolEncode, RoundTrip) {
  FlowsRequest f;
  f.query.limit = 7;
  f.query.filter.rule = "r1";
  const Request requests[] = {
      {json(1), StatusRequest{}},
      {json("x"), f},
      {nullptr, FlowRequest{"id-9"}},
      {nullptr, SubscribeRequest{.topics = {Topic::Log}, .filter = filt("", "::1")}},
      {json(3), MetricsRequest{}},
      {nullptr, ReloadRequest{}},
      {nullptr, PolicyRequest{}},
      {json(4), HintRequest{"fd00::1"}},
      {nullptr, SubscribeRequest{.topics = {Topic::FlowEnd}, .filter = {}, .netify = true}},
  };
  for (const auto& r : requests) {
    const std::string line = encodeRequest(r);
    SCOPED_TRACE(line);
    ParseResult p = parseRequest(line);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p.request().body, r.body);
    EXPECT_EQ(p.request().id, r.id);
  }
}

TEST(ProtocolEncode, Envelopes) {
  EXPECT_EQ(okResponse(json(5), json{{"a", 1}}), "{\"ok\":true,\"id\":5,\"result\":{\"a\":1}}\n");
  EXPECT_EQ(errorResponse(ProtocolError{ErrorCode::ReloadFailed, "m", "q"}, json{{"errors", {"e1", "e2"}}}),
            "{\"ok\":false,\"id\":\"q\",\"error\":{\"code\":\"reload_failed\",\"message\":\"m\",\"errors\":[\"e1\","
            "\"e2\"]}}\n");
  EXPECT_EQ(missedNotice(12), "{\"event\":\"missed\",\"count\":12}\n");
  // Invalid UTF-8 from a handler never breaks the line.
  const std::string line = okResponse(nullptr, json{{"host", std::string("a\xff" "b")}});
  EXPECT_TRUE(json::accept(line));
}

TEST(Topics, NamesRoundTrip) {
  for (Topic t : {Topic::Flow, Topic::FlowEnd, Topic::Aggregate, Topic::Log}) {
    EXPECT_EQ(parseTopic(toString(t)), t);
  }
  EXPECT_FALSE(parseTopic("Flow").has_value());
  EXPECT_FALSE(parseTopic("").has_value());
}

TEST(EventFilter, Matches) {
  EXPECT_TRUE(EventFilter{}.matches("", "", "", ""));
  const EventFilter app = filt("netflix");
  EXPECT_TRUE(app.matches("Netflix", "a", "b", "r"));
  EXPECT_FALSE(app.matches("Netflix2", "a", "b", "r"));
  const EventFilter addr = filt("", "10.0.0.2");
  EXPECT_TRUE(addr.matches("x", "10.0.0.2", "1.1.1.1", ""));
  EXPECT_TRUE(addr.matches("x", "1.1.1.1", "10.0.0.2", ""));
  EXPECT_FALSE(addr.matches("x", "10.0.0.20", "1.1.1.1", ""));
  const EventFilter all = filt("YouTube", "::1", "r");
  EXPECT_TRUE(all.matches("youtube", "::1", "", "r"));
  EXPECT_FALSE(all.matches("youtube", "::1", "", "R"));
}

}  // namespace
}  // namespace fg::ctl

namespace fg::ctl {
namespace {

// log_level: no level asks, a known level sets (canonical spelling), garbage
// is a bad field and never reaches the daemon's logger.
TEST(ProtocolParse, LogLevel) {
  ParseResult ask = parseRequest(R"({"request":"log_level"})");
  ASSERT_TRUE(ask.ok());
  EXPECT_EQ(std::get<LogLevelRequest>(ask.request().body).level, "");
  ParseResult set = parseRequest(R"({"request":"log_level","level":"WARNING"})");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(std::get<LogLevelRequest>(set.request().body).level, "warn");
  EXPECT_EQ(encodeRequest(set.request()), R"({"level":"warn","request":"log_level"})");
  for (const char* bad : {R"({"request":"log_level","level":"loud"})", R"({"request":"log_level","level":3})",
                          R"({"request":"log_level","lvl":"info"})"}) {
    ParseResult r = parseRequest(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.error().code == ErrorCode::BadField || r.error().code == ErrorCode::UnknownField) << bad;
  }
}

}  // namespace
}  // namespace fg::ctl
