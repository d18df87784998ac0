// Paired InfoNCE with in-batch negatives, the contrastive loss of text-embedding training: for
// queries q_i and their positives p_i (i = 1..B), s_ij = cos(q_i, p_j) / tau and
// loss = mean_i -log softmax_j(s_ij)[i]. Also the retrieval accuracy (share of i whose best p_j is
// p_i) and the loss's gradient with respect to both sets of embeddings. Computed in double.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace alloy {

struct InfoNceResult {
  double loss = 0;
  double accuracy = 0;
  int64_t correct = 0;
  std::vector<double> dq, dp;  // [B, dim] each, when asked for
};

// queries and positives are [batch, dim] row-major; throws Error on mismatched sizes, a zero
// vector (no cosine) or tau <= 0.
InfoNceResult info_nce(std::span<const double> queries, std::span<const double> positives, int64_t batch,
                       int64_t dim, double temperature, bool with_gradient);

}  // namespace alloy
