// QUIC Initial dissection (RFC 9000, RFC 9001 section 5, RFC 9369 for
// QUIC version 2): removes the Initial packet protection with the keys every
// observer can derive from the client's Destination Connection ID and the
// version's salt, collects the CRYPTO frames (split over packets, in any
// order) and reads the server name from the TLS ClientHello they carry.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstring>
#include <vector>

#include "gateway/dissect/dissect.h"

namespace fg::dissect {

namespace {

constexpr size_t kMaxCrypto = 16384;  // a ClientHello larger than this is not read
constexpr size_t kMaxCid = 20;

struct VersionParams {
  const uint8_t* salt;  // 20 bytes
  const char* key_label;
  const char* iv_label;
  const char* hp_label;
  uint8_t initial_type;  // long-header packet type of Initial packets
};

constexpr uint8_t kSaltV1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
constexpr uint8_t kSaltV2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
// draft-ietf-quic-tls-29 .. -32
constexpr uint8_t kSaltDraft29[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
                                      0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};
// draft-ietf-quic-tls-23 .. -28
constexpr uint8_t kSaltDraft23[20] = {0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7,
                                      0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02};

const VersionParams* paramsOf(uint32_t version) {
  static const VersionParams v1{kSaltV1, "quic key", "quic iv", "quic hp", 0};
  static const VersionParams v2{kSaltV2, "quicv2 key", "quicv2 iv", "quicv2 hp", 1};
  static const VersionParams d29{kSaltDraft29, "quic key", "quic iv", "quic hp", 0};
  static const VersionParams d23{kSaltDraft23, "quic key", "quic iv", "quic hp", 0};
  if (version == 0x00000001) return &v1;
  if (version == 0x6b3343cf) return &v2;
  if (version >= 0xff00001d && version <= 0xff000020) return &d29;
  if (version >= 0xff000017 && version <= 0xff00001c) return &d23;
  return nullptr;
}

// RFC 9000 section 16: variable-length integer; false when truncated.
bool readVarint(std::span<const uint8_t> s, size_t& pos, uint64_t& v) {
  if (pos >= s.size()) return false;
  const size_t len = size_t{1} << (s[pos] >> 6);
  if (pos + len > s.size()) return false;
  v = s[pos] & 0x3f;
  for (size_t i = 1; i < len; ++i) v = v << 8 | s[pos + i];
  pos += len;
  return true;
}

bool hmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data, uint8_t out[32]) {
  unsigned int len = 32;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out,
              &len) != nullptr;
}

// RFC 8446 section 7.1 HKDF-Expand-Label with an empty context; out <= 32 bytes.
bool expandLabel(const uint8_t secret[32], const char* label, uint8_t* out, size_t out_len) {
  uint8_t info[64];
  const size_t label_len = std::strlen(label);
  size_t n = 0;
  info[n++] = 0;
  info[n++] = static_cast<uint8_t>(out_len);
  info[n++] = static_cast<uint8_t>(6 + label_len);
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label, label_len);
  n += label_len;
  info[n++] = 0;
  info[n++] = 0x01;  // HKDF-Expand's first block counter
  uint8_t block[32];
  if (!hmacSha256({secret, 32}, {info, n}, block)) return false;
  std::memcpy(out, block, out_len);
  return true;
}

struct Keys {
  uint8_t key[16], iv[12], hp[16];
};

bool deriveKeys(const VersionParams& v, std::span<const uint8_t> dcid, Keys& k) {
  uint8_t initial[32], client[32];
  if (!hmacSha256({v.salt, 20}, dcid, initial)) return false;
  if (!expandLabel(initial, "client in", client, 32)) return false;
  return expandLabel(client, v.key_label, k.key, 16) && expandLabel(client, v.iv_label, k.iv, 12) &&
         expandLabel(client, v.hp_label, k.hp, 16);
}

}  // namespace

struct QuicState {
  QuicState() : ctx(EVP_CIPHER_CTX_new()) {}
  ~QuicState() { EVP_CIPHER_CTX_free(ctx); }
  QuicState(const QuicState&) = delete;
  QuicState& operator=(const QuicState&) = delete;

  EVP_CIPHER_CTX* ctx;
  uint32_t version = 0;
  uint8_t dcid[kMaxCid] = {};
  uint8_t dcid_len = 0;
  bool have_keys = false;
  Keys keys{};
  std::vector<uint8_t> crypto;     // CRYPTO stream bytes, by offset
  std::vector<uint8_t> have;       // 1 where crypto[] holds a received byte
  std::vector<uint8_t> plaintext;  // scratch for one packet's payload
  uint8_t initials = 0;            // client Initial packets seen
};

void QuicStateDeleter::operator()(QuicState* s) const noexcept { delete s; }

namespace {

bool headerMask(QuicState& st, const uint8_t sample[16], uint8_t mask[16]) {
  int len = 0;
  return EVP_EncryptInit_ex(st.ctx, EVP_aes_128_ecb(), nullptr, st.keys.hp, nullptr) == 1 &&
         EVP_CIPHER_CTX_set_padding(st.ctx, 0) == 1 &&
         EVP_EncryptUpdate(st.ctx, mask, &len, sample, 16) == 1 && len == 16;
}

bool openPayload(QuicState& st, uint64_t pn, std::span<const uint8_t> aad,
                 std::span<const uint8_t> sealed) {
  if (sealed.size() < 16) return false;
  uint8_t nonce[12];
  std::memcpy(nonce, st.keys.iv, 12);
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(pn >> (8 * i));
  const size_t n = sealed.size() - 16;
  st.plaintext.resize(n);
  int len = 0, fin = 0;
  uint8_t tag[16];
  std::memcpy(tag, sealed.data() + n, 16);
  return EVP_DecryptInit_ex(st.ctx, EVP_aes_128_gcm(), nullptr, nullptr, nullptr) == 1 &&
         EVP_CIPHER_CTX_ctrl(st.ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) == 1 &&
         EVP_DecryptInit_ex(st.ctx, nullptr, nullptr, st.keys.key, nonce) == 1 &&
         EVP_DecryptUpdate(st.ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
         EVP_DecryptUpdate(st.ctx, st.plaintext.data(), &len, sealed.data(),
                           static_cast<int>(n)) == 1 &&
         EVP_CIPHER_CTX_ctrl(st.ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
         EVP_DecryptFinal_ex(st.ctx, st.plaintext.data() + len, &fin) == 1;
}

// Files the CRYPTO frames of one decrypted Initial payload.
void collectCrypto(QuicState& st) {
  std::span<const uint8_t> f(st.plaintext);
  size_t pos = 0;
  while (pos < f.size()) {
    uint64_t type = 0;
    if (!readVarint(f, pos, type)) return;
    if (type == 0x00 || type == 0x01) continue;  // PADDING, PING
    if (type == 0x02 || type == 0x03) {          // ACK: largest, delay, range count, first range, ranges
      uint64_t v[4];
      for (auto& x : v)
        if (!readVarint(f, pos, x)) return;
      for (uint64_t i = 0; i < v[2]; ++i) {
        uint64_t gap, range;
        if (!readVarint(f, pos, gap) || !readVarint(f, pos, range)) return;
      }
      if (type == 0x03)
        for (int i = 0; i < 3; ++i) {
          uint64_t ecn;
          if (!readVarint(f, pos, ecn)) return;
        }
      continue;
    }
    if (type != 0x06) return;  // nothing else belongs in a client Initial we read
    uint64_t off = 0, len = 0;
    if (!readVarint(f, pos, off) || !readVarint(f, pos, len) || len > f.size() - pos) return;
    if (off < kMaxCrypto) {
      const size_t end = static_cast<size_t>(std::min<uint64_t>(off + len, kMaxCrypto));
      if (st.crypto.size() < end) {
        st.crypto.resize(end);
        st.have.resize(end);
      }
      std::memcpy(st.crypto.data() + off, f.data() + pos, end - off);
      std::memset(st.have.data() + off, 1, end - off);
    }
    pos += static_cast<size_t>(len);
  }
}

enum class Hello : uint8_t { Incomplete, Bad, Done };

// The ClientHello at the start of the CRYPTO stream: its server name.
Hello readClientHello(const QuicState& st, std::string& sni) {
  size_t contiguous = 0;
  while (contiguous < st.have.size() && st.have[contiguous]) ++contiguous;
  std::span<const uint8_t> s(st.crypto.data(), contiguous);
  if (s.size() < 4) return Hello::Incomplete;
  if (s[0] != 0x01) return Hello::Bad;
  const size_t len = size_t{s[1]} << 16 | size_t{s[2]} << 8 | s[3];
  if (4 + len > kMaxCrypto) return Hello::Bad;
  if (s.size() < 4 + len) return Hello::Incomplete;
  s = s.subspan(4, len);
  size_t p = 2 + 32;  // legacy_version, random
  auto skip8 = [&] {
    if (p >= s.size()) return false;
    p += 1 + s[p];
    return p <= s.size();
  };
  auto skip16 = [&] {
    if (p + 2 > s.size()) return false;
    p += 2 + (size_t{s[p]} << 8 | s[p + 1]);
    return p <= s.size();
  };
  if (!skip8() || !skip16() || !skip8()) return Hello::Bad;  // session id, suites, compression
  if (p + 2 > s.size()) return Hello::Done;                  // no extensions
  const size_t ext_end = std::min(s.size(), p + 2 + (size_t{s[p]} << 8 | s[p + 1]));
  p += 2;
  while (p + 4 <= ext_end) {
    const uint16_t type = static_cast<uint16_t>(s[p] << 8 | s[p + 1]);
    const size_t elen = size_t{s[p + 2]} << 8 | s[p + 3];
    p += 4;
    if (p + elen > ext_end) break;
    if (type == 0 && elen >= 5 && s[p + 2] == 0) {  // server_name: list, host_name entry
      const size_t nlen = size_t{s[p + 3]} << 8 | s[p + 4];
      if (5 + nlen <= elen) sni.assign(reinterpret_cast<const char*>(s.data() + p + 5), nlen);
      return Hello::Done;
    }
    p += elen;
  }
  return Hello::Done;
}

// One long-header packet at the start of `s`: its total length, or 0 when it
// is not a readable client Initial (then `s` is not parsed further).
size_t readInitial(std::span<const uint8_t> s, QuicState*& st, FlowState& fs, bool& initial) {
  initial = false;
  if (s.size() < 7 || (s[0] & 0xc0) != 0xc0) return 0;
  const uint32_t version = uint32_t{s[1]} << 24 | uint32_t{s[2]} << 16 | uint32_t{s[3]} << 8 | s[4];
  const VersionParams* v = paramsOf(version);
  if (!v) return 0;
  size_t pos = 5;
  const size_t dcid_len = s[pos++];
  if (dcid_len > kMaxCid || pos + dcid_len + 1 > s.size()) return 0;
  const auto dcid = s.subspan(pos, dcid_len);
  pos += dcid_len;
  const size_t scid_len = s[pos++];
  if (scid_len > kMaxCid || pos + scid_len > s.size()) return 0;
  pos += scid_len;
  const uint8_t type = (s[0] >> 4) & 0x03;
  uint64_t token_len = 0, length = 0;
  if (type == v->initial_type) {
    if (!readVarint(s, pos, token_len) || token_len > s.size() - pos) return 0;
    pos += static_cast<size_t>(token_len);
  }
  if (!readVarint(s, pos, length) || length > s.size() - pos) return 0;
  const size_t total = pos + static_cast<size_t>(length);
  if (type != v->initial_type) return total;
  initial = true;
  if (length < 20) return 0;  // packet number (<= 4) + sample of 16

  if (!st) {
    fs.quic.reset(new (std::nothrow) QuicState);
    st = fs.quic.get();
    if (!st || !st->ctx) return 0;
  }
  if (!st->have_keys || st->version != version || st->dcid_len != dcid_len ||
      std::memcmp(st->dcid, dcid.data(), dcid_len) != 0) {
    if (!deriveKeys(*v, dcid, st->keys)) return 0;
    st->have_keys = true;
    st->version = version;
    st->dcid_len = static_cast<uint8_t>(dcid_len);
    std::memcpy(st->dcid, dcid.data(), dcid_len);
  }
  // Header protection (RFC 9001 section 5.4): the sample starts 4 bytes
  // after the packet number's first byte.
  uint8_t mask[16];
  if (!headerMask(*st, s.data() + pos + 4, mask)) return 0;
  uint8_t header[512];  // long tokens (a server's NEW_TOKEN) fit; longer ones are not read
  const size_t pn_len = static_cast<size_t>(((s[0] ^ (mask[0] & 0x0f)) & 0x03) + 1);
  if (pos + pn_len > sizeof header) return 0;  // tokens too long to keep; not read
  std::memcpy(header, s.data(), pos + pn_len);
  header[0] ^= mask[0] & 0x0f;
  uint64_t pn = 0;
  for (size_t i = 0; i < pn_len; ++i) {
    header[pos + i] ^= mask[1 + i];
    pn = pn << 8 | header[pos + i];
  }
  if (!openPayload(*st, pn, {header, pos + pn_len}, s.subspan(pos + pn_len, total - pos - pn_len)))
    return 0;
  ++st->initials;
  collectCrypto(*st);
  return total;
}

}  // namespace

Outcome dissectQuic(const PacketInfo& p, FlowState& fs, Answer& out) {
  if (p.transport != Transport::Udp) return Outcome::NoMatch;
  QuicState* st = fs.quic.get();
  if (p.dir != core::Direction::SrcToDst) return st ? Outcome::NeedMore : Outcome::NoMatch;
  auto s = p.payload;
  // Coalesced packets (RFC 9000 section 12.2): read every one in the datagram.
  while (!s.empty()) {
    bool initial = false;
    const size_t n = readInitial(s, st, fs, initial);
    if (n == 0 || n > s.size()) break;
    s = s.subspan(n);
  }
  if (!st || st->initials == 0) return Outcome::NoMatch;  // no Initial we can open
  std::string sni;
  switch (readClientHello(*st, sni)) {
    case Hello::Incomplete:
      out.l7_protocol = out.application = "QUIC";
      out.category = "Web";
      return Outcome::NeedMore;
    case Hello::Bad:
      return Outcome::NoMatch;
    case Hello::Done:
      break;
  }
  out.l7_protocol = out.application = "QUIC";
  out.category = "Web";
  out.hostname = std::move(sni);
  return Outcome::Match;
}

}  // namespace fg::dissect
