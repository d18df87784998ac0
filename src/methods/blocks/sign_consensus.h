// Sign consensus (TIES' "elect" and "disjoint merge" steps): per element, elect a sign from the
// task vectors, then keep only the entries that agree with it.
#pragma once
#include <cstdint>
#include <span>

namespace alloy {

// Two election rules:
//   Weighted   (mergekit, the default): S = Σ_m w_m·v_m, so weights (and negative weights) vote.
//   Unweighted (the TIES paper, Yadav et al. 2023): S = Σ_m v_m; weights only scale the merge.
// Elected sign: +1 if S >= 0, else −1. Entry m agrees when its sign (of w_m·v_m for Weighted, of
// v_m for Unweighted) equals the elected sign; zero entries have sign 0 and never agree.
enum class SignRule { Weighted, Unweighted };

// For j in [0, len): mixed[j] = Σ_m w_m·v[m][j]·agree_mj and divisor[j] = Σ_m w_m·agree_mj, with
// a divisor of 0 replaced by 1 (no agreeing entry, or agreeing weights that cancel). Sums in double.
void sign_consensus(std::span<const double* const> v, std::span<const double> w, int64_t len, SignRule rule,
                    double* mixed, double* divisor);

// The same for one element (T = double) or for four, lane by lane (T = F64x4, util/lanes.h):
// v[m] is task vector m's entry; the operations of sign_consensus in its order, so a loop that
// applies the masks and adds to the base around it (fused, no arrays between) gives its bits.
template <int N, bool Weighted, class T>
__attribute__((always_inline)) inline void elect_and_merge(const T (&v)[N], const double (&w)[N], T& mixed,
                                                           T& divisor) {
  const T zero = T{} + 0.0, one = zero + 1.0;
  T vote = zero;
#pragma GCC unroll 8
  for (int m = 0; m < N; ++m) {
    if constexpr (Weighted)
      vote += w[m] * v[m];
    else
      vote += v[m];
  }
  const T elected = vote >= 0 ? one : -one;
  T mix = zero, div = zero;
#pragma GCC unroll 8
  for (int m = 0; m < N; ++m) {
    const T wd = w[m] * v[m];
    const T agree = (Weighted ? wd : v[m]) * elected > 0 ? one : zero;
    mix += wd * agree;
    div += w[m] * agree;
  }
  mixed = mix;
  divisor = div == 0 ? one : div;
}

}  // namespace alloy
