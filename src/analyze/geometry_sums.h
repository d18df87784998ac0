// GeometrySums: the running totals behind task-vector geometry (squared norms, pairwise dot
// products and sign counts of the task vectors τ_i = model_i − base), for any group of elements:
// a tensor, a layer, a tensor kind, the whole model. Totals add, so a group's sums are the sums
// of its tensors', and the statistics (norm, cosine, sign conflict) are derived only at the end.
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace alloy {

// The pairs (i, j), i < j, of `models` models in order (0,1), (0,2), ..., (1,2), ...
std::vector<std::pair<int, int>> model_pairs(int models);

struct GeometrySums {
  int models = 0;
  uint64_t elements = 0;                // elements seen (per model)
  std::vector<double> squares;          // per model: Σ τ_i²
  std::vector<double> dots;             // per pair: Σ τ_i τ_j
  std::vector<uint64_t> both_nonzero;   // per pair: elements where τ_i ≠ 0 and τ_j ≠ 0
  std::vector<uint64_t> signs_differ;   // per pair: those of them where sign τ_i ≠ sign τ_j
  uint64_t several_nonzero = 0;         // elements where at least two τ_i ≠ 0
  uint64_t signs_mixed = 0;             // those of them whose non-zero τ_i are not all one sign

  GeometrySums() = default;
  explicit GeometrySums(int model_count);
  // Adds another group's totals (same model count).
  GeometrySums& operator+=(const GeometrySums& other);
};

// ‖τ_i‖ of each model.
std::vector<double> norms(const GeometrySums& s);
// cos(τ_i, τ_j) per pair; nullopt where either task vector is zero on the group.
std::vector<std::optional<double>> cosines(const GeometrySums& s);
// Pairwise sign conflict per pair: signs_differ / both_nonzero; nullopt where no element has both
// non-zero.
std::vector<std::optional<double>> pair_conflicts(const GeometrySums& s);
// Sign conflict of the group, pooled over the pairs: Σ_pairs signs_differ / Σ_pairs both_nonzero
// (about 0.5 for independent signs, 0 for agreeing ones, whatever the number of models); nullopt
// where no element has two non-zero task-vector values.
std::optional<double> conflict_share(const GeometrySums& s);
// Elements with mixed signs: signs_mixed / several_nonzero, the share of elements where TIES's
// sign election overrules at least one model; nullopt like conflict_share.
std::optional<double> mixed_sign_share(const GeometrySums& s);

}  // namespace alloy
