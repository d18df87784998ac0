// How probe chunks go through the engine: consecutive chunks of one length as one batch of at most
// kChunksPerPass (bounding the activations a backward pass keeps). The loss is a sum over scored
// tokens, so batching changes nothing but speed.
#pragma once
#include <cstdint>
#include <vector>

#include "model/decoder.h"

namespace alloy {

inline constexpr size_t kChunksPerPass = 16;

std::vector<TokenBatch> equal_length_passes(const std::vector<TokenBatch>& chunks);

// Targets that are scored (not negative) in a batch.
int64_t scored_tokens(const TokenBatch& batch);

}  // namespace alloy
