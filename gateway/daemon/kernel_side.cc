#include "gateway/daemon/kernel_side.h"

#include "common/log.h"

namespace fg::daemon {

namespace {

bool sameSets(const std::vector<nl::NftSetSpec>& a, const std::vector<nl::NftSetSpec>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].family != b[i].family || a[i].timeout_s != b[i].timeout_s ||
        a[i].bind_bits != b[i].bind_bits)
      return false;
  return true;
}

}  // namespace

uint32_t setBindBits(const policy::SetInfo& s, const core::MarkLayout& m) {
  switch (s.bind_verdict) {
    case policy::Verdict::Drop: return m.decided | m.drop;
    case policy::Verdict::Reject: return m.decided | m.reject;
    case policy::Verdict::Accept: break;
  }
  return s.bind_mark & m.value_mask;
}

nl::NftTableSpec tableSpec(const cli::Config& cfg, const policy::PolicySet& p, nl::QueueMode mode) {
  nl::NftTableSpec spec{.table = cfg.table,
                        .decided_bit = cfg.marks.decided,
                        .drop_bit = cfg.marks.drop,
                        .reject_bit = cfg.marks.reject,
                        .value_mask = cfg.marks.value_mask,
                        .queue_num = cfg.queue_num,
                        .queue_count = static_cast<uint16_t>(cfg.workers),
                        .queue_bypass = cfg.failure.not_running == core::FailureAction::Accept,
                        .queue_cpu_fanout = false,
                        .queue_mode = mode,
                        .interfaces = cfg.interfaces,
                        .skip_bare_tcp = cfg.skip_bare_tcp,
                        .counters = true,
                        .fast_path = cfg.fast_path,
                        .sets = {}};
  spec.observe_dns = cfg.observe_dns && cfg.hints.enabled;
  for (const auto& s : p.sets())
    spec.sets.push_back({.name = s.name,
                         .family = s.family == policy::IpFamily::V6 ? nl::SetFamily::V6 : nl::SetFamily::V4,
                         .timeout_s = s.timeout_s,
                         .bind_bits = setBindBits(s, cfg.marks)});
  return spec;
}

Result<void> PolicyKernel::install(const policy::PolicySet& initial) {
  nl::NftTableSpec spec = tableSpec(cfg_, initial, mode_);
  if (auto t = install_table_(spec, false); !t) return t;
  table_ = std::move(spec);
  if (auto r = routes_.prepare(initial); !r) return r;
  routes_.commit();
  return {};
}

Result<void> PolicyKernel::apply(const policy::PolicySet& next) {
  // Routes first: make-before-break, and undoable. The table replace is the
  // last step that can fail, so nothing needs undoing after it.
  if (auto r = routes_.prepare(next); !r) return r;
  nl::NftTableSpec spec = tableSpec(cfg_, next, mode_);
  if (!sameSets(table_.sets, spec.sets)) {
    if (auto t = install_table_(spec, true); !t) {
      routes_.abort();
      return Error{t.error().code, "nft table inet " + cfg_.table + ": " + t.error().context};
    }
    log::info("nft_table_replaced", {{"table", "inet " + cfg_.table}, {"sets", spec.sets.size()}});
  }
  table_ = std::move(spec);
  routes_.commit();
  return {};
}

}  // namespace fg::daemon
