// RegMean++ statistics (Nguyen et al., "RegMean++: Enhancing Effectiveness and Generalization of
// Regression Mean for Model Merging"): the Gram matrices of block l's linear layers are taken from
// running model i's probe chunks through a model whose embedding and blocks below l are the merge
// so far, and whose block l and above are model i's own. So block l is fitted to the inputs the
// merged blocks below actually produce (cross-layer), while the inputs of the layers inside block l
// still come from model i's block (intra-layer). The final norm and lm_head are the last stage.
// Embedding encoders run the same way on their probe pairs: the embeddings (with their LayerNorm)
// are the first stage, then each encoder layer.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/encoder.h"
#include "model/weight_source.h"
#include "stats/model_statistics.h"
#include "stats/probe_pairs.h"

namespace alloy {

struct SequentialInput {
  const WeightSource* weights = nullptr;  // model i
  std::vector<TokenBatch> chunks;         // its probe chunks
};

// Merges the tensors `names` (one stage: the embedding-side tensors, a block, or the final norm
// and head) given each model's Gram matrices gathered so far (by statistics name), and adds the
// merged values to `merged`.
using MergeStage = std::function<void(const std::vector<std::string>& names, const std::vector<Statistics>& grams,
                                      MemoryWeights& merged)>;

// Every model's Gram statistics (as gram_statistics names them), gathered stage by stage; `merged`
// ends holding the whole merged model. Cost: a forward pass of every chunk per block, plus one.
std::vector<Statistics> sequential_gram_statistics(const ModelConfig& config, const std::vector<SequentialInput>& models,
                                                   const MergeStage& merge_stage, MemoryWeights& merged);

struct SequentialPairInput {
  const WeightSource* weights = nullptr;  // model i, an embedding encoder
  PairProbe probe;                        // its probe pairs
};
// The same for encoders, with Gram matrices as pair_gram_statistics names them.
std::vector<Statistics> sequential_pair_gram_statistics(const EncoderConfig& config,
                                                        const std::vector<SequentialPairInput>& models,
                                                        const MergeStage& merge_stage, MemoryWeights& merged);

}  // namespace alloy
