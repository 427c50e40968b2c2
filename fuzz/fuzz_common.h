// Helpers shared by the libFuzzer targets in fuzz/ (see docs/fuzzing.md).
//
// Frame framing (pipeline_fuzz, metadata_fuzz; fuzz/pcap_seeds.py writes it):
//
//   input  := header-byte frame*
//   frame  := tag:u8 len:u16be bytes[len]      (the last frame may be short)
//
// The meaning of the header byte and of each frame's tag is the target's.
// At most kMaxFrames frames are read; the rest of the input is ignored, so
// one input costs a bounded amount of work.
//
// The oracle checks (checkSameDecision) call __builtin_trap() so libFuzzer
// records them as crashes with the input kept.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "policy/record_json.h"
#include "policy/policy.h"

namespace fg::fuzz {

inline constexpr size_t kMaxFrames = 64;

struct Frame {
  uint8_t tag = 0;
  std::span<const uint8_t> bytes;
};

class FrameReader {
 public:
  explicit FrameReader(std::span<const uint8_t> data) : rest_(data) {}

  // The next frame, or false at the end of the input or after kMaxFrames.
  bool next(Frame& out) {
    if (rest_.size() < 3 || frames_ == kMaxFrames) return false;
    out.tag = rest_[0];
    const size_t len = std::min<size_t>((size_t{rest_[1]} << 8) | rest_[2], rest_.size() - 3);
    out.bytes = rest_.subspan(3, len);
    rest_ = rest_.subspan(3 + len);
    ++frames_;
    return true;
  }

 private:
  std::span<const uint8_t> rest_;
  size_t frames_ = 0;
};

// A fixed evaluation time (2024-01-15 12:00:00 UTC, a Monday): targets must
// not depend on the wall clock.
inline std::chrono::system_clock::time_point fixedNow() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1705320000));
}

// The policy engine promises evaluate() == evaluateLinearScan() (policy.h):
// any difference is a bug in the rule index.
inline void checkSameDecision(const policy::PolicySet& p, const policy::FlowFacts& facts,
                              std::chrono::system_clock::time_point now) {
  const policy::Decision a = p.evaluate(facts, now);
  const policy::Decision b = p.evaluateLinearScan(facts, now);
  const bool same =
      a.rule == b.rule && a.verdict == b.verdict && a.final == b.final && a.mark == b.mark &&
      a.mark_mask == b.mark_mask && a.route == b.route && a.exempt == b.exempt &&
      a.log == b.log && a.shadow_matches == b.shadow_matches &&
      std::ranges::equal(a.shadowRules(), b.shadowRules()) &&
      std::ranges::equal(a.setAdditions(), b.setAdditions(),
                         [](const policy::SetAddition& x, const policy::SetAddition& y) {
                           return x.set == y.set && x.address == y.address;
                         });
  if (!same) __builtin_trap();
  (void)policy::decisionToJson(a, p).dump();
}

}  // namespace fg::fuzz
