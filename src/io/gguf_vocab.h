// The tokenizer keys of a GGUF output made from a Hugging Face model directory: what llama.cpp's
// convert_hf_to_gguf.py writes for a SentencePiece tokenizer (tokenizer.model): model "llama",
// pre "default", tokens, scores and token types; or, with only tokenizer.json, for a byte-level BPE
// tokenizer (io/gguf_bpe_vocab.h): model "gpt2", its pre-tokenizer's name, tokens, token types
// and merges; then its special vocabulary (special token ids, add_bos/add_eos/add_sep, chat
// template).
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

// The converter's does_token_look_special: added tokens that ought to be control tokens.
bool gguf_token_looks_special(const std::string& token);

// Appends the tokenizer.ggml.* keys (and tokenizer.chat_template) for the tokenizer files in `dir`,
// in the converter's order; `config` is the model's config.json (vocab_size pads the vocabulary,
// *_token_id fill special ids). `chat_template` replaces the directory's own when given. Throws
// Error naming the directory when it has neither tokenizer.model nor tokenizer.json, or the file
// and what is missing when a tokenizer.json cannot be written as llama.cpp reads it.
void append_gguf_vocab(std::vector<GgufKeyValue>& metadata, const std::filesystem::path& dir,
                       const nlohmann::json& config, const std::optional<std::string>& chat_template);

}  // namespace alloy
