// Placeholder: being implemented.
#include "methods/method.h"
#include "util/error.h"

namespace alloy {
MethodSpec arcee_fusion_method() {
  MethodSpec m;
  m.name = "arcee_fusion";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method arcee_fusion is not implemented yet"); };
  return m;
}
}  // namespace alloy
