// The method table. Adding a method = one file in src/methods/ defining `MethodSpec x_method()`
// plus its declaration and its row here.
#include "methods/method.h"

namespace alloy {

MethodSpec linear_method();
MethodSpec slerp_method();
MethodSpec nuslerp_method();
MethodSpec multislerp_method();
MethodSpec karcher_method();
MethodSpec task_arithmetic_method();
MethodSpec ties_method();
MethodSpec dare_linear_method();
MethodSpec dare_ties_method();
MethodSpec breadcrumbs_method();
MethodSpec breadcrumbs_ties_method();
MethodSpec della_method();
MethodSpec della_linear_method();
MethodSpec sce_method();
MethodSpec ram_method();
MethodSpec ramplus_tl_method();
MethodSpec model_stock_method();
MethodSpec nearswap_method();
MethodSpec arcee_fusion_method();
MethodSpec regmean_method();
MethodSpec fisher_method();
MethodSpec passthrough_method();

namespace {

MethodSpec with_example(MethodSpec spec, MethodExample example) {
  spec.example = std::move(example);
  return spec;
}

using enum ExampleModels;

}  // namespace

// Each row: the method and a typical use of it (parameters from its paper or mergekit's examples).
const std::vector<MethodSpec>& method_registry() {
  static const std::vector<MethodSpec> methods = {
      with_example(linear_method(), {All, 0, "weight: 1.0", "", true}),
      with_example(slerp_method(), {BaseAndOne, 1, "", "t: 0.5", false}),
      with_example(nuslerp_method(), {BaseAndTwo, 2, "weight: 0.5", "", false}),
      with_example(multislerp_method(), {BaseAndTunes, 1, "weight: 1.0", "", false}),
      with_example(karcher_method(), {TunesOnly, 2, "", "max_iter: 10", false}),
      with_example(task_arithmetic_method(), {BaseAndTunes, 1, "weight: 0.5", "", true}),
      with_example(ties_method(), {BaseAndTunes, 1, "weight: 1.0\ndensity: 0.5", "normalize: true", false}),
      with_example(dare_linear_method(), {BaseAndTunes, 1, "weight: 0.5\ndensity: 0.5", "", true}),
      with_example(dare_ties_method(), {BaseAndTunes, 1, "weight: 0.5\ndensity: 0.5", "rescale: true", false}),
      with_example(breadcrumbs_method(), {BaseAndTunes, 1, "weight: 0.5\ndensity: 0.9\ngamma: 0.01", "", false}),
      with_example(breadcrumbs_ties_method(), {BaseAndTunes, 1, "weight: 0.5\ndensity: 0.9\ngamma: 0.01", "", false}),
      with_example(della_method(), {BaseAndTunes, 1, "weight: 1.0\ndensity: 0.5\nepsilon: 0.1", "lambda: 1.0", false}),
      with_example(della_linear_method(), {BaseAndTunes, 1, "weight: 1.0\ndensity: 0.5\nepsilon: 0.1", "", false}),
      with_example(sce_method(), {BaseAndTunes, 1, "", "select_topk: 0.6", false}),
      with_example(ram_method(), {BaseAndTunes, 1, "", "", false}),
      with_example(ramplus_tl_method(), {BaseAndTunes, 1, "", "", false}),
      with_example(model_stock_method(), {BaseAndTunes, 2, "", "", false}),
      with_example(nearswap_method(), {BaseAndOne, 1, "", "t: 0.001", true}),
      with_example(arcee_fusion_method(), {BaseAndOne, 1, "", "", false}),
      regmean_method(),
      fisher_method(),
      passthrough_method(),
  };
  return methods;
}

const MethodSpec* find_method(std::string_view name) {
  for (const auto& m : method_registry())
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace alloy
