// The chain rule through a sign-consensus merge (TIES, DARE-TIES) of one tensor with respect to the
// models' weights. The sparsification masks do not depend on the weights (top-k by |δ|, or a seeded
// random draw), so they are computed once and held fixed; the sign election and the disjoint mean
// are taken at the current weights. Per element, with v_m the masked task vectors,
//   e = sign(Σ_m w_m v_m) (or of Σ_m v_m, ties_paper_sign), a_m = [w_m v_m · e > 0],
//   M = Σ_m w_m v_m a_m, D = Σ_m w_m a_m,  θ = θ₀ + λ·M/D (normalize) or θ₀ + λ·M,
// so ∂θ/∂w_m = λ a_m (v_m − M/D) / D with normalize, λ a_m v_m without: exact wherever no
// election or agreement is at its boundary (the masks are constant almost everywhere).
#pragma once
#include <span>
#include <vector>

#include "methods/blocks/sign_consensus.h"
#include "methods/blocks/sparsify.h"
#include "methods/merge_call.h"

namespace alloy {

// The weight-independent part of one tensor's merge.
struct ConsensusTerms {
  std::vector<std::vector<double>> v;  // per non-base input, in call order: its sparsified (and rescaled) δ
  bool normalize = false;
  double lambda = 1.0;
  SignRule rule = SignRule::Weighted;
};

// The masked task vectors exactly as the method's kernel forms them (plan_masks, apply_mask) for
// `call`, with its density, rescale, seed and consensus settings.
ConsensusTerms consensus_terms(const MergeCall& call, Sparsification kind);

// out[m] += scale · Σ_j g[j] · ∂θ_j/∂w_m at the weights w (one per task vector).
void add_consensus_weight_gradient(const ConsensusTerms& terms, std::span<const double> w, std::span<const float> g,
                                   double scale, std::span<double> out);

}  // namespace alloy
