// The InfoNCE loss of an encoder on (query, positive) token sequences: one padded batch holds the
// queries then the positives, so the same encoder embeds both towers and one backward pass gives
// the gradient through both.
#pragma once
#include <cstdint>
#include <vector>

#include "model/encoder.h"
#include "model/info_nce.h"

namespace alloy {

// Stacks queries then positives into one batch padded with the config's pad token.
EncoderBatch pair_batch(const EncoderConfig& config, const std::vector<std::vector<int32_t>>& queries,
                        const std::vector<std::vector<int32_t>>& positives);

// InfoNCE (info_nce.h) of the pooled embeddings of `batch`, whose first half are the queries and
// second half their positives. With a sink, the gradient of the loss with respect to every weight
// tensor is streamed to it (the result's dq/dp are then left empty).
template <class S>
InfoNceResult pair_info_nce(const Encoder<S>& encoder, const EncoderBatch& batch, const PoolingOptions& pooling,
                            double temperature, const GradSink<S>* sink = nullptr);

}  // namespace alloy
