// The task-arithmetic family (mergekit's generalized_task_arithmetic): task_arithmetic, ties,
// dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, della, della_linear. Each is
//   δ_m = model_m − base;  δ'_m = sparsify(δ_m) [· L1 rescale];  combine with weights
//   (plain sum, or sign consensus);  [÷ Σ weights];  · lambda;  + base
// and the methods differ only in the sparsification, the consensus and two defaults.
#include <algorithm>
#include <cmath>
#include <vector>

#include "methods/method.h"
#include "methods/blocks/fused_combine.h"
#include "methods/blocks/sign_consensus.h"
#include "methods/blocks/sparsify.h"

namespace alloy {

namespace {

struct Family {
  const char* name;
  const char* summary;
  Sparsification sparsify;
  bool consensus;
  bool normalize;  // default
  bool rescale;    // default
};

std::vector<SparsifyParams> sparsify_params(const MergeCall& call, Sparsification kind) {
  std::vector<SparsifyParams> params(call.size());
  for (size_t i : call.non_base_inputs()) {
    SparsifyParams& p = params[i];
    if (kind == Sparsification::None) continue;
    p.density = call.model_param(i, "density");
    if (kind == Sparsification::MagnitudeOutliers) p.gamma = call.model_param(i, "gamma");
    if (kind == Sparsification::DellaMagprune) p.epsilon = call.model_param(i, "epsilon");
  }
  return params;
}

void check_family(const MergeCall& call, Sparsification kind) {
  if (call.base < 0) call.fail_here("a base model is required");
  std::vector<SparsifyParams> params = sparsify_params(call, kind);
  for (size_t i : call.non_base_inputs()) {
    call.model_param(i, "weight");
    if (std::string why = sparsify_params_error(kind, params[i]); !why.empty())
      call.fail_here(call.inputs[i].label + ": " + why);
  }
}

// The prepared merge of one tensor.
class TaskArithmeticKernel final : public MergeKernel {
 public:
  static constexpr int64_t kTile = 4096;  // elements combined at a time (scratch stays in cache)

  TaskArithmeticKernel(const MergeCall& call, const Family& family)
      : base_(static_cast<size_t>(call.base)),
        models_(call.non_base_inputs()),
        consensus_(family.consensus),
        sign_rule_(call.flag("ties_paper_sign") ? SignRule::Unweighted : SignRule::Weighted),
        normalize_(call.flag("normalize")),
        lambda_(call.param("lambda")) {
    const bool rescale = call.flag("rescale");
    std::vector<TaskVectorMask> all = plan_masks(call, family.sparsify, sparsify_params(call, family.sparsify), rescale);
    double sum = 0;
    bool all_kept = kept_merge(models_.size()) != nullptr;
    all_bands_ = band_merge(models_.size()) != nullptr;
    bool any_cut = false;  // (task vectors kept whole take the loops over arrays: as fast without compares)
    for (size_t i : models_) {
      all_kept &= all[i].kept != nullptr;
      all_bands_ &= is_band(all[i]);
      any_cut |= all[i].rule != TaskVectorMask::Rule::All;
      masks_.push_back(all[i]);
      weights_.push_back(call.model_param(i, "weight"));
      sum += weights_.back();
      whole_rows_ |= all[i].rule == TaskVectorMask::Rule::Della;
    }
    all_bands_ &= any_cut;
    divisor_ = std::fabs(sum) < 1e-8 ? 1.0 : sum;  // mergekit's guard for the plain sum
    for (const TaskVectorMask& m : masks_) {
      if (all_kept) kept_.push_back(m.kept->data());
      scales_.push_back(m.scale);
    }
  }

  void map(const RowBlock& block, float* out) const override {
    const int64_t len = block.size(), cols = block.cols;
    if (len <= 0) return;
    const float* base = block.inputs[base_];
    const size_t n_models = models_.size();
    // Per-thread buffers, grown once: every value is written before it is read, and zeroing
    // fresh ones for each block cost more than some of the arithmetic.
    struct Scratch {
      std::vector<double> v, mixed, divisor;
      std::vector<const double*> rows;
      std::vector<const float*> inputs;  // the fused merges' inputs
      MaskScratch mask;
    };
    thread_local Scratch t;
    const FusedMerge how{consensus_, sign_rule_ == SignRule::Weighted, normalize_, divisor_, lambda_};
    const int64_t first = block.first_element();
    if (!kept_.empty() && first % 8 == 0) {  // no scratch arrays: the whole block at once
      t.inputs.resize(n_models);
      for (size_t m = 0; m < n_models; ++m) t.inputs[m] = block.inputs[models_[m]];
      kept_merge(n_models)(t.inputs.data(), kept_.data(), static_cast<uint64_t>(first), scales_.data(),
                           weights_.data(), how, base, len, out);
      return;
    }
    if (all_bands_) {  // likewise, in pieces over which every band is constant
      t.inputs.resize(n_models);
      MagnitudeBand bands[4];
      for (int64_t a = 0; a < len;) {
        int64_t b = len;
        for (size_t m = 0; m < n_models; ++m) {
          bands[m] = band_at(masks_[m], first + a);
          b = std::min(b, band_changes_after(masks_[m], first + a) - first);
          t.inputs[m] = block.inputs[models_[m]] + a;
        }
        band_merge(n_models)(t.inputs.data(), bands, scales_.data(), weights_.data(), how, base + a, b - a, out + a);
        a = b;
      }
      return;
    }
    // Segments of whole rows when a mask ranks within rows (DELLA), else of kTile elements.
    const int64_t segment = whole_rows_ ? std::max<int64_t>(1, kTile / cols) * cols : kTile;
    const int64_t seg_cap = std::min(segment, len);
    t.v.resize(std::max(t.v.size(), n_models * static_cast<size_t>(seg_cap)));
    t.mixed.resize(std::max(t.mixed.size(), static_cast<size_t>(seg_cap)));
    t.divisor.resize(std::max(t.divisor.size(), static_cast<size_t>(seg_cap)));
    t.rows.resize(n_models);
    std::vector<double>& v = t.v;
    std::vector<const double*>& rows = t.rows;
    std::vector<double>& mixed = t.mixed;
    std::vector<double>& divisor = t.divisor;
    MaskScratch& scratch = t.mask;
    for (int64_t s0 = 0; s0 < len; s0 += segment) {
      const int64_t n = std::min(segment, len - s0);
      for (size_t m = 0; m < n_models; ++m) {
        double* vm = v.data() + m * static_cast<size_t>(seg_cap);
        apply_mask(masks_[m], block.first_element() + s0, n, cols, block.inputs[models_[m]] + s0, base + s0, vm,
                   scratch);
        rows[m] = vm;
      }
      if (consensus_) {
        sign_consensus(rows, weights_, n, sign_rule_, mixed.data(), divisor.data());
        if (normalize_)
          add_divided_change(base + s0, mixed.data(), divisor.data(), lambda_, n, out + s0);
        else
          add_change(base + s0, mixed.data(), 1.0, lambda_, n, out + s0);
      } else if (FixedCombine fused = fixed_combine(n_models)) {
        fused(rows.data(), weights_.data(), base + s0, normalize_ ? divisor_ : 1.0, lambda_, n, out + s0);
      } else {
        std::fill(mixed.begin(), mixed.begin() + n, 0.0);
        for (size_t m = 0; m < n_models; ++m) accumulate_scaled_f64(mixed.data(), rows[m], weights_[m], n);
        add_change(base + s0, mixed.data(), normalize_ ? divisor_ : 1.0, lambda_, n, out + s0);
      }
    }
  }

 private:
  size_t base_;
  std::vector<size_t> models_;        // input index of each task vector
  std::vector<TaskVectorMask> masks_;  // per task vector
  std::vector<double> weights_;        // per task vector
  bool consensus_;
  SignRule sign_rule_;
  bool normalize_;
  double lambda_;
  double divisor_ = 1.0;
  bool whole_rows_ = false;
  // Masks that all kept their bits (merge_kept_N): their bits per task vector; empty otherwise.
  std::vector<const uint32_t*> kept_;
  bool all_bands_ = false;      // every mask a magnitude band (merge_band_N)
  std::vector<double> scales_;  // per task vector: its mask's rescale factor
};

MethodSpec family_method(const Family& f) {
  MethodSpec m;
  m.name = f.name;
  m.summary = f.summary;
  m.base = BaseUse::Required;
  m.global_params = {
      {"int8_mask", 0.0, false, "accepted for mergekit compatibility; no effect"},
      {"normalize", f.normalize ? 1.0 : 0.0, false, "divide the merged task vector by the sum of the weights"},
      {"rescale", f.rescale ? 1.0 : 0.0, false, "rescale each sparsified task vector to its original L1 norm"},
      {"lambda", 1.0, false, "scale of the merged task vector"},
  };
  if (f.consensus)
    m.global_params.push_back({"ties_paper_sign", 0.0, false,
                               "elect signs from the unweighted task vectors (TIES paper) instead of the weighted "
                               "ones (mergekit)"});
  m.model_params = {
      {"weight", std::nullopt, true, "weight of this model's task vector"},
      {"density", 1.0, false, "fraction of the task vector to keep"},
  };
  if (f.sparsify == Sparsification::MagnitudeOutliers)
    m.model_params.push_back({"gamma", 0.01, false, "fraction of the largest task-vector entries to drop"});
  if (f.sparsify == Sparsification::DellaMagprune)
    m.model_params.push_back({"epsilon", 0.15, false, "spread of keep probabilities: density ± epsilon"});
  const Family family = f;
  m.check = [family](const MergeCall& call) { check_family(call, family.sparsify); };
  m.prepare = [family](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    return std::make_unique<TaskArithmeticKernel>(call, family);
  };
  return m;
}

}  // namespace

MethodSpec task_arithmetic_method() {
  return family_method({"task_arithmetic", "base + weighted sum of task vectors (model − base)",
                        Sparsification::None, false, false, false});
}
MethodSpec ties_method() {
  return family_method({"ties", "TIES: keep the largest task-vector entries, elect signs, merge the agreeing ones",
                        Sparsification::Magnitude, true, true, false});
}
MethodSpec dare_linear_method() {
  return family_method({"dare_linear", "DARE: drop task-vector entries at random, rescale, add up",
                        Sparsification::Random, false, false, true});
}
MethodSpec dare_ties_method() {
  return family_method({"dare_ties", "DARE sparsification with TIES sign consensus", Sparsification::Random, true,
                        false, true});
}
MethodSpec breadcrumbs_method() {
  return family_method({"breadcrumbs", "Breadcrumbs: drop the largest and the smallest task-vector entries",
                        Sparsification::MagnitudeOutliers, false, false, false});
}
MethodSpec breadcrumbs_ties_method() {
  return family_method({"breadcrumbs_ties", "Breadcrumbs sparsification with TIES sign consensus",
                        Sparsification::MagnitudeOutliers, true, false, false});
}
MethodSpec della_method() {
  return family_method({"della", "DELLA: magnitude-ranked random pruning per row, with TIES sign consensus",
                        Sparsification::DellaMagprune, true, true, true});
}
MethodSpec della_linear_method() {
  return family_method({"della_linear", "DELLA: magnitude-ranked random pruning per row, added up",
                        Sparsification::DellaMagprune, false, false, true});
}

}  // namespace alloy
