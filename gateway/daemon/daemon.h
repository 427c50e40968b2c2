// The inline gateway daemon (`flowgate run`) once its configuration and
// policy are known to be valid: kernel set-up, workers, the control socket,
// conntrack accounting, signals, and an orderly shutdown.
//
// Threads: the main thread handles signals; one thread per worker (packets);
// the control thread runs a Boost.Asio io_context with the control socket,
// the metrics listener, conntrack events and dumps, aggregates, the events
// file, and policy reloads (SIGHUP and the control socket's `reload` both
// run there); the kernel writer thread owns the nft table's socket. Workers
// hand decisions to the control thread through a bounded lock-free queue
// and never wait for it.
#pragma once

#include "gateway/config.h"
#include "policy/policy.h"

namespace fg::daemon {

// Runs the daemon until SIGTERM/SIGINT; returns the exit status.
int run(const cli::Config& config, const policy::LoadOptions& options);

}  // namespace fg::daemon
