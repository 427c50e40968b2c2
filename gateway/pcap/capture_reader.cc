#include "gateway/pcap/capture_reader.h"

#include <cerrno>
#include <string_view>

#include <pcap/pcap.h>

#include <optional>

namespace fg::pcap {
namespace {

std::optional<core::LinkType> linkFromDlt(int dlt) {
  switch (dlt) {
    case DLT_EN10MB: return core::LinkType::Ethernet;
    case DLT_LINUX_SLL: return core::LinkType::LinuxSll;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2: return core::LinkType::LinuxSll2;
#endif
    case DLT_RAW:
    case 14:   // DLT_RAW on OpenBSD
    case 101:  // LINKTYPE_RAW
    case 228:  // LINKTYPE_IPV4
    case 229:  // LINKTYPE_IPV6
      return core::LinkType::Raw;
    case DLT_NULL: return core::LinkType::Null;
    case DLT_LOOP: return core::LinkType::Loop;
    default: return std::nullopt;
  }
}

}  // namespace

Result<std::unique_ptr<CaptureReader>> CaptureReader::open(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  errno = 0;
  pcap_t* h = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err);
  if (!h) {
    // libpcap's text already names the file when fopen failed, and its
    // cause is errno: report "PATH: <errno text>" once, with that errno.
    const int open_errno = errno;
    if (open_errno != 0 && std::string_view(err).starts_with(path)) return errnoError(path, open_errno);
    // Not a capture (bad magic, truncated header): libpcap's words, no errno text.
    return Error{std::error_code{}, path + ": " + err};
  }
  const int dlt = pcap_datalink(h);
  auto link = linkFromDlt(dlt);
  if (!link) {
    const char* name = pcap_datalink_val_to_name(dlt);
    pcap_close(h);
    return makeError(path + ": unsupported link type " + std::to_string(dlt) + " (" +
                     (name ? name : "unknown") + ")", std::errc::not_supported);
  }
  return std::unique_ptr<CaptureReader>(new CaptureReader(h, *link));
}

CaptureReader::~CaptureReader() { pcap_close(static_cast<pcap_t*>(handle_)); }

Result<uint64_t> CaptureReader::forEach(const std::function<void(const Frame&)>& on_frame) {
  auto* h = static_cast<pcap_t*>(handle_);
  uint64_t n = 0;
  while (true) {
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(h, &hdr, &data);
    if (rc == PCAP_ERROR_BREAK) return n;  // end of file
    if (rc == PCAP_ERROR) return makeError(std::string("capture read: ") + pcap_geterr(h), std::errc::io_error);
    if (rc != 1) continue;
    const core::Timestamp ts =
        static_cast<core::Timestamp>(hdr->ts.tv_sec) * 1'000'000 + hdr->ts.tv_usec;
    on_frame(Frame{link_, {data, hdr->caplen}, ts});
    ++n;
  }
}

}  // namespace fg::pcap
