// BPE as tokenizer.json describes it: a word starts as its characters, and the adjacent pair with
// the lowest merge rank (the leftmost among equals) is merged until no listed pair is left.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace alloy {

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object of type BPE; merges as "a b" strings or ["a", "b"]
  // pairs. Throws Error naming `file` for a merge whose parts are not in the vocabulary.
  BpeModel(const nlohmann::json& model, const std::string& file);

  std::vector<int32_t> encode_word(std::string_view word) const;
  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }

 private:
  std::string file_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // key: left, 0xFF, right (0xFF is never UTF-8)
  std::optional<int32_t> unk_id_;
  bool ignore_merges_ = false;  // a word that is itself in the vocabulary is one token (Llama 3)
  bool byte_fallback_ = false;  // an unknown symbol becomes its bytes' <0xXX> tokens
  bool fuse_unk_ = false;
};

}  // namespace alloy
