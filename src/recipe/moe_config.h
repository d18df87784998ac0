// A mergekit-moe config (`alloy moe CONFIG OUT`): a base model whose attention, norms and
// embeddings the MoE keeps, and expert models whose MLPs become its experts, each with the prompts
// that route to it. Parsed with the recipe's located YAML reading: errors name file:line and key.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "recipe/recipe.h"
#include "tensor/dtype.h"

namespace alloy {

enum class GateMode { Hidden, HiddenAvg, CheapEmbed, Random, UniformRandom };

struct MoeExpert {
  ModelRef model;
  std::vector<std::string> positive_prompts;
  std::vector<std::string> negative_prompts;
  std::optional<double> residual_scale;  // multiplies the expert's down_proj
  SourceLoc loc;
};

struct MoeConfig {
  std::string file;
  std::string source_text;
  ModelRef base_model;
  // The outputs the config's architecture: allows, of "mixtral" and "qwen moe"; empty: any.
  std::vector<std::string> architectures;
  SourceLoc architecture_loc;
  GateMode gate_mode = GateMode::Hidden;
  std::optional<DType> dtype;
  int experts_per_token = 2;
  SourceLoc experts_per_token_loc;
  std::vector<MoeExpert> experts;
  std::vector<MoeExpert> shared_experts;
  SourceLoc experts_loc;

  std::string where(SourceLoc loc) const;  // "config.yml:12"
  bool prompt_gates() const { return gate_mode != GateMode::Random && gate_mode != GateMode::UniformRandom; }
};

MoeConfig parse_moe_config(const std::string& text, const std::string& file_name);
MoeConfig load_moe_config(const std::filesystem::path& path);

}  // namespace alloy
