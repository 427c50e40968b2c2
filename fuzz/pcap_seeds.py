#!/usr/bin/env python3
"""Seed inputs for pipeline_fuzz and metadata_fuzz from pcap/pcapng captures.

Standard library only. Writes the framing of fuzz/fuzz_common.h:
    header:u8, then frames  tag:u8 len:u16be bytes[len]

pipeline seeds (one or two per capture):
    link-<name>    header = link type (core::LinkType), frames = whole link
                   frames, tag = milliseconds since the previous packet
    ip-<name>      header = 0x80 (core::Engine mode), frames = raw IP packets
metadata seeds (per service of metadata_fuzz.cc, a few flows each):
    header = service index | 8 for IPv6, frames = L4 payloads in order,
    tag bit 0 = from the server

usage: pcap_seeds.py PIPELINE_DIR METADATA_DIR CAPTURE...
"""
import os
import struct
import sys

MAX_FRAMES = 48          # fuzz_common.h reads at most 64
MAX_SEED_BYTES = 16384   # keep seeds small; libFuzzer's -max_len follows them
MAX_METADATA_PER_SERVICE = 8

# DLT -> core::LinkType (Ethernet 0, LinuxSll 1, LinuxSll2 2, Raw 3, Null 4, Loop 5)
LINK = {1: 0, 113: 1, 276: 2, 101: 3, 12: 3, 14: 3, 228: 3, 229: 3, 0: 4, 108: 5}
# metadata_fuzz.cc kServices: (proto, port) -> index
SERVICES = {(6, 443): 0, (17, 443): 1, (17, 53): 2, (6, 80): 3, (6, 22): 4, (17, 5353): 5}


def read_pcap(data):
    """Yields (dlt, ts_us, frame)."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        return
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    dlt = struct.unpack(end + "I", data[20:24])[0] & 0xFFFF
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        yield dlt, sec * 1000000 + (frac // 1000 if nano else frac), frame


def read_pcapng(data):
    """Yields (dlt, ts_us, frame); assumes microsecond timestamps."""
    off, end, links = 0, "<", []
    while off + 12 <= len(data):
        btype = struct.unpack(end + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:  # section header: byte order magic
            end = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(end + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            return
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            links.append(struct.unpack(end + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            iface, hi, lo, cap, _ = struct.unpack(end + "IIIII", body[:20])
            if iface < len(links):
                yield links[iface], (hi << 32) | lo, body[20:20 + cap]
        elif btype == 3 and links and len(body) >= 4:
            yield links[0], 0, body[4:]
        off += blen


def read_capture(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return list(read_pcapng(data))
    return list(read_pcap(data))


def ip_of(dlt, frame):
    """The IP packet inside a link frame (no tunnels), or None."""
    if dlt == 1:
        off, etype = 12, None
        while off + 2 <= len(frame):
            etype = struct.unpack(">H", frame[off:off + 2])[0]
            if etype in (0x8100, 0x88A8):
                off += 4
                continue
            off += 2
            break
        return frame[off:] if etype in (0x0800, 0x86DD) else None
    if dlt == 113:
        return frame[16:] if frame[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if dlt == 276:
        return frame[20:] if frame[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if dlt in (0, 108):
        return frame[4:]
    if dlt in (101, 12, 14, 228, 229):
        return frame
    return None


def l4_of(ip):
    """(v6, proto, src, dst, sport, dport, payload) of an unfragmented TCP/UDP packet."""
    if len(ip) < 20:
        return None
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
            return None
        v6, proto, src, dst, l4 = False, ip[9], ip[12:16], ip[16:20], ip[ihl:total]
    elif ip[0] >> 4 == 6 and len(ip) >= 40:
        plen = struct.unpack(">H", ip[4:6])[0]
        v6, proto, src, dst, l4 = True, ip[6], ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    if proto == 6 and len(l4) >= 20:
        payload = l4[(l4[12] >> 4) * 4:]
    elif proto == 17 and len(l4) >= 8:
        payload = l4[8:]
    else:
        return None
    sport, dport = struct.unpack(">HH", l4[:4])
    return v6, proto, src, dst, sport, dport, payload


def frame_bytes(tag, data):
    data = data[:0xFFFF]
    return bytes([tag]) + struct.pack(">H", len(data)) + data


def write(path, header, frames):
    out = bytes([header])
    for f in frames[:MAX_FRAMES]:
        if len(out) + len(f) > MAX_SEED_BYTES:
            break
        out += f
    if len(out) > 1:
        with open(path, "wb") as f:
            f.write(out)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    pipeline_dir, metadata_dir = sys.argv[1], sys.argv[2]
    per_service = {}
    for path in sys.argv[3:]:
        name = os.path.basename(path).replace(".", "_")
        try:
            packets = read_capture(path)
        except (OSError, struct.error):
            continue
        if not packets or packets[0][0] not in LINK:
            continue
        dlt = packets[0][0]
        link, raw, prev = [], [], None
        flows = {}
        for pdlt, ts, frame in packets:
            if pdlt != dlt:
                continue
            ms = 0 if prev is None else max(0, min((ts - prev) // 1000, 239))
            prev = ts
            link.append(frame_bytes(ms, frame))
            ip = ip_of(dlt, frame)
            if ip is None:
                continue
            raw.append(frame_bytes(ms, ip))
            l4 = l4_of(ip)
            if l4 is None:
                continue
            v6, proto, src, dst, sport, dport, payload = l4
            for server_port, from_server in ((dport, False), (sport, True)):
                service = SERVICES.get((proto, server_port))
                if service is None:
                    continue
                client = (src, sport) if not from_server else (dst, dport)
                key = (service, v6, client)
                if payload:
                    flows.setdefault(key, []).append(frame_bytes(int(from_server), payload))
                break
        write(os.path.join(pipeline_dir, "link-" + name), LINK[dlt], link)
        if raw:
            write(os.path.join(pipeline_dir, "ip-" + name), 0x80, raw)
        taken = {}
        for (service, v6, _), frames in flows.items():
            n = per_service.get(service, 0)
            if n >= MAX_METADATA_PER_SERVICE or taken.get(service, 0) >= 2:
                continue
            per_service[service] = n + 1
            taken[service] = taken.get(service, 0) + 1
            write(os.path.join(metadata_dir, "svc%d-%s-%d" % (service, name, n)),
                  service | (8 if v6 else 0), frames)


if __name__ == "__main__":
    main()
