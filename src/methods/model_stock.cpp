// Placeholder: being implemented.
#include "methods/method.h"
#include "util/error.h"

namespace alloy {
MethodSpec model_stock_method() {
  MethodSpec m;
  m.name = "model_stock";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method model_stock is not implemented yet"); };
  return m;
}
}  // namespace alloy
