#include "tokenizer/unigram_model.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "tokenizer/json_token_id.h"
#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace alloy {

UnigramModel::UnigramModel(const nlohmann::json& model, const std::string& file) {
  const auto& vocab = model.at("vocab");
  double min_score = std::numeric_limits<double>::infinity();
  for (size_t id = 0; id < vocab.size(); ++id) {
    const auto piece = vocab[id].at(0).get<std::string>();
    ids_.emplace(piece, static_cast<int32_t>(id));
    scores_.push_back(vocab[id].at(1).get<double>());
    min_score = std::min(min_score, scores_.back());
    max_piece_chars_ = std::max(max_piece_chars_, code_points(piece).size());
  }
  if (!model.contains("unk_id") || model["unk_id"].is_null())
    fail(file, ": a Unigram model without unk_id is not supported");
  unk_id_ = json_token_id(model["unk_id"], file + ": Unigram unk_id");
  if (unk_id_ < 0 || static_cast<size_t>(unk_id_) >= scores_.size())
    fail(file, ": Unigram unk_id ", unk_id_, " is outside the vocabulary of ", scores_.size());
  unk_score_ = min_score - 10.0;
  byte_fallback_ = model.value("byte_fallback", false);
}

std::vector<int32_t> UnigramModel::encode_word(std::string_view word) const {
  const auto chars = utf8_chars(word);
  const size_t n = chars.size();
  // best[e]: the highest score of a cut of chars[0, e); from[e], piece[e]: its last piece.
  std::vector<double> best(n + 1, -std::numeric_limits<double>::infinity());
  std::vector<size_t> from(n + 1, 0);
  std::vector<int32_t> piece(n + 1, -1);
  best[0] = 0;
  for (size_t begin = 0; begin < n; ++begin) {
    std::string candidate;
    bool single_char_piece = false;
    for (size_t end = begin + 1; end <= std::min(n, begin + max_piece_chars_); ++end) {
      candidate += chars[end - 1];
      const auto id = ids_.find(candidate);
      if (id == ids_.end()) continue;
      if (end == begin + 1) single_char_piece = true;
      // Strictly greater: among equal scores the cut found first (earliest last piece) stays.
      if (const double score = best[begin] + scores_[id->second]; score > best[end])
        best[end] = score, from[end] = begin, piece[end] = id->second;
    }
    if (!single_char_piece)
      if (const double score = best[begin] + unk_score_; score > best[begin + 1])
        best[begin + 1] = score, from[begin + 1] = begin, piece[begin + 1] = unk_id_;
  }
  std::vector<std::pair<size_t, int32_t>> cut;  // (begin, id), last first
  for (size_t end = n; end > 0; end = from[end]) cut.emplace_back(from[end], piece[end]);
  std::reverse(cut.begin(), cut.end());

  std::vector<int32_t> ids;
  for (size_t i = 0; i < cut.size(); ++i) {
    const auto [begin, id] = cut[i];
    if (id != unk_id_) {
      ids.push_back(id);
      continue;
    }
    const size_t end = i + 1 < cut.size() ? cut[i + 1].first : n;
    if (byte_fallback_) {
      std::string text;
      for (size_t c = begin; c < end; ++c) text += chars[c];
      std::vector<int32_t> bytes;
      for (unsigned char b : text) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        if (auto byte = ids_.find(name); byte != ids_.end()) bytes.push_back(byte->second);
      }
      if (bytes.size() == text.size()) {
        ids.insert(ids.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    if (ids.empty() || ids.back() != unk_id_ || (i > 0 && cut[i - 1].second != unk_id_)) ids.push_back(unk_id_);
  }
  return ids;
}

}  // namespace alloy
