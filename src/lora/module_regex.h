// The regular expressions of a PEFT adapter config (target_modules, exclude_modules, the keys of
// rank_pattern and alpha_pattern), compiled so that a hostile config cannot hang alloy or overflow
// its stack: matching runs in time polynomial in the pattern and the name (no backtracking), and
// the pattern's size, counted repetitions ({n,m}) written out, is bounded.
#pragma once
#include <cstddef>
#include <regex>
#include <string>

namespace alloy {

// Far above PEFT's patterns (a few hundred characters); below what the regex engine's recursive
// compiler and matcher can walk on an 8 MiB stack, also under AddressSanitizer.
inline constexpr size_t kMaxModuleRegexSize = 4096;

// The pattern's length times (n+1) for the largest bound n of each counted repetition: an upper
// bound of its length with every repetition written out. Saturates at SIZE_MAX.
size_t module_regex_size(const std::string& pattern);

// Compiles `pattern` (ECMAScript syntax) for matching whole module names. Throws Error saying
// what is wrong for patterns larger than kMaxModuleRegexSize, back-references (which need
// backtracking), and syntax the regex engine refuses.
std::regex compile_module_regex(const std::string& pattern);

}  // namespace alloy
