#include "tokenizer/bpe_model.h"

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "tokenizer/json_token_id.h"
#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace alloy {
namespace {

std::string pair_key(std::string_view left, std::string_view right) {
  std::string key(left);
  key += '\xFF';
  key += right;
  return key;
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& model, const std::string& file) : file_(file) {
  const std::string where = file + ": BPE vocab";
  for (const auto& [token, id] : model.at("vocab").items()) vocab_.emplace(token, json_token_id(id, where, token));
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    const auto unk = vocab_.find(model["unk_token"].get<std::string>());
    if (unk == vocab_.end()) fail(file, ": BPE unk_token '", model["unk_token"].get<std::string>(), "' is not in the vocabulary");
    unk_id_ = unk->second;
  }
  ignore_merges_ = model.value("ignore_merges", false);
  byte_fallback_ = model.value("byte_fallback", false);
  fuse_unk_ = model.value("fuse_unk", false);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
      fail(file, ": BPE with a ", key, " is not supported");
  int32_t rank = 0;
  for (const auto& merge : model.at("merges")) {
    std::string left, right;
    if (merge.is_string()) {
      const auto text = merge.get<std::string>();
      const auto space = text.find(' ');
      if (space == std::string::npos) fail(file, ": merge '", text, "' is not two tokens separated by a space");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else {
      left = merge.at(0).get<std::string>();
      right = merge.at(1).get<std::string>();
    }
    if (!vocab_.contains(left + right))
      fail(file, ": merge ", rank, " ('", left, "' '", right, "') makes a token that is not in the vocabulary");
    merge_rank_.emplace(pair_key(left, right), rank++);
  }
}

std::vector<int32_t> BpeModel::encode_word(std::string_view word) const {
  if (ignore_merges_)
    if (auto whole = vocab_.find(std::string(word)); whole != vocab_.end()) return {whole->second};
  std::vector<std::string> symbols = utf8_chars(word);
  while (symbols.size() > 1) {
    int32_t best_rank = std::numeric_limits<int32_t>::max();
    size_t best = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto rank = merge_rank_.find(pair_key(symbols[i], symbols[i + 1]));
      if (rank != merge_rank_.end() && rank->second < best_rank) best_rank = rank->second, best = i;
    }
    if (best_rank == std::numeric_limits<int32_t>::max()) break;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  std::vector<int32_t> ids;
  bool previous_unk = false;
  for (const auto& symbol : symbols) {
    if (auto id = vocab_.find(symbol); id != vocab_.end()) {
      ids.push_back(id->second);
      previous_unk = false;
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> bytes;
      for (unsigned char b : symbol) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        if (auto id = vocab_.find(name); id != vocab_.end()) bytes.push_back(id->second);
      }
      if (bytes.size() == symbol.size()) {
        ids.insert(ids.end(), bytes.begin(), bytes.end());
        previous_unk = false;
        continue;
      }
    }
    if (!unk_id_)
      fail(file_, ": BPE symbol '", symbol, "' is not in the vocabulary and the model has no unk_token");
    if (!(fuse_unk_ && previous_unk)) ids.push_back(*unk_id_);
    previous_unk = true;
  }
  return ids;
}

}  // namespace alloy
