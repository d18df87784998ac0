// The closing advice of `alloy analyze`: one rule over two whole-model numbers, the mean pairwise
// cosine c̄ of the task vectors and their sign conflict s (geometry_sums.h):
//   c̄ ≥ 0.3              aligned: averaging (linear, task_arithmetic) keeps what they share
//   c̄ < 0.1 and s ≥ 0.4  conflicting: ties or dare_ties, density ≈ 1 − s (to 0.1, in [0.1, 0.9])
//   otherwise            weakly related, few conflicts: task_arithmetic (or linear) adds them
// Fewer than two non-zero task vectors: nothing to compare.
#pragma once
#include <optional>
#include <string>

#include "analyze/geometry_sums.h"

namespace alloy {

struct MergeAdvice {
  std::string method;              // "linear", "ties", "task_arithmetic", or "none"
  std::optional<double> density;   // for "ties"
  std::optional<double> mean_cosine;
  std::optional<double> conflict;
  std::string text;                // one line for people
};

inline constexpr double kAlignedCosine = 0.3;
inline constexpr double kUnrelatedCosine = 0.1;
inline constexpr double kConflictingShare = 0.4;

MergeAdvice merge_advice(const GeometrySums& whole_model);

}  // namespace alloy
