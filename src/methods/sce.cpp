// Placeholder: being implemented.
#include "methods/method.h"
#include "util/error.h"

namespace alloy {
MethodSpec sce_method() {
  MethodSpec m;
  m.name = "sce";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method sce is not implemented yet"); };
  return m;
}
}  // namespace alloy
