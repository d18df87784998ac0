// Per-model statistics that data-aware merges learn from, computed by running the model over its
// probe chunks with the evaluation engine:
//  gram.<weight>   [in, in]        Σ XᵀX of each linear layer's input X (RegMean)
//  fisher.<weight> [weight shape]  mean over chunks of the squared gradient of that chunk's mean
//                                  next-token loss: the diagonal empirical Fisher (Fisher merging)
// Gram sums accumulate in f64; Fisher in one f32 accumulator per tensor (memory: one f32 copy of
// the model beside the engine's one block). Both are written as f32 safetensors.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/decoder.h"

namespace alloy {

struct StatTensor {
  Shape shape;
  std::vector<float> values;
};
using Statistics = std::map<std::string, StatTensor>;  // by statistics name ("gram.<weight>")

inline const char* kGramPrefix = "gram.";
inline const char* kFisherPrefix = "fisher.";

// The embedding's tap (a tied lm_head reads model.embed_tokens.weight) gets no Gram matrix: that
// tensor is also the embedding lookup, which a least-squares fit of the head's outputs ignores.
// `keep`, when given, names the linear weights whose Gram matrices are wanted (others are skipped).
Statistics gram_statistics(const DecoderLM<float>& model, const std::vector<TokenBatch>& chunks,
                           const std::function<bool(const std::string&)>& keep = {});
Statistics fisher_statistics(const DecoderLM<float>& model, const std::vector<TokenBatch>& chunks);

// The diagonal empirical Fisher of `samples` backward passes: per tensor, the mean of its squared
// gradients. `backward(i, sink)` runs sample i's pass into `sink`; a tensor takes its shape from
// `shapes`, or stays flat when its name is not there.
Statistics mean_squared_gradients(const std::map<std::string, Shape>& shapes, size_t samples,
                                  const std::function<void(size_t i, const GradSink<float>& sink)>& backward);

void write_statistics(const std::filesystem::path& path, const Statistics& stats,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace alloy
