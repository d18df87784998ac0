#include "tokenizer/unicode_text.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include "util/error.h"

namespace alloy {

std::u32string code_points(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t length = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(s, i, length, c);
    out.push_back(c < 0 ? U'\uFFFD' : static_cast<char32_t>(c));
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  uint8_t buffer[4];
  int32_t n = 0;
  UBool error = false;
  U8_APPEND(buffer, n, 4, static_cast<UChar32>(c), error);
  if (error) {
    append_utf8(out, U'\uFFFD');
    return;
  }
  out.append(reinterpret_cast<const char*>(buffer), n);
}

std::string to_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) append_utf8(out, c);
  return out;
}

std::vector<std::string> utf8_chars(std::string_view text) {
  std::vector<std::string> out;
  for (char32_t c : code_points(text)) {
    out.emplace_back();
    append_utf8(out.back(), c);
  }
  return out;
}

std::string normalize(std::string_view text, NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = nullptr;
  switch (form) {
    case NormalForm::nfc: normalizer = icu::Normalizer2::getNFCInstance(status); break;
    case NormalForm::nfd: normalizer = icu::Normalizer2::getNFDInstance(status); break;
    case NormalForm::nfkc: normalizer = icu::Normalizer2::getNFKCInstance(status); break;
    case NormalForm::nfkd: normalizer = icu::Normalizer2::getNFKDInstance(status); break;
  }
  if (U_FAILURE(status)) fail("ICU: cannot load the Unicode normalization data (", u_errorName(status), ")");
  const auto input = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  const icu::UnicodeString result = normalizer->normalize(input, status);
  if (U_FAILURE(status)) fail("ICU: cannot normalize text (", u_errorName(status), ")");
  std::string out;
  result.toUTF8String(out);
  return out;
}

std::string lowercase(std::string_view text) {
  auto s = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  s.toLower(icu::Locale::getRoot());
  std::string out;
  s.toUTF8String(out);
  return out;
}

std::string strip_accents(std::string_view text) {
  std::string out;
  for (char32_t c : code_points(normalize(text, NormalForm::nfd)))
    if (!is_nonspacing_mark(c)) append_utf8(out, c);
  return out;
}

bool is_nonspacing_mark(char32_t c) { return u_charType(static_cast<UChar32>(c)) == U_NON_SPACING_MARK; }
bool is_white_space(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE); }

bool is_other(char32_t c) {
  const auto mask = U_GET_GC_MASK(static_cast<UChar32>(c));
  return (mask & (U_GC_CC_MASK | U_GC_CF_MASK | U_GC_CN_MASK | U_GC_CO_MASK | U_GC_CS_MASK)) != 0;
}

bool is_punctuation(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0; }

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace alloy
