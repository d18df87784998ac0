// Tokenizer: text to token ids and back, for the evaluation engine and vocabulary merging.
// One interface over SentencePiece models (tokenizer.model), Hugging Face tokenizer.json
// (byte-level BPE, WordPiece) — each implementation in a file of its own.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace alloy {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids of `text` as the reference tokenizer gives them with no special tokens added
  // (no BOS/EOS, no [CLS]/[SEP]); callers add those they need (bos_id(), ...).
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual int32_t vocab_size() const = 0;
  // Special tokens, where the model has them.
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  virtual std::optional<int32_t> pad_id() const = 0;
  // The id of a token string (a piece or an added token), if it is in the vocabulary.
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
};

// The tokenizer of a model directory: tokenizer.json when present, else tokenizer.model (tokenized
// as llama.cpp does, every space kept: docs/tokenizers.md).
// Throws Error naming the directory when it has neither, or the file when it cannot be read.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);

}  // namespace alloy
