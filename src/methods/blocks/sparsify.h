// Sparsification of task vectors (δ = model − base), the first step of TIES, DARE, Breadcrumbs and
// DELLA: which entries of each δ survive, and the optional L1 rescale that restores Σ|δ|.
// plan_masks runs the whole-tensor passes (top-k selection, rescale sums) once per tensor;
// apply_mask then computes any block of the sparsified δ, identically for any chunking.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "methods/blocks/counter_rng.h"
#include "methods/merge_call.h"
#include "methods/blocks/row_ranks.h"
#include "methods/blocks/top_k.h"

namespace alloy {

enum class Sparsification {
  None,               // task_arithmetic
  Magnitude,          // TIES: keep the floor(density·n) largest |δ|
  Random,             // DARE: keep each entry with probability density
  MagnitudeOutliers,  // Breadcrumbs: drop the gamma·n largest and the smallest, keep floor(density·n)
  DellaMagprune,      // DELLA: per row, keep probability rising with |δ| rank over density ± epsilon
};

struct SparsifyParams {
  double density = 1.0;
  double gamma = 0.01;    // MagnitudeOutliers
  double epsilon = 0.15;  // DellaMagprune
};

// Why `p` is unusable for `kind` (plan-time check, no data), or "" when it is fine.
std::string sparsify_params_error(Sparsification kind, const SparsifyParams& p);

// The prepared mask of one task vector.
struct TaskVectorMask {
  enum class Rule { All, None, TopK, Band, Bernoulli, Della };
  Rule rule = Rule::All;
  TopKRule upper, lower;  // TopK: keep upper; Band: keep upper and not lower
  double density = 1.0, epsilon = 0.0;
  CounterRng rng;       // Bernoulli, Della
  double scale = 1.0;   // L1 rescale factor (1 without rescale)
  // DARE's and DELLA's keep decisions, one bit per element (lane-interleaved in groups of 256,
  // see sparsify.cpp), when the rescale pass computed them and they fit the cache budget: the
  // merge then reads them instead of drawing (and ranking rows) again.
  std::shared_ptr<const std::vector<uint32_t>> kept;
};

// Largest keep-bit cache plan_masks keeps for one tensor (all its random masks together).
inline constexpr uint64_t kKeptBitsBudget = uint64_t{64} << 20;

// Plans the mask of every non-base input of `call` (entry `call.base` is unused), reading the
// tensor as few times as the masks need: none for task_arithmetic and unrescaled DARE/DELLA, one
// for rescaled DARE/DELLA, two (rarely three) for magnitude selection. `params` is indexed by input.
std::vector<TaskVectorMask> plan_masks(const MergeCall& call, Sparsification kind,
                                       const std::vector<SparsifyParams>& params, bool rescale);

// A magnitude mask over a range of elements: it keeps the entries whose |δ| bits (of the f32
// difference) m satisfy at_least <= m < below.
struct MagnitudeBand {
  uint32_t at_least, below;
};
// Whether m is such a mask everywhere (All, TopK, Band), piecewise constant in the index:
// band_at(m, e) holds for elements e .. band_changes_after(m, e) − 1.
bool is_band(const TaskVectorMask& m);
MagnitudeBand band_at(const TaskVectorMask& m, int64_t e);
int64_t band_changes_after(const TaskVectorMask& m, int64_t e);

// Reusable buffers for apply_mask (DELLA's per-row ranks).
struct MaskScratch {
  std::vector<uint32_t> keys, thresholds;  // per entry: |δ| bits; DELLA's keep threshold
  RankScratch rank;
  // DELLA's keep threshold of each doubled mean rank (less 2), for (cols, density, epsilon).
  std::vector<uint32_t> threshold_of_doubled_rank;
  std::tuple<int64_t, double, double> thresholds_for{-1, 0.0, 0.0};
};

// v[j] = scale · mask · (x[j] − base[j]) in double for the elements first .. first+len−1 of the
// tensor (flat indices; rows of `cols`). For Rule::Della the range must be whole rows.
void apply_mask(const TaskVectorMask& m, int64_t first, int64_t len, int64_t cols, const float* x,
                const float* base, double* v, MaskScratch& scratch);

}  // namespace alloy
