// The special tokens a Hugging Face tokenizer_config.json names: bos_token, eos_token and
// pad_token, each a token string, an object with its "content", or null.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>

#include "tokenizer/tokenizer.h"

namespace alloy {

struct SpecialTokenIds {
  std::optional<int32_t> bos, eos, pad;
};

// Their ids in `tokenizer` (read from `tokenizer_file`). Throws Error naming `config_file` for
// unreadable JSON, a value of another type, and a token the tokenizer does not have.
SpecialTokenIds read_special_token_ids(const std::filesystem::path& config_file, const Tokenizer& tokenizer,
                                       const std::string& tokenizer_file);

}  // namespace alloy
