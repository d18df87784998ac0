// The engine's numerical kernels, forward and backward, on row-major arrays of scalar S (float
// for running models, double for finite-difference checks). These are the seam for other
// backends: the decoder calls only these, so a GPU backend replaces this file's definitions.
// Sums that decide accuracy (RMSNorm, softmax, the loss, weight-gradient column sums) run in
// double whatever S is.
#pragma once
#include <cstdint>
#include <span>

namespace alloy::ops {

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op transposes when asked.
template <class S>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, S alpha, const S* a, int64_t lda,
          const S* b, int64_t ldb, S beta, S* c, int64_t ldc);

// y[rows, out] = x[rows, in] w[out, in]^T (+ bias[out] when not null).
template <class S>
void linear(const S* x, const S* w, const S* bias, int64_t rows, int64_t in, int64_t out, S* y);
// dw[out, in] = dy^T x; dx[rows, in] (+)= dy w (added when accumulate); dbias[out] = column sums of dy
// (skipped when null).
template <class S>
void linear_backward(const S* x, const S* w, const S* dy, int64_t rows, int64_t in, int64_t out, S* dw, S* dx,
                     bool accumulate, S* dbias);

// y = x / rms(x) * w per row of `cols`; inv_rms[rows] keeps 1/rms for the backward.
template <class S>
void rmsnorm(const S* x, const S* w, int64_t rows, int64_t cols, double eps, S* y, S* inv_rms);
// dx (+)= d/dx, dw[cols] = d/dw (overwritten).
template <class S>
void rmsnorm_backward(const S* x, const S* w, const S* inv_rms, const S* dy, int64_t rows, int64_t cols, S* dx,
                      bool accumulate, S* dw);

// Rotates x[tokens, heads * head_dim] in place, Hugging Face "rotate_half" layout: element i of a
// head pairs with element i + head_dim/2. Token r is at position r % seq_len. cos/sin are
// [seq_len, head_dim/2] tables (rope_tables). `inverse` applies the transposed rotation, which is
// the backward of the forward.
template <class S>
void rope(S* x, int64_t tokens, int64_t seq_len, int64_t heads, int64_t head_dim, const S* cos, const S* sin,
          bool inverse);

// Causal attention per sequence and head. q [B*T, H*hd], k and v [B*T, Hkv*hd] (head h reads kv
// head h / (H/Hkv)); probs [B, H, T, T] (row i holds keys 0..i); out [B*T, H*hd].
// window > 0 limits each query to the last `window` keys.
struct AttentionShape {
  int64_t batch, seq_len, heads, kv_heads, head_dim, window;
};
template <class S>
void attention(const AttentionShape& shape, const S* q, const S* k, const S* v, double scale, S* probs, S* out);
// dq overwritten; dk, dv overwritten.
template <class S>
void attention_backward(const AttentionShape& shape, const S* q, const S* k, const S* v, const S* probs,
                        const S* dout, double scale, S* dq, S* dk, S* dv);

// out = silu(gate) * up, elementwise over n.
template <class S>
void swiglu(const S* gate, const S* up, int64_t n, S* out);
template <class S>
void swiglu_backward(const S* gate, const S* up, const S* dout, int64_t n, S* dgate, S* dup);

// Per row of logits[rows, vocab] with target t: nll[row] = logsumexp - logit[t], and
// dlogits = (softmax - onehot(t)) * grad_scale (when dlogits is not null; may alias logits).
template <class S>
void softmax_xent(S* logits, const int32_t* targets, int64_t rows, int64_t vocab, double grad_scale, double* nll,
                  S* dlogits);

}  // namespace alloy::ops
