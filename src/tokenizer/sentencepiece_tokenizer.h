// SentencePieceTokenizer: a tokenizer.model through libsentencepiece.
// By default it tokenizes as llama.cpp does (the reference of `alloy eval`): every space and
// newline kept, one space prefixed, no character normalization (sentencepiece_proto.h).
// `Normalizer::as_model` keeps the model's own NormalizerSpec, as spm_encode does.
#pragma once
#include <filesystem>
#include <memory>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace alloy {

// The largest SentencePiece model of a released LLM (a 256k-piece vocabulary) is a few MiB.
inline constexpr uint64_t kMaxSentencePieceModelBytes = 64ull << 20;

class SentencePieceTokenizer final : public Tokenizer {
 public:
  enum class Normalizer { like_llama_cpp, as_model };

  // Throws Error naming `model_file` when it cannot be read or is not a SentencePiece model.
  explicit SentencePieceTokenizer(const std::filesystem::path& model_file,
                                  Normalizer normalizer = Normalizer::like_llama_cpp);
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> bos_id() const override;
  std::optional<int32_t> eos_id() const override;
  std::optional<int32_t> pad_id() const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;

 private:
  std::filesystem::path file_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace alloy
