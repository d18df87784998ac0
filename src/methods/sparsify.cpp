#include "methods/sparsify.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "util/error.h"

namespace alloy {

namespace {

constexpr double kRescaleEps = 1e-7;  // mergekit's rescaled_masked_tensor: skip tiny norms

double task_delta(float x, float base) { return static_cast<double>(x) - static_cast<double>(base); }

// The number of elements a fraction of n names, truncated like Python's int(fraction * n).
int64_t fraction_of(double fraction, int64_t n) {
  double v = std::floor(fraction * static_cast<double>(n));
  return v <= 0 ? 0 : static_cast<int64_t>(std::min(v, static_cast<double>(n)));
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

std::vector<TaskVectorMask> plan_masks(const MergeCall& call, Sparsification kind,
                                       const std::vector<SparsifyParams>& params, bool rescale) {
  using Rule = TaskVectorMask::Rule;
  const size_t inputs = call.size();
  const int64_t n = call.numel();
  if (call.base < 0) call.fail_here("a base model is required for task vectors");
  std::vector<TaskVectorMask> masks(inputs);
  std::vector<std::unique_ptr<TopKSelector>> upper(inputs), lower(inputs);
  std::vector<char> sums_pass(inputs, 0);  // rescaled random masks: Σ|δ| and Σ|mask·δ| in one pass
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
        }
        break;
      }
      case Sparsification::Random:
        m.rule = p.density <= 0 ? Rule::None : Rule::Bernoulli;
        break;
      case Sparsification::DellaMagprune:
        m.rule = p.density <= 0 ? Rule::None : Rule::Della;
        m.epsilon = p.epsilon;
        break;
      case Sparsification::None:
        break;
    }
    if (m.rule == Rule::Bernoulli || m.rule == Rule::Della) {
      m.rng = CounterRng(call.seed, call.tensor_name, i);
      sums_pass[i] = rescale;
    }
  }

  // The passes: every selector advances in step, and rescaled random masks sum in the first pass.
  std::vector<double> before(inputs, 0.0), after(inputs, 0.0);
  std::vector<double> masked;
  MaskScratch scratch;
  auto pending = [&](bool first) {
    for (size_t i = 0; i < inputs; ++i)
      if ((upper[i] && !upper[i]->done()) || (lower[i] && !lower[i]->done()) || (first && sums_pass[i])) return true;
    return false;
  };
  for (bool first = true; pending(first); first = false) {
    for_each_block(call, [&](const RowBlock& b) {
      const float* base = b.inputs[static_cast<size_t>(call.base)];
      const int64_t at = b.first_element(), len = b.size();
      for (size_t i = 0; i < inputs; ++i) {
        if (upper[i] && !upper[i]->done()) upper[i]->add(at, b.inputs[i], base, len);
        if (lower[i] && !lower[i]->done()) lower[i]->add(at, b.inputs[i], base, len);
        if (first && sums_pass[i]) {
          masked.resize(static_cast<size_t>(len));
          apply_mask(masks[i], at, len, b.cols, b.inputs[i], base, masked.data(), scratch);
          double s_before = 0, s_after = 0;
          for (int64_t j = 0; j < len; ++j) {
            s_before += std::fabs(task_delta(b.inputs[i][j], base[j]));
            s_after += std::fabs(masked[static_cast<size_t>(j)]);
          }
          before[i] += s_before;
          after[i] += s_after;
        }
      }
    });
    for (size_t i = 0; i < inputs; ++i) {
      if (upper[i]) upper[i]->end_pass();
      if (lower[i]) lower[i]->end_pass();
    }
  }

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
  }
  return masks;
}

void apply_mask(const TaskVectorMask& m, int64_t first, int64_t len, int64_t cols, const float* x,
                const float* base, double* v, MaskScratch& scratch) {
  using Rule = TaskVectorMask::Rule;
  // Multiplying by factor[keep] instead of branching: keep decisions are unpredictable.
  const double factor[2] = {0.0, m.scale};
  switch (m.rule) {
    case Rule::All:
      for (int64_t j = 0; j < len; ++j) v[j] = task_delta(x[j], base[j]);
      break;
    case Rule::None:
      std::fill(v, v + len, 0.0);
      break;
    case Rule::TopK:
      for (int64_t j = 0; j < len; ++j) {
        const bool keep = m.upper.keeps(first + j, magnitude_bits(x[j] - base[j]));
        v[j] = task_delta(x[j], base[j]) * factor[keep];
      }
      break;
    case Rule::Band:
      for (int64_t j = 0; j < len; ++j) {
        const uint32_t bits = magnitude_bits(x[j] - base[j]);
        const bool keep = m.upper.keeps(first + j, bits) & !m.lower.keeps(first + j, bits);
        v[j] = task_delta(x[j], base[j]) * factor[keep];
      }
      break;
    case Rule::Bernoulli: {
      const uint64_t cutoff = CounterRng::cutoff(m.density);
      for (int64_t j = 0; j < len; ++j) {
        const bool keep = m.rng.below(static_cast<uint64_t>(first + j), cutoff);
        v[j] = task_delta(x[j], base[j]) * factor[keep];
      }
      break;
    }
    case Rule::Della: {
      // Per row: p rises linearly with the ascending |δ| rank from density−ε to density+ε.
      const size_t c = static_cast<size_t>(cols);
      scratch.keys.resize(c);
      scratch.ranks.resize(c);
      const double low = m.density - m.epsilon, two_eps = 2 * m.epsilon;
      const double span = cols > 1 ? static_cast<double>(cols - 1) : 1.0;
      for (int64_t r = 0; r < len; r += cols) {
        const float* xr = x + r;
        const float* br = base + r;
        for (size_t j = 0; j < c; ++j) scratch.keys[j] = magnitude_bits(xr[j] - br[j]);
        rank_ascending(scratch.keys.data(), cols, scratch.ranks.data(), scratch.radix);
        for (size_t j = 0; j < c; ++j) {
          // A one-column row has no spread: p = density (mergekit divides 0 by 0 here, QUIRK 4).
          const double p = cols > 1 ? low + two_eps * static_cast<double>(scratch.ranks[j] - 1) / span : m.density;
          const bool keep = m.rng.bernoulli(static_cast<uint64_t>(first + r + static_cast<int64_t>(j)), p);
          v[r + static_cast<int64_t>(j)] = task_delta(xr[j], br[j]) * factor[keep];
        }
      }
      break;
    }
  }
}

}  // namespace alloy
