#include "tokenizer/added_tokens.h"

#include <nlohmann/json.hpp>

#include "tokenizer/json_token_id.h"
#include "tokenizer/unicode_text.h"

namespace alloy {

AddedToken added_token_from_json(const nlohmann::json& entry, const std::string& file) {
  AddedToken token;
  token.id = json_token_id(entry.at("id"), file + ": added_tokens");
  token.content = entry.at("content").get<std::string>();
  token.lstrip = entry.value("lstrip", false);
  token.rstrip = entry.value("rstrip", false);
  token.special = entry.value("special", false);
  token.normalized = entry.value("normalized", !token.special);
  return token;
}

namespace {

std::string trim_whitespace(const std::string& text, bool left, bool right) {
  const auto points = code_points(text);
  size_t begin = 0, end = points.size();
  while (left && begin < end && is_white_space(points[begin])) ++begin;
  while (right && end > begin && is_white_space(points[end - 1])) --end;
  return to_utf8(std::u32string_view(points).substr(begin, end - begin));
}

}  // namespace

std::vector<TextSegment> split_on_added_tokens(std::string_view text, const std::vector<const AddedToken*>& tokens) {
  std::vector<TextSegment> segments;
  std::string pending;
  for (size_t at = 0; at < text.size();) {
    const AddedToken* best = nullptr;
    for (const AddedToken* token : tokens)
      if (!token->content.empty() && text.substr(at, token->content.size()) == token->content &&
          (!best || token->content.size() > best->content.size()))
        best = token;
    if (!best) {
      pending += text[at++];
      continue;
    }
    if (!pending.empty()) segments.push_back({std::move(pending), nullptr});
    pending.clear();
    segments.push_back({best->content, best});
    at += best->content.size();
  }
  if (!pending.empty()) segments.push_back({std::move(pending), nullptr});

  for (size_t i = 0; i < segments.size(); ++i) {
    const AddedToken* token = segments[i].token;
    if (!token) continue;
    if (token->lstrip && i > 0 && !segments[i - 1].token)
      segments[i - 1].text = trim_whitespace(segments[i - 1].text, false, true);
    if (token->rstrip && i + 1 < segments.size() && !segments[i + 1].token)
      segments[i + 1].text = trim_whitespace(segments[i + 1].text, true, false);
  }
  std::erase_if(segments, [](const TextSegment& s) { return !s.token && s.text.empty(); });
  return segments;
}

}  // namespace alloy
