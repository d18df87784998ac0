// `alloy eval --pairs`: each embedding model's paired InfoNCE loss (in-batch negatives, cosine /
// temperature) and retrieval accuracy on (query, positive) pair files, instead of perplexity.
// Texts are tokenized with the model's tokenizer and wrapped in its special tokens
// (sequence_template.h); the pooling comes from the model's sentence-transformers config.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/encoder.h"

namespace alloy {

struct PairsRequest {
  std::vector<std::string> models;  // model directories
  std::vector<std::string> pairs;   // JSONL files
  std::optional<Pooling> pooling;   // default: the model's 1_Pooling/config.json, else mean
  double temperature = 0.05;
  int batch = 0;  // pairs per in-batch-negatives group; 0: 32
};

struct PairsCell {
  double loss_sum = 0;  // sum over pairs of -log softmax
  int64_t correct = 0;  // pairs whose query retrieves its own positive
  int64_t count = 0;
  double loss() const { return count ? loss_sum / double(count) : 0.0; }
  double accuracy() const { return count ? double(correct) / double(count) : 0.0; }
};

struct PairsReport {
  std::vector<std::string> models, pairs;
  std::vector<PairsCell> cells;  // models.size() x pairs.size(), row-major
  const PairsCell& at(size_t model, size_t file) const { return cells[model * pairs.size() + file]; }
};

PairsReport evaluate_pairs(const PairsRequest& request);

// The pooling a sentence-transformers export names in 1_Pooling/config.json, or nullopt when the
// directory has none. Throws Error naming the key for a mode the engine does not run (max, ...).
std::optional<Pooling> sentence_transformers_pooling(const std::filesystem::path& model_dir);
// "mean" | "cls" -> Pooling; Error otherwise.
Pooling pooling_from_name(const std::string& name);

std::string pairs_table(const PairsReport& report);
// {"results": [{"model", "pairs", "loss", "accuracy", "count"}, ...]}
nlohmann::json pairs_json(const PairsReport& report);

}  // namespace alloy
