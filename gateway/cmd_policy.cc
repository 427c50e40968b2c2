// `flowgate policy check|eval`: validate policy files and replay flow records
// through them, so users test a policy against real captures before deploying.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "gateway/commands.h"
#include "gateway/app_catalog.h"
#include "gateway/dpi/ndpi_catalog.h"
#include "policy/record_json.h"
#include "policy/policy.h"

namespace fg::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;

std::optional<std::chrono::system_clock::time_point> parseWhen(std::string_view s) {
  using namespace std::chrono;
  if (s.size() == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
      s[16] == ':' && s[19] == 'Z') {
    std::tm tm{};
    if (std::sscanf(std::string(s).c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
      return std::nullopt;
    const year_month_day ymd{year{tm.tm_year}, month{static_cast<unsigned>(tm.tm_mon)},
                             day{static_cast<unsigned>(tm.tm_mday)}};
    if (!ymd.ok() || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) return std::nullopt;
    return sys_days{ymd} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
  }
  try {
    size_t used = 0;
    const double v = std::stod(std::string(s), &used);
    if (used != s.size() || !std::isfinite(v)) return std::nullopt;
    return system_clock::time_point{duration_cast<system_clock::duration>(duration<double>(v))};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

struct Options {
  std::vector<std::string> paths;
  std::optional<std::string> flow;
  std::optional<std::chrono::system_clock::time_point> when;
  bool catalog = true;
  // As given on the command line (parsed into the fields above).
  std::string flow_text, time_text;
  bool no_catalog = false;
};

policy::LoadResult<std::shared_ptr<const policy::PolicySet>> load(const Options& o,
                                                                  policy::NameCatalog& catalog) {
  policy::LoadOptions lo;
  if (o.catalog) {
    // nDPI's names and the application catalog's (docs/catalog.md): the
    // installed shipped catalog and the operator's /etc/flowgate/apps.d.
    auto apps = loadAppCatalog(defaultAppsDir(), kDefaultLocalAppsDir);
    if (!apps.ok()) return apps.errors();
    catalog = namesWithCatalog(apps.value().get());
    lo.catalog = &catalog;
  }
  return policy::loadPolicy(o.paths, lo, 1);
}

int printErrors(const policy::LoadErrors& errors) {
  for (const auto& e : errors) std::cerr << policy::formatError(e) << "\n";
  std::cerr << errors.size() << (errors.size() == 1 ? " error" : " errors") << "\n";
  return kExitFailed;
}

int check(const Options& o) {
  policy::NameCatalog catalog;
  auto loaded = load(o, catalog);
  if (!loaded.ok()) return printErrors(loaded.errors());
  const auto& p = *loaded.value();
  const auto s = p.summary();
  std::cout << "ok: " << s.files << (s.files == 1 ? " file, " : " files, ") << s.rules << " rules ("
            << s.enabled_rules << " enabled, " << s.shadow_rules << " shadow; " << s.indexed_rules
            << " indexed, " << s.generic_rules << " generic), " << s.classes << " classes, "
            << s.routes << " routes, " << s.sets << " sets, " << s.address_groups
            << " address groups; default " << policy::toString(s.default_verdict)
            << "; timezone " << s.timezone << "\n";
  char mask[16];
  std::snprintf(mask, sizeof mask, "0x%08x", s.mark_mask);
  std::cout << "marks: mask " << mask << " shift " << s.mark_shift << "\n";
  for (const auto& c : p.classes()) {
    char m[16];
    std::snprintf(m, sizeof m, "0x%x", c.mark);
    std::cout << "class " << c.name << " = " << c.value << " (mark " << m << ")\n";
  }
  for (const auto& r : p.routes()) {
    char m[40];
    std::snprintf(m, sizeof m, "0x%x/0x%x", r.fwmark, r.fwmark_mask);
    std::cout << "route " << r.name << ": table " << r.table << ", fwmark " << m;
    for (size_t i = 0; i < r.via.size(); ++i) std::cout << (i == 0 ? ", via " : " and ") << r.via[i].toString();
    if (!r.dev.empty()) std::cout << ", dev " << r.dev;
    std::cout << "; " << policy::familiesName(r) << (r.managed() ? "" : " (table managed outside flowgate)")
              << "\n";
  }
  for (const auto& st : p.sets()) {
    std::cout << "set " << st.name << ": " << (st.family == policy::IpFamily::V4 ? "ipv4" : "ipv6")
              << " " << (st.endpoint == policy::SetEndpoint::Src ? "src" : "dst") << " address"
              << ", timeout " << st.timeout_s << "s";
    if (st.bound()) {
      char m[16];
      std::snprintf(m, sizeof m, "0x%x", st.bind_mark);
      std::cout << ", kernel-bound: " << policy::toString(st.bind_verdict);
      if (st.bind_route != policy::Decision::kNone) std::cout << " route " << p.routes()[st.bind_route].name;
      if (st.bind_class != policy::Decision::kNone) std::cout << " class " << p.classes()[st.bind_class].name;
      if (st.bind_mark) std::cout << " mark " << m;
    }
    std::cout << "\n";
  }
  for (uint32_t id = 0; id < p.ruleCount(); ++id) {
    const auto& r = p.rule(id);
    std::cout << "rule " << r.name << ": " << policy::toString(r.verdict)
              << (r.shadow ? " (shadow)" : "") << (r.enabled ? "" : " (disabled)")
              << (r.require_verified_name ? ", requires a verified name"
                  : r.reads_name          ? ", acts on unverified names too"
                                          : "")
              << "  ["
              << r.file << ":" << r.line << "]\n";
  }
  // Warnings do not fail the check: the policy loads and runs as written.
  for (const auto& w : p.warnings()) std::cerr << "warning: " << policy::formatError(w) << "\n";
  if (!p.warnings().empty())
    std::cerr << p.warnings().size() << (p.warnings().size() == 1 ? " warning" : " warnings") << "\n";
  return kExitOk;
}

int eval(const Options& o) {
  policy::NameCatalog catalog;
  auto loaded = load(o, catalog);
  if (!loaded.ok()) return printErrors(loaded.errors());
  const auto& p = *loaded.value();

  bool bad = false;
  size_t line_no = 0;
  auto evalLine = [&](const std::string& line) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) return;
    nlohmann::json out;
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded()) {
      out = {{"line", line_no}, {"error", "not valid JSON"}};
    } else if (record.is_object() && record.contains("event") &&
               !(record["event"].is_string() && record["event"] == "flow")) {
      return;  // stats, flow_end, aggregates: not decisions
    } else {
      auto facts = policy::factsFromRecord(record);
      if (!facts.ok()) {
        out = {{"line", line_no}, {"error", facts.error().message()}};
      } else {
        auto when = o.when;
        if (!when) {
          if (auto ts = record.find("ts"); ts != record.end() && ts->is_number()) {
            when = std::chrono::system_clock::time_point{
                std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    std::chrono::duration<double>(ts->get<double>()))};
          }
        }
        const auto d = p.evaluate(facts.value(), when.value_or(std::chrono::system_clock::now()));
        out = nlohmann::json::object();
        out["flow_id"] = record.contains("flow_id") ? record["flow_id"] : nlohmann::json(nullptr);
        out.update(policy::decisionToJson(d, p));
      }
    }
    if (out.contains("error")) {
      bad = true;
      std::cerr << "flowgate policy eval: record " << line_no << ": " << out["error"].get<std::string>() << "\n";
    }
    std::cout << out.dump() << "\n";
  };

  if (o.flow) {
    evalLine(*o.flow);
  } else {
    std::string line;
    while (std::getline(std::cin, line)) evalLine(line);
  }
  std::cout.flush();
  return bad ? kExitFailed : kExitOk;
}

}  // namespace

void addPolicyCommand(CLI::App& app, Action& action) {
  CLI::App* policy = app.add_subcommand("policy", "validate policies and decide flow records with them");
  addVersionFlag(*policy);
  policy->require_subcommand(1, 1);
  policy->footer(
      "Exit status: 0 the policy is valid (check) or every record was decided (eval); 1 the policy has errors "
      "(every one printed) or a record is invalid; 2 a usage error.");  // check and eval inherit it
  auto make = [&action](CLI::App* sub, bool eval_cmd) {
    auto o = std::make_shared<Options>();
    addVersionFlag(*sub);
    sub->add_option("PATH", o->paths, "a policy file, or a directory of *.toml loaded in name order")->required();
    sub->add_flag("--no-catalog", o->no_catalog,
                  "skip checking application/category names against nDPI and the application catalog "
                  "(docs/catalog.md)");
    if (eval_cmd) {
      sub->add_option("--flow", o->flow_text, "evaluate this single flow record (JSON) instead of reading stdin");
      sub->add_option("--time", o->time_text,
                      "evaluation time for schedules: Unix seconds or YYYY-MM-DDTHH:MM:SSZ (default: each "
                      "record's \"ts\", else now)")
          ->check([](const std::string& v) {
            return parseWhen(v) ? std::string() : "expected Unix seconds or YYYY-MM-DDTHH:MM:SSZ, got '" + v + "'";
          });
    }
    sub->callback([&action, o, sub, eval_cmd] {
      o->catalog = !o->no_catalog;
      if (eval_cmd && sub->count("--flow")) o->flow = o->flow_text;
      if (eval_cmd && sub->count("--time")) o->when = parseWhen(o->time_text);
      action = [o, eval_cmd] { return eval_cmd ? eval(*o) : check(*o); };
    });
  };
  make(policy->add_subcommand("check",
                              "validate policy files; prints every error with file, line and key (exit 1) or a "
                              "summary (exit 0), and warnings on stderr (e.g. a rule routing IPv6 flows through a "
                              "route with only an IPv4 next hop)"),
       false);
  make(policy->add_subcommand("eval",
                              "print the decision for each flow record: the one given with --flow, or one JSON "
                              "object per line on stdin (e.g. from `flowgate classify`); non-flow events such as "
                              "the final {\"event\":\"stats\"} line are skipped; exit 1 when a record is invalid"),
       true);
}

}  // namespace fg::cli
