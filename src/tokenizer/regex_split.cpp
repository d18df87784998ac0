#include "tokenizer/regex_split.h"

#include <algorithm>

#include <unicode/uregex.h>
#include <unicode/utext.h>

#include "util/error.h"

namespace alloy {

Regex::Regex(std::string_view pattern, bool literal) : pattern_(pattern) {
  UErrorCode status = U_ZERO_ERROR;
  UParseError where{};
  UText* text = utext_openUTF8(nullptr, pattern_.data(), static_cast<int64_t>(pattern_.size()), &status);
  compiled_ = uregex_openUText(text, literal ? UREGEX_LITERAL : 0, &where, &status);
  utext_close(text);
  if (U_FAILURE(status))
    fail("pattern '", pattern_, "' is not a regular expression ICU accepts (", u_errorName(status), " at offset ",
         where.offset, ")");
}

Regex::~Regex() {
  if (compiled_) uregex_close(compiled_);
}
Regex::Regex(Regex&& other) noexcept : compiled_(other.compiled_), pattern_(std::move(other.pattern_)) {
  other.compiled_ = nullptr;
}
Regex& Regex::operator=(Regex&& other) noexcept {
  std::swap(compiled_, other.compiled_);
  std::swap(pattern_, other.pattern_);
  return *this;
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  // A compiled ICU pattern holds its match state: each call matches with a clone of its own, so
  // one tokenizer can encode from several threads.
  UErrorCode status = U_ZERO_ERROR;
  URegularExpression* matcher = uregex_clone(compiled_, &status);
  UText* input = utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status);
  uregex_setUText(matcher, input, &status);
  std::vector<std::pair<size_t, size_t>> matches;
  while (U_SUCCESS(status) && uregex_findNext(matcher, &status)) {
    // With UTF-8 input, ICU reports native indices: byte offsets.
    const int64_t begin = uregex_start64(matcher, 0, &status);
    const int64_t end = uregex_end64(matcher, 0, &status);
    if (end > begin) matches.emplace_back(static_cast<size_t>(begin), static_cast<size_t>(end));
  }
  uregex_close(matcher);
  utext_close(input);
  if (U_FAILURE(status)) fail("pattern '", pattern_, "': matching failed (", u_errorName(status), ")");
  return matches;
}

std::vector<std::string> split(std::string_view text, const Regex& regex, SplitBehavior behavior, bool invert) {
  struct Piece {
    size_t begin, end;
    bool is_match;
  };
  std::vector<Piece> pieces;
  size_t at = 0;
  for (auto [begin, end] : regex.find_all(text)) {
    if (begin > at) pieces.push_back({at, begin, invert});
    pieces.push_back({begin, end, !invert});
    at = end;
  }
  if (at < text.size()) pieces.push_back({at, text.size(), invert});

  // The merging rules of the Hugging Face tokenizers' NormalizedString::split.
  std::vector<Piece> kept;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::isolated: kept = pieces; break;
    case SplitBehavior::removed:
      for (const auto& p : pieces)
        if (!p.is_match) kept.push_back(p);
      break;
    case SplitBehavior::merged_with_previous:
      for (const auto& p : pieces) {
        if (p.is_match && !previous_match && !kept.empty())
          kept.back().end = p.end;
        else
          kept.push_back(p);
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::merged_with_next:
      for (auto p = pieces.rbegin(); p != pieces.rend(); ++p) {
        if (p->is_match && !previous_match && !kept.empty())
          kept.back().begin = p->begin;
        else
          kept.push_back(*p);
        previous_match = p->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    case SplitBehavior::contiguous:
      for (const auto& p : pieces) {
        if (p.is_match == previous_match && !kept.empty())
          kept.back().end = p.end;
        else
          kept.push_back(p);
        previous_match = p.is_match;
      }
      break;
  }
  std::vector<std::string> out;
  for (const auto& p : kept)
    if (p.end > p.begin) out.emplace_back(text.substr(p.begin, p.end - p.begin));
  return out;
}

}  // namespace alloy
