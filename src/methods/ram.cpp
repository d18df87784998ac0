// Placeholder: being implemented.
#include "methods/method.h"
#include "util/error.h"

namespace alloy {
MethodSpec ram_method() {
  MethodSpec m;
  m.name = "ram";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method ram is not implemented yet"); };
  return m;
}
MethodSpec ramplus_tl_method() {
  MethodSpec m;
  m.name = "ramplus_tl";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method ramplus_tl is not implemented yet"); };
  return m;
}
}  // namespace alloy
