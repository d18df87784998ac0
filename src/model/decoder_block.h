// One transformer block of the decoder (internal to src/model): its weights converted to S while
// it runs, the activations its backward needs, and its forward and backward through ops.h.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/model_config.h"
#include "model/rope_frequencies.h"
#include "model/weight_source.h"

namespace alloy {

// A weight as S: the source's f32 values borrowed for float, converted for double.
template <class S>
struct Param {
  Weight source;
  std::vector<S> converted;
  const S* data = nullptr;
  explicit operator bool() const { return data != nullptr; }
};
template <class S>
Param<S> load_param(const WeightSource& weights, const std::string& name);

template <class S>
struct BlockWeights {
  Param<S> in_norm, q, k, v, q_bias, k_bias, v_bias, q_norm, k_norm, o, o_bias, post_norm, gate, up, down;
};
template <class S>
BlockWeights<S> load_block(const ModelConfig& config, const WeightSource& weights, int64_t layer);

// Activations of one block for one batch ([rows = batch*seq_len, ...]).
template <class S>
struct BlockCache {
  std::vector<S> x, inv1, h1, q_raw, k_raw, inv_q, inv_k, q, k, v, probs, o, x2, inv2, h2, g, u, a;
};

struct BlockShape {
  int64_t batch, seq_len;
  int64_t rows() const { return batch * seq_len; }
};

// x [rows, hidden] in, the block's output written back to x; the cache filled for the backward.
template <class S>
void block_forward(const ModelConfig& config, int64_t layer, const BlockWeights<S>& w, const BlockShape& shape,
                   const RopeTables<S>& rope, const Taps<S>& taps, std::vector<S>& x, BlockCache<S>& cache);
// dx: the gradient at the block's output in, at its input out; each weight's gradient to the sink.
template <class S>
void block_backward(const ModelConfig& config, int64_t layer, const BlockWeights<S>& w, const BlockShape& shape,
                    const RopeTables<S>& rope, const BlockCache<S>& cache, std::vector<S>& dx,
                    const GradSink<S>& sink);

}  // namespace alloy
