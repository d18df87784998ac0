#include "stats/sequential_grams.h"

#include <set>

#include "model/model_config.h"
#include "stats/pair_statistics.h"

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

// An encoder's tensors in merge order: the embeddings, then each layer.
std::vector<std::vector<std::string>> stages(const EncoderConfig& config) {
  std::vector<std::vector<std::string>> out(static_cast<size_t>(config.num_layers + 1));
  for (const ExpectedTensor& t : encoder_tensors(config)) {
    size_t stage = 0;
    for (int64_t l = 0; l < config.num_layers; ++l)
      if (t.name.starts_with(encoder_layer_prefix(config, l))) stage = static_cast<size_t>(l + 1);
    out[stage].push_back(t.name);
  }
  return out;
}

// Model i's Gram matrices of the linear weights `keep` names, run with `weights`.
using StageGrams = std::function<Statistics(size_t model, const WeightSource& weights,
                                            const std::function<bool(const std::string&)>& keep)>;

std::vector<Statistics> run_stages(const std::vector<std::vector<std::string>>& all,
                                   const std::vector<const WeightSource*>& own, const StageGrams& grams_of,
                                   const MergeStage& merge_stage, MemoryWeights& merged) {
  std::vector<Statistics> grams(own.size());
  for (size_t stage = 0; stage < all.size(); ++stage) {
    const std::vector<std::string>& names = all[stage];
    const std::set<std::string> wanted(names.begin(), names.end());
    const auto keep = [&](const std::string& weight) { return wanted.count(weight) > 0; };
    if (stage > 0)  // the embedding has no linear input to tap
      for (size_t i = 0; i < own.size(); ++i)
        for (auto& [name, gram] : grams_of(i, MergedBelow(merged, *own[i]), keep)) grams[i][name] = std::move(gram);
    merge_stage(names, grams, merged);
  }
  return grams;
}

}  // namespace

std::vector<Statistics> sequential_gram_statistics(const ModelConfig& config, const std::vector<SequentialInput>& models,
                                                   const MergeStage& merge_stage, MemoryWeights& merged) {
  std::vector<const WeightSource*> own;
  for (const SequentialInput& m : models) own.push_back(m.weights);
  const StageGrams grams_of = [&](size_t i, const WeightSource& weights, const auto& keep) {
    return gram_statistics(DecoderLM<float>(config, weights), models[i].chunks, keep);
  };
  return run_stages(stages(config), own, grams_of, merge_stage, merged);
}

std::vector<Statistics> sequential_pair_gram_statistics(const EncoderConfig& config,
                                                        const std::vector<SequentialPairInput>& models,
                                                        const MergeStage& merge_stage, MemoryWeights& merged) {
  std::vector<const WeightSource*> own;
  for (const SequentialPairInput& m : models) own.push_back(m.weights);
  const StageGrams grams_of = [&](size_t i, const WeightSource& weights, const auto& keep) {
    return pair_gram_statistics(Encoder<float>(config, weights), models[i].probe, keep);
  };
  return run_stages(stages(config), own, grams_of, merge_stage, merged);
}

}  // namespace alloy
