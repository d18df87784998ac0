// The benchmark's model family: Llama-shaped bf16 checkpoints (a base plus fine-tunes) at a few
// named sizes, generated once with the fixture generator and cached on disk. A model directory is
// reused when its completion marker matches what would be generated and its weight files have the
// expected sizes; missing or stale models are (re)generated, so growing --models adds fine-tunes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fixtures/fixture_family.h"

namespace alloy::bench {

struct BenchSize {
  std::string name;         // "medium"
  std::string description;  // "1 GB per model"
  FixtureDims dims;
};

// small (~0.1 GB per model), medium (~1 GB), large (the 1.1B family: hidden 2048,
// intermediate 5632, 22 layers, vocab 32000; 2.2 GB), xlarge (~4 GB).
const std::vector<BenchSize>& bench_sizes();
// Throws Error listing the known names.
const BenchSize& bench_size(std::string_view name);

struct BenchModel {
  std::string name;  // "base", "ft1", ...
  std::filesystem::path dir;
  std::vector<std::filesystem::path> weight_files;
  uint64_t tensor_bytes = 0;
};

struct BenchFamily {
  std::filesystem::path dir;      // <data root>/<size>
  std::vector<BenchModel> models;  // base, ft1 .. ft(models-1)
  uint64_t params = 0;            // per model
  uint64_t model_bytes = 0;       // tensor bytes per model
};

// The fixture spec of a family of `models` models (fine-tune kinds cycle dense, sign_conflict,
// sparse, so every task-vector structure the methods care about is present).
FixtureSpec bench_fixture_spec(const BenchSize& size, int models);

// Makes sure <data_root>/<size.name>/{base,ft1,..} exist and are complete, generating what is
// missing (in a child process, so the caller's memory stays small); prints progress to stdout.
BenchFamily prepare_family(const BenchSize& size, int models, const std::filesystem::path& data_root);

}  // namespace alloy::bench
