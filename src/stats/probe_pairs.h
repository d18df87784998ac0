// Query/positive probe pairs as an embedding model's input: the .jsonl read (eval/pairs.h), each
// text tokenized as `alloy eval --pairs` does (eval/pair_tokens.h), and the pairs cut in file order
// into groups of `batch` whose in-batch negatives InfoNCE scores against. A trailing group of one
// pair (whose InfoNCE is 0 whatever the model) joins the group before it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include "model/encoder.h"

namespace alloy {

// The InfoNCE temperature learning uses (that of `alloy eval --pairs`'s default).
inline constexpr double kPairProbeTemperature = 0.05;
// Pairs per group by default: the recipe key pair_batch, `alloy stats --batch`.
inline constexpr int kDefaultPairBatch = 8;

struct PairProbe {
  PoolingOptions pooling;  // the model's 1_Pooling/config.json, else mean
  double temperature = kPairProbeTemperature;
  std::vector<EncoderBatch> batches;  // each: a group's queries, then their positives (pair_batch)
  std::vector<int64_t> pairs;         // pairs in each batch
  int64_t total_pairs() const;
};

// Groups of `batch` pairs from tokenized queries and positives; max_pairs <= 0: all pairs.
// Throws Error for batch < 2 (no negative to contrast with) or no pair.
PairProbe pair_probe_batches(const EncoderConfig& config, const std::vector<std::vector<int32_t>>& queries,
                             const std::vector<std::vector<int32_t>>& positives, int batch, int64_t max_pairs);

// Reads `probe` and tokenizes it with the tokenizer of `model_dir`. Errors name the probe file
// (and the line, for bad JSON or a missing field).
PairProbe load_probe_pairs(const std::filesystem::path& model_dir, const EncoderConfig& config,
                           const std::filesystem::path& probe, int batch, int64_t max_pairs);

}  // namespace alloy
