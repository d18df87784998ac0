// linear: the weighted average of the inputs ("model soup"). With normalize (default) the weights
// are divided by their sum, which must then not be zero.
#include <cmath>

#include "methods/method.h"
#include "methods/blocks/vector_math.h"

namespace alloy {

namespace {

std::vector<double> linear_weights(const MergeCall& call) {
  std::vector<double> w(call.size());
  double sum = 0;
  for (size_t i = 0; i < call.size(); ++i) sum += (w[i] = call.model_param(i, "weight"));
  if (call.flag("normalize")) {
    if (std::fabs(sum) < 1e-12)
      call.fail_here("linear weights sum to zero, so normalize: true would divide by zero; "
                     "set normalize: false or change the weights");
    for (double& x : w) x /= sum;
  }
  return w;
}

}  // namespace

MethodSpec linear_method() {
  MethodSpec m;
  m.name = "linear";
  m.summary = "weighted average of the models (model soup)";
  m.base = BaseUse::Ignored;
  m.global_params = {{"normalize", 1.0, false, "divide by the sum of the weights"}};
  m.model_params = {{"weight", std::nullopt, true, "weight of this model"}};
  m.check = [](const MergeCall& call) { linear_weights(call); };
  // Σ w_i x_i in f64, in recipe order, rounded once.
  m.prepare = [](const MergeCall& call) { return weighted_sum_kernel(linear_weights(call)); };
  return m;
}

}  // namespace alloy
