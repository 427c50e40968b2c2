// ASCII-only case folding for protocol names, hostnames and config words
// (locale-independent, unlike std::tolower on arbitrary bytes).
#pragma once

#include <algorithm>
#include <string_view>

namespace fg {

constexpr char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Equal ignoring ASCII case.
constexpr bool iequalsAscii(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lowerAscii(x) == lowerAscii(y); });
}

}  // namespace fg
