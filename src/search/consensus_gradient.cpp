#include "search/consensus_gradient.h"

#include "util/error.h"

namespace alloy {

ConsensusTerms consensus_terms(const MergeCall& call, Sparsification kind) {
  const std::vector<size_t> models = call.non_base_inputs();
  std::vector<SparsifyParams> params(call.size());
  for (size_t i : models)
    if (kind != Sparsification::None) params[i].density = call.model_param(i, "density");
  const std::vector<TaskVectorMask> masks = plan_masks(call, kind, params, call.flag("rescale"));
  ConsensusTerms terms;
  terms.normalize = call.flag("normalize");
  terms.lambda = call.param("lambda");
  terms.rule = call.flag("ties_paper_sign") ? SignRule::Unweighted : SignRule::Weighted;
  terms.v.assign(models.size(), std::vector<double>(static_cast<size_t>(call.numel())));
  MaskScratch scratch;
  for_each_block(call, [&](const RowBlock& block) {
    const float* base = block.inputs[static_cast<size_t>(call.base)];
    for (size_t m = 0; m < models.size(); ++m)
      apply_mask(masks[models[m]], block.first_element(), block.size(), block.cols, block.inputs[models[m]], base,
                 terms.v[m].data() + block.first_element(), scratch);
  });
  return terms;
}

void add_consensus_weight_gradient(const ConsensusTerms& terms, std::span<const double> w, std::span<const float> g,
                                   double scale, std::span<double> out) {
  const size_t n = terms.v.size();
  if (w.size() != n || out.size() != n) fail("consensus gradient: ", w.size(), " weights for ", n, " task vectors");
  for (const std::vector<double>& v : terms.v)
    if (v.size() != g.size()) fail("consensus gradient: a gradient of ", g.size(), " elements for ", v.size());
  const bool weighted = terms.rule == SignRule::Weighted;
  std::vector<double> sums(n, 0.0);
  std::vector<bool> agree(n);
  for (size_t j = 0; j < g.size(); ++j) {
    double vote = 0;
    for (size_t m = 0; m < n; ++m) vote += weighted ? w[m] * terms.v[m][j] : terms.v[m][j];
    const double elected = vote >= 0 ? 1.0 : -1.0;
    double mixed = 0, divisor = 0;
    for (size_t m = 0; m < n; ++m) {
      const double wd = w[m] * terms.v[m][j];
      agree[m] = (weighted ? wd : terms.v[m][j]) * elected > 0;
      if (agree[m]) mixed += wd, divisor += w[m];
    }
    // A zero divisor is replaced by 1 in the merge: then θ is θ₀ + λ·M and D is no function of w.
    const bool divided = terms.normalize && divisor != 0;
    const double mean = divided ? mixed / divisor : 0.0;
    const double d = divided ? divisor : 1.0;
    for (size_t m = 0; m < n; ++m)
      if (agree[m]) sums[m] += double(g[j]) * (terms.v[m][j] - mean) / d;
  }
  for (size_t m = 0; m < n; ++m) out[m] += scale * terms.lambda * sums[m];
}

}  // namespace alloy
