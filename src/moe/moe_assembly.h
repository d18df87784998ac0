// alloy moe: a Mixture-of-Experts checkpoint assembled from dense models, as mergekit-moe does
// (spec §9.1): attention, norms and embeddings from the base model, each expert model's MLP as one
// expert per layer, routers from router_gates.h. Written through the merge's own atomic writer.
// Mixtral (no shared experts) and Qwen2-MoE (one shared expert) outputs.
#pragma once
#include <atomic>
#include <filesystem>

#include "exec/run_merge.h"

namespace alloy {

struct MoeOptions {
  std::filesystem::path config;  // the mergekit-moe YAML
  MergeOptions merge;            // out, threads, shard size, --force, fsync, tokenizer, seed
  bool allow_identical_experts = false;  // --i-understand-this-is-not-useful-without-training
};

MergeSummary run_moe(const MoeOptions& options, const std::atomic<bool>* cancel = nullptr);

}  // namespace alloy
