// The method table. Adding a method = one file in src/methods/ defining `MethodSpec x_method()`
// plus its two lines here.
#include "methods/method.h"

namespace alloy {

MethodSpec linear_method();
MethodSpec passthrough_method();

const std::vector<MethodSpec>& method_registry() {
  static const std::vector<MethodSpec> methods = {
      linear_method(),
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
