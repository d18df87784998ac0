// Placeholder: being implemented.
#include "methods/method.h"
#include "util/error.h"

namespace alloy {
MethodSpec task_arithmetic_method() {
  MethodSpec m;
  m.name = "task_arithmetic";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method task_arithmetic is not implemented yet"); };
  return m;
}
MethodSpec ties_method() {
  MethodSpec m;
  m.name = "ties";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method ties is not implemented yet"); };
  return m;
}
MethodSpec dare_linear_method() {
  MethodSpec m;
  m.name = "dare_linear";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method dare_linear is not implemented yet"); };
  return m;
}
MethodSpec dare_ties_method() {
  MethodSpec m;
  m.name = "dare_ties";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method dare_ties is not implemented yet"); };
  return m;
}
MethodSpec breadcrumbs_method() {
  MethodSpec m;
  m.name = "breadcrumbs";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method breadcrumbs is not implemented yet"); };
  return m;
}
MethodSpec breadcrumbs_ties_method() {
  MethodSpec m;
  m.name = "breadcrumbs_ties";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method breadcrumbs_ties is not implemented yet"); };
  return m;
}
MethodSpec della_method() {
  MethodSpec m;
  m.name = "della";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method della is not implemented yet"); };
  return m;
}
MethodSpec della_linear_method() {
  MethodSpec m;
  m.name = "della_linear";
  m.summary = "not implemented yet";
  m.prepare = [](const MergeCall& c) -> std::unique_ptr<MergeKernel> { c.fail_here("method della_linear is not implemented yet"); };
  return m;
}
}  // namespace alloy
