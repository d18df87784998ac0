#include "methods/blocks/other_than_base.h"

namespace alloy {

int other_than_base(const MergeCall& call, const std::string& method) {
  if (!call.has_base()) call.fail_here(method + " needs a base_model");
  if (call.size() > 2) {
    std::string labels;
    for (const auto& in : call.inputs) labels += (labels.empty() ? "" : ", ") + in.label;
    call.fail_here(method + " merges exactly two models (the base and one other), but " +
                   std::to_string(call.size()) + " provide this tensor: " + labels);
  }
  return call.size() == 2 ? 1 - call.base : -1;
}

}  // namespace alloy
