#include "methods/blocks/sparsify.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "methods/blocks/keep_bits.h"
#include "util/error.h"
#include "util/lanes.h"
#include "util/vectorize.h"

namespace alloy {

namespace {

constexpr double kRescaleEps = 1e-7;  // mergekit's rescaled_masked_tensor: skip tiny norms

double task_delta(float x, float base) { return static_cast<double>(x) - static_cast<double>(base); }

// The number of elements a fraction of n names, truncated like Python's int(fraction * n).
int64_t fraction_of(double fraction, int64_t n) {
  double v = std::floor(fraction * static_cast<double>(n));
  return v <= 0 ? 0 : static_cast<int64_t>(std::min(v, static_cast<double>(n)));
}

// Σ|v[j]| and Σ|x[j] − base[j]| in four interleaved partial sums (one vector of them): a fixed
// order that depends only on n, so the sums are reproducible.
ALLOY_VECTORIZED double abs_sum(const double* v, int64_t n) {
  double s[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4)
    for (int l = 0; l < 4; ++l) s[l] += std::fabs(v[j + l]);
  for (; j < n; ++j) s[0] += std::fabs(v[j]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

ALLOY_VECTORIZED double abs_delta_sum(const float* x, const float* base, int64_t n) {
  double s[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4)
    for (int l = 0; l < 4; ++l) s[l] += std::fabs(task_delta(x[j + l], base[j + l]));
  for (; j < n; ++j) s[0] += std::fabs(task_delta(x[j], base[j]));
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// ORs the eight words of a group (lane k's into word k) into memory at `words`.
__attribute__((always_inline)) inline void or_group(uint32_t* words, const U32x8& group) {
  U32x8 w;
  std::memcpy(&w, words, sizeof w);
  w |= group;
  std::memcpy(words, &w, sizeof w);
}

// A random mask's rescale statistics in one loop: Σ|δ| and Σ|δ| over the kept entries, with the
// four interleaved partial sums of abs_delta_sum and abs_sum (as GCC vector lanes), so the same
// bits as those two over the masked deltas (kept entries times 1, the others 0). The draws are
// rng's for counters low, low + 1, ... under `key`; decide.lanes(j, draws, keep) sets the keep
// decisions of entries j .. j + 7 (lanes all ones or zero; vectors by reference, see mix32_lanes),
// decide.one(j, draw) gives one entry's. With `keep_bits`, also sets the keep bit of element
// first + j there for each kept entry j.
template <class Decide>
__attribute__((always_inline)) inline void masked_abs_sums(const float* x, const float* base, int64_t n,
                                                           const CounterRng& rng, uint32_t key, uint32_t low,
                                                           const Decide& decide, double& all, double& kept,
                                                           uint32_t* keep_bits, uint64_t first) {
  const CounterRng local = rng;
  // With eight-aligned elements, lane k's decisions all go to one word of the group: the decision
  // of step t of the group is its bit t, collected in `group` and ORed into memory once a group.
  const bool aligned = first % 8 == 0;
  U32x8 group = {};
  const I64x4 magnitude_bits = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
  const U32x8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
  F64x4 s = {}, k = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {  // eight draws at once (one AVX2 register), two halves of sums
    U32x8 draws = lane + (low + static_cast<uint32_t>(j));
    local.draw_lanes(key, draws);
    I32x8 keep;
    decide.lanes(j, draws, keep);
    if (keep_bits) {
      const uint64_t e = first + static_cast<uint64_t>(j);
      if (aligned) {
        const uint32_t step = static_cast<uint32_t>(e >> 3) & 31;
        group |= (reinterpret_cast<U32x8>(keep) & 1u) << step;
        if (step == 31) {
          or_group(keep_bits + keep_word(e), group);
          group = U32x8{};
        }
      } else {
        for (int l = 0; l < 8; ++l)
          if (keep[l]) set_kept(keep_bits, e + static_cast<uint64_t>(l));
      }
    }
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      F64x4 xd, bd;
      load_f64x4(x + j + 4 * half, xd);
      load_f64x4(base + j + 4 * half, bd);
      const I64x4 m = reinterpret_cast<I64x4>(xd - bd) & magnitude_bits;  // |δ|
      I64x4 kept_lanes;
      half_as_i64(keep, half, kept_lanes);
      s += reinterpret_cast<F64x4>(m);
      k += reinterpret_cast<F64x4>(m & kept_lanes);
    }
  }
  if (keep_bits && aligned && j > 0)  // the last group's steps not yet ORed in
    or_group(keep_bits + keep_word(first + static_cast<uint64_t>(j) - 8), group);
  for (; j < n; ++j) {
    const double m = std::fabs(task_delta(x[j], base[j]));
    const bool keep = decide.one(j, local.draw(key, low + static_cast<uint32_t>(j)));
    s[0] += m;
    k[0] += keep ? m : 0.0;
    if (keep_bits && keep) set_kept(keep_bits, first + static_cast<uint64_t>(j));
  }
  all = (s[0] + s[1]) + (s[2] + s[3]);
  kept = (k[0] + k[1]) + (k[2] + k[3]);
}

// DARE: kept when the draw is at most `last` (cutoff − 1, so that a cutoff of 2^32, keep all, fits).
struct DrawAtMost {
  uint32_t last;
  __attribute__((always_inline)) void lanes(int64_t, const U32x8& draws, I32x8& keep) const { keep = draws <= last; }
  bool one(int64_t, uint32_t draw) const { return draw <= last; }
};

// DELLA: kept when the draw is at most last[j], the entry's own threshold (della_thresholds).
struct DrawAtMostEach {
  const uint32_t* last;
  __attribute__((always_inline)) void lanes(int64_t j, const U32x8& draws, I32x8& keep) const {
    U32x8 l;
    std::memcpy(&l, last + j, sizeof l);
    keep = draws <= l;
  }
  bool one(int64_t j, uint32_t draw) const { return draw <= last[j]; }
};

ALLOY_VECTORIZED void bernoulli_abs_sums(const float* x, const float* base, int64_t n, const CounterRng& rng,
                                         uint32_t key, uint32_t low, uint32_t last, double& all, double& kept,
                                         uint32_t* keep_bits, uint64_t first) {
  masked_abs_sums(x, base, n, rng, key, low, DrawAtMost{last}, all, kept, keep_bits, first);
}

ALLOY_VECTORIZED void thresholded_abs_sums(const float* x, const float* base, int64_t n, const uint32_t* last,
                                           const CounterRng& rng, uint32_t key, uint32_t low, double& all,
                                           double& kept, uint32_t* keep_bits, uint64_t first) {
  masked_abs_sums(x, base, n, rng, key, low, DrawAtMostEach{last}, all, kept, keep_bits, first);
}

// Sets the keep bit of element first + j where v[j] != 0. (Only for the rare blocks whose counters
// wrap their low 32 bits; the others set their bits as they draw.)
void set_bits_of_nonzero(const double* v, int64_t n, uint64_t first, uint32_t* bits) {
  for (int64_t j = 0; j < n; ++j)
    if (v[j] != 0) set_kept(bits, first + static_cast<uint64_t>(j));
}

// DELLA's keep probability per row rises linearly with the ascending |δ| rank, from density−ε to
// density+ε: p = low + spread · (rank − 1) / span; a one-column row has no spread, p = density
// (mergekit divides 0 by 0 here, QUIRK 4). Equal magnitudes share their mean rank (mergekit breaks
// such ties arbitrarily): the same |δ| has the same p wherever it stands in its row, and a group's
// expected kept count is what any order among them would give, p being linear in the rank. With
// d = 2·rank − 2 (an integer for the half-integer mean ranks), p = low + spread · d / (2·span); for
// distinct magnitudes that is the formula above exactly (scaling by 2 is exact).
// An entry is kept when its draw's uniform u = draw·2^-32 is below p, that is when
// draw < ceil(p·2^32) (exact: p·2^32 is p scaled by a power of two), so each rank has an integer
// threshold: draw <= cutoff(p) − 1 (p is in (0, 1), validated).
// Fills scratch.thresholds with each entry's threshold, for the len entries (whole rows of `cols`).
const uint32_t* della_thresholds(const TaskVectorMask& m, const float* x, const float* base, int64_t len,
                                 int64_t cols, MaskScratch& scratch) {
  if (scratch.thresholds_for != std::make_tuple(cols, m.density, m.epsilon)) {
    scratch.thresholds_for = {cols, m.density, m.epsilon};
    const double low = cols > 1 ? m.density - m.epsilon : m.density;
    const double spread = cols > 1 ? 2 * m.epsilon : 0.0;
    const double twice_span = cols > 1 ? 2 * static_cast<double>(cols - 1) : 1.0;
    scratch.threshold_of_doubled_rank.resize(static_cast<size_t>(2 * cols - 1));
    for (int64_t d = 0; d < 2 * cols - 1; ++d) {
      const double p = low + spread * static_cast<double>(d) / twice_span;
      scratch.threshold_of_doubled_rank[static_cast<size_t>(d)] = static_cast<uint32_t>(CounterRng::cutoff(p) - 1);
    }
  }
  scratch.keys.resize(static_cast<size_t>(len));
  scratch.thresholds.resize(static_cast<size_t>(len));
  uint32_t* threshold = scratch.thresholds.data();
  magnitudes_of(x, base, len, scratch.keys.data());
  for (int64_t r = 0; r < len; r += cols)
    doubled_mean_ranks(scratch.keys.data() + r, cols, threshold + r, scratch.rank,
                       scratch.threshold_of_doubled_rank.data());
  return threshold;
}

}  // namespace

std::string sparsify_params_error(Sparsification kind, const SparsifyParams& p) {
  if (kind == Sparsification::None) return "";
  if (!std::isfinite(p.density)) return cat("density must be a finite number (got ", p.density, ")");
  if (p.density >= 1) return "";  // the task vector is kept whole, whatever the other parameters say
  switch (kind) {
    case Sparsification::Magnitude:
      if (p.density <= 0)
        return cat("density ", p.density, " would prune the whole task vector (mergekit refuses this too); use a "
                   "density in (0, 1], or weight 0 to leave the model out");
      break;
    case Sparsification::Random:
      if (p.density < 0) return cat("density must be in [0, 1] (got ", p.density, ")");
      break;
    case Sparsification::MagnitudeOutliers:
      if (p.density < 0) return cat("density must be in [0, 1] (got ", p.density, ")");
      if (!std::isfinite(p.gamma) || p.gamma < 0) return cat("gamma must be >= 0 (got ", p.gamma, ")");
      break;
    case Sparsification::DellaMagprune:
      if (p.density <= 0) break;  // the task vector is dropped, as in mergekit
      if (!std::isfinite(p.epsilon) || !(p.density - p.epsilon > 0) || !(p.density + p.epsilon < 1))
        return cat("epsilon must be chosen so that density ± epsilon is in (0, 1) (density ", p.density,
                   ", epsilon ", p.epsilon, ")");
      break;
    case Sparsification::None:
      break;
  }
  return "";
}

namespace {

// plan_masks's state for one tensor: each task vector's mask, the magnitude selectors that find its
// cuts, and the sums that rescale it.
struct MaskPlanning {
  std::vector<TaskVectorMask> masks;
  std::vector<std::unique_ptr<TopKSelector>> upper, lower;
  std::vector<char> share_first_pass, share_sample;
  std::vector<char> sums_pass;  // rescaled random masks: Σ|δ| and Σ|mask·δ| in one pass
  std::vector<double> before, after;  // Σ|δ| and Σ|kept δ|
  // The rescale pass's keep decisions, remembered as bits for the merge when they fit the budget:
  // reading a bit back costs less than ranking a row again (DELLA) or drawing again (DARE).
  std::vector<std::shared_ptr<std::vector<uint32_t>>> kept;
};

// Each task vector's rule (and its selectors, or its random stream), from its parameters.
MaskPlanning choose_rules(const MergeCall& call, Sparsification kind, const std::vector<SparsifyParams>& params,
                          bool rescale) {
  using Rule = TaskVectorMask::Rule;
  const size_t inputs = call.size();
  const int64_t n = call.numel();
  MaskPlanning planning;
  planning.masks.resize(inputs);
  planning.upper.resize(inputs);
  planning.lower.resize(inputs);
  planning.share_first_pass.assign(inputs, 0);
  planning.share_sample.assign(inputs, 0);
  planning.sums_pass.assign(inputs, 0);
  planning.before.assign(inputs, 0.0);
  planning.after.assign(inputs, 0.0);
  planning.kept.resize(inputs);
  std::vector<TaskVectorMask>& masks = planning.masks;
  std::vector<std::unique_ptr<TopKSelector>>& upper = planning.upper;
  std::vector<std::unique_ptr<TopKSelector>>& lower = planning.lower;
  std::vector<char>& share_first_pass = planning.share_first_pass;
  std::vector<char>& share_sample = planning.share_sample;
  std::vector<char>& sums_pass = planning.sums_pass;
  for (size_t i = 0; i < inputs; ++i) {
    if (static_cast<int>(i) == call.base) continue;
    const SparsifyParams& p = params[i];
    TaskVectorMask& m = masks[i];
    if (std::string why = sparsify_params_error(kind, p); !why.empty())
      call.fail_here(call.inputs[i].label + ": " + why);
    if (kind == Sparsification::None || p.density >= 1) continue;  // Rule::All, never rescaled
    m.density = p.density;
    switch (kind) {
      case Sparsification::Magnitude: {
        int64_t k = fraction_of(p.density, n);
        if (k == 0) {
          m.rule = Rule::None;
        } else {
          m.rule = Rule::TopK;
          upper[i] = std::make_unique<TopKSelector>(n, k, rescale);
        }
        break;
      }
      case Sparsification::MagnitudeOutliers: {
        // Rank by |δ| descending (ties: lower index first); keep ranks [n_top, n_top + target).
        int64_t target = fraction_of(p.density, n);
        int64_t n_top = fraction_of(p.gamma, n);
        int64_t n_bottom = n - target - n_top;
        if (n_bottom < 0) n_top += n_bottom;
        if (target == 0) {
          m.rule = Rule::None;
        } else if (n_top == 0) {
          m.rule = Rule::TopK;  // mergekit zeroes everything here (QUIRK 3); alloy keeps the target largest
          upper[i] = std::make_unique<TopKSelector>(n, target, rescale);
        } else {
          m.rule = Rule::Band;
          upper[i] = std::make_unique<TopKSelector>(n, n_top + target, rescale);
          lower[i] = std::make_unique<TopKSelector>(n, n_top, rescale);
          // Without windows the lower cut takes the upper cut's first-pass counts; with them it
          // takes the counts of the upper's first eighth, and each watches its own window.
          share_first_pass[i] = !lower[i]->windowed();
          share_sample[i] = lower[i]->windowed() && !upper[i]->done() && !lower[i]->done();
        }
        break;
      }
      case Sparsification::Random:
        m.rule = p.density <= 0 ? Rule::None : Rule::Bernoulli;
        break;
      case Sparsification::DellaMagprune:
        m.rule = p.density <= 0 ? Rule::None : Rule::Della;
        m.epsilon = p.epsilon;
        if (m.rule == Rule::Della && call.cols() >= (int64_t{1} << 31))
          call.fail_here(cat("della ranks within rows, and this tensor's rows have ", call.cols(),
                             " elements (at most 2^31 - 1 are supported)"));
        break;
      case Sparsification::None:
        break;
    }
    if (m.rule == Rule::Bernoulli || m.rule == Rule::Della) {
      m.rng = CounterRng(call.seed, call.tensor_name, i);
      sums_pass[i] = rescale;
    }
  }
  {
    size_t random = 0;
    for (size_t i = 0; i < inputs; ++i) random += sums_pass[i];
    const size_t words = keep_words(n);
    if (random > 0 && words * sizeof(uint32_t) * random <= kKeptBitsBudget)
      for (size_t i = 0; i < inputs; ++i)
        if (sums_pass[i]) planning.kept[i] = std::make_shared<std::vector<uint32_t>>(words, 0);
  }
  return planning;
}

// A random mask's rescale sums over block b (its first pass), keeping its decisions' bits.
void sum_first_pass(MaskPlanning& planning, size_t i, const RowBlock& b, const float* base, MaskScratch& scratch) {
  using Rule = TaskVectorMask::Rule;
  const int64_t at = b.first_element(), len = b.size();
  std::vector<std::shared_ptr<std::vector<uint32_t>>>& kept = planning.kept;
  std::vector<double>& before = planning.before;
  std::vector<double>& after = planning.after;
  std::vector<TaskVectorMask>& masks = planning.masks;
  if (static_cast<uint32_t>(at) <= UINT32_MAX - static_cast<uint32_t>(len)) {
    // (a block whose counters do not wrap their low 32 bits: one key, one fused loop)
    const TaskVectorMask& m = masks[i];
    const uint32_t key = m.rng.key_for(static_cast<uint32_t>(static_cast<uint64_t>(at) >> 32));
    uint32_t* bits = kept[i] ? kept[i]->data() : nullptr;
    double all = 0, kept_sum = 0;
    if (m.rule == Rule::Bernoulli) {
      bernoulli_abs_sums(b.inputs[i], base, len, m.rng, key, static_cast<uint32_t>(at),
                         static_cast<uint32_t>(CounterRng::cutoff(m.density) - 1), all, kept_sum, bits,
                         static_cast<uint64_t>(at));
    } else {
      const uint32_t* last = della_thresholds(m, b.inputs[i], base, len, b.cols, scratch);
      thresholded_abs_sums(b.inputs[i], base, len, last, m.rng, key, static_cast<uint32_t>(at), all, kept_sum,
                           bits, static_cast<uint64_t>(at));
    }
    before[i] += all;
    after[i] += kept_sum;
  } else {
    std::vector<double> masked(static_cast<size_t>(len));  // (rare: counters that wrap)
    apply_mask(masks[i], at, len, b.cols, b.inputs[i], base, masked.data(), scratch);
    before[i] += abs_delta_sum(b.inputs[i], base, len);
    after[i] += abs_sum(masked.data(), len);
    // A non-zero masked entry was kept; a zero δ is the same kept or not.
    if (kept[i]) set_bits_of_nonzero(masked.data(), len, static_cast<uint64_t>(at), kept[i]->data());
  }
}

// The passes over the tensor: every selector advances in step, and rescaled random masks sum in
// the first pass.
void run_passes(const MergeCall& call, MaskPlanning& planning) {
  const size_t inputs = call.size();
  std::vector<std::unique_ptr<TopKSelector>>& upper = planning.upper;
  std::vector<std::unique_ptr<TopKSelector>>& lower = planning.lower;
  const std::vector<char>& share_first_pass = planning.share_first_pass;
  const std::vector<char>& share_sample = planning.share_sample;
  const std::vector<char>& sums_pass = planning.sums_pass;
  std::vector<uint32_t> magnitude;
  MaskScratch scratch;
  auto pending = [&](bool first) {
    for (size_t i = 0; i < inputs; ++i)
      if ((upper[i] && !upper[i]->done()) || (lower[i] && !lower[i]->done()) || (first && sums_pass[i])) return true;
    return false;
  };
  // A band's lower cut counts the same first pass as its upper cut: it takes the upper's counts.
  auto shares_first_pass = [&](size_t i) {
    return share_first_pass[i] && upper[i]->in_first_pass() && lower[i]->in_first_pass();
  };
  // Whether input i (not the base) has work in this pass for elements [first, last).
  auto wants = [&](size_t i, bool first_pass, int64_t first, int64_t last) {
    auto in_range = [&](const std::unique_ptr<TopKSelector>& s) {
      if (!s || s->done()) return false;
      const auto [a, b] = s->pass_range();
      return a < last && first < b;
    };
    return in_range(upper[i]) || in_range(lower[i]) || (first_pass && sums_pass[i]);
  };
  for (bool first = true; pending(first); first = false) {
    // Only the inputs with work left are read, with the base whenever one of them is.
    auto wanted = [&](size_t input, int64_t a, int64_t b) {
      if (static_cast<int>(input) != call.base) return wants(input, first, a, b);
      for (size_t i = 0; i < inputs; ++i)
        if (static_cast<int>(i) != call.base && wants(i, first, a, b)) return true;
      return false;
    };
    for_each_block(call, [&](const RowBlock& b) {
      const float* base = b.inputs[static_cast<size_t>(call.base)];
      const int64_t at = b.first_element(), len = b.size();
      for (size_t i = 0; i < inputs; ++i) {
        if (static_cast<int>(i) == call.base || !b.inputs[i]) continue;
        const bool up = upper[i] && !upper[i]->done();
        // A band's lower cut waits while the upper counts the first eighth, then takes its counts.
        const bool waits = share_sample[i] && lower[i]->sampling() && upper[i]->sampling();
        const bool low = lower[i] && !lower[i]->done() && !shares_first_pass(i) && !waits;
        if (up || low) {
          magnitude.resize(static_cast<size_t>(len));
          magnitudes_of(b.inputs[i], base, len, magnitude.data());
          if (up) upper[i]->add(at, magnitude.data(), b.inputs[i], base, len);
          if (low) lower[i]->add(at, magnitude.data(), b.inputs[i], base, len);
        }
        if (waits && !upper[i]->sampling()) lower[i]->adopt_sample(*upper[i], at + len);
        if (first && sums_pass[i]) sum_first_pass(planning, i, b, base, scratch);
      }
    }, 1 << 14, wanted);
    for (size_t i = 0; i < inputs; ++i) {
      if (shares_first_pass(i)) lower[i]->adopt_first_pass(*upper[i]);
      if (upper[i]) upper[i]->end_pass();
      if (lower[i]) lower[i]->end_pass();
    }
  }
}

}  // namespace

std::vector<TaskVectorMask> plan_masks(const MergeCall& call, Sparsification kind,
                                       const std::vector<SparsifyParams>& params, bool rescale) {
  using Rule = TaskVectorMask::Rule;
  if (call.base < 0) call.fail_here("a base model is required for task vectors");
  MaskPlanning planning = choose_rules(call, kind, params, rescale);
  run_passes(call, planning);
  const size_t inputs = call.size();
  std::vector<TaskVectorMask>& masks = planning.masks;
  std::vector<std::unique_ptr<TopKSelector>>& upper = planning.upper;
  std::vector<std::unique_ptr<TopKSelector>>& lower = planning.lower;
  std::vector<double>& before = planning.before;
  std::vector<double>& after = planning.after;
  std::vector<std::shared_ptr<std::vector<uint32_t>>>& kept = planning.kept;
  for (size_t i = 0; i < inputs; ++i) {
    TaskVectorMask& m = masks[i];
    if (upper[i]) {
      m.upper = upper[i]->rule();
      before[i] = upper[i]->total_sum();
      after[i] = upper[i]->kept_sum();
    }
    if (lower[i]) {
      m.lower = lower[i]->rule();
      after[i] -= lower[i]->kept_sum();
    }
    if (rescale && m.rule != Rule::All && m.rule != Rule::None && before[i] >= kRescaleEps &&
        after[i] >= kRescaleEps)
      m.scale = before[i] / after[i];
    m.kept = std::move(kept[i]);
  }
  return masks;
}

namespace {

// The loops of apply_mask, written to vectorise (ALLOY_VECTORIZED). A kept entry is scaled by
// `scale`, a dropped one multiplied by 0 (a select, not a branch: keep decisions are unpredictable).

ALLOY_VECTORIZED void all_deltas(const float* x, const float* base, double* v, int64_t n) {
  for (int64_t j = 0; j < n; ++j) v[j] = task_delta(x[j], base[j]);
}

// Keeps the entries whose magnitude bits m satisfy at_least <= m < below.
ALLOY_VECTORIZED void band_deltas(const float* x, const float* base, int64_t n, uint32_t at_least, uint32_t below,
                                  double scale, double* v) {
  for (int64_t j = 0; j < n; ++j) {
    const uint32_t m = magnitude_bits(x[j] - base[j]);
    const double factor = (m >= at_least) & (m < below) ? scale : 0.0;
    v[j] = task_delta(x[j], base[j]) * factor;
  }
}

// A random mask: keeps the entries decide.one(j, draw) keeps, for rng's draws of counters low,
// low + 1, ... under one key (no wrap of the low half).
template <class Decide>
__attribute__((always_inline)) inline void drawn_deltas(const float* x, const float* base, int64_t n,
                                                        const CounterRng& rng, uint32_t key, uint32_t low,
                                                        const Decide& decide, double scale, double* v) {
  const CounterRng local = rng;  // a local copy: the stores to v cannot change it
  for (int64_t j = 0; j < n; ++j) {
    const double factor = decide.one(j, local.draw(key, low + static_cast<uint32_t>(j))) ? scale : 0.0;
    v[j] = task_delta(x[j], base[j]) * factor;
  }
}

// DARE: draw <= last (cutoff − 1, so that a cutoff of 2^32, keep all, fits 32 bits).
ALLOY_VECTORIZED void bernoulli_deltas(const float* x, const float* base, int64_t n, const CounterRng& rng,
                                       uint32_t key, uint32_t low, uint32_t last, double scale, double* v) {
  drawn_deltas(x, base, n, rng, key, low, DrawAtMost{last}, scale, v);
}

// DELLA: draw <= last[j], the entry's own threshold.
ALLOY_VECTORIZED void thresholded_deltas(const float* x, const float* base, int64_t n, const uint32_t* last,
                                         const CounterRng& rng, uint32_t key, uint32_t low, double scale, double* v) {
  drawn_deltas(x, base, n, rng, key, low, DrawAtMostEach{last}, scale, v);
}

// Keeps the entries whose keep bit is set in `kept` (`first` is the element index of x[0]): eight
// entries per step; with eight-aligned elements, lane k's bit comes from word k of the group (read
// once a group).
ALLOY_VECTORIZED void cached_deltas(const float* x, const float* base, int64_t n, const uint32_t* kept,
                                    uint64_t first, double scale, double* v) {
  const F64x4 scales = {scale, scale, scale, scale};
  const bool aligned = first % 8 == 0;
  U32x8 words = {};  // the group's words, shifted so that bit 0 is this step's
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const uint64_t e = first + static_cast<uint64_t>(j);
    I32x8 keep;
    if (aligned) {
      next_keep_lanes(kept, e, j == 0, words, keep);
    } else {
      for (int l = 0; l < 8; ++l) keep[l] = is_kept(kept, e + static_cast<uint64_t>(l)) ? -1 : 0;
    }
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      F64x4 xd, bd;
      load_f64x4(x + j + 4 * half, xd);
      load_f64x4(base + j + 4 * half, bd);
      I64x4 lanes;
      half_as_i64(keep, half, lanes);
      const F64x4 factor = reinterpret_cast<F64x4>(reinterpret_cast<I64x4>(scales) & lanes);  // scale or 0
      const F64x4 masked = (xd - bd) * factor;
      std::memcpy(v + j + 4 * half, &masked, sizeof masked);
    }
  }
  for (; j < n; ++j) {
    const double factor = is_kept(kept, first + static_cast<uint64_t>(j)) ? scale : 0.0;
    v[j] = task_delta(x[j], base[j]) * factor;
  }
}

// Calls fn(offset, count, key, low) over the counters first .. first + n − 1, split where the
// counter's low 32 bits wrap (only in tensors of more than 2^32 elements).
template <class F>
void counter_runs(const CounterRng& rng, uint64_t first, int64_t n, F fn) {
  for (int64_t done = 0; done < n;) {
    const uint64_t c = first + static_cast<uint64_t>(done);
    const uint32_t low = static_cast<uint32_t>(c);
    const int64_t len = std::min<int64_t>(n - done, static_cast<int64_t>((uint64_t{1} << 32) - low));
    fn(done, len, rng.key_for(static_cast<uint32_t>(c >> 32)), low);
    done += len;
  }
}

// The threshold of "keeps" as a lower bound on the magnitude bits, for indices before or from the
// rule's cut: m > bits is m >= bits + 1 (bits is never above 0x7fffffff + 1 for a real cut, and
// UINT32_MAX, "keep nothing", stays unreachable for finite magnitudes).
uint32_t at_least(const TopKRule& r, bool before_cut) {
  if (before_cut) return r.bits;
  return r.bits == std::numeric_limits<uint32_t>::max() ? r.bits : r.bits + 1;
}

}  // namespace

bool is_band(const TaskVectorMask& m) {
  using Rule = TaskVectorMask::Rule;
  // (Rule::None stays on apply_mask's zero fill: as a band, 0 · (x − base) is NaN where x − base is
  // infinite.)
  return !m.kept && (m.rule == Rule::All || m.rule == Rule::TopK || m.rule == Rule::Band);
}

MagnitudeBand band_at(const TaskVectorMask& m, int64_t e) {
  using Rule = TaskVectorMask::Rule;
  constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  switch (m.rule) {
    case Rule::All: return {0, kNone};
    case Rule::TopK: return {at_least(m.upper, e < m.upper.cut), kNone};
    case Rule::Band: return {at_least(m.upper, e < m.upper.cut), at_least(m.lower, e < m.lower.cut)};
    default: return {kNone, kNone};
  }
}

int64_t band_changes_after(const TaskVectorMask& m, int64_t e) {
  using Rule = TaskVectorMask::Rule;
  int64_t next = std::numeric_limits<int64_t>::max();
  if ((m.rule == Rule::TopK || m.rule == Rule::Band) && e < m.upper.cut) next = m.upper.cut;
  if (m.rule == Rule::Band && e < m.lower.cut) next = std::min(next, m.lower.cut);
  return next;
}

namespace {

// apply_mask of a band rule: pieces over which the band is constant, each compares magnitudes only.
void band_pieces(const TaskVectorMask& m, int64_t first, int64_t len, const float* x, const float* base, double* v) {
  for (int64_t a = 0; a < len;) {
    const int64_t b = std::min(len, band_changes_after(m, first + a) - first);
    const MagnitudeBand band = band_at(m, first + a);
    band_deltas(x + a, base + a, b - a, band.at_least, band.below, m.scale, v + a);
    a = b;
  }
}

}  // namespace

void apply_mask(const TaskVectorMask& m, int64_t first, int64_t len, int64_t cols, const float* x,
                const float* base, double* v, MaskScratch& scratch) {
  using Rule = TaskVectorMask::Rule;
  if (m.kept) {  // a random mask's decisions, kept by the rescale pass
    cached_deltas(x, base, len, m.kept->data(), static_cast<uint64_t>(first), m.scale, v);
    return;
  }
  switch (m.rule) {
    case Rule::All:
      all_deltas(x, base, v, len);
      break;
    case Rule::None:
      std::fill(v, v + len, 0.0);
      break;
    case Rule::TopK:
    case Rule::Band:
      band_pieces(m, first, len, x, base, v);
      break;
    case Rule::Bernoulli: {
      // density in (0, 1): cutoff in [1, 2^32].
      const uint32_t last = static_cast<uint32_t>(CounterRng::cutoff(m.density) - 1);
      counter_runs(m.rng, static_cast<uint64_t>(first), len, [&](int64_t at, int64_t count, uint32_t key, uint32_t low) {
        bernoulli_deltas(x + at, base + at, count, m.rng, key, low, last, m.scale, v + at);
      });
      break;
    }
    case Rule::Della: {
      const uint32_t* last = della_thresholds(m, x, base, len, cols, scratch);
      counter_runs(m.rng, static_cast<uint64_t>(first), len, [&](int64_t at, int64_t count, uint32_t key, uint32_t low) {
        thresholded_deltas(x + at, base + at, count, last + at, m.rng, key, low, m.scale, v + at);
      });
      break;
    }
  }
}

}  // namespace alloy
