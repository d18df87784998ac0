// A model's statistics file: computed once from (model, probe text, settings) and kept in a cache
// directory under a name derived from all three, so a second merge with the same inputs reuses it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "stats/probe_pairs.h"

namespace alloy {

enum class StatsKind { Gram, Fisher };
const char* stats_kind_name(StatsKind kind);  // "gram", "fisher"

struct StatsSettings {
  StatsKind kind = StatsKind::Gram;
  int ctx = 128;          // tokens per probe chunk (text probes)
  int64_t samples = 0;    // chunks (text) or pairs (.jsonl) used; 0: all
  int pair_batch = kDefaultPairBatch;  // pairs per InfoNCE batch (.jsonl probes; probe_pairs.h)
};

// Runs the model in `model_dir` over `probe` and writes its statistics to `out` (atomically:
// a temporary file renamed into place): a decoder on a text probe, an embedding encoder on a
// .jsonl of query/positive pairs (probe_kind.h). Errors name the model and the probe.
void compute_statistics_file(const std::filesystem::path& model_dir, const std::filesystem::path& probe,
                             const StatsSettings& settings, const std::filesystem::path& out);

// The cache file for these inputs: <cache_dir>/<kind>-<16 hex digits>.safetensors, keyed by the
// model's canonical path, the probe file's bytes and the settings (whether or not it exists yet).
std::filesystem::path statistics_cache_file(const std::filesystem::path& model_dir, const std::filesystem::path& probe,
                                            const StatsSettings& settings, const std::filesystem::path& cache_dir);

// statistics_cache_file, computed when absent.
// `log` hears one line when a file is computed.
std::filesystem::path cached_statistics(const std::filesystem::path& model_dir, const std::filesystem::path& probe,
                                        const StatsSettings& settings, const std::filesystem::path& cache_dir,
                                        const std::function<void(const std::string&)>& log = {});

}  // namespace alloy
