// RegMean++ (regmean with sequential: true) at plan time: the Gram matrices of each block depend on
// the merge of the blocks below, so they are gathered block by block while the plan's own jobs
// merge each finished stage in memory (stats/sequential_grams.h), then left in the plan for the
// executor, which merges every tensor again from the same statistics into the output files.
#pragma once
#include <filesystem>
#include <vector>

#include "plan/merge_plan.h"

namespace alloy {

// `probes[i]` is plan.models[i]'s probe text. Fills every job's call.statistics views with the
// Gram matrices computed here (kept alive by plan.computed_statistics). Costs one f32 copy of the
// merged model and every model's Gram matrices in memory, and a forward pass of every probe chunk
// per block (plus one); nothing is cached, since every block's statistics depend on all models.
// Embedding encoders read .jsonl probe pairs in groups of pair_batch (ctx is then unused).
void compute_sequential_grams(MergePlan& plan, const std::vector<std::filesystem::path>& probes, int ctx,
                              int64_t samples, int pair_batch);

}  // namespace alloy
