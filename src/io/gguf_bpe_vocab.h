// The vocabulary of a byte-level BPE tokenizer.json (GPT-2, Llama 3, Qwen2 style) as llama.cpp's
// convert_hf_to_gguf.py writes it (_set_vocab_gpt2): model "gpt2", the pre-tokenizer's llama.cpp
// name, tokens by id padded to config.json's vocab_size, token types, and the merges.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace alloy {

struct GgufBpeVocab {
  std::string pre;  // tokenizer.ggml.pre: "gpt-2", "llama-bpe", "qwen2"
  std::vector<std::string> tokens;
  std::vector<int32_t> types;       // GgufTokenType values
  std::vector<std::string> merges;  // "left right", spaces inside a part as U+0120
  // add_bos/add_eos as a TemplateProcessing post-processor implies them (the converter's reading
  // of tokenizer.json), in the order it finds them; tokenizer_config.json's flags override these.
  std::vector<std::pair<std::string, bool>> add_special;
};

// llama.cpp's name for a tokenizer.json pre_tokenizer, from its structure: ByteLevel with GPT-2's
// regex is "gpt-2"; a Split on Llama 3's or Qwen2's regex followed by a regex-free ByteLevel is
// "llama-bpe" or "qwen2" (the regexes llama.cpp's vocabulary loader applies for those names).
// Empty for anything else.
std::optional<std::string> llama_cpp_pre_tokenizer(const nlohmann::json& pre_tokenizer);

// Reads dir/tokenizer.json (a BPE model over ByteLevel pieces). `vocab_size` (config.json's;
// 0: the tokenizer's own size) pads the token list with "[PADi]" (unused). `bos`/`eos` are
// tokenizer_config.json's bos_token/eos_token contents (for the post-processor's flags). Throws
// Error naming the file and what is missing or unsupported.
GgufBpeVocab read_gguf_bpe_vocab(const std::filesystem::path& dir, size_t vocab_size, const std::string& bos,
                                 const std::string& eos);

}  // namespace alloy
