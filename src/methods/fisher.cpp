// fisher (Matena & Raffel, "Merging Models with Fisher-Weighted Averaging"): each element is the
// average of the models' values weighted by λ_i times model i's diagonal empirical Fisher on its
// own probe data, θ = Σ λ_i F_i θ_i / Σ λ_i F_i, with F floored at fisher_floor. Where every F_i is
// at the floor the floors cancel and the element is the λ-weighted average.
#include <algorithm>
#include <cmath>

#include "methods/method.h"
#include "tensor/convert.h"

namespace alloy {

MethodSpec fisher_method() {
  MethodSpec m;
  m.name = "fisher";
  m.summary = "average weighted by each model's diagonal Fisher information on its own probe data";
  m.base = BaseUse::Ignored;
  m.statistics = "fisher";
  m.global_params = {
      {"fisher_floor", 1e-8, false, "lower bound on each Fisher value (epsilon)"},
      {"probe_ctx", 128.0, false, "tokens per probe chunk"},
      {"fisher_samples", 0.0, false, "probe chunks (one backward pass each) per model (0: all)"},
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
    const float floor = static_cast<float>(call.param("fisher_floor"));
    std::vector<double> lambda(call.size());
    for (size_t i = 0; i < call.size(); ++i) lambda[i] = call.model_param(i, "weight");
    std::vector<TensorView> fisher;
    for (const auto& s : call.statistics) fisher.push_back(s.view);
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
          const double wf = lambda[i] * std::max(f[k], floor);
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
