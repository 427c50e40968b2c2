#!/usr/bin/env python3
"""A link emulator for flowgate's namespace tests (standard library only).

This kernel has no netem qdisc, so the tests bring their own: an AF_PACKET
relay between two interfaces of one namespace that copies every Ethernet
frame from one to the other, holding it for a delay and dropping a share.

  fg_linkemu.py IF_A IF_B [--delay-ms MS] [--back-delay-ms MS]
                [--loss-pct P] [--back-loss-pct P] [--seed N]
                [--duration S] [--stats FILE]

Frames received on IF_A leave on IF_B after --delay-ms (dropped with
probability --loss-pct %); frames received on IF_B leave on IF_A after
--back-delay-ms (--back-loss-pct). Order is kept per direction (a constant
delay). The relay exits after --duration seconds (default 60: bounded like
every load) or on SIGTERM, and then writes one JSON line of counters to
--stats: {"a_to_b": {"frames", "dropped", "sent", "errors", "held"}, "b_to_a": ...}
("held": still delayed when the relay stopped).

Both interfaces should be in promiscuous mode (the frames carry the MAC of
the interface behind the relay). The sockets use PACKET_VNET_HDR: each frame
travels with its virtio-net header, so a frame whose checksum the sending
stack left to the device (veth: CHECKSUM_PARTIAL) or a segmentation offload
frame larger than the MTU leaves the relay as it came, and the kernel
completes it. A frame the relay cannot send is counted in "errors".
"""
import argparse
import collections
import json
import os
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_VNET_HDR = 15


def open_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


class Direction:
    def __init__(self, name, src, dst, delay_s, loss, rng):
        self.name, self.src, self.dst = name, src, dst
        self.delay_s, self.loss, self.rng = delay_s, loss, rng
        self.queue = collections.deque()  # (due, frame); due is monotonic
        self.counts = {"frames": 0, "dropped": 0, "sent": 0, "errors": 0}

    def receive(self, now):
        while True:
            try:
                frame, addr = self.src.recvfrom(65535)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue  # what we (or the stack) sent on this interface
            self.counts["frames"] += 1
            if self.loss > 0 and self.rng.random() * 100 < self.loss:
                self.counts["dropped"] += 1
                continue
            self.queue.append((now + self.delay_s, frame))

    def flush(self, now):
        while self.queue and self.queue[0][0] <= now:
            _, frame = self.queue.popleft()
            try:
                self.dst.send(frame)
                self.counts["sent"] += 1
            except OSError:
                self.counts["errors"] += 1

    def next_due(self):
        return self.queue[0][0] if self.queue else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("if_a")
    ap.add_argument("if_b")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--back-delay-ms", type=float, default=0.0)
    ap.add_argument("--loss-pct", type=float, default=0.0)
    ap.add_argument("--back-loss-pct", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--stats", default="")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    a, b = open_socket(args.if_a), open_socket(args.if_b)
    dirs = [Direction("a_to_b", a, b, args.delay_ms / 1000, args.loss_pct, rng),
            Direction("b_to_a", b, a, args.back_delay_ms / 1000, args.back_loss_pct, rng)]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    end = time.monotonic() + args.duration
    if args.stats:
        # Written at once, so a reader knows the relay is up.
        with open(args.stats + ".ready", "w") as f:
            f.write(str(os.getpid()) + "\n")
    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        for d in dirs:
            d.flush(now)
        dues = [t for t in (d.next_due() for d in dirs) if t is not None]
        # At most 0.2 s: a signal does not end select() (PEP 475).
        timeout = min([end - now, 0.2] + [max(0.0, t - now) for t in dues])
        try:
            ready, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for d in dirs:
            if d.src in ready:
                d.receive(now)
    for d in dirs:
        d.counts["held"] = len(d.queue)  # still delayed when the relay stopped
    if args.stats:
        with open(args.stats, "w") as f:
            f.write(json.dumps({d.name: d.counts for d in dirs}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
