// DecoderLM: forward and backward passes of a Llama-shaped causal LM (model_config.h) over a
// batch of token sequences, with the next-token loss, the gradient of every weight streamed to a
// sink, and taps on linear-layer inputs and hidden states. S is float to run models and double
// for finite-difference checks; weights come from a WeightSource as f32 either way.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model/model_config.h"
#include "model/weight_source.h"

namespace alloy {

// batch sequences of seq_len tokens, row-major. targets[b*seq_len + t] is the token position t
// should predict (normally tokens[t+1]) or -1 where the position is not scored.
struct TokenBatch {
  int64_t batch = 0;
  int64_t seq_len = 0;
  std::vector<int32_t> tokens;
  std::vector<int32_t> targets;
};
// targets = the next token, scored from position `first_scored` on (the last position never is).
TokenBatch next_token_batch(std::vector<int32_t> tokens, int64_t batch, int64_t seq_len, int64_t first_scored = 0);

struct LossSum {
  double nll = 0;     // sum of -log p(target) over the scored positions
  int64_t count = 0;  // scored positions
  double mean() const { return count ? nll / static_cast<double>(count) : 0.0; }
};

template <class S>
struct Taps {
  // The input X [rows = batch*seq_len, cols = in_features] of each linear layer, named by its
  // weight tensor (q_proj, k_proj and v_proj each get the same X; lm_head is named by the tensor
  // it uses, model.embed_tokens.weight when tied).
  std::function<void(const std::string& weight, std::span<const S> x, int64_t rows, int64_t cols)> linear_input;
  // The residual stream after block `layer` [rows, hidden_size]; layer == num_layers is the final
  // norm's output.
  std::function<void(int64_t layer, std::span<const S> hidden, int64_t rows, int64_t cols)> hidden;
};

// Receives d(mean NLL over the batch's scored positions)/d(weight) for one tensor at a time, by its
// Hugging Face name, in the shape the tensor has. The span is valid during the call only.
template <class S>
using GradSink = std::function<void(const std::string& name, std::span<const S> grad)>;

template <class S>
class DecoderLM {
 public:
  // Checks every tensor's presence and shape; throws Error naming the first bad one.
  DecoderLM(ModelConfig config, const WeightSource& weights);

  const ModelConfig& config() const { return config_; }
  LossSum loss(const TokenBatch& batch, const Taps<S>& taps = {}) const;
  // The loss and, streamed to `sink`, its gradient with respect to every weight tensor. For
  // per-example gradients run one sequence per batch.
  LossSum loss_and_gradient(const TokenBatch& batch, const GradSink<S>& sink, const Taps<S>& taps = {}) const;
  // The loss when the residual stream entering block `first_layer` is `hidden` [batch*seq_len,
  // hidden_size] (what the hidden tap gave after block first_layer - 1); batch.tokens are unused.
  LossSum loss_from_hidden(int64_t first_layer, std::span<const S> hidden, const TokenBatch& batch) const;

 private:
  ModelConfig config_;
  const WeightSource& weights_;
};

extern template class DecoderLM<float>;
extern template class DecoderLM<double>;

}  // namespace alloy
