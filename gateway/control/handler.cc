#include "gateway/control/handler.h"

#include "common/ascii.h"

#include <algorithm>
#include <cctype>

namespace fg::ctl {

std::string_view toString(Topic t) {
  switch (t) {
    case Topic::Flow: return "flow";
    case Topic::FlowEnd: return "flow_end";
    case Topic::Aggregate: return "aggregate";
    case Topic::Log: return "log";
    case Topic::FlowStats: return "flow_stats";
  }
  return "unknown";
}

std::optional<Topic> parseTopic(std::string_view s) {
  for (Topic t : {Topic::Flow, Topic::FlowEnd, Topic::Aggregate, Topic::Log, Topic::FlowStats}) {
    if (s == toString(t)) return t;
  }
  return std::nullopt;
}

bool EventFilter::matches(std::string_view application_v, std::string_view src,
                          std::string_view dst, std::string_view rule_v) const {
  if (!application.empty() && !iequalsAscii(application, application_v)) return false;
  if (!address.empty() && address != src && address != dst) return false;
  if (!rule.empty() && rule != rule_v) return false;
  return true;
}

}  // namespace fg::ctl
