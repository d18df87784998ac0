// alloy check: everything about a merge that can be known before it runs, without reading tensor
// data or running a model — the models found and where, their architectures and tokenizers, every
// tensor's resolved parameters, the output's files and the memory the merge wants. Planning is the
// merge's own (exec/run_merge.h prepare_merge), so a recipe check passes exactly when the merge's
// planning does; data-aware methods report their statistics instead of computing them.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exec/run_merge.h"

namespace alloy {

struct CheckOptions {
  MergeOptions merge;                        // recipe, out (may be empty) and the output options
  std::filesystem::path intermediate_dir;    // multi-stage recipes; empty: OUT.alloy-stages
  std::vector<std::string> explain;          // output tensors whose resolved values are listed
};

struct CheckedModel {
  std::string label;
  std::filesystem::path path;
  std::string format;        // safetensors, gguf, pytorch
  size_t files = 0;
  std::string architecture;  // config class, "unknown" for inferred layouts
  int layers = 0;
  std::optional<int64_t> vocab_size;
  uint64_t tensor_bytes = 0;
  std::string tokenizer;     // the tokenizer files it has, "" for none
  uint64_t tokenizer_hash = 0;  // of those files' bytes; 0 for none
};

struct CheckedStage {
  std::string name;          // the document's name:, "" for a one-document recipe
  std::string not_checked;   // why this stage could not be checked yet, else ""
  std::string method;
  std::vector<CheckedModel> models;
  std::string donor;
  std::string architecture;
  int output_layers = 0;
  std::vector<PlannedModuleSummary> modules;  // a model of several modules (text + vision): each one
  std::vector<std::string> tokenizer_notes;
  std::vector<StatisticsSource> statistics;
  std::string output_format;  // "safetensors", "gguf"
  size_t tensors = 0;
  size_t copied_tensors = 0;  // passed through unchanged
  size_t files = 0;
  uint64_t output_bytes = 0;
  uint64_t input_bytes = 0;
  std::string largest_tensor;
  uint64_t largest_tensor_bytes = 0;  // stored bytes of its largest input
  uint64_t page_cache_for_full_speed = 0;
  std::vector<std::string> notes;       // the destination and similar
  std::vector<std::string> explained;   // --explain, one block of lines per tensor
};

struct CheckReport {
  std::vector<CheckedStage> stages;  // dependency order, the final merge last
};

// Throws Error (naming the recipe line, model, file or tensor) at the first thing the merge would
// refuse.
CheckReport check_recipe(const CheckOptions& options);

std::string check_report_text(const CheckReport& report);
nlohmann::json check_report_json(const CheckReport& report);

}  // namespace alloy
