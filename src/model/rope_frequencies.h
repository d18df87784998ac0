// RoPE's per-pair frequencies and the cos/sin tables the rope op reads, with the scalings of
// config.json's rope_scaling ("linear": positions divided by factor; "llama3": low frequencies
// divided by factor, high ones kept, a smooth blend between), as Hugging Face transformers
// computes them.
#pragma once
#include <cstdint>
#include <vector>

#include "model/model_config.h"

namespace alloy {

// head_dim/2 inverse frequencies: theta^(-2i/head_dim), then scaled.
std::vector<double> rope_inv_freq(const RopeConfig& rope, int64_t head_dim);

template <class S>
struct RopeTables {
  std::vector<S> cos, sin;  // [seq_len, head_dim/2]
};
template <class S>
RopeTables<S> rope_tables(const RopeConfig& rope, int64_t head_dim, int64_t seq_len);

}  // namespace alloy
