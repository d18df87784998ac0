// MergePlan: a recipe applied to opened checkpoints — one TensorJob per output tensor with its
// inputs, resolved parameters, output dtype and shape — plus the output config.json. Everything
// that can be wrong with a recipe or its models is found here, before any output is written.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/architecture.h"
#include "io/checkpoint.h"
#include "io/output_layout.h"
#include "io/safetensors.h"
#include "methods/method.h"
#include "recipe/recipe.h"
#include "vocab/output_vocabulary.h"
#include "vocab/permuted_embeddings.h"

namespace alloy {

struct PlanOptions {
  bool allow_crimes = false;       // allow models of different architectures
  uint64_t seed = 0;               // for randomised methods (DARE, DELLA)
  double post_weight_t = 0.0;      // gradient position of the final norm / lm_head, as mergekit >= 0.1.2
  std::filesystem::path recipe_dir;  // relative model paths are tried here after the working directory
  // Cache of statistics files for data-aware methods; empty: <recipe>.alloy-stats beside the recipe.
  std::filesystem::path stats_dir;
  // The output is GGUF: when every input is GGUF too, they keep llama.cpp's tensor names and
  // metadata; otherwise GGUF inputs are read under Hugging Face names (io/checkpoint.h).
  bool gguf_output = false;
  // false (alloy check): data-aware methods use statistics files that exist already and compute
  // none; MergePlan::statistics_sources says what a merge would compute.
  bool compute_statistics = true;
};

// Where a data-aware method's statistics for one model come from.
struct StatisticsSource {
  std::string model;             // label in the recipe
  std::filesystem::path file;    // the precomputed file (fisher:) or the cache file
  std::filesystem::path probe;   // the probe text it is computed from; empty for a precomputed file
  bool exists = false;           // false: the merge computes it (an evaluation-engine run)
};

struct LoadedModel {
  ModelRef ref;
  std::string label;  // as written in the recipe
  std::shared_ptr<const Checkpoint> checkpoint;
  Architecture arch;
};

struct TensorJob {
  OutputTensor out;
  const MethodSpec* method = nullptr;  // nullptr: copy the bytes of call.inputs[0] unchanged
  MergeCall call;
};

// One module of the output, as planned (alloy check describes them).
struct PlannedModuleSummary {
  std::string name;           // "default" for a model of one module
  std::string weight_prefix;  // "language_model."
  int output_layers = 0;
  std::string layer_count_key;  // dotted config.json key; set to output_layers when sliced
  bool sliced = false;          // from slices: (else a models: merge of the whole module)
  size_t tensors = 0;
};

struct MergePlan {
  const MethodSpec* method = nullptr;
  std::vector<LoadedModel> models;  // every referenced model, recipe order
  size_t donor = 0;                 // config/tokenizer source: the base model, else the first model
  std::vector<TensorJob> jobs;      // output order, module by module: pre-layer, layers, post-layer
  std::vector<PlannedModuleSummary> modules;
  nlohmann::json config;            // output config.json
  uint64_t input_bytes = 0;         // bytes of input tensors the merge reads
  // Per model (data-aware methods only): its statistics file, open while the jobs view it.
  std::vector<std::shared_ptr<SafetensorsFile>> statistics;
  // Statistics computed in memory while planning (regmean sequential), which the jobs view.
  std::shared_ptr<const void> computed_statistics;
  // The output vocabulary when the recipe sets tokenizer_source / tokenizer: (else null), and the
  // embedding / LM-head matrices laid out in it, which the jobs of those tensors view.
  std::shared_ptr<const OutputVocabulary> vocabulary;
  std::vector<std::shared_ptr<const PermutedRows>> permuted_rows;
  std::vector<StatisticsSource> statistics_sources;  // per model, data-aware methods only

  std::vector<OutputTensor> outputs() const;
};

MergePlan make_plan(const Recipe& recipe, const PlanOptions& options);

}  // namespace alloy
