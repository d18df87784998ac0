// Helper of the grouping tests (header only, included by *_test.cpp).
#pragma once
#include <string>
#include <vector>

#include "search/tensor_grouping.h"

namespace alloy::grouping_test {

// Which groups' filters match `tensor` (substring match, as recipe filters are resolved).
inline std::vector<int> matching_groups(const TensorGrouping& g, const std::string& tensor) {
  std::vector<int> out;
  for (int k = 0; k < g.count; ++k)
    for (const std::string& f : g.filters[static_cast<size_t>(k)])
      if (tensor.find(f) != std::string::npos) {
        out.push_back(k);
        break;
      }
  return out;
}

}  // namespace alloy::grouping_test
