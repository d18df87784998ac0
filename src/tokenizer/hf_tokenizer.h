// HfTokenizer: a Hugging Face tokenizer.json, as its reference library encodes it: added tokens
// split off first (raw text, then normalized text), the normalizer, the pre-tokenizer, then the
// model (byte-level BPE as in GPT-2, Llama 3 and Qwen2; WordPiece as in BERT; Unigram) on each word.
// Special token ids come from tokenizer_config.json beside it (bos_token, eos_token, pad_token).
#pragma once
#include <filesystem>
#include <memory>
#include <unordered_map>

#include "tokenizer/added_tokens.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace alloy {

class BpeModel;
class WordPieceModel;
class UnigramModel;

class HfTokenizer final : public Tokenizer {
 public:
  // Throws Error naming the file for unreadable JSON and for any model, normalizer or pre-tokenizer
  // type it does not support. `config_file` may be empty or absent: no special tokens then.
  explicit HfTokenizer(const std::filesystem::path& tokenizer_file, const std::filesystem::path& config_file = {});
  ~HfTokenizer() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::optional<int32_t> eos_id() const override { return eos_; }
  std::optional<int32_t> pad_id() const override { return pad_; }
  std::optional<int32_t> token_to_id(std::string_view token) const override;

 private:
  void encode_words(const std::string& text, bool first_section, std::vector<int32_t>& ids) const;

  std::string file_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<WordPieceModel> wordpiece_;
  std::unique_ptr<UnigramModel> unigram_;
  std::vector<AddedToken> added_;
  std::vector<AddedToken> normalized_forms_;  // the normalized added tokens, content normalized
  std::vector<const AddedToken*> raw_added_, normalized_added_;
  std::unordered_map<std::string, int32_t> ids_;    // model vocabulary and added tokens
  std::unordered_map<int32_t, std::string> tokens_;
  std::unordered_map<int32_t, const AddedToken*> added_by_id_;
  std::string decoder_;  // "ByteLevel", "WordPiece", "Metaspace" or empty (decode joins the tokens)
  bool decoder_cleanup_ = true;
  std::optional<int32_t> bos_, eos_, pad_;
};

}  // namespace alloy
