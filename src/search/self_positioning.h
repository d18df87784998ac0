// Self-Positioning (Li et al. 2024, "Improving General Text Embedding Model: Tackling Task Conflict
// and Data Imbalance through Model Merging"): the merge θ = θ₀ + λ·V(a) with V(a) the iterative
// SLERP of the whole-model task vectors τ_i = θ_i − θ₀ at positions a, and (a, λ) found by Adam on
// probe loss + μ·λ. docs/search.md defines V(a) precisely.
#pragma once
#include <vector>

#include "search/gradient_search.h"
#include "search/merge_gradient.h"
#include "search/strategy.h"

namespace alloy {

// Σ_t ⟨τ_i,t, τ_j,t⟩ over every tensor, in f64: all that V(a)'s coefficients depend on.
std::vector<double> task_vector_gram(const MergeInputs& inputs);

// V(a) = Σ_i s_i τ_i: the coefficients s (n values) of the iterative SLERP
//   v_1 = τ_1;  v_k = slerp(v_{k−1}, τ_k; t_k),  t_k = a_k / (a_1 + … + a_k)   (k = 2..n)
// where slerp(u, w; t) = sin((1−t)Ω)/sin Ω · u + sin(tΩ)/sin Ω · w, Ω the angle between u and w
// (linear interpolation where sin Ω < 1e-6 or a vector is zero), over the Gram matrix `gram`
// (n × n). With `jacobian`, also ∂s_i/∂a_j at [i * n + j]. Positions must be positive.
std::vector<double> slerp_coefficients(const std::vector<double>& a, const std::vector<double>& gram,
                                       std::vector<double>* jacobian = nullptr);

struct SelfPositioningSettings {
  GradientSearchSettings search;
  double mu = 0.0;  // the objective is probe loss + mu · lambda
  std::vector<double> start_positions;  // empty: 1 for every model
  double start_lambda = 1.0;
};

struct SelfPositioningResult {
  std::vector<double> positions;  // a
  double lambda = 0;
  std::vector<double> weights;    // λ·s_i: task_arithmetic weights that give the same merge
  double loss = 0;                // probe loss + mu·lambda at the result
  std::vector<double> losses;     // per step
};

// The objective at params = (a_1..a_n, λ) and its gradient, by the chain rule through the merge.
double self_positioning_objective(const MergeInputs& inputs, const std::vector<double>& gram,
                                  const std::vector<ProbeSet>& sets, double mu, const std::vector<double>& params,
                                  std::vector<double>& grad);

SelfPositioningResult self_positioning_search(const MergeInputs& inputs, const std::vector<ProbeSet>& sets,
                                              const SelfPositioningSettings& settings);

// The `self-positioning` strategy of alloy search: starts from positions = the recipe's weights
// and λ = its lambda (1 by default), μ = --mu (0 by default); the result is written as
// task_arithmetic weights λ·s_i.
SearchResult run_self_positioning(const SearchContext& context);

}  // namespace alloy
