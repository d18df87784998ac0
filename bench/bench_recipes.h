// The recipes the benchmark merges: each method's example from the registry (which models it takes,
// its parameters, methods/method.h), written as mergekit YAML with absolute model paths. Methods
// without an example, or whose input counts the family cannot satisfy, come back with a reason.
#pragma once
#include <string>
#include <vector>

#include "bench_family.h"

namespace alloy::bench {

// The eight methods plus dare_linear (a single-pass method the targets name).
std::vector<std::string> default_methods();
// Every method the registry gives an example of.
std::vector<std::string> known_methods();

struct BenchRecipe {
  std::string method;
  std::string yaml;         // empty when skipped
  std::string skip_reason;  // why this method cannot run on this family
  int inputs = 0;           // models read
  bool single_pass = false; // no whole-tensor statistics (the 60% target group)
};

// `dtype`: the recipe's `dtype:` line (compute/load dtype), e.g. "bfloat16"; output stays bf16.
BenchRecipe bench_recipe(const std::string& method, const BenchFamily& family, const std::string& dtype);

}  // namespace alloy::bench
