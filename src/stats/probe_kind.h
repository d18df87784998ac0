// Which probe data fits which model: plain text for decoder language models (their loss is the
// next-token NLL of the text), a .jsonl of {"query", "positive"} pairs for embedding encoders
// (their loss is InfoNCE over the pairs). A probe of the other kind is refused, never guessed at.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace alloy {

// A .jsonl file: query/positive pairs. Anything else is read as plain text.
bool is_pair_probe(const std::filesystem::path& probe);

// Throws Error naming the probe and saying which kind fits which model when `probe` does not fit
// the model whose config.json is `config` (an encoder when is_encoder_config says so).
void check_probe_fits_model(const nlohmann::json& config, const std::filesystem::path& probe);

}  // namespace alloy
