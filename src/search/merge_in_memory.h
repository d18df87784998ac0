// The model a recipe merges, held in memory as f32 instead of written to shards: every job of the
// plan run with the same method kernels as the executor, each value rounded once to the output
// dtype, so the engine sees exactly the weights `alloy merge` would write.
#pragma once
#include <string>

#include "model/weight_source.h"
#include "plan/merge_plan.h"

namespace alloy {

MemoryWeights merge_in_memory(const MergePlan& plan);

// Parses `yaml` (named `file` in errors), plans it with `options` and merges it in memory.
MemoryWeights merge_recipe_in_memory(const std::string& yaml, const std::string& file, const PlanOptions& options);

}  // namespace alloy
