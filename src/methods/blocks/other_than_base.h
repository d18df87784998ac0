// For methods of a base and exactly one other model (arcee_fusion, nearswap).
#pragma once
#include <string>

#include "methods/merge_call.h"

namespace alloy {

// The input besides the base, or -1 when only the base provides the tensor; fails unless the call
// has a base and at most one other input (`method` names the method in the message).
int other_than_base(const MergeCall& call, const std::string& method);

}  // namespace alloy
