#include "tokenizer/special_tokens.h"

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "util/error.h"

namespace alloy {

SpecialTokenIds read_special_token_ids(const std::filesystem::path& config_file, const Tokenizer& tokenizer,
                                       const std::string& tokenizer_file) {
  const auto config = read_json_file(config_file);
  auto special = [&](const char* key) -> std::optional<int32_t> {
    if (!config.contains(key) || config[key].is_null()) return std::nullopt;
    const auto& value = config[key];
    const std::string content = value.is_object() ? value.value("content", "") : value.get<std::string>();
    const auto id = tokenizer.token_to_id(content);
    if (!id) fail(config_file.string(), ": ", key, " '", content, "' is not a token of ", tokenizer_file);
    return id;
  };
  try {
    return {special("bos_token"), special("eos_token"), special("pad_token")};
  } catch (const nlohmann::json::exception& e) {
    fail(config_file.string(), ": unexpected structure (", e.what(), ")");
  }
}

}  // namespace alloy
