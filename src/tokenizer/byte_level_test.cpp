// GPT-2's byte-to-unicode table, checked at the points its definition fixes by hand.
#include "tokenizer/byte_level.h"

#include <gtest/gtest.h>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace std::string_literals;

TEST(ByteLevel, PrintableBytesStandForThemselvesAndTheRestFollow256) {
  EXPECT_EQ(byte_to_unicode('A'), U'A');
  EXPECT_EQ(byte_to_unicode('!'), U'!');
  EXPECT_EQ(byte_to_unicode(0xFF), U'\u00FF');
  // Bytes 0..32 are the first 33 remapped: 0 -> U+0100, space (32) -> U+0120 'Ġ', newline -> U+010A 'Ċ'.
  EXPECT_EQ(byte_to_unicode(0), U'\u0100');
  EXPECT_EQ(byte_to_unicode(' '), U'\u0120');
  EXPECT_EQ(byte_to_unicode('\n'), U'\u010A');
  // Then 127..160 (34 more: U+0121..U+0142), then 173 (soft hyphen) as the 68th, U+0143.
  EXPECT_EQ(byte_to_unicode(127), U'\u0121');
  EXPECT_EQ(byte_to_unicode(160), U'\u0142');
  EXPECT_EQ(byte_to_unicode(173), U'\u0143');
  for (int b = 0; b < 256; ++b) EXPECT_EQ(unicode_to_byte(byte_to_unicode(static_cast<uint8_t>(b))), b);
  EXPECT_EQ(unicode_to_byte(U'\u0144'), std::nullopt);
}

TEST(ByteLevel, MapsTextAndBack) {
  EXPECT_EQ(bytes_to_unicode("Hello world\n"), "Hello\u0120world\u010A");
  // é is C3 A9: both bytes stand for themselves (Ã, ©).
  EXPECT_EQ(bytes_to_unicode("\xC3\xA9"), "\u00C3\u00A9");
  const std::string text = "tab\tnul\0end \xE4\xB8\xAD"s;
  EXPECT_EQ(unicode_to_bytes(bytes_to_unicode(text)), text);
}

}  // namespace
}  // namespace alloy
