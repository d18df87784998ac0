// Kernels the encoder needs beside ops.h, forward and backward on row-major arrays of S:
// LayerNorm with bias, GELU (erf and tanh forms), and bidirectional attention over padded
// sequences. Sums that decide accuracy (LayerNorm moments, softmax) run in double whatever S is.
#pragma once
#include <cstdint>

#include "model/encoder_config.h"

namespace alloy::ops {

// y = (x - mean) / sqrt(var + eps) * w + b per row of `cols`; mean[rows] and inv_std[rows] are
// kept for the backward.
template <class S>
void layernorm(const S* x, const S* w, const S* b, int64_t rows, int64_t cols, double eps, S* y, S* mean,
               S* inv_std);
// dx (+)= d/dx (added when accumulate); dw, db [cols] overwritten.
template <class S>
void layernorm_backward(const S* x, const S* w, const S* mean, const S* inv_std, const S* dy, int64_t rows,
                        int64_t cols, S* dx, bool accumulate, S* dw, S* db);

// out = gelu(x) elementwise; dx = gelu'(x) * dout.
template <class S>
void gelu(Activation kind, const S* x, int64_t n, S* out);
template <class S>
void gelu_backward(Activation kind, const S* x, const S* dout, int64_t n, S* dx);

// Attention of every query to every key of its own sequence whose mask is 1. q, k, v, out
// [B*T, H*hd]; mask [B*T]; probs [B, H, T, T] (masked keys get 0). Each sequence needs one
// unmasked token.
struct MaskedAttentionShape {
  int64_t batch, seq_len, heads, head_dim;
};
template <class S>
void masked_attention(const MaskedAttentionShape& shape, const S* q, const S* k, const S* v, const uint8_t* mask,
                      double scale, S* probs, S* out);
// dq, dk, dv overwritten.
template <class S>
void masked_attention_backward(const MaskedAttentionShape& shape, const S* q, const S* k, const S* v,
                               const S* probs, const S* dout, double scale, S* dq, S* dk, S* dv);

}  // namespace alloy::ops
