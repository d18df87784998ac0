// Placeholder: being implemented.
#include "methods/method.h"
#include "util/error.h"

namespace alloy {
MethodSpec slerp_method() {
  MethodSpec m;
  m.name = "slerp";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method slerp is not implemented yet"); };
  return m;
}
MethodSpec nuslerp_method() {
  MethodSpec m;
  m.name = "nuslerp";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method nuslerp is not implemented yet"); };
  return m;
}
MethodSpec multislerp_method() {
  MethodSpec m;
  m.name = "multislerp";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method multislerp is not implemented yet"); };
  return m;
}
}  // namespace alloy
