// Encoder: forward and backward passes of a BERT-family text encoder (encoder_config.h) over a
// padded batch, pooled to one embedding per sequence (mean over the real tokens or the first
// token, optionally L2-normalised). The backward takes the gradient of any loss on the pooled
// embeddings and streams d(loss)/d(weight) to a sink by tensor name, as DecoderLM does. S is float
// to run models and double for finite-difference checks; weights come from a WeightSource as f32.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/decoder.h"
#include "model/encoder_config.h"
#include "model/weight_source.h"

namespace alloy {

// batch sequences of seq_len slots, row-major; mask 1 for a real token, 0 for padding (padded
// slots hold the pad token). token_types empty means all 0.
struct EncoderBatch {
  int64_t batch = 0;
  int64_t seq_len = 0;
  std::vector<int32_t> tokens;
  std::vector<int32_t> token_types;
  std::vector<uint8_t> mask;
};
// Right-pads `sequences` with pad_id to the longest one.
EncoderBatch pad_sequences(const std::vector<std::vector<int32_t>>& sequences, int32_t pad_id);

enum class Pooling { kMean, kCls };
struct PoolingOptions {
  Pooling pooling = Pooling::kMean;
  bool normalize = false;  // L2-normalise each pooled embedding
};

template <class S>
class Encoder {
 public:
  // Checks every tensor's presence and shape; throws Error naming the first bad one.
  Encoder(EncoderConfig config, const WeightSource& weights);
  const EncoderConfig& config() const { return config_; }

  // The last layer's output [batch*seq_len, hidden] (padded rows hold values nothing reads).
  // Taps: linear inputs by weight name; hidden(l, ...) after layer l, l = -1 for the embeddings' LayerNorm.
  std::vector<S> hidden_states(const EncoderBatch& batch, const Taps<S>& taps = {}) const;
  // Pooled embeddings [batch, hidden].
  std::vector<S> embed(const EncoderBatch& batch, const PoolingOptions& pooling, const Taps<S>& taps = {}) const;
  // Runs embed, asks `loss_gradient` for d(loss)/d(embeddings) [batch, hidden] given the
  // embeddings, and streams the gradient of every weight tensor to `sink`. Returns the embeddings.
  using LossGradient = std::function<std::vector<S>(std::span<const S> embeddings)>;
  std::vector<S> embed_and_gradient(const EncoderBatch& batch, const PoolingOptions& pooling,
                                    const LossGradient& loss_gradient, const GradSink<S>& sink,
                                    const Taps<S>& taps = {}) const;

 private:
  EncoderConfig config_;
  const WeightSource& weights_;
};

extern template class Encoder<float>;
extern template class Encoder<double>;

// The position ids of a batch: BERT counts slots from 0; RoBERTa/XLM-R count only non-pad tokens
// from pad_token_id + 1 and give pad tokens pad_token_id (Hugging Face's rule).
std::vector<int32_t> encoder_positions(const EncoderConfig& config, const EncoderBatch& batch);

}  // namespace alloy
