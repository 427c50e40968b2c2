// The inline gateway daemon (`flowgate run`) once its configuration and
// policy are known to be valid: kernel set-up, workers, the control socket,
// conntrack accounting, signals, and an orderly shutdown.
//
// Threads: the main thread handles signals and the systemd watchdog (a
// progress check of every other thread, watchdog.h); one thread per worker
// (packets);
// the control thread runs a Boost.Asio io_context with the control socket,
// the metrics listener, conntrack events and dumps, aggregates, the events
// file, and policy reloads (SIGHUP and the control socket's `reload` both
// run there); the kernel writer thread owns the nft table's socket. Workers
// hand decisions to the control thread through a bounded lock-free queue
// and never wait for it.
//
// The daemon (daemon.cc) only wires and sequences its parts, each with one
// job and its own unit tests in fg_daemon:
//   kernel_side.h     nft table, sets and policy routes; apply() all or nothing
//   policy_routes.h   the route classes' rules and routes, make before break
//   kernel_writer.h   the nft table's owner socket and writer thread
//   reload.h          the reload pipeline (parse, validate, kernel, snapshot)
//   event_router.h    decisions and log lines -> accounting and the sinks
//   conntrack_feed.h  conntrack events and dumps -> accounting
//   accounting.h      decided flows + conntrack -> flow_end and aggregates
//   control_handler.h the control socket's answers, status and metrics
//   outputs.h         the MQTT sinks
//   process.h         the instance lock and the privilege drop
//   watchdog.h        WATCHDOG=1 only while every worker makes progress
#pragma once

#include "gateway/config.h"
#include "policy/policy.h"

namespace fg::daemon {

// Runs the daemon until SIGTERM/SIGINT; returns the exit status.
int run(const cli::Config& config, const policy::LoadOptions& options);

}  // namespace fg::daemon
