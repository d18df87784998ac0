// Sign consensus (TIES' "elect" and "disjoint merge" steps): per element, elect a sign from the
// task vectors, then keep only the entries that agree with it. Two election rules:
//   Weighted   (mergekit, the default): S = Σ_m w_m·v_m, so weights (and negative weights) vote.
//   Unweighted (the TIES paper, Yadav et al. 2023): S = Σ_m v_m; weights only scale the merge.
// Elected sign: +1 if S >= 0, else −1. Entry m agrees when its sign (of w_m·v_m for Weighted, of
// v_m for Unweighted) equals the elected sign; zero entries have sign 0 and never agree.
#pragma once
#include <cstdint>
#include <span>

namespace alloy {

enum class SignRule { Weighted, Unweighted };

// For j in [0, len): mixed[j] = Σ_m w_m·v[m][j]·agree_mj and divisor[j] = Σ_m w_m·agree_mj, with
// a divisor of 0 replaced by 1 (no agreeing entry, or agreeing weights that cancel). Sums in double.
void sign_consensus(std::span<const double* const> v, std::span<const double> w, int64_t len, SignRule rule,
                    double* mixed, double* divisor);

}  // namespace alloy
