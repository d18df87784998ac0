// The task-arithmetic family's combine loops (methods/task_arithmetic.cpp): the sum of weighted
// task vectors or their sign consensus, added to the base and rounded once. Besides the loops over
// f64 arrays, fused loops for 1 to 4 task vectors compute the same operations per element, in the
// same order (so the same bits), straight from the inputs and their masks' keep decisions.
#pragma once
#include <cstddef>
#include <cstdint>

#include "methods/blocks/sparsify.h"

namespace alloy {

// out[j] = base[j] + mixed[j] / divisor · λ, rounded once; an unchanged element is the base's bits.
void add_change(const float* base, const double* mixed, double divisor, double lambda, int64_t n, float* out);
// out[j] = base[j] + mixed[j] / divisor[j] · λ, rounded once.
void add_divided_change(const float* base, const double* mixed, const double* divisor, double lambda, int64_t n,
                        float* out);
// acc[j] += w · v[j]
void accumulate_scaled_f64(double* acc, const double* v, double w, int64_t n);

// The plain sum (normalised: ÷ divisor) or the sign consensus (normalised: ÷ the agreeing
// weights' sum), · λ, of 1 to 4 task vectors.
struct FusedMerge {
  bool consensus, weighted_vote, normalize;
  double divisor, lambda;
};

// out = base + Σ_m w[m]·v[m][·] ÷ divisor · λ over f64 task vectors v, as zeroing, accumulate_scaled_f64
// per model and add_change would, in one loop.
using FixedCombine = void (*)(const double* const* v, const double* w, const float* base, double divisor,
                              double lambda, int64_t n, float* out);
// The merge of inputs x against the base, each task vector (x[m] − base) · scale[m] where kept:
// masks that kept their decisions (bits[m] of elements first, first + 1, ...; first a multiple of 8) ...
using KeptMerge = void (*)(const float* const* x, const uint32_t* const* bits, uint64_t first, const double* scale,
                           const double* w, const FusedMerge& how, const float* base, int64_t n, float* out);
// ... or magnitude bands constant over the n elements.
using BandMerge = void (*)(const float* const* x, const MagnitudeBand* bands, const double* scale, const double* w,
                           const FusedMerge& how, const float* base, int64_t n, float* out);

// The fused loops for `models` task vectors: 1 to 4 (the common recipes), nullptr otherwise.
FixedCombine fixed_combine(size_t models);
KeptMerge kept_merge(size_t models);
BandMerge band_merge(size_t models);

}  // namespace alloy
