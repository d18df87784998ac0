#include "plan/sequential_statistics.h"

#include <map>

#include "model/encoder_config.h"
#include "model/model_config.h"
#include "model/weight_source.h"
#include "stats/probe_chunks.h"
#include "stats/probe_pairs.h"
#include "stats/sequential_grams.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

TensorView view_of(const StatTensor& t) {
  return TensorView{DType::F32, t.shape, reinterpret_cast<const std::byte*>(t.values.data()),
                    t.values.size() * sizeof(float)};
}

size_t model_of(const MergePlan& plan, const std::string& label) {
  for (size_t m = 0; m < plan.models.size(); ++m)
    if (plan.models[m].label == label) return m;
  fail("model '", label, "' is not among the plan's models");
}

// The job's statistics views pointed at `grams` (a view with no data where a model has none).
void point_statistics(const MergePlan& plan, TensorJob& job, const std::vector<Statistics>& grams) {
  for (MergeInput& s : job.call.statistics) {
    const Statistics& g = grams[model_of(plan, s.label)];
    auto it = g.find(s.name);
    s.view = it != g.end() ? view_of(it->second) : TensorView{};
  }
}

EncoderConfig encoder_config_of(const Checkpoint& checkpoint) {
  return encoder_config_from_json(checkpoint.config(), [&](const std::string& n) { return checkpoint.has(n); });
}

}  // namespace

void compute_sequential_grams(MergePlan& plan, const std::vector<fs::path>& probes, int ctx, int64_t samples,
                              int pair_batch) {
  const Checkpoint& first = *plan.models.front().checkpoint;
  const bool encoder = is_encoder_config(first.config());
  std::vector<std::unique_ptr<CheckpointWeights>> weights;
  std::vector<SequentialInput> inputs;
  std::vector<SequentialPairInput> pair_inputs;
  for (size_t i = 0; i < plan.models.size(); ++i) {
    const LoadedModel& m = plan.models[i];
    try {
      weights.push_back(std::make_unique<CheckpointWeights>(m.checkpoint));
      const fs::path dir = m.checkpoint->dir();
      if (encoder)
        pair_inputs.push_back({weights.back().get(), load_probe_pairs(dir, encoder_config_of(*m.checkpoint), probes[i],
                                                                      pair_batch, samples)});
      else
        inputs.push_back({weights.back().get(), load_probe_chunks(dir, probes[i], ctx, samples)});
    } catch (const Error& e) {
      rethrow_with(cat("regmean sequential: model '", m.label, "'"), e);
    }
  }
  std::map<std::string, TensorJob*> jobs;
  for (TensorJob& job : plan.jobs) jobs[job.out.name] = &job;
  const MergeStage merge_stage = [&](const std::vector<std::string>& names, const std::vector<Statistics>& grams,
                                     MemoryWeights& merged) {
    for (const std::string& name : names) {
      auto it = jobs.find(name);
      if (it == jobs.end()) continue;  // not produced by this merge: the engine keeps each model's own
      TensorJob& job = *it->second;
      point_statistics(plan, job, grams);
      std::vector<float> values(static_cast<size_t>(job.call.numel()));
      if (!job.method) {
        const TensorView& v = job.call.inputs[0].view;
        to_f32(v.dtype, v.data, values.data(), values.size());
      } else {
        std::unique_ptr<MergeKernel> kernel = job.method->prepare(job.call);
        for_each_block(job.call, [&](const RowBlock& block) {
          kernel->map(block, values.data() + block.first_element());
        });
        round_to_dtype(job.out.dtype, values.data(), values.size());
      }
      merged.set(name, job.out.shape, std::move(values));
    }
  };
  MemoryWeights merged;
  auto grams = std::make_shared<std::vector<Statistics>>(
      encoder ? sequential_pair_gram_statistics(encoder_config_of(first), pair_inputs, merge_stage, merged)
              : sequential_gram_statistics(decoder_config_from_json(first.config(), first.has("lm_head.weight")),
                                           inputs, merge_stage, merged));
  for (TensorJob& job : plan.jobs) point_statistics(plan, job, *grams);
  plan.computed_statistics = grams;
}

}  // namespace alloy
