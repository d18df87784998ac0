// LoRA extraction (mergekit-extract-lora): the task vector ΔW = W_ft − W_base of each linear layer,
// truncated by SVD to rank r, written as a PEFT adapter whose B·A approximates ΔW, so that
// `base+adapter` reads as (nearly) the fine-tune (lora/apply_adapter.h). Embeddings, other
// modules whose weights changed (norms) and modules named for it are saved whole (modules_to_save).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace alloy {

struct ExtractOptions {
  int64_t rank = 128;               // the largest rank of a module's factors
  bool distribute_scale = true;     // B = U·√S, A = √S·Vᵀ; else B = U, A = S·Vᵀ
  bool embed_lora = false;          // input embeddings as lora_embedding_A/B instead of whole
  std::vector<std::string> save_modules;    // saved whole (a full name or its last components)
  std::vector<std::string> include_regex;   // if any: a module must match one (search) ...
  std::vector<std::string> exclude_regex;   // ... and none of these, or it is left out
  double sv_epsilon = 0;            // > 0: singular values at or below it are dropped
  bool skip_undecomposable = false; // changed non-linear modules (norms) left out instead of saved
  bool force = false;               // replace an existing OUT (else refused before any work)
};

// One module's result, in extract_report.json.
struct ExtractedModule {
  std::string module;
  std::string kind;  // "lora", "lora_embedding", "saved" or "unchanged" (ΔW = 0: no tensors)
  int64_t rank = 0;
  double delta_norm = 0;          // ‖ΔW‖_F
  double relative_error = 0;      // ‖ΔW − B·A‖_F / ‖ΔW‖_F with B, A as written (rounded to the dtype)
  double discarded_fraction = 0;  // √(Σ discarded s²) / ‖ΔW‖_F: the truncation's share of it
};

struct ExtractReport {
  std::vector<ExtractedModule> modules;
};

// Writes OUT/adapter_config.json, OUT/adapter_model.safetensors and OUT/extract_report.json
// through a temporary directory renamed into place (no partial output on failure). Throws Error
// naming the model and tensor for models that do not match (a tensor only one has, different
// shapes outside embeddings, a changed bias of a linear layer).
ExtractReport extract_lora(const std::filesystem::path& fine_tuned, const std::filesystem::path& base,
                           const std::filesystem::path& out, const ExtractOptions& options);

}  // namespace alloy
