// QUIC Initial dissection: the test protects client Initials itself (RFC 9001
// section 5, RFC 9369 for version 2) with keys derived by OpenSSL's own HKDF,
// checked against the RFCs' test vectors first.
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gateway/dissect/dissect.h"

namespace fg::dissect {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes hex(std::string_view h) {
  Bytes out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

Bytes hkdfExtract(const Bytes& salt, const Bytes& ikm) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  Bytes out(32);
  size_t len = out.size();
  EXPECT_EQ(EVP_PKEY_derive_init(ctx), 1);
  EXPECT_EQ(EVP_PKEY_CTX_hkdf_mode(ctx, EVP_PKEY_HKDEF_MODE_EXTRACT_ONLY), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt.data(), static_cast<int>(salt.size())), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm.data(), static_cast<int>(ikm.size())), 1);
  EXPECT_EQ(EVP_PKEY_derive(ctx, out.data(), &len), 1);
  EVP_PKEY_CTX_free(ctx);
  return out;
}

Bytes expandLabel(const Bytes& secret, const std::string& label, size_t len) {
  Bytes info{0, static_cast<uint8_t>(len), static_cast<uint8_t>(6 + label.size())};
  for (char c : "tls13 " + label) info.push_back(static_cast<uint8_t>(c));
  info.push_back(0);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  Bytes out(len);
  EXPECT_EQ(EVP_PKEY_derive_init(ctx), 1);
  EXPECT_EQ(EVP_PKEY_CTX_hkdf_mode(ctx, EVP_PKEY_HKDEF_MODE_EXPAND_ONLY), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set1_hkdf_key(ctx, secret.data(), static_cast<int>(secret.size())), 1);
  EXPECT_EQ(EVP_PKEY_CTX_add1_hkdf_info(ctx, info.data(), static_cast<int>(info.size())), 1);
  EXPECT_EQ(EVP_PKEY_derive(ctx, out.data(), &len), 1);
  EVP_PKEY_CTX_free(ctx);
  return out;
}

struct Version {
  uint32_t number;
  Bytes salt;
  std::string prefix;  // "quic" or "quicv2"
  uint8_t initial_type;
};
const Version kV1{1, hex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), "quic", 0};
const Version kV2{0x6b3343cf, hex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), "quicv2", 1};

struct Keys {
  Bytes key, iv, hp;
};
Keys clientKeys(const Version& v, const Bytes& dcid) {
  const Bytes client = expandLabel(hkdfExtract(v.salt, dcid), "client in", 32);
  return {expandLabel(client, v.prefix + " key", 16), expandLabel(client, v.prefix + " iv", 12),
          expandLabel(client, v.prefix + " hp", 16)};
}

const Bytes kRfcDcid = hex("8394c8f03e515708");

TEST(QuicKeys, MatchTheRfcTestVectors) {
  const Keys v1 = clientKeys(kV1, kRfcDcid);  // RFC 9001 appendix A.1
  EXPECT_EQ(v1.key, hex("1f369613dd76d5467730efcbe3b1a22d"));
  EXPECT_EQ(v1.iv, hex("fa044b2f42a3fd3b46fb255c"));
  EXPECT_EQ(v1.hp, hex("9f50449e04a0e810283a1e9933adedd2"));
  const Keys v2 = clientKeys(kV2, kRfcDcid);  // RFC 9369 appendix A.1
  EXPECT_EQ(v2.key, hex("8b1a0bc121284290a29e0971b5cd045d"));
  EXPECT_EQ(v2.iv, hex("91f73e2351d8fa91660e909f"));
  EXPECT_EQ(v2.hp, hex("45b95e15235d6f45a6b19cbcb0294ba9"));
}

// A TLS 1.3 ClientHello (handshake message) with a server_name extension.
Bytes clientHello(const std::string& sni) {
  Bytes body{0x03, 0x03};
  body.resize(2 + 32, 0x11);      // random
  body.push_back(0);              // session id
  for (uint8_t b : {0, 2, 0x13, 0x01}) body.push_back(b);  // one suite
  body.push_back(1);
  body.push_back(0);  // null compression
  Bytes name{0};
  name.push_back(static_cast<uint8_t>(sni.size() >> 8));
  name.push_back(static_cast<uint8_t>(sni.size()));
  name.insert(name.end(), sni.begin(), sni.end());
  Bytes list{static_cast<uint8_t>(name.size() >> 8), static_cast<uint8_t>(name.size())};
  list.insert(list.end(), name.begin(), name.end());
  Bytes ext{0, 0, static_cast<uint8_t>(list.size() >> 8), static_cast<uint8_t>(list.size())};
  ext.insert(ext.end(), list.begin(), list.end());
  // A padding extension so the hello spans several CRYPTO frames.
  Bytes pad{0, 21, 0x01, 0x00};
  pad.resize(4 + 256, 0);
  ext.insert(ext.end(), pad.begin(), pad.end());
  body.push_back(static_cast<uint8_t>(ext.size() >> 8));
  body.push_back(static_cast<uint8_t>(ext.size()));
  body.insert(body.end(), ext.begin(), ext.end());
  Bytes msg{0x01, 0, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  msg.insert(msg.end(), body.begin(), body.end());
  return msg;
}

void varint(Bytes& b, uint64_t v) {
  if (v < 64) {
    b.push_back(static_cast<uint8_t>(v));
  } else {
    b.push_back(static_cast<uint8_t>(0x40 | v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  }
}

Bytes cryptoFrame(const Bytes& stream, size_t off, size_t len) {
  Bytes f{0x06};
  varint(f, off);
  varint(f, len);
  f.insert(f.end(), stream.begin() + static_cast<long>(off), stream.begin() + static_cast<long>(off + len));
  return f;
}

// A protected client Initial carrying `frames` (padded to 1200 bytes).
Bytes initial(const Version& v, const Bytes& dcid, uint32_t pn, Bytes frames) {
  const Keys k = clientKeys(v, dcid);
  frames.resize(std::max<size_t>(frames.size(), 1100), 0);  // PADDING
  Bytes h{static_cast<uint8_t>(0xc0 | v.initial_type << 4 | 0x01)};  // 2-byte packet number
  for (int i = 3; i >= 0; --i) h.push_back(static_cast<uint8_t>(v.number >> (8 * i)));
  h.push_back(static_cast<uint8_t>(dcid.size()));
  h.insert(h.end(), dcid.begin(), dcid.end());
  h.push_back(0);  // no source connection id
  h.push_back(0);  // no token
  varint(h, 2 + frames.size() + 16);
  const size_t pn_offset = h.size();
  h.push_back(static_cast<uint8_t>(pn >> 8));
  h.push_back(static_cast<uint8_t>(pn));
  Bytes nonce = k.iv;
  for (int i = 0; i < 4; ++i) nonce[11 - i] ^= static_cast<uint8_t>(pn >> (8 * i));
  Bytes sealed(frames.size() + 16);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, k.key.data(), nonce.data()), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &len, h.data(), static_cast<int>(h.size())), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, sealed.data(), &len, frames.data(), static_cast<int>(frames.size())), 1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, sealed.data() + len, &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, sealed.data() + frames.size()), 1);
  // Header protection.
  uint8_t mask[16];
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), nullptr, k.hp.data(), nullptr), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, mask, &len, sealed.data() + 2, 16), 1);  // sample: pn_offset + 4
  EVP_CIPHER_CTX_free(ctx);
  h[0] ^= mask[0] & 0x0f;
  h[pn_offset] ^= mask[1];
  h[pn_offset + 1] ^= mask[2];
  h.insert(h.end(), sealed.begin(), sealed.end());
  return h;
}

PacketInfo client(const Bytes& b, uint16_t index) {
  return {.payload = b, .dir = core::Direction::SrcToDst, .transport = Transport::Udp, .src_port = 50000,
          .dst_port = 443, .payload_index = index};
}

TEST(Quic, VersionOneInitialInOnePacket) {
  const Bytes hello = clientHello("www.example.org");
  FlowState st;
  Answer a;
  const Bytes pkt = initial(kV1, kRfcDcid, 0, cryptoFrame(hello, 0, hello.size()));
  EXPECT_EQ(dissectQuic(client(pkt, 0), st, a), Outcome::Match);
  EXPECT_EQ(a.l7_protocol, "QUIC");
  EXPECT_EQ(a.hostname, "www.example.org");
}

TEST(Quic, VersionTwoCryptoSplitAcrossPacketsOutOfOrder) {
  const Bytes hello = clientHello("video.example.net");
  const Bytes dcid = hex("0011223344556677aabbccdd");
  const size_t third = hello.size() / 3;
  // Packet 1 carries the end of the hello, packet 2 the start and, in its
  // frames' reverse order, the middle.
  Bytes second = cryptoFrame(hello, third, third);
  const Bytes first_part = cryptoFrame(hello, 0, third);
  second.insert(second.end(), first_part.begin(), first_part.end());
  FlowState st;
  Answer a;
  EXPECT_EQ(dissectQuic(client(initial(kV2, dcid, 0, cryptoFrame(hello, 2 * third, hello.size() - 2 * third)), 0), st, a),
            Outcome::NeedMore);
  EXPECT_EQ(a.l7_protocol, "QUIC");  // tentative: QUIC, the name still to come
  Answer b;
  EXPECT_EQ(dissectQuic(client(initial(kV2, dcid, 1, second), 1), st, b), Outcome::Match);
  EXPECT_EQ(b.hostname, "video.example.net");
}

TEST(Quic, WrongKeysOrUnknownVersionAreNotRead) {
  const Bytes hello = clientHello("www.example.org");
  Bytes pkt = initial(kV1, kRfcDcid, 0, cryptoFrame(hello, 0, hello.size()));
  pkt[pkt.size() - 1] ^= 1;  // the tag no longer authenticates
  FlowState st;
  Answer a;
  EXPECT_EQ(dissectQuic(client(pkt, 0), st, a), Outcome::NoMatch);
  Bytes v3 = initial(kV1, kRfcDcid, 0, cryptoFrame(hello, 0, hello.size()));
  v3[4] = 3;  // version 3 does not exist
  FlowState st2;
  EXPECT_EQ(dissectQuic(client(v3, 0), st2, a), Outcome::NoMatch);
  // A v2 packet type read as v1 is not an Initial.
  FlowState st3;
  Bytes hs = initial(kV2, kRfcDcid, 0, cryptoFrame(hello, 0, hello.size()));
  hs[1] = 0;
  hs[2] = 0;
  hs[3] = 0;
  hs[4] = 1;
  EXPECT_EQ(dissectQuic(client(hs, 0), st3, a), Outcome::NoMatch);
}

TEST(Quic, TruncatedPacketsNeverReadOutside) {
  const Bytes hello = clientHello("www.example.org");
  const Bytes pkt = initial(kV1, kRfcDcid, 0, cryptoFrame(hello, 0, hello.size()));
  for (size_t n = 0; n < pkt.size(); n += 7) {
    const Bytes cut(pkt.begin(), pkt.begin() + static_cast<long>(n));
    FlowState st;
    Answer a;
    EXPECT_NE(dissectQuic(client(cut, 0), st, a), Outcome::Match) << n;
  }
}

}  // namespace
}  // namespace fg::dissect
