// GPT-2's byte-to-unicode mapping: byte-level BPE works on text whose every byte is one printable
// code point, so any input is covered by the 256 base symbols (no unknown token is ever needed).
// Bytes 33-126, 161-172 and 174-255 stand for themselves; the other 68 map to U+0100 upwards, in order.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace alloy {

char32_t byte_to_unicode(uint8_t byte);
// The byte a mapped code point stands for, if it is one of the 256.
std::optional<uint8_t> unicode_to_byte(char32_t c);

// Every byte of `bytes` as its mapped code point, in UTF-8.
std::string bytes_to_unicode(std::string_view bytes);
// The inverse; a code point outside the mapping is kept as its own UTF-8 bytes.
std::string unicode_to_bytes(std::string_view mapped);

}  // namespace alloy
