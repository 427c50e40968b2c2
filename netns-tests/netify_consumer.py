#!/usr/bin/env python3
"""A consumer of the Netify agent's socket stream (standard library only).

Written from the agent's documented stream format, not from flowgate's code:
the agent writes each JSON payload as a line holding a JSON object with one
member, {"length": N}, followed by exactly N bytes of JSON (the payload ends
with a newline that the length counts). A consumer connects (Unix socket or
TCP) and reads; it sends nothing. The first payloads are the greeting
(agent_hello, agent_status); agent_status repeats every update interval; flow
messages (flow, flow_dpi_complete, flow_stats, flow_purge) follow as flows
come and go.

  read  (unix:PATH | tcp:HOST:PORT) OUT [--seconds S]
      Reads until the stream ends, SIGTERM or S seconds, writing one line per
      message to OUT: {"rx": unix_time_received, "msg": <the payload>}. A
      frame that breaks the format (a length line that is not {"length":N},
      a short payload, a payload that is not a JSON object) is written as
      {"rx": ..., "error": "..."} and ends the reading (exit 2).
  hold  (unix:PATH | tcp:HOST:PORT) SECONDS
      Connects and reads nothing for SECONDS (a slow consumer), then reads
      whatever is there for a second and reports {"framed": N, "errors": M}
      on stdout: how many well-formed frames it found.
"""
import json
import signal
import socket
import sys
import time


def connect(where, timeout=5.0):
    if where.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(where[5:])
    elif where.startswith("tcp:"):
        host, _, port = where[4:].rpartition(":")
        host = host.strip("[]")
        s = socket.create_connection((host, int(port)), timeout=timeout)
    else:
        raise SystemExit(f"unknown address {where!r} (unix:PATH or tcp:HOST:PORT)")
    return s


class Frames:
    """Splits the byte stream into payloads by the length lines."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def next(self):
        # Nothing is consumed until the whole frame is there (a timeout in
        # between keeps the partial frame for the next call).
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = self.buf[:nl]
                head = json.loads(line)
                if not isinstance(head, dict) or set(head) != {"length"} or not isinstance(head["length"], int):
                    raise ValueError(f"not a length line: {line[:200]!r}")
                n = head["length"]
                if len(self.buf) - nl - 1 >= n:
                    payload = self.buf[nl + 1:nl + 1 + n]
                    self.buf = self.buf[nl + 1 + n:]
                    msg = json.loads(payload)
                    if not isinstance(msg, dict):
                        raise ValueError("payload is not a JSON object")
                    return msg
            self._fill()


def cmd_read(where, out, seconds):
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    s = connect(where)
    s.settimeout(0.5)
    frames = Frames(s)
    end = time.time() + seconds if seconds else None
    code = 0
    with open(out, "w", buffering=1) as f:
        while not stop[0] and (end is None or time.time() < end):
            try:
                msg = frames.next()
            except socket.timeout:
                continue
            except EOFError:
                break
            except ValueError as e:
                f.write(json.dumps({"rx": time.time(), "error": str(e)}) + "\n")
                code = 2
                break
            f.write(json.dumps({"rx": time.time(), "msg": msg}) + "\n")
    return code


def cmd_hold(where, seconds):
    s = connect(where)
    time.sleep(seconds)
    s.settimeout(1.0)
    frames = Frames(s)
    framed = errors = 0
    end = time.time() + 1.0
    while time.time() < end:
        try:
            frames.next()
            framed += 1
        except (socket.timeout, EOFError):
            break
        except ValueError:
            errors += 1
            break
    print(json.dumps({"framed": framed, "errors": errors}))
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "read":
        secs = 0.0
        if "--seconds" in args:
            i = args.index("--seconds")
            secs = float(args[i + 1])
            del args[i:i + 2]
        sys.exit(cmd_read(args[0], args[1], secs))
    elif cmd == "hold":
        sys.exit(cmd_hold(args[0], float(args[1])))
    raise SystemExit(__doc__)
