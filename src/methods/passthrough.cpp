// passthrough: copies its single input, optionally multiplied by a per-model `scale`. Used for
// frankenmerges, where slices pick layers from different models.
#include "methods/method.h"

namespace alloy {

MethodSpec passthrough_method() {
  MethodSpec m;
  m.name = "passthrough";
  m.summary = "copy one model's tensor (frankenmerges), optionally scaled";
  m.base = BaseUse::Ignored;
  m.model_params = {{"scale", std::nullopt, false, "multiply the tensor by this"}};
  m.check = [](const MergeCall& call) {
    if (call.size() != 1)
      call.fail_here("passthrough takes exactly one model per tensor, got " + std::to_string(call.size()) +
                     " (use slices with one source each, or another merge method)");
  };
  m.prepare = [](const MergeCall& call) {
    float scale = static_cast<float>(call.model_param_opt(0, "scale").value_or(1.0));
    return make_kernel([scale](const RowBlock& b, float* out) {
      const int64_t n = b.size();
      for (int64_t e = 0; e < n; ++e) out[e] = b.inputs[0][e] * scale;
    });
  };
  return m;
}

}  // namespace alloy
