// (query, positive) text pairs for evaluating embedding models: JSON Lines, one object per line
// with string fields "query" and "positive" (other fields ignored; blank lines skipped).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace alloy {

struct TextPair {
  std::string query;
  std::string positive;
};

// Throws Error naming the file and line for unreadable files, bad JSON, missing or non-string
// fields, and for a file with no pair.
std::vector<TextPair> read_pairs(const std::filesystem::path& file);

}  // namespace alloy
