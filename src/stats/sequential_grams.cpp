#include "stats/sequential_grams.h"

#include <set>

#include "model/model_config.h"

namespace alloy {

namespace {

// Model i with the merged tensors in place of its own wherever the merge has them.
class MergedBelow : public WeightSource {
 public:
  MergedBelow(const MemoryWeights& merged, const WeightSource& own) : merged_(merged), own_(own) {}
  bool has(const std::string& name) const override { return merged_.has(name) || own_.has(name); }
  Shape shape(const std::string& name) const override {
    return merged_.has(name) ? merged_.shape(name) : own_.shape(name);
  }
  Weight get(const std::string& name) const override { return merged_.has(name) ? merged_.get(name) : own_.get(name); }

 private:
  const MemoryWeights& merged_;
  const WeightSource& own_;
};

// The model's tensors in merge order: the embedding, each block, then the final norm and head.
std::vector<std::vector<std::string>> stages(const ModelConfig& config) {
  std::vector<std::vector<std::string>> out(static_cast<size_t>(config.num_layers + 2));
  for (const ExpectedTensor& t : decoder_tensors(config)) {
    size_t stage = out.size() - 1;
    if (t.name == "model.embed_tokens.weight") stage = 0;
    for (int64_t l = 0; l < config.num_layers; ++l)
      if (t.name.starts_with(layer_prefix(l))) stage = static_cast<size_t>(l + 1);
    out[stage].push_back(t.name);
  }
  return out;
}

}  // namespace

std::vector<Statistics> sequential_gram_statistics(const ModelConfig& config, const std::vector<SequentialInput>& models,
                                                   const MergeStage& merge_stage, MemoryWeights& merged) {
  std::vector<Statistics> grams(models.size());
  const std::vector<std::vector<std::string>> all = stages(config);
  for (size_t stage = 0; stage < all.size(); ++stage) {
    const std::vector<std::string>& names = all[stage];
    const std::set<std::string> wanted(names.begin(), names.end());
    const auto keep = [&](const std::string& weight) { return wanted.count(weight) > 0; };
    if (stage > 0)  // the embedding has no linear input to tap
      for (size_t i = 0; i < models.size(); ++i) {
        const MergedBelow weights(merged, *models[i].weights);
        for (auto& [name, gram] : gram_statistics(DecoderLM<float>(config, weights), models[i].chunks, keep))
          grams[i][name] = std::move(gram);
      }
    merge_stage(names, grams, merged);
  }
  return grams;
}

}  // namespace alloy
