#include "tokenizer/wordpiece_model.h"

#include <nlohmann/json.hpp>

#include "tokenizer/json_token_id.h"
#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace alloy {

WordPieceModel::WordPieceModel(const nlohmann::json& model, const std::string& file) {
  const std::string where = file + ": WordPiece vocab";
  for (const auto& [token, id] : model.at("vocab").items()) vocab_.emplace(token, json_token_id(id, where, token));
  const std::string unk = model.value("unk_token", "[UNK]");
  const auto found = vocab_.find(unk);
  if (found == vocab_.end()) fail(file, ": WordPiece unk_token '", unk, "' is not in the vocabulary");
  unk_id_ = found->second;
  prefix_ = model.value("continuing_subword_prefix", "##");
  max_chars_ = model.value("max_input_chars_per_word", size_t{100});
}

std::vector<int32_t> WordPieceModel::encode_word(std::string_view word) const {
  const auto chars = utf8_chars(word);
  if (chars.size() > max_chars_) return {unk_id_};
  std::vector<int32_t> ids;
  for (size_t start = 0; start < chars.size();) {
    std::string candidate;
    for (size_t i = start; i < chars.size(); ++i) candidate += chars[i];
    size_t end = chars.size();
    int32_t id = -1;
    // Longest first: drop characters from the end until an entry matches.
    while (end > start) {
      const auto found = vocab_.find(start > 0 ? prefix_ + candidate : candidate);
      if (found != vocab_.end()) {
        id = found->second;
        break;
      }
      candidate.resize(candidate.size() - chars[--end].size());
    }
    if (id < 0) return {unk_id_};
    ids.push_back(id);
    start = end;
  }
  return ids;
}

}  // namespace alloy
