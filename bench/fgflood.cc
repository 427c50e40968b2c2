// fgflood: bounded raw packet generator for flowgate's flood, overload and
// malformed-traffic namespace tests (netns-tests/{flood,overload,malformed}_test.sh).
//
// It writes whole Ethernet frames on one interface with an AF_PACKET socket
// (sendmmsg batches), so every header byte is under its control (the raw IP
// socket would fix up total length and IP checksum). Run it inside the lab's
// client namespace on c0, towards the gateway's g0 MAC address:
//
//   fgflood syn  --iface c0 --dst-mac MAC --dst IP --port P [--count N] [--rate PPS]
//                [--seconds S] [--src-net 10.71.1.0/24] [--offset K] [--flows F]
//   fgflood udp  (same options, plus --size BYTES of payload)
//   fgflood malformed --iface c0 --dst-mac MAC --dst IP --dst6 IP6 --src IP --src6 IP6
//                [--port P] [--reps N] [--seed S] [--only CASE,CASE]
//
// syn/udp: packet i belongs to flow (i + offset) % flows; flow j has source
// address host(j % hosts) of --src-net (skipping .0, .1 = the gateway, .2 = the
// client and the broadcast address) and source port 1024 + (j / hosts) % 64512,
// so up to hosts * 64512 flows are distinct. Stops at --count packets or after
// --seconds, whichever comes first; --rate 0 = as fast as the stack takes them.
// Prints one JSON line: {"mode":..,"sent":..,"seconds":..,"pps":..,"flows":..}.
//
// malformed: a fixed battery of hostile packets (see battery() below). Every
// case is sent --reps times (distinct ports / ids). One line per case:
//   case NAME sent=K expect=WHAT
// where WHAT is `decode_error:REASON` (reaches flowgate's queue and cannot be
// decoded), `flow` (reaches flowgate, decodes, becomes or feeds a flow),
// `kernel_drop` (the gateway's IP layer or defragmenter discards it before
// netfilter's queue rule). The expectations are what kernel 6.18 does.
// Then `total sent=N expected_decode_errors=M`.
//
// Every count, rate and duration is bounded (count <= 20 M, seconds <= 300,
// reps <= 100). Only for the lab: the destination must be in 10.0.0.0/8 or
// fd00::/8, enforced below.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "fgflood: %s\n", msg.c_str());
  std::exit(2);
}

double nowS() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ---- checksums -------------------------------------------------------------

uint32_t sumBytes(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) s += static_cast<uint32_t>(p[n - 1] << 8);
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s & 0xffff);
}
void put16(uint8_t* p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
void put32(uint8_t* p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

// ---- packet builders -------------------------------------------------------

struct Addr4 { uint8_t b[4]; };
struct Addr6 { uint8_t b[16]; };

Addr4 parse4(const std::string& s) {
  Addr4 a{};
  if (inet_pton(AF_INET, s.c_str(), a.b) != 1) die("bad IPv4 address " + s);
  return a;
}
Addr6 parse6(const std::string& s) {
  Addr6 a{};
  if (inet_pton(AF_INET6, s.c_str(), a.b) != 1) die("bad IPv6 address " + s);
  return a;
}

// IPv4 header (20 bytes, valid checksum) + payload. Fields can be broken after.
Bytes ipv4(Addr4 src, Addr4 dst, uint8_t proto, const Bytes& l4, uint16_t id, uint16_t frag = 0) {
  Bytes p(20 + l4.size());
  p[0] = 0x45;
  put16(&p[2], static_cast<uint16_t>(p.size()));
  put16(&p[4], id);
  put16(&p[6], frag);
  p[8] = 64;
  p[9] = proto;
  std::memcpy(&p[12], src.b, 4);
  std::memcpy(&p[16], dst.b, 4);
  put16(&p[10], fold(sumBytes(p.data(), 20)));
  std::memcpy(&p[20], l4.data(), l4.size());
  return p;
}
void ipv4Recheck(Bytes& p) {
  const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  p[10] = p[11] = 0;
  put16(&p[10], fold(sumBytes(p.data(), ihl < 20 ? 20 : ihl)));
}

uint32_t pseudo4(Addr4 s, Addr4 d, uint8_t proto, size_t len) {
  uint32_t x = sumBytes(s.b, 4) + sumBytes(d.b, 4);
  return x + proto + static_cast<uint32_t>(len);
}
uint32_t pseudo6(const Addr6& s, const Addr6& d, uint8_t proto, size_t len) {
  uint32_t x = sumBytes(s.b, 16) + sumBytes(d.b, 16);
  return x + proto + static_cast<uint32_t>(len);
}

// TCP header (doff 5) + payload, checksum over the pseudo header `ph`.
Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
          const Bytes& payload) {
  Bytes t(20 + payload.size());
  put16(&t[0], sport);
  put16(&t[2], dport);
  put32(&t[4], seq);
  put32(&t[8], ack);
  t[12] = 0x50;
  t[13] = flags;
  put16(&t[14], 64240);
  std::memcpy(&t[20], payload.data(), payload.size());
  return t;
}
void l4Check(Bytes& l4, size_t check_off, uint32_t pseudo) {
  l4[check_off] = l4[check_off + 1] = 0;
  uint16_t c = fold(sumBytes(l4.data(), l4.size(), pseudo));
  if (c == 0 && check_off == 6) c = 0xffff;  // UDP: 0 means "no checksum"
  put16(&l4[check_off], c);
}
Bytes tcp4(Addr4 s, Addr4 d, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
           uint8_t flags, const Bytes& payload) {
  Bytes t = tcp(sport, dport, seq, ack, flags, payload);
  l4Check(t, 16, pseudo4(s, d, 6, t.size()));
  return t;
}
Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes u(8 + payload.size());
  put16(&u[0], sport);
  put16(&u[2], dport);
  put16(&u[4], static_cast<uint16_t>(u.size()));
  std::memcpy(&u[8], payload.data(), payload.size());
  return u;
}
Bytes udp4(Addr4 s, Addr4 d, uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes u = udp(sport, dport, payload);
  l4Check(u, 6, pseudo4(s, d, 17, u.size()));
  return u;
}

// IPv6 header + `chain` (already-built extension headers, first next-header
// `first`) + l4.
Bytes ipv6(const Addr6& src, const Addr6& dst, uint8_t first, const Bytes& rest) {
  Bytes p(40 + rest.size());
  p[0] = 0x60;
  put16(&p[4], static_cast<uint16_t>(rest.size()));
  p[6] = first;
  p[7] = 64;
  std::memcpy(&p[8], src.b, 16);
  std::memcpy(&p[24], dst.b, 16);
  std::memcpy(&p[40], rest.data(), rest.size());
  return p;
}

// ---- the socket ------------------------------------------------------------

class Link {
 public:
  Link(const std::string& iface, const std::string& dst_mac) {
    fd_ = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, receive nothing
    if (fd_ < 0) die(std::string("socket(AF_PACKET): ") + std::strerror(errno));
    ifindex_ = static_cast<int>(if_nametoindex(iface.c_str()));
    if (ifindex_ == 0) die("no interface " + iface);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", iface.c_str());
    if (ioctl(fd_, SIOCGIFHWADDR, &ifr) < 0) die("SIOCGIFHWADDR failed");
    std::memcpy(src_mac_, ifr.ifr_hwaddr.sa_data, 6);
    unsigned m[6];
    if (std::sscanf(dst_mac.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
      die("bad --dst-mac " + dst_mac);
    for (int i = 0; i < 6; ++i) dst_mac_[i] = static_cast<uint8_t>(m[i]);
    int one = 1;
    setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);  // best effort
    int sndbuf = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  ~Link() { close(fd_); }

  // Frame an IP packet (ethertype from its version nibble).
  Bytes frame(const Bytes& ip) const {
    Bytes f(14 + ip.size());
    std::memcpy(&f[0], dst_mac_, 6);
    std::memcpy(&f[6], src_mac_, 6);
    const bool v6 = !ip.empty() && (ip[0] >> 4) == 6;
    put16(&f[12], v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IP);
    std::memcpy(&f[14], ip.data(), ip.size());
    return f;
  }

  // Sends frames[0..n) with sendmmsg; retries on ENOBUFS/EAGAIN (bounded).
  // Returns how many were sent.
  size_t send(std::vector<Bytes>& frames) {
    std::vector<iovec> iov(frames.size());
    std::vector<mmsghdr> msgs(frames.size());
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, dst_mac_, 6);
    for (size_t i = 0; i < frames.size(); ++i) {
      iov[i] = {frames[i].data(), frames[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &to;
      msgs[i].msg_hdr.msg_namelen = sizeof to;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    size_t done = 0;
    int stalls = 0;
    while (done < frames.size()) {
      int r = sendmmsg(fd_, msgs.data() + done, static_cast<unsigned>(frames.size() - done), 0);
      if (r > 0) { done += static_cast<size_t>(r); stalls = 0; continue; }
      if (r < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) && ++stalls < 1000) {
        ++retries_;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        continue;
      }
      if (r < 0) {
        ++errors_;
        ++done;  // skip the frame the kernel refused
        continue;
      }
      break;
    }
    return done;
  }
  uint64_t retries() const { return retries_; }
  uint64_t errors() const { return errors_; }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  uint8_t src_mac_[6]{};
  uint8_t dst_mac_[6]{};
  uint64_t retries_ = 0, errors_ = 0;
};

// ---- options ---------------------------------------------------------------

struct Opts {
  std::map<std::string, std::string> kv;
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  std::string need(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end()) die("missing --" + k);
    return it->second;
  }
  uint64_t num(const std::string& k, uint64_t def, uint64_t max) const {
    auto it = kv.find(k);
    if (it == kv.end()) return def;
    char* end = nullptr;
    unsigned long long v = std::strtoull(it->second.c_str(), &end, 0);
    if (!end || *end) die("bad number for --" + k);
    if (v > max) die("--" + k + " above its bound " + std::to_string(max));
    return v;
  }
};

void labOnly4(Addr4 a) {
  if (a.b[0] != 10) die("destination outside the lab (10.0.0.0/8 only)");
}
void labOnly6(const Addr6& a) {
  if (a.b[0] != 0xfd) die("IPv6 destination outside the lab (fd00::/8 only)");
}

// ---- syn / udp floods ------------------------------------------------------

int flood(bool syn, const Opts& o) {
  Link link(o.need("iface"), o.need("dst-mac"));
  const Addr4 dst = parse4(o.need("dst"));
  labOnly4(dst);
  const uint16_t port = static_cast<uint16_t>(o.num("port", syn ? 9999 : 9998, 65535));
  const uint64_t count = o.num("count", 1000000, 20000000);
  const uint64_t rate = o.num("rate", 0, 10000000);
  const double seconds = static_cast<double>(o.num("seconds", 60, 300));
  const uint64_t offset = o.num("offset", 0, 1ull << 40);
  const size_t size = o.num("size", 64, 1400);
  const std::string net = o.get("src-net", "10.71.1.0/24");
  const auto slash = net.find('/');
  const Addr4 base = parse4(net.substr(0, slash));
  const int plen = slash == std::string::npos ? 24 : std::atoi(net.c_str() + slash + 1);
  if (plen < 16 || plen > 30) die("--src-net prefix must be /16../30");
  const uint32_t b = static_cast<uint32_t>(base.b[0]) << 24 | base.b[1] << 16 | base.b[2] << 8 | base.b[3];
  std::vector<uint32_t> hosts;
  const uint32_t n = 1u << (32 - plen);
  for (uint32_t h = 3; h + 1 < n; ++h) hosts.push_back((b & ~(n - 1)) + h);  // skip .0-.2, bcast
  const uint64_t max_flows = static_cast<uint64_t>(hosts.size()) * 64512;
  const uint64_t flows = o.num("flows", max_flows, max_flows);
  if (flows == 0) die("--flows must be > 0");

  const size_t batch = 64;
  std::vector<Bytes> frames(batch);
  const Bytes payload(syn ? 0 : size, 0x5a);
  const double t0 = nowS();
  uint64_t sent = 0;
  while (sent < count) {
    const double el = nowS() - t0;
    if (el >= seconds) break;
    if (rate) {  // pace: packet i leaves at t0 + i / rate
      const double due = static_cast<double>(sent) / static_cast<double>(rate);
      if (due > el) {
        std::this_thread::sleep_for(std::chrono::duration<double>(std::min(due - el, 0.01)));
        continue;
      }
    }
    const size_t k = static_cast<size_t>(std::min<uint64_t>(batch, count - sent));
    frames.resize(k);
    for (size_t i = 0; i < k; ++i) {
      const uint64_t j = (sent + i + offset) % flows;
      const uint32_t h = hosts[j % hosts.size()];
      Addr4 src{{static_cast<uint8_t>(h >> 24), static_cast<uint8_t>(h >> 16), static_cast<uint8_t>(h >> 8),
                 static_cast<uint8_t>(h)}};
      const uint16_t sport = static_cast<uint16_t>(1024 + (j / hosts.size()) % 64512);
      Bytes l4 = syn ? tcp4(src, dst, sport, port, static_cast<uint32_t>(j * 2654435761u), 0, 0x02, payload)
                     : udp4(src, dst, sport, port, payload);
      frames[i] = link.frame(ipv4(src, dst, syn ? 6 : 17, l4, static_cast<uint16_t>(j)));
    }
    sent += link.send(frames);
  }
  const double el = nowS() - t0;
  std::printf("{\"mode\":\"%s\",\"sent\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"flows\":%llu,"
              "\"retries\":%llu,\"errors\":%llu}\n",
              syn ? "syn" : "udp", static_cast<unsigned long long>(sent), el,
              el > 0 ? static_cast<double>(sent) / el : 0.0,
              static_cast<unsigned long long>(std::min<uint64_t>(sent, flows)),
              static_cast<unsigned long long>(link.retries()),
              static_cast<unsigned long long>(link.errors()));
  return 0;
}

// ---- the malformed battery -------------------------------------------------

struct Case {
  std::string name;
  std::string expect;
  std::vector<Bytes> packets;  // IP packets, sent in order
  int decode_errors = -1;      // undecodable packets flowgate sees; -1 = all (decode_error cases)
};

// Garbage TLS records (each the payload of one data segment).
std::vector<Bytes> tlsGarbage() {
  std::vector<Bytes> out;
  // Handshake record with an absurd length (65535) and 8 bytes of it.
  out.push_back({0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00, 0x00});
  // Record length fine, handshake message claims 16 MB (truncated handshake).
  out.push_back({0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0xff, 0xff, 0xff, 0x03, 0x03, 0xaa, 0xbb});
  // A ClientHello whose extension block length runs past the record, with an
  // SNI extension whose name length overflows and an ALPN with a zero-length
  // protocol and a list length beyond the extension.
  {
    Bytes ch;
    ch.insert(ch.end(), {0x03, 0x03});         // client_version
    ch.insert(ch.end(), 32, 0x11);             // random
    ch.push_back(32);                          // session id length
    ch.insert(ch.end(), 32, 0x22);
    ch.insert(ch.end(), {0x00, 0x04, 0x13, 0x01, 0x00, 0x2f});  // ciphers
    ch.insert(ch.end(), {0x01, 0x00});         // compression: null
    ch.insert(ch.end(), {0x7f, 0xf0});         // extensions length: 32752 (a lie)
    // server_name: ext len 0x0100, list len 0xfff0, type 0, name len 0xffff
    ch.insert(ch.end(), {0x00, 0x00, 0x01, 0x00, 0xff, 0xf0, 0x00, 0xff, 0xff, 'e', 'v', 'i', 'l'});
    // ALPN: ext len 6, list len 0x4000, proto len 0, then 0xff
    ch.insert(ch.end(), {0x00, 0x10, 0x00, 0x06, 0x40, 0x00, 0x00, 0xff, 'h', '2'});
    // supported_versions with odd length
    ch.insert(ch.end(), {0x00, 0x2b, 0x00, 0x03, 0x07, 0x03, 0x04});
    Bytes rec = {0x16, 0x03, 0x01, 0, 0, 0x01, 0, 0, 0};
    const size_t hs = ch.size();
    put16(&rec[3], static_cast<uint16_t>(hs + 4));
    rec[6] = static_cast<uint8_t>(hs >> 16);
    put16(&rec[7], static_cast<uint16_t>(hs & 0xffff));
    rec.insert(rec.end(), ch.begin(), ch.end());
    out.push_back(rec);
  }
  // A ClientHello with a session id length of 255 in a short message.
  out.push_back({0x16, 0x03, 0x01, 0x00, 0x2a, 0x01, 0x00, 0x00, 0x26, 0x03, 0x03, 0x00, 0x00, 0x00, 0x00,
                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff});
  // Unknown content types, a zero-length record, an SSLv2-looking header,
  // alert and change-cipher-spec with lengths beyond the segment.
  out.push_back({0x63, 0x03, 0x03, 0x00, 0x00, 0x15, 0x03, 0x03, 0x40, 0x00, 0x02});
  out.push_back({0x80, 0xff, 0x01, 0x03, 0x01, 0xff, 0xff, 0x00, 0x00});
  out.push_back({0x14, 0x03, 0x03, 0xff, 0x00, 0x01, 0x17, 0x03, 0x03, 0xff, 0xff});
  return out;
}

std::vector<Bytes> quicGarbage() {
  std::vector<Bytes> out;
  Bytes a(1200, 0x00);  // Initial, v1, DCID length 255 (> 20)
  a[0] = 0xc3; put32(&a[1], 1); a[5] = 0xff;
  out.push_back(a);
  Bytes b(1200, 0x41);  // Initial, DCID 8, SCID 8, token length varint 2^62-1, length beyond
  b[0] = 0xc0; put32(&b[1], 1); b[5] = 8; b[14] = 8;
  b[23] = 0xff; b[24] = 0xff; b[25] = 0xff; b[26] = 0xff; b[27] = 0xff; b[28] = 0xff; b[29] = 0xff; b[30] = 0xff;
  out.push_back(b);
  Bytes c(1200, 0x00);  // well-formed header, random "encrypted" payload, length 16383
  c[0] = 0xc0; put32(&c[1], 1); c[5] = 8; c[14] = 0; c[15] = 0; c[16] = 0x7f; c[17] = 0xff;
  for (size_t i = 18; i < c.size(); ++i) c[i] = static_cast<uint8_t>(i * 131 + 7);
  out.push_back(c);
  out.push_back({0xc0});                                  // 1 byte
  out.push_back({0xc0, 0xff, 0x00, 0x00, 0x1d, 0x14});    // draft version, truncated DCID
  out.push_back({0x80, 0x00, 0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0x04, 5, 6, 7, 8, 0xba, 0xba});  // version negotiation
  Bytes d(40, 0x40);  // short header
  out.push_back(d);
  return out;
}

std::vector<Bytes> dnsGarbage() {
  std::vector<Bytes> out;
  // Query whose name is a compression pointer to itself (offset 12).
  out.push_back({0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01});
  // Two pointers pointing at each other.
  out.push_back({0x12, 0x35, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0e, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01});
  // Response: question fine, answer name is a loop, rdlength beyond the packet.
  out.push_back({0x12, 0x36, 0x81, 0x80, 0x00, 0x01, 0x00, 0x05, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0x00, 0x01,
                 0x00, 0x01, 0xc0, 0x15, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0xff, 0xff, 1, 2});
  // qdcount 65535 and no questions; label length 63 running past the end.
  out.push_back({0x12, 0x37, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  out.push_back({0x12, 0x38, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 'a', 'b'});
  // Reserved label type bits (0x40, 0x80) and a pointer past the end.
  out.push_back({0x12, 0x39, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0x41, 'x', 0x80, 0, 0x00, 0x01,
                 0x00, 0x01, 0xc3, 0xff, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04});
  // 2 bytes only.
  out.push_back({0x12, 0x3a});
  return out;
}

std::vector<Case> battery(const Opts& o, uint32_t seed, int rep) {
  const Addr4 src = parse4(o.need("src")), dst = parse4(o.need("dst"));
  const Addr6 src6 = parse6(o.need("src6")), dst6 = parse6(o.need("dst6"));
  labOnly4(dst);
  labOnly6(dst6);
  const uint16_t port = static_cast<uint16_t>(o.num("port", 443, 65535));
  // Source ports: distinct per case and repetition.
  uint16_t next_port = static_cast<uint16_t>(20000 + (seed % 2000) * 16 + rep * 200);
  auto sp = [&] { return next_port++; };
  uint16_t next_id = static_cast<uint16_t>(seed * 7 + rep * 1000);
  auto id = [&] { return next_id++; };
  const Bytes hello(40, 0x42);
  std::vector<Case> cs;

  // -- broken IPv4 headers: the gateway's ip_rcv discards them (never queued).
  {
    Bytes p = ipv4(src, dst, 6, tcp4(src, dst, sp(), port, 1, 0, 0x02, {}), id());
    put16(&p[2], 200);  // total length beyond the frame
    ipv4Recheck(p);
    cs.push_back({"ipv4_total_length_beyond_packet", "kernel_drop", {p}});
  }
  {
    Bytes p = ipv4(src, dst, 6, tcp4(src, dst, sp(), port, 1, 0, 0x02, {}), id());
    p[0] = 0x44;  // IHL 4 (16 bytes)
    ipv4Recheck(p);
    cs.push_back({"ipv4_ihl_below_5", "kernel_drop", {p}});
  }
  {
    Bytes p = ipv4(src, dst, 6, tcp4(src, dst, sp(), port, 1, 0, 0x02, {}), id());
    p[0] = 0x4f;  // IHL 15 (60 bytes) in a 40-byte packet
    ipv4Recheck(p);
    cs.push_back({"ipv4_ihl_beyond_packet", "kernel_drop", {p}});
  }
  {
    Bytes p = ipv4(src, dst, 6, tcp4(src, dst, sp(), port, 1, 0, 0x02, {}), id());
    p[10] ^= 0x5a;  // bad header checksum
    cs.push_back({"ipv4_bad_header_checksum", "kernel_drop", {p}});
  }
  {
    Bytes p = ipv4(src, dst, 6, tcp4(src, dst, sp(), port, 1, 0, 0x02, {}), id());
    p[0] = 0x65;  // version 6 in an IPv4 frame
    cs.push_back({"ipv4_wrong_version", "kernel_drop", {p}});
  }

  // -- broken L4 headers behind a valid IP header: conntrack calls them
  // invalid (no ct entry, no ct mark), so the queue rule sends them to
  // flowgate, whose decoder must refuse them.
  {
    Bytes t = tcp4(src, dst, sp(), port, 1, 0, 0x02, {});
    t[12] = 0x40;  // data offset 4
    l4Check(t, 16, pseudo4(src, dst, 6, t.size()));
    cs.push_back({"tcp_data_offset_below_5", "decode_error:bad_l4_header", {ipv4(src, dst, 6, t, id())}});
  }
  {
    Bytes t = tcp4(src, dst, sp(), port, 1, 0, 0x18, {'x', 'y'});
    t[12] = 0x00;  // data offset 0
    l4Check(t, 16, pseudo4(src, dst, 6, t.size()));
    cs.push_back({"tcp_data_offset_zero", "decode_error:bad_l4_header", {ipv4(src, dst, 6, t, id())}});
  }
  {
    Bytes t = tcp4(src, dst, sp(), port, 1, 0, 0x02, {});
    t[12] = 0xf0;  // data offset 15 (60 bytes) in a 20-byte header
    l4Check(t, 16, pseudo4(src, dst, 6, t.size()));
    cs.push_back({"tcp_data_offset_beyond_packet", "decode_error:truncated_l4", {ipv4(src, dst, 6, t, id())}});
  }
  {
    Bytes t = tcp4(src, dst, sp(), port, 1, 0, 0x02, {});
    t.resize(12);  // TCP header cut at 12 bytes
    cs.push_back({"tcp_header_truncated", "decode_error:truncated_l4", {ipv4(src, dst, 6, t, id())}});
  }
  {
    Bytes u = udp4(src, dst, sp(), 53, {});
    u.resize(5);
    cs.push_back({"udp_header_truncated", "decode_error:truncated_l4", {ipv4(src, dst, 17, u, id())}});
  }
  // -- inside IP-in-IP the kernel forwards without looking: flowgate's
  // decoder sees broken inner IP headers and too-deep nesting. IP-in-IP has
  // no ports, so conntrack keeps one entry per address pair (600 s): each
  // packet gets an outer source address of its own in 10.71.1.100-249
  // (derived from --seed and the repetition), or a later one would belong to
  // an entry that is already decided (the server's ICMP protocol-unreachable
  // answer is RELATED to it) and take the fast path.
  uint32_t ipip_k = 0;
  auto outer = [&] {
    Addr4 a = src;
    a.b[3] = static_cast<uint8_t>(100 + ((seed * 2u + static_cast<uint32_t>(rep)) * 3u + ipip_k++) % 150u);
    return a;
  };
  {
    Bytes inner(12, 0x45);
    const Addr4 o4 = outer();
    cs.push_back({"ipip_inner_truncated", "decode_error:truncated_ip", {ipv4(o4, dst, 4, inner, id())}});
  }
  {
    Bytes inner = ipv4(src, dst, 6, tcp4(src, dst, sp(), port, 1, 0, 0x02, {}), 1);
    inner[0] = 0x43;  // inner IHL 3
    const Addr4 o4 = outer();
    cs.push_back({"ipip_inner_ihl_below_5", "decode_error:bad_ip_header", {ipv4(o4, dst, 4, inner, id())}});
  }
  {
    Bytes p = ipv4(src, dst, 6, tcp4(src, dst, sp(), port, 1, 0, 0x02, {}), 1);
    for (int i = 0; i < 6; ++i) p = ipv4(src, dst, 4, p, static_cast<uint16_t>(i));
    p = ipv4(outer(), dst, 4, p, id());
    cs.push_back({"ipip_nested_7_deep", "decode_error:tunnel_too_deep", {p}});
  }
  // -- IPv6 extension header chains.
  {
    const uint16_t s = sp();
    Bytes t = tcp(s, port, 1, 0, 0x02, {});
    Bytes chain;
    for (int i = 0; i < 20; ++i) {  // 20 destination-options headers (8 bytes, PadN)
      chain.insert(chain.end(), {static_cast<uint8_t>(i == 19 ? 6 : 60), 0x00, 0x01, 0x04, 0, 0, 0, 0});
    }
    l4Check(t, 16, pseudo6(src6, dst6, 6, t.size()));
    chain.insert(chain.end(), t.begin(), t.end());
    cs.push_back({"ipv6_20_extension_headers", "decode_error:bad_ipv6_extension", {ipv6(src6, dst6, 60, chain)}});
  }
  {
    Bytes chain = {6, 0xff, 0x01, 0x04, 0, 0, 0, 0};  // dest opts claiming 2048 bytes
    chain.insert(chain.end(), 24, 0);
    cs.push_back({"ipv6_extension_past_end", "decode_error:bad_ipv6_extension", {ipv6(src6, dst6, 60, chain)}});
  }
  {
    const uint16_t s = sp();
    Bytes t = tcp(s, port, 1, 0, 0x02, {});
    l4Check(t, 16, pseudo6(src6, dst6, 6, t.size()));
    Bytes chain;
    for (int i = 0; i < 3; ++i) chain.insert(chain.end(), {static_cast<uint8_t>(i == 2 ? 6 : 60), 0x00, 0x01, 0x04, 0, 0, 0, 0});
    chain.insert(chain.end(), t.begin(), t.end());
    cs.push_back({"ipv6_3_extension_headers", "flow", {ipv6(src6, dst6, 60, chain)}});
  }

  // -- fragments: the gateway's conntrack defragments before the queue rule.
  {
    // SYN + 40 bytes in 8-byte fragments: the first one splits the TCP header.
    Bytes l4 = tcp4(src, dst, sp(), port, 7, 0, 0x02, hello);
    const uint16_t fid = id();
    Case c{"ipv4_tiny_fragments", "flow", {}};
    for (size_t off = 0; off < l4.size(); off += 8) {
      const size_t n = std::min<size_t>(8, l4.size() - off);
      const bool more = off + n < l4.size();
      Bytes part(l4.begin() + static_cast<long>(off), l4.begin() + static_cast<long>(off + n));
      c.packets.push_back(ipv4(src, dst, 6, part, fid, static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8))));
    }
    cs.push_back(c);
  }
  {
    // Overlapping fragments: the second rewrites the ports of the first.
    Bytes l4 = tcp4(src, dst, sp(), port, 7, 0, 0x02, hello);
    const uint16_t fid = id();
    Bytes p1(l4.begin(), l4.begin() + 16), p2(l4.begin() + 8, l4.end());
    p2[0] = 0xde; p2[1] = 0xad;
    cs.push_back({"ipv4_overlapping_fragments", "kernel_drop",
                  {ipv4(src, dst, 6, p1, fid, 0x2000), ipv4(src, dst, 6, p2, fid, 1)}});
  }
  {
    // 32 first fragments that are never completed (the defragmenter's timeout).
    Case c{"ipv4_incomplete_fragments", "kernel_drop", {}};
    for (int i = 0; i < 32; ++i) {
      Bytes l4 = tcp4(src, dst, sp(), port, 7, 0, 0x02, hello);
      l4.resize(8);
      c.packets.push_back(ipv4(src, dst, 6, l4, id(), 0x2000));
    }
    cs.push_back(c);
  }
  {
    // IPv6: first fragment without the whole TCP header (RFC 7112 says
    // drop). Kernel 6.18's nf_defrag_ipv6 does not hold it: the first
    // fragment goes through the queue rule on its own (flowgate: a first
    // fragment with 8 bytes of TCP header, truncated_l4), the other seven
    // wait in the defragmenter and time out.
    const uint16_t s = sp();
    Bytes t = tcp(s, port, 1, 0, 0x02, hello);
    l4Check(t, 16, pseudo6(src6, dst6, 6, t.size()));
    const uint32_t fid = 0x10000u + seed + static_cast<uint32_t>(rep);
    Case c{"ipv6_first_fragment_without_l4", "decode_error:truncated_l4", {}, 1};
    for (size_t off = 0; off < t.size(); off += 8) {
      const size_t n = std::min<size_t>(8, t.size() - off);
      Bytes fh = {6, 0, 0, 0, 0, 0, 0, 0};
      put16(&fh[2], static_cast<uint16_t>(off | (off + n < t.size() ? 1 : 0)));
      put32(&fh[4], fid);
      fh.insert(fh.end(), t.begin() + static_cast<long>(off), t.begin() + static_cast<long>(off + n));
      c.packets.push_back(ipv6(src6, dst6, 44, fh));
    }
    cs.push_back(c);
  }

  // -- valid headers, hostile content: flowgate decodes them (flows), nDPI
  // must survive what they carry.
  {
    Bytes t = tcp4(src, dst, sp(), port, 1, 0, 0x02, {});
    t[16] ^= 0x33;  // bad TCP checksum (conntrack: invalid)
    cs.push_back({"tcp_bad_checksum", "flow", {ipv4(src, dst, 6, t, id())}});
  }
  {
    Case c{"tls_garbage_records", "flow", {}};
    for (const Bytes& rec : tlsGarbage()) {
      // Its own flow per record: a SYN carrying the record, then the same
      // record again as a data segment (no handshake ever happened).
      const uint16_t s = sp();
      const uint32_t isn = 1000u * s;
      c.packets.push_back(ipv4(src, dst, 6, tcp4(src, dst, s, port, isn, 0, 0x02, rec), id()));
      c.packets.push_back(ipv4(src, dst, 6, tcp4(src, dst, s, port, isn + 1, 1, 0x18, rec), id()));
      c.packets.push_back(ipv4(src, dst, 6, tcp4(src, dst, s, port, isn + 1 + static_cast<uint32_t>(rec.size()), 1, 0x18, rec), id()));
    }
    cs.push_back(c);
  }
  {
    Case c{"quic_garbage", "flow", {}};
    for (const Bytes& q : quicGarbage()) c.packets.push_back(ipv4(src, dst, 17, udp4(src, dst, sp(), 443, q), id()));
    cs.push_back(c);
  }
  {
    Case c{"dns_garbage", "flow", {}};
    for (const Bytes& q : dnsGarbage()) c.packets.push_back(ipv4(src, dst, 17, udp4(src, dst, sp(), 53, q), id()));
    cs.push_back(c);
  }
  return cs;
}

int malformed(const Opts& o) {
  Link link(o.need("iface"), o.need("dst-mac"));
  const int reps = static_cast<int>(o.num("reps", 1, 100));
  const uint32_t seed = static_cast<uint32_t>(o.num("seed", static_cast<uint64_t>(getpid()), 0xffffffffu));
  const std::string only = o.get("only");  // comma-separated case names; empty = all
  std::map<std::string, std::pair<uint64_t, std::string>> per_case;
  std::vector<std::string> order;
  uint64_t total = 0, expected = 0;
  for (int r = 0; r < reps; ++r) {
    for (Case& c : battery(o, seed, r)) {
      if (!only.empty() && ("," + only + ",").find("," + c.name + ",") == std::string::npos) continue;
      std::vector<Bytes> frames;
      for (const Bytes& p : c.packets) frames.push_back(link.frame(p));
      const size_t n = link.send(frames);
      if (!per_case.count(c.name)) order.push_back(c.name);
      per_case[c.name].first += n;
      per_case[c.name].second = c.expect;
      total += n;
      if (c.expect.rfind("decode_error:", 0) == 0)
        expected += c.decode_errors >= 0 ? static_cast<uint64_t>(c.decode_errors) : n;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  for (const auto& name : order)
    std::printf("case %s sent=%llu expect=%s\n", name.c_str(),
                static_cast<unsigned long long>(per_case[name].first), per_case[name].second.c_str());
  std::printf("total sent=%llu expected_decode_errors=%llu errors=%llu\n", static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(expected), static_cast<unsigned long long>(link.errors()));
  return link.errors() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fgflood syn|udp|malformed --iface IF --dst-mac MAC --dst IP [options]\n");
    return 2;
  }
  const std::string mode = argv[1];
  Opts o;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) die("bad argument " + a);
    o.kv[a.substr(2)] = argv[++i];
  }
  if (mode == "syn") return flood(true, o);
  if (mode == "udp") return flood(false, o);
  if (mode == "malformed") return malformed(o);
  die("unknown mode " + mode);
}
