// Whole-tensor vector algebra for the spherical methods (slerp, nuslerp, multislerp, karcher).
// Their results are linear combinations of the inputs whose scalar coefficients depend only on
// norms and dot products, so one f64 reduction pass (a Gram matrix) and a little algebra on
// coefficient vectors replace mergekit's tensor-sized temporaries; the kernel is a weighted sum.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "methods/method.h"

namespace alloy {

// f64 dot products of f32 arrays; with a centre c: Σ (a - c)(b - c). The summation order depends
// only on n, so a result is reproducible.
double dot_f64(const float* a, const float* b, int64_t n);
double centred_dot_f64(const float* a, const float* b, const float* centre, int64_t n);
// All of them for k arrays at once: out[q] for the pairs a <= b in order (0,0), (0,1), ... (0,k-1),
// (1,1), ..., the same bits as dot_f64 / centred_dot_f64 (centre may be null) on each pair. Reads
// every element once for k <= 4 (vectorised), pair by pair beyond.
void gram_upper_f64(const float* const* x, size_t k, const float* centre, int64_t n, double* out);

// Element-wise f64 accumulation of f32 arrays, the inner loops of every weighted-sum kernel
// (vectorised, ALLOY_VECTORIZED): acc[k] += w * x[k]; acc[k] += w * (x[k] - c[k]).
void accumulate_scaled(double* acc, const float* x, double w, int64_t n);
void accumulate_scaled_delta(double* acc, const float* x, const float* c, double w, int64_t n);
// out[k] = float(acc[k]); out[k] = float(c[k] + acc[k]) (one rounding each).
void narrow_to_f32(const double* acc, float* out, int64_t n);
void narrow_add_to_f32(const float* c, const double* acc, float* out, int64_t n);

// A symmetric n x n matrix of dot products, row-major.
struct Gram {
  size_t n = 0;
  std::vector<double> g;
  double operator()(size_t i, size_t j) const { return g[i * n + j]; }
  double& operator()(size_t i, size_t j) { return g[i * n + j]; }
  // <a, b> for the vectors Σ a_i v_i and Σ b_i v_i (a^T G b); norm() clamps rounding below zero.
  double inner(std::span<const double> a, std::span<const double> b) const;
  double norm(std::span<const double> a) const;
};

// Dot products over the whole tensor of the inputs `which` (indices into call.inputs), or of their
// differences from input `centre` when centre >= 0. One deterministic pass (for_each_block).
Gram gram_matrix(const MergeCall& call, const std::vector<size_t>& which, int centre = -1);

// A kernel computing out = centre + Σ c_i (x_i - centre), or Σ c_i x_i when centre < 0, per element
// in f64 with one rounding to f32. `coefficients` has one entry per input (the centre's is ignored);
// inputs with a zero coefficient are not read.
std::unique_ptr<MergeKernel> weighted_sum_kernel(std::vector<double> coefficients, int centre = -1);

// The kernel that returns input i unchanged (a method given a single model).
std::unique_ptr<MergeKernel> copy_kernel(size_t input);

}  // namespace alloy
