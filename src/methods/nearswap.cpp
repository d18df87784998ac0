// nearswap: per element, takes the other model's value where it is near the base's and keeps the
// base's where they differ a lot: w = clamp(t / max(|a - b|, 1e-6), 0, 1), result = w b + (1 - w) a,
// with a the base. Elementwise; needs the base and exactly one other model.
#include <algorithm>
#include <cmath>

#include "methods/blocks/other_than_base.h"
#include "methods/method.h"
#include "util/error.h"

namespace alloy {

MethodSpec nearswap_method() {
  MethodSpec m;
  m.name = "nearswap";
  m.summary = "take the other model's value where it is within t of the base's";
  m.base = BaseUse::Required;
  m.global_params = {{"t", std::nullopt, true, "distance below which the other model's value is taken fully"}};
  m.check = [](const MergeCall& call) { other_than_base(call, "nearswap"); };
  m.prepare = [](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    const int a = call.base, b = other_than_base(call, "nearswap");
    const double t = call.param("t");
    if (b < 0)
      return make_kernel([a](const RowBlock& blk, float* out) {
        std::copy(blk.inputs[a], blk.inputs[a] + blk.size(), out);
      });
    return make_kernel([a, b, t](const RowBlock& blk, float* out) {
      const float* pa = blk.inputs[a];
      const float* pb = blk.inputs[b];
      for (int64_t e = 0; e < blk.size(); ++e) {
        const double va = pa[e], vb = pb[e];
        const double w = std::clamp(t / std::max(std::fabs(va - vb), 1e-6), 0.0, 1.0);
        out[e] = static_cast<float>(w * vb + (1.0 - w) * va);
      }
    });
  };
  return m;
}

}  // namespace alloy
