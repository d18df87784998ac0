// fisher (Matena & Raffel, "Merging Models with Fisher-Weighted Averaging"): each element is the
// average of the models' values weighted by λ_i times model i's diagonal empirical Fisher on its
// own probe data, θ = Σ λ_i F_i θ_i / Σ λ_i F_i, with F floored at fisher_floor. Where every F_i is
// at the floor the floors cancel and the element is the λ-weighted average.
// With fisher_normalize each model's Fisher values of a tensor are first divided by their mean over
// that tensor: the overall size of a model's gradients depends on how well it already fits its own
// probe text, which says nothing about which of its parameters matter, so without it the model with
// the largest loss gradients wins every disagreement. The floor then applies to the normalised values.
#include <algorithm>
#include <cmath>

#include "methods/method.h"
#include "tensor/convert.h"

namespace alloy {

namespace {

// Mean of a whole statistics tensor, summed in f64 a slice at a time.
double tensor_mean(const TensorView& v) {
  const auto n = static_cast<size_t>(numel(v.shape));
  if (n == 0) return 0.0;
  constexpr size_t kSlice = 1 << 14;
  std::vector<float> f(std::min(n, kSlice));
  double sum = 0;
  for (size_t begin = 0; begin < n; begin += kSlice) {
    const size_t len = std::min(kSlice, n - begin);
    to_f32(v.dtype, v.data + begin * dtype_size(v.dtype), f.data(), len);
    for (size_t k = 0; k < len; ++k) sum += f[k];
  }
  return sum / static_cast<double>(n);
}

}  // namespace

MethodSpec fisher_method() {
  MethodSpec m;
  m.name = "fisher";
  m.summary = "average weighted by each model's diagonal Fisher information on its own probe data";
  m.base = BaseUse::Ignored;
  m.statistics = "fisher";
  m.global_params = {
      {"fisher_floor", 1e-8, false, "lower bound on each Fisher value (epsilon)"},
      {"probe_ctx", 4.0, false, "tokens per probe chunk (one example of the empirical Fisher)"},
      {"fisher_samples", 0.0, false, "probe chunks (one backward pass each; pairs for .jsonl probes) per model (0: all)"},
      {"pair_batch", 8.0, false, "query/positive pairs per InfoNCE batch, one Fisher sample (.jsonl probes only)"},
      {"fisher_normalize", 1.0, false, "divide each model's Fisher values of a tensor by their mean over it"},
  };
  m.model_params = {{"weight", 1.0, false, "lambda_i, this model's weight"}};
  m.check = [](const MergeCall& call) {
    if (!(call.param("fisher_floor") > 0)) call.fail_here("fisher: fisher_floor must be positive");
    for (size_t i = 0; i < call.size(); ++i) {
      if (!(call.model_param(i, "weight") >= 0))
        call.fail_here("fisher: the weight of '" + call.inputs[i].label + "' must not be negative");
      const MergeInput& s = i < call.statistics.size() ? call.statistics[i] : MergeInput{};
      if (!s.view.data)
        call.fail_here("fisher: no Fisher values for it from model '" + call.inputs[i].label +
                       "' (its statistics file lacks '" + s.name + "')");
      if (s.view.shape != call.inputs[i].view.shape || call.inputs[i].view.shape != call.shape)
        call.fail_here("fisher: the Fisher values of model '" + call.inputs[i].label + "' have shape " +
                       shape_str(s.view.shape) + ", the weight " + shape_str(call.inputs[i].view.shape) +
                       " and the output " + shape_str(call.shape) + "; fisher needs them equal");
    }
  };
  m.prepare = [](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    const double epsilon = call.param("fisher_floor");
    const bool normalize = call.flag("fisher_normalize");
    // λ_i max(F/m, ε) = (λ_i/m) max(F, ε·m): a per-model weight and floor, so the kernel stays one pass.
    std::vector<double> lambda(call.size());
    std::vector<float> floor(call.size());
    std::vector<TensorView> fisher;
    for (size_t i = 0; i < call.size(); ++i) {
      fisher.push_back(call.statistics[i].view);
      const double m = normalize ? tensor_mean(fisher.back()) : 1.0;
      const double scale = m > 0 ? m : 1.0;  // no gradient anywhere: every value sits at the floor
      lambda[i] = call.model_param(i, "weight") / scale;
      floor[i] = static_cast<float>(epsilon * scale);
    }
    return make_kernel([floor, lambda, fisher](const RowBlock& block, float* out) {
      const auto n = static_cast<size_t>(block.size());
      thread_local std::vector<float> f;
      thread_local std::vector<double> num, den;
      f.resize(n);
      num.assign(n, 0.0);
      den.assign(n, 0.0);
      for (size_t i = 0; i < fisher.size(); ++i) {
        const TensorView& v = fisher[i];
        to_f32(v.dtype, v.data + static_cast<size_t>(block.first_element()) * dtype_size(v.dtype), f.data(), n);
        const float* x = block.inputs[i];
        for (size_t k = 0; k < n; ++k) {
          const double wf = lambda[i] * std::max(f[k], floor[i]);
          num[k] += wf * x[k];
          den[k] += wf;
        }
      }
      for (size_t k = 0; k < n; ++k) out[k] = den[k] > 0 ? static_cast<float>(num[k] / den[k]) : 0.0f;
    });
  };
  return m;
}

}  // namespace alloy
