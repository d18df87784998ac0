#include "methods/blocks/sign_consensus.h"

#include <algorithm>

#include "util/vectorize.h"

namespace alloy {

namespace {

// The election and the merge as loops over elements, one task vector at a time, so each loop
// vectorises; per element the sums still add the task vectors in order m = 0, 1, ...

// s[j] += scale · v[j]  (scale: w_m for the weighted election, 1 for the paper's)
ALLOY_VECTORIZED void add_votes(double* s, const double* v, double scale, int64_t len) {
  for (int64_t j = 0; j < len; ++j) s[j] += scale * v[j];
}

ALLOY_VECTORIZED void add_votes_unscaled(double* s, const double* v, int64_t len) {
  for (int64_t j = 0; j < len; ++j) s[j] += v[j];
}

// s[j] becomes the elected sign: +1 when the vote is >= 0, else −1.
ALLOY_VECTORIZED void elect(double* s, int64_t len) {
  for (int64_t j = 0; j < len; ++j) s[j] = s[j] >= 0 ? 1.0 : -1.0;
}

// Adds task vector m where its voter (w·v for the weighted election, v for the paper's) has the
// elected sign: same non-zero sign, as a select (agreement is data-dependent).
ALLOY_VECTORIZED void add_agreeing(const double* __restrict elected, const double* __restrict v, double w,
                                   int64_t len, double* __restrict mixed, double* __restrict divisor) {
  for (int64_t j = 0; j < len; ++j) {
    const double wd = w * v[j];
    const double agree = wd * elected[j] > 0 ? 1.0 : 0.0;
    mixed[j] += wd * agree;
    divisor[j] += w * agree;
  }
}

ALLOY_VECTORIZED void add_agreeing_unweighted(const double* __restrict elected, const double* __restrict v, double w,
                                              int64_t len, double* __restrict mixed, double* __restrict divisor) {
  for (int64_t j = 0; j < len; ++j) {
    const double wd = w * v[j];
    const double agree = v[j] * elected[j] > 0 ? 1.0 : 0.0;
    mixed[j] += wd * agree;
    divisor[j] += w * agree;
  }
}

ALLOY_VECTORIZED void replace_zero_divisors(double* divisor, int64_t len) {
  for (int64_t j = 0; j < len; ++j) divisor[j] = divisor[j] == 0 ? 1.0 : divisor[j];
}

// The whole election and merge for a fixed number N of task vectors in one loop over elements
// (elect_and_merge: the loops over m unrolled, no intermediate arrays, the same bits).
template <int N, bool weighted>
__attribute__((always_inline)) inline void consensus_fixed(const double* const* v, const double* w, int64_t len,
                                                         double* __restrict mixed, double* __restrict divisor) {
  const double* r[N];
  double wm[N];
#pragma GCC unroll 8
  for (int m = 0; m < N; ++m) {
    r[m] = v[m];
    wm[m] = w[m];
  }
  for (int64_t j = 0; j < len; ++j) {
    double e[N];
#pragma GCC unroll 8
    for (int m = 0; m < N; ++m) e[m] = r[m][j];
    elect_and_merge<N, weighted>(e, wm, mixed[j], divisor[j]);
  }
}

#define ALLOY_CONSENSUS(N)                                                                             \
  ALLOY_VECTORIZED void consensus_weighted_##N(const double* const* v, const double* w, int64_t len,   \
                                               double* mixed, double* divisor) {                       \
    consensus_fixed<N, true>(v, w, len, mixed, divisor);                                               \
  }                                                                                                    \
  ALLOY_VECTORIZED void consensus_unweighted_##N(const double* const* v, const double* w, int64_t len, \
                                                 double* mixed, double* divisor) {                     \
    consensus_fixed<N, false>(v, w, len, mixed, divisor);                                              \
  }
ALLOY_CONSENSUS(2)
ALLOY_CONSENSUS(3)
ALLOY_CONSENSUS(4)
#undef ALLOY_CONSENSUS

using FixedConsensus = void (*)(const double* const*, const double*, int64_t, double*, double*);

// The fused loop for 2 to 4 task vectors (the common recipes), nullptr otherwise.
FixedConsensus fixed_consensus(size_t models, bool weighted) {
  switch (models) {
    case 2: return weighted ? consensus_weighted_2 : consensus_unweighted_2;
    case 3: return weighted ? consensus_weighted_3 : consensus_unweighted_3;
    case 4: return weighted ? consensus_weighted_4 : consensus_unweighted_4;
    default: return nullptr;
  }
}

}  // namespace

void sign_consensus(std::span<const double* const> v, std::span<const double> w, int64_t len, SignRule rule,
                    double* mixed, double* divisor) {
  constexpr int64_t kTile = 512;  // elements at a time: the signs and divisors stay on the stack
  double sign[kTile], div[kTile];
  const bool weighted = rule == SignRule::Weighted;
  if (FixedConsensus fused = fixed_consensus(v.size(), weighted)) {
    fused(v.data(), w.data(), len, mixed, divisor);
    return;
  }
  for (int64_t j0 = 0; j0 < len; j0 += kTile) {
    const int64_t n = std::min(kTile, len - j0);
    std::fill(sign, sign + n, 0.0);
    for (size_t m = 0; m < v.size(); ++m) {
      if (weighted)
        add_votes(sign, v[m] + j0, w[m], n);
      else
        add_votes_unscaled(sign, v[m] + j0, n);
    }
    elect(sign, n);
    std::fill(mixed + j0, mixed + j0 + n, 0.0);
    std::fill(div, div + n, 0.0);
    for (size_t m = 0; m < v.size(); ++m) {
      if (weighted)
        add_agreeing(sign, v[m] + j0, w[m], n, mixed + j0, div);
      else
        add_agreeing_unweighted(sign, v[m] + j0, w[m], n, mixed + j0, div);
    }
    replace_zero_divisors(div, n);
    std::copy(div, div + n, divisor + j0);
  }
}

}  // namespace alloy
