// Placeholder: being implemented.
#include "methods/method.h"
#include "util/error.h"

namespace alloy {
MethodSpec karcher_method() {
  MethodSpec m;
  m.name = "karcher";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method karcher is not implemented yet"); };
  return m;
}
}  // namespace alloy
