#include <array>
#include <string_view>

#include "gateway/dissect/dissect.h"

namespace fg::dissect {
namespace {

// Every protocol, application and category name a dissector can report
// (dissect.cc, dissect_more.cc, quic.cc); current nDPI's spelling.
constexpr std::array<std::string_view, 20> kProtocols{
    "STUN",       "Skype_TeamsCall", "TelegramVoip", "SignalVoip", "FacebookVoip",
    "WhatsAppCall", "GoogleCall",    "Source_Engine", "WhatsApp",  "QUIC",
    "OpenVPN",    "RakNet",          "BitTorrent",   "Discord",    "RTP",
    "Tailscale",  "DTLS",            "Softether",    "DNScrypt",   "HTTP2"};
constexpr std::array<std::string_view, 9> kCategories{
    "Network", "VoIP", "Game", "Chat", "Web", "VPN", "Download", "Collaborative", "Media"};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void addMissing(std::vector<std::string>& to, std::string_view name) {
  for (const auto& n : to)
    if (iequals(n, name)) return;
  to.emplace_back(name);
}

}  // namespace

policy::NameCatalog withDissectorNames(policy::NameCatalog names) {
  for (auto p : kProtocols) addMissing(names.protocols, p);
  for (auto c : kCategories) addMissing(names.categories, c);
  return names;
}

}  // namespace fg::dissect
