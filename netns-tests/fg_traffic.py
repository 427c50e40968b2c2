#!/usr/bin/env python3
"""Traffic endpoints for flowgate's netns tests (standard library only).

  sink ADDR PORT [--tls CERT KEY] [--ready FILE]
      Server. Every connection sends an 8-byte big-endian length, then that
      many bytes; the server counts them and answers "OK <count>\\n".
      A length with the top bit set asks for the opposite: the server sends
      that many zero bytes and closes.
  upload ADDR PORT BYTES [--sni NAME] [--rate BYTES_PER_S] [--chunk N]
      Client of `sink`: sends BYTES zero bytes (optionally paced), prints the
      count the server reports, exits 0 only when it equals BYTES.
  download ADDR PORT BYTES [--sni NAME]
      Client of `sink`: asks for BYTES bytes, prints how many arrived before
      the server closed, exits 0 only when it equals BYTES.
  bt-server ADDR PORT
      Server answering a BitTorrent handshake with its own handshake.
  bt-client ADDR PORT
      Sends a 68-byte BitTorrent handshake, waits for the peer's; exit 0 when
      the reply is a valid handshake.
"""
import argparse
import os
import socket
import ssl
import struct
import sys
import threading
import time

BT_PROTO = b"\x13BitTorrent protocol"
DOWNLOAD = 1 << 63


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listen(addr, port):
    s = socket.socket(family_of(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    return s


def recv_exact(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def serve_forever(srv, handler, ctx=None):
    while True:
        conn, _ = srv.accept()

        def run(c=conn):
            try:
                if ctx is not None:
                    c = ctx.wrap_socket(c, server_side=True)
                handler(c)
            except Exception as e:  # a test client may be reset on purpose
                print(f"connection error: {e!r}", file=sys.stderr, flush=True)
            finally:
                try:
                    c.close()
                except OSError:
                    pass

        threading.Thread(target=run, daemon=True).start()


def sink_handler(conn):
    header = recv_exact(conn, 8)
    if len(header) != 8:
        return
    (want,) = struct.unpack("!Q", header)
    if want & DOWNLOAD:
        want &= ~DOWNLOAD
        block = bytes(1 << 16)
        sent = 0
        while sent < want:
            n = min(len(block), want - sent)
            conn.sendall(block[:n])
            sent += n
        return
    got = 0
    while got < want:
        chunk = conn.recv(min(want - got, 1 << 20))
        if not chunk:
            break
        got += len(chunk)
    conn.sendall(f"OK {got}\n".encode())


def cmd_sink(a):
    srv = listen(a.addr, a.port)
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
    serve_forever(srv, sink_handler, ctx)


def connect(a):
    conn = socket.create_connection((a.addr, a.port), timeout=a.timeout)
    if a.sni:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = ctx.wrap_socket(conn, server_hostname=a.sni)
    return conn


def cmd_download(a):
    conn = connect(a)
    conn.sendall(struct.pack("!Q", a.bytes | DOWNLOAD))
    got = 0
    try:
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    except (ConnectionError, ssl.SSLError) as e:
        print(f"connection error after {got} bytes: {e!r}", file=sys.stderr)
    conn.close()
    print(got)
    return 0 if got == a.bytes else 1


def cmd_upload(a):
    conn = connect(a)
    conn.sendall(struct.pack("!Q", a.bytes))
    block = bytes(a.chunk)
    sent = 0
    start = time.monotonic()
    while sent < a.bytes:
        n = min(a.chunk, a.bytes - sent)
        conn.sendall(block[:n])
        sent += n
        if a.rate:
            ahead = sent / a.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = conn.recv(64)
        if not chunk:
            break
        reply += chunk
    conn.close()
    text = reply.decode(errors="replace").strip()
    print(text.split()[-1] if text.startswith("OK ") else f"bad reply {text!r}")
    return 0 if text == f"OK {a.bytes}" else 1


def bt_handshake(peer_id):
    return BT_PROTO + bytes(8) + bytes(range(1, 21)) + peer_id


def cmd_bt_server(a):
    srv = listen(a.addr, a.port)

    def handler(conn):
        hs = recv_exact(conn, 68)
        if len(hs) == 68 and hs.startswith(BT_PROTO):
            conn.sendall(BT_PROTO + bytes(8) + hs[28:48] + b"-FG0001-serverpeer00")
            time.sleep(0.5)

    serve_forever(srv, handler)


def cmd_bt_client(a):
    conn = socket.create_connection((a.addr, a.port), timeout=a.timeout)
    hs = bt_handshake(b"-FG0001-clientpeer00")
    assert len(hs) == 68
    conn.sendall(hs)
    reply = recv_exact(conn, 68)
    # Some keep-alive traffic after the handshake (BitTorrent keep-alive: 4 zero bytes).
    for _ in range(3):
        conn.sendall(bytes(4))
        time.sleep(0.05)
    conn.close()
    ok = len(reply) == 68 and reply.startswith(BT_PROTO) and reply[28:48] == hs[28:48]
    print("handshake ok" if ok else f"bad handshake {reply!r}")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    u = sub.add_parser("upload")
    u.add_argument("addr")
    u.add_argument("port", type=int)
    u.add_argument("bytes", type=int)
    u.add_argument("--sni")
    u.add_argument("--rate", type=float, default=0)
    u.add_argument("--chunk", type=int, default=65536)
    u.add_argument("--timeout", type=float, default=30)
    d = sub.add_parser("download")
    d.add_argument("addr")
    d.add_argument("port", type=int)
    d.add_argument("bytes", type=int)
    d.add_argument("--sni")
    d.add_argument("--timeout", type=float, default=30)
    b = sub.add_parser("bt-server")
    b.add_argument("addr")
    b.add_argument("port", type=int)
    c = sub.add_parser("bt-client")
    c.add_argument("addr")
    c.add_argument("port", type=int)
    c.add_argument("--timeout", type=float, default=10)
    a = p.parse_args()
    return {"sink": cmd_sink, "upload": cmd_upload, "download": cmd_download, "bt-server": cmd_bt_server,
            "bt-client": cmd_bt_client}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
