// The tokenizer keys of a GGUF output made from a Hugging Face model directory: what llama.cpp's
// convert_hf_to_gguf.py writes for a SentencePiece tokenizer (tokenizer.model): model "llama",
// pre "default", tokens, scores and token types, then its special vocabulary (special token ids,
// add_bos/add_eos/add_sep, chat template). A tokenizer.json-only (BPE) tokenizer is refused: its
// llama.cpp pre-tokenizer name comes from the converter's table of tokenization hashes, which
// alloy does not have.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/gguf_file.h"

namespace alloy {

// llama.cpp's token types (SentencePieceTokenTypes / llama_token_type).
enum class GgufTokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// Appends the tokenizer.ggml.* keys (and tokenizer.chat_template) for the tokenizer files in `dir`,
// in the converter's order; `config` is the model's config.json (vocab_size pads the vocabulary,
// *_token_id fill special ids). `chat_template` replaces the directory's own when given. Throws
// Error naming the directory when it has no tokenizer.model.
void append_gguf_vocab(std::vector<GgufKeyValue>& metadata, const std::filesystem::path& dir,
                       const nlohmann::json& config, const std::optional<std::string>& chat_template);

}  // namespace alloy
