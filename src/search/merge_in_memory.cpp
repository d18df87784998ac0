#include "search/merge_in_memory.h"

#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {

MemoryWeights merge_in_memory(const MergePlan& plan) {
  MemoryWeights weights;
  for (const TensorJob& job : plan.jobs) {
    const MergeCall& call = job.call;
    std::vector<float> values(static_cast<size_t>(call.numel()));
    if (!job.method) {  // the executor copies these bytes unchanged
      const TensorView& v = call.inputs[0].view;
      to_f32(v.dtype, v.data, values.data(), values.size());
    } else if (!values.empty()) {
      std::unique_ptr<MergeKernel> kernel = job.method->prepare(call);
      for_each_block(call, [&](const RowBlock& block) { kernel->map(block, values.data() + block.first_element()); });
      round_to_dtype(job.out.dtype, values.data(), values.size());
    }
    weights.set(job.out.name, job.out.shape, std::move(values));
  }
  return weights;
}

MemoryWeights merge_recipe_in_memory(const std::string& yaml, const std::string& file, const PlanOptions& options) {
  Recipe recipe = parse_recipe(yaml, file);
  return merge_in_memory(make_plan(recipe, options));
}

}  // namespace alloy
