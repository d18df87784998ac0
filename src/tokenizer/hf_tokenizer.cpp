#include "tokenizer/hf_tokenizer.h"

#include <cstdio>
#include <utility>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/unigram_model.h"
#include "tokenizer/wordpiece_model.h"
#include "util/error.h"

namespace alloy {
namespace {

// The decoder's kind, looking through a Sequence for the step that shapes the text.
std::string decoder_kind(const nlohmann::json& decoder, bool& cleanup) {
  if (decoder.is_null()) return "";
  const std::string type = decoder.value("type", "");
  if (type == "Sequence") {
    for (const auto& step : decoder.at("decoders"))
      if (auto kind = decoder_kind(step, cleanup); !kind.empty()) return kind;
    return "";
  }
  if (type == "WordPiece") cleanup = decoder.value("cleanup", true);
  // A Sequence with ByteFallback is SentencePiece's decoding written out (Llama 2): ▁ to space,
  // <0xXX> tokens to bytes, the prefixed space stripped; Metaspace decodes the same.
  if (type == "ByteFallback") return "Metaspace";
  return type == "ByteLevel" || type == "WordPiece" || type == "Metaspace" ? type : "";
}

// BERT's decoder cleanup: no space before punctuation and English contractions.
std::string clean_up_spaces(std::string text) {
  for (const char* from : {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"}) {
    const std::string f = from, to = f == " ' " ? "'" : f.substr(1);
    for (size_t at; (at = text.find(f)) != std::string::npos;) text.replace(at, f.size(), to);
  }
  return text;
}

}  // namespace

HfTokenizer::HfTokenizer(const std::filesystem::path& tokenizer_file, const std::filesystem::path& config_file)
    : file_(tokenizer_file.string()) {
  const auto json = read_json_file(tokenizer_file);
  try {
    const auto& model = json.at("model");
    // Older files name no type; a BPE model is the one with merges.
    const std::string type = model.value("type", model.contains("merges") ? "BPE" : "");
    if (type == "BPE")
      bpe_ = std::make_unique<BpeModel>(model, file_);
    else if (type == "WordPiece")
      wordpiece_ = std::make_unique<WordPieceModel>(model, file_);
    else if (type == "Unigram")
      unigram_ = std::make_unique<UnigramModel>(model, file_);
    else
      fail(file_, ": model type '", type, "' is not supported (supported: BPE, WordPiece, Unigram)");
    normalizer_ = make_normalizer(json.value("normalizer", nlohmann::json()), file_);
    pre_tokenizer_ = make_pre_tokenizer(json.value("pre_tokenizer", nlohmann::json()), file_);
    decoder_ = decoder_kind(json.value("decoder", nlohmann::json()), decoder_cleanup_);

    ids_ = bpe_ ? bpe_->vocab() : wordpiece_ ? wordpiece_->vocab() : unigram_->vocab();
    for (const auto& entry : json.value("added_tokens", nlohmann::json::array())) {
      added_.push_back(added_token_from_json(entry, file_));
      // A normalized token is looked for in normalized text, so as its normalized form.
      if (added_.back().normalized) {
        normalized_forms_.push_back(added_.back());
        normalized_forms_.back().content = normalizer_(added_.back().content);
      }
    }
    // Pointers into the vectors are taken once they no longer grow.
    for (const auto& token : added_) {
      ids_[token.content] = token.id;
      added_by_id_[token.id] = &token;
      if (!token.normalized) raw_added_.push_back(&token);
    }
    for (const auto& token : normalized_forms_) normalized_added_.push_back(&token);
    for (const auto& [token, id] : ids_) tokens_[id] = token;
  } catch (const nlohmann::json::exception& e) {
    fail(file_, ": unexpected structure (", e.what(), ")");
  }

  if (config_file.empty() || !std::filesystem::exists(config_file)) return;
  const SpecialTokenIds special = read_special_token_ids(config_file, *this, file_);
  bos_ = special.bos;
  eos_ = special.eos;
  pad_ = special.pad;
}

HfTokenizer::~HfTokenizer() = default;

void HfTokenizer::encode_words(const std::string& text, bool first_section, std::vector<int32_t>& ids) const {
  for (const auto& word : pre_tokenizer_({text}, first_section)) {
    const auto word_ids = bpe_ ? bpe_->encode_word(word) : wordpiece_ ? wordpiece_->encode_word(word) : unigram_->encode_word(word);
    ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  }
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  bool first_section = true;
  for (const auto& raw : split_on_added_tokens(text, raw_added_)) {
    const bool first = std::exchange(first_section, false);
    if (raw.token) {
      ids.push_back(raw.token->id);
      continue;
    }
    for (const auto& normalized : split_on_added_tokens(normalizer_(raw.text), normalized_added_)) {
      if (normalized.token)
        ids.push_back(normalized.token->id);
      else
        encode_words(normalized.text, first, ids);
    }
  }
  return ids;
}

std::string HfTokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  bool first = true;
  for (int32_t id : ids) {
    const auto token = tokens_.find(id);
    if (token == tokens_.end()) fail(file_, ": token id ", id, " is not in the vocabulary");
    const bool added = added_by_id_.contains(id);
    if (decoder_ == "ByteLevel") {
      text += added ? token->second : unicode_to_bytes(token->second);
    } else if (decoder_ == "WordPiece") {
      const auto& prefix = wordpiece_ ? wordpiece_->continuing_subword_prefix() : std::string("##");
      if (!added && token->second.rfind(prefix, 0) == 0)
        text += token->second.substr(prefix.size());
      else
        text += (first ? "" : " ") + token->second;
    } else if (decoder_ == "Metaspace" && !added) {
      std::string piece = token->second;
      unsigned byte = 0;
      if (piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>' &&
          std::sscanf(piece.c_str(), "<0x%2X>", &byte) == 1)
        piece = std::string(1, static_cast<char>(byte));
      for (size_t at; (at = piece.find("\u2581")) != std::string::npos;) piece.replace(at, 3, " ");
      text += first && !piece.empty() && piece[0] == ' ' ? piece.substr(1) : piece;
    } else {
      text += token->second;
    }
    first = false;
  }
  return decoder_ == "WordPiece" && decoder_cleanup_ ? clean_up_spaces(text) : text;
}

int32_t HfTokenizer::vocab_size() const {
  int32_t size = 0;
  for (const auto& [id, token] : tokens_) size = std::max(size, id + 1);
  return size;
}

std::optional<int32_t> HfTokenizer::token_to_id(std::string_view token) const {
  const auto id = ids_.find(std::string(token));
  return id == ids_.end() ? std::nullopt : std::optional<int32_t>(id->second);
}

}  // namespace alloy
