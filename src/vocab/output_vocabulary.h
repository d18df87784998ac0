// OutputVocabulary: the merged model's tokenizer (spec §5.1) and, for every output token, where
// each input model's embedding row comes from (spec §5.2's token configurations). Built from the
// recipe's tokenizer settings before any tensor is read; permuted_embeddings.h applies it to rows.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "recipe/recipe.h"
#include "vocab/model_vocabulary.h"

namespace alloy {

struct VocabInput {
  ModelRef ref;
  std::string label;  // for messages
  std::filesystem::path dir;
  ModelVocabulary vocab;
};

// The row an output token takes in a model that lacks it (every model, when forced).
struct DefaultRow {
  enum class Kind { Model, Average, Zero };
  Kind kind = Kind::Zero;
  size_t model = 0;  // Model: this model's embedding ...
  int64_t row = 0;   // ... row
  bool force = false;
};

struct OutputVocabulary {
  nlohmann::json tokenizer;         // tokenizer.json to write
  nlohmann::json tokenizer_config;  // tokenizer_config.json to write
  std::optional<nlohmann::json> special_tokens_map;  // where the tokenizer's source model has one
  std::filesystem::path source_dir;  // the model whose tokenizer was the starting point
  std::vector<std::string> tokens;  // by output id ("" for an id no token has)
  int64_t padded_size = 0;          // rows of the output embeddings: tokens.size() rounded up
  std::vector<std::vector<int64_t>> old_ids;  // [model][output id]: its row, -1 where it lacks the token
  std::vector<DefaultRow> defaults;           // [output id]

  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
};

// `models` in the recipe's order; `base`: the base model, else the first. Throws Error naming the
// recipe line for a token setting whose model lacks the token, a model_token id past the model's
// vocabulary or a token string it does not have.
OutputVocabulary build_output_vocabulary(const Recipe& recipe, const TokenizerSettings& settings,
                                         const std::vector<VocabInput>& models, size_t base);

}  // namespace alloy
