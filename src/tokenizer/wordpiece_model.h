// WordPiece (BERT): each word is cut greedily into the longest vocabulary entries from its start,
// every piece after the first looked up with the continuation prefix ("##"); a word with a part no
// entry covers, or longer than max_input_chars_per_word characters, is the unknown token.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace alloy {

class WordPieceModel {
 public:
  // `model` is tokenizer.json's "model" object of type WordPiece. Throws Error naming `file` when
  // its unk_token is not in the vocabulary.
  WordPieceModel(const nlohmann::json& model, const std::string& file);

  std::vector<int32_t> encode_word(std::string_view word) const;
  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }
  const std::string& continuing_subword_prefix() const { return prefix_; }

 private:
  std::unordered_map<std::string, int32_t> vocab_;
  int32_t unk_id_ = 0;
  std::string prefix_ = "##";
  size_t max_chars_ = 100;
};

}  // namespace alloy
