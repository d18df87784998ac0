#include "lora/module_regex.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "util/error.h"

namespace alloy {

namespace {

size_t saturating_mul(size_t a, size_t b) {
  if (a != 0 && b > std::numeric_limits<size_t>::max() / a) return std::numeric_limits<size_t>::max();
  return a * b;
}

// The largest bound of a counted repetition "{n}", "{n,}" or "{n,m}" starting at `at` (a '{'),
// plus one; 1 when the text there is not one. Saturates instead of overflowing.
size_t repetition_copies(const std::string& p, size_t at) {
  size_t i = at + 1, largest = 0, bound = 0;
  bool digits = false;
  for (; i < p.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    if (std::isdigit(c)) {
      bound = saturating_mul(bound, 10);
      if (bound != std::numeric_limits<size_t>::max()) bound += c - '0';
      digits = true;
    } else if (c == ',' || c == '}') {
      largest = std::max(largest, bound);
      bound = 0;
      if (c == '}') break;
    } else {
      return 1;
    }
  }
  if (i == p.size() || !digits) return 1;
  return largest == std::numeric_limits<size_t>::max() ? largest : largest + 1;
}

}  // namespace

size_t module_regex_size(const std::string& pattern) {
  // A repetition copies at most the whole pattern, so multiplying the length by every
  // repetition's copies bounds the written-out size wherever the repetitions stand.
  size_t size = pattern.size();
  for (size_t i = 0; i < pattern.size(); ++i)
    if (pattern[i] == '{') size = saturating_mul(size, repetition_copies(pattern, i));
  return size;
}

std::regex compile_module_regex(const std::string& pattern) {
  if (const size_t size = module_regex_size(pattern); size > kMaxModuleRegexSize)
    fail("the regular expression is too large for alloy: ", pattern.size(), " characters, up to ", size,
         " with its counted repetitions written out (at most ", kMaxModuleRegexSize, ")");
  // libstdc++'s default matcher backtracks, exponentially in the name's length for patterns like
  // "(.*.*)*x"; its polynomial mode matches breadth-first and refuses back-references instead.
#if defined(__GLIBCXX__)
  constexpr auto kSyntax = std::regex::ECMAScript | std::regex_constants::__polynomial;
#else
  constexpr auto kSyntax = std::regex::ECMAScript;
#endif
  try {
    return std::regex(pattern, kSyntax);
  } catch (const std::regex_error& e) {
    fail("not a regular expression alloy can read (ECMAScript syntax, no back-references): ", e.what());
  }
}

}  // namespace alloy
