// The method table. Adding a method = one file in src/methods/ defining `MethodSpec x_method()`
// plus its two lines here.
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
MethodSpec passthrough_method();

const std::vector<MethodSpec>& method_registry() {
  static const std::vector<MethodSpec> methods = {
      linear_method(),
      slerp_method(),
      nuslerp_method(),
      multislerp_method(),
      karcher_method(),
      task_arithmetic_method(),
      ties_method(),
      dare_linear_method(),
      dare_ties_method(),
      breadcrumbs_method(),
      breadcrumbs_ties_method(),
      della_method(),
      della_linear_method(),
      sce_method(),
      ram_method(),
      ramplus_tl_method(),
      model_stock_method(),
      nearswap_method(),
      arcee_fusion_method(),
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
