// Placeholder: being implemented.
#include "methods/method.h"
#include "util/error.h"

namespace alloy {
MethodSpec nearswap_method() {
  MethodSpec m;
  m.name = "nearswap";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method nearswap is not implemented yet"); };
  return m;
}
}  // namespace alloy
