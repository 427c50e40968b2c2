// The kernel's own view of the NFQUEUE queues: one line per bound queue in
// /proc/net/netfilter/nfnetlink_queue (queue, port id, packets waiting,
// copy mode, copy range, packets dropped because the queue was full,
// packets the kernel could not deliver to userspace, ...).
#pragma once

#include <cstdint>
#include <istream>
#include <map>

namespace fg::nfq {

struct KernelQueueStats {
  uint64_t waiting = 0, dropped = 0, user_dropped = 0;
};

// Parses the file's lines; malformed lines are skipped.
std::map<uint32_t, KernelQueueStats> parseKernelQueueStats(std::istream& in);
// Reads the file (empty when it is absent: no queue bound, or no procfs).
std::map<uint32_t, KernelQueueStats> readKernelQueueStats();

}  // namespace fg::nfq
