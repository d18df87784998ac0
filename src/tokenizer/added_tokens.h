// Added tokens of tokenizer.json ("added_tokens"): strings matched in the text before the model
// sees it and encoded as their own id. Where several match at a position the longest wins;
// lstrip/rstrip swallow the whitespace on that side of a match.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace alloy {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool lstrip = false, rstrip = false;
  bool normalized = false;  // matched in the normalized text rather than the raw one
  bool special = false;
};

AddedToken added_token_from_json(const nlohmann::json& entry, const std::string& file);

// A piece of text: either an added token's match (`token` set) or text between matches.
struct TextSegment {
  std::string text;
  const AddedToken* token = nullptr;
};

// `text` cut at the leftmost-longest matches of `tokens`; empty text segments are dropped.
std::vector<TextSegment> split_on_added_tokens(std::string_view text, const std::vector<const AddedToken*>& tokens);

}  // namespace alloy
