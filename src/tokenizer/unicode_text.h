// UTF-8 text helpers for the tokenizer.json pipeline: code points, Unicode normalization forms,
// case mapping and general categories, through ICU (the tables are Unicode's, not written here).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace alloy {

// The code points of UTF-8 `text`; an invalid byte becomes U+FFFD.
std::u32string code_points(std::string_view text);
std::string to_utf8(std::u32string_view code_points);
void append_utf8(std::string& out, char32_t code_point);
// Each code point of `text` as its own UTF-8 string (the initial symbols of BPE and WordPiece).
std::vector<std::string> utf8_chars(std::string_view text);

enum class NormalForm { nfc, nfd, nfkc, nfkd };
std::string normalize(std::string_view text, NormalForm form);
// Full Unicode lowercase mapping, locale-independent (as Rust's str::to_lowercase and JS toLowerCase).
std::string lowercase(std::string_view text);
// NFD, then every nonspacing mark (Mn) removed.
std::string strip_accents(std::string_view text);

bool is_nonspacing_mark(char32_t c);   // Mn
bool is_white_space(char32_t c);       // Unicode White_Space
bool is_other(char32_t c);             // Cc, Cf, Cn, Co, Cs
bool is_punctuation(char32_t c);       // P*
bool is_cjk_ideograph(char32_t c);     // the CJK blocks BERT pads with spaces

}  // namespace alloy
