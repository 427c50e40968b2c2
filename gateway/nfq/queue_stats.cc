#include "gateway/nfq/queue_stats.h"

#include <fstream>
#include <sstream>
#include <string>

namespace fg::nfq {

std::map<uint32_t, KernelQueueStats> parseKernelQueueStats(std::istream& in) {
  std::map<uint32_t, KernelQueueStats> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint64_t num = 0, portid = 0, waiting = 0, mode = 0, range = 0, dropped = 0, user = 0;
    if (fields >> num >> portid >> waiting >> mode >> range >> dropped >> user)
      out[static_cast<uint32_t>(num)] = {waiting, dropped, user};
  }
  return out;
}

std::map<uint32_t, KernelQueueStats> readKernelQueueStats() {
  std::ifstream f("/proc/net/netfilter/nfnetlink_queue");
  return parseKernelQueueStats(f);
}

}  // namespace fg::nfq
