// CaptureReader: reads pcap and pcapng files with libpcap and hands each
// frame, its link type and timestamp to the caller. It only reads; decoding
// and flows are the pipeline's business, so the same pipeline serves
// NFQUEUE input unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"
#include "gateway/core/packet.h"

namespace fg::pcap {

struct Frame {
  core::LinkType link;
  std::span<const uint8_t> bytes;  // valid only during the callback
  core::Timestamp ts;              // microseconds since the epoch
};

class CaptureReader {
 public:
  // Opens `path`. Errors: file missing or unreadable, not a capture file, or
  // a link type flowgate cannot decode (the message names it).
  static Result<std::unique_ptr<CaptureReader>> open(const std::string& path);
  ~CaptureReader();
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  // Calls on_frame for every frame until the end of the file. A truncated
  // last record ends the read with an error that says so (frames before it
  // were delivered).
  Result<uint64_t> forEach(const std::function<void(const Frame&)>& on_frame);

  core::LinkType linkType() const { return link_; }

 private:
  CaptureReader(void* handle, core::LinkType link) : handle_(handle), link_(link) {}
  void* handle_;  // pcap_t*
  core::LinkType link_;
};

}  // namespace fg::pcap
