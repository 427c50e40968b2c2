// control_fuzz: the control protocol (gateway/control/protocol.h) on
// arbitrary request lines.
//
// parseRequest must never throw or crash. An accepted request must survive
// the round trip the header promises, parseRequest(encodeRequest(r)) == r,
// and both response encoders must produce exactly one line of valid JSON
// echoing whatever id the request carried. Filter strings (client text) also
// go through EventFilter::matches and the Prometheus label escaping.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "gateway/control/metrics.h"
#include "gateway/control/protocol.h"

namespace fg::fuzz {
namespace {

// One line, '\n'-terminated, that parses as JSON.
void checkLine(const std::string& s) {
  if (s.empty() || s.back() != '\n' || s.find('\n') != s.size() - 1) __builtin_trap();
  const auto back = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (back.is_discarded()) __builtin_trap();
}

void checkFilter(const ctl::EventFilter& f) {
  (void)f.matches("NetFlix", "10.0.0.2", "2001:db8::1", "zero-rate-netflix");
  (void)f.matches("", "", "", "");
  for (const std::string* s : {&f.application, &f.address, &f.rule}) {
    const std::string escaped = ctl::escapeLabelValue(*s);
    if (escaped.find('\n') != std::string::npos) __builtin_trap();
  }
}

const ctl::EventFilter* filterOf(const ctl::RequestBody& body) {
  if (auto* f = std::get_if<ctl::FlowsRequest>(&body)) return &f->query.filter;
  if (auto* s = std::get_if<ctl::SubscribeRequest>(&body)) return &s->filter;
  return nullptr;
}

}  // namespace
}  // namespace fg::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fg;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const ctl::ParseResult r = ctl::parseRequest(line);
  if (!r.ok()) {
    fuzz::checkLine(ctl::errorResponse(r.error()));
    fuzz::checkLine(ctl::errorResponse(r.error(), {{"errors", {std::string(line)}}}));
    return 0;
  }
  const ctl::Request& req = r.request();
  if (!(req.id.is_null() || req.id.is_string() || req.id.is_number_integer())) __builtin_trap();

  // The documented round trip.
  const std::string encoded = ctl::encodeRequest(req);
  const ctl::ParseResult again = ctl::parseRequest(encoded);
  if (!again.ok() || again.request().id != req.id || !(again.request().body == req.body))
    __builtin_trap();
  if (ctl::requestName(req.body).empty()) __builtin_trap();

  if (const ctl::EventFilter* f = fuzz::filterOf(req.body)) fuzz::checkFilter(*f);
  fuzz::checkLine(ctl::okResponse(req.id, {{"echo", std::string(line)}}));
  fuzz::checkLine(ctl::missedNotice(size));
  return 0;
}
