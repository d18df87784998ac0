// Unigram (tokenizer.json "type": "Unigram", as in T5 and ALBERT): of all the ways to cut a word
// into vocabulary pieces, the one whose pieces' log-probabilities sum highest (Viterbi). A
// character no piece covers is the unknown piece, scored 10 below the lowest score; unknown
// characters in a row become one unknown token (as the Hugging Face tokenizers fuse them).
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace alloy {

class UnigramModel {
 public:
  // `model`: {"vocab": [[piece, score], ...], "unk_id": n, "byte_fallback": bool}. Throws Error
  // naming `file` for a missing or out-of-range unk_id.
  UnigramModel(const nlohmann::json& model, const std::string& file);

  std::vector<int32_t> encode_word(std::string_view word) const;
  const std::unordered_map<std::string, int32_t>& vocab() const { return ids_; }

 private:
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<double> scores_;
  int32_t unk_id_ = 0;
  double unk_score_ = 0;
  size_t max_piece_chars_ = 1;
  bool byte_fallback_ = false;
};

}  // namespace alloy
