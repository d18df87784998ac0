#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode_text.h"

namespace alloy {
namespace {

bool stands_for_itself(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

const std::array<char32_t, 256>& byte_table() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) t[b] = stands_for_itself(b) ? static_cast<char32_t>(b) : next++;
    return t;
  }();
  return table;
}

}  // namespace

char32_t byte_to_unicode(uint8_t byte) { return byte_table()[byte]; }

std::optional<uint8_t> unicode_to_byte(char32_t c) {
  if (c < 256 && stands_for_itself(static_cast<int>(c))) return static_cast<uint8_t>(c);
  if (c >= 256 && c < 256 + 68) {
    int rank = static_cast<int>(c - 256);
    for (int b = 0; b < 256; ++b)
      if (!stands_for_itself(b) && rank-- == 0) return static_cast<uint8_t>(b);
  }
  return std::nullopt;
}

std::string bytes_to_unicode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) append_utf8(out, byte_to_unicode(static_cast<uint8_t>(b)));
  return out;
}

std::string unicode_to_bytes(std::string_view mapped) {
  std::string out;
  for (char32_t c : code_points(mapped)) {
    if (auto byte = unicode_to_byte(c))
      out += static_cast<char>(*byte);
    else
      append_utf8(out, c);
  }
  return out;
}

}  // namespace alloy
