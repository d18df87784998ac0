// Splitting text by a pattern, as tokenizer.json's Split pre-tokenizer and its relatives do.
// Patterns are ICU regular expressions over UTF-8 with Unicode classes (\p{L}, \p{N}, (?i:...),
// lookahead), which covers GPT-2's, Llama 3's and Qwen2's split patterns as written.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct URegularExpression;

namespace alloy {

class Regex {
 public:
  // `literal`: the pattern is a plain string (tokenizer.json's {"String": ...}).
  // Throws Error quoting the pattern when ICU rejects it.
  Regex(std::string_view pattern, bool literal = false);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  // Byte ranges [begin, end) of the successive non-overlapping matches in UTF-8 `text`.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  URegularExpression* compiled_ = nullptr;
  std::string pattern_;
};

// What becomes of the matched pieces (the Hugging Face tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// `text` cut at the matches of `regex`; `invert` swaps the roles of matches and the text between.
// Empty pieces are dropped.
std::vector<std::string> split(std::string_view text, const Regex& regex, SplitBehavior behavior,
                               bool invert = false);

// GPT-2's pattern (the ByteLevel pre-tokenizer's when use_regex is on).
inline constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace alloy
