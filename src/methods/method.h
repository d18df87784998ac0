// The merge-method interface every method implements. A method is a registry row (name, parameter
// schema, base-model use) plus a `prepare` function: it checks the inputs of one output tensor,
// runs any whole-tensor reduction (norms, top-k thresholds, ...) and returns a kernel that maps
// blocks of whole rows of f32 inputs to f32 outputs. The executor calls the kernel on many blocks,
// in any order and on any thread, so a kernel must be a pure function of its prepared state and the
// block (element index = row * cols + column, for counter-based randomness).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "methods/merge_call.h"

namespace alloy {

struct ParamSpec {
  std::string name;
  std::optional<double> default_value;  // nullopt: "null" unless required
  bool required = false;
  std::string help;
};

enum class BaseUse {
  Ignored,   // a base model, if given, is just another input (linear, karcher, passthrough)
  Optional,  // used when given (multislerp, nuslerp)
  Required,  // task-vector methods, slerp, model_stock, ...
};

class MergeKernel {
 public:
  virtual ~MergeKernel() = default;
  // Writes block.size() outputs for the block's rows.
  virtual void map(const RowBlock& block, float* out) const = 0;
};

// A kernel from a lambda, for methods whose map needs only captured state.
template <class F>
std::unique_ptr<MergeKernel> make_kernel(F f) {
  struct Lambda final : MergeKernel {
    explicit Lambda(F fn) : fn(std::move(fn)) {}
    void map(const RowBlock& block, float* out) const override { fn(block, out); }
    F fn;
  };
  return std::make_unique<Lambda>(std::move(f));
}

struct MethodSpec {
  std::string name;
  std::string summary;
  BaseUse base = BaseUse::Ignored;
  std::vector<ParamSpec> global_params;
  std::vector<ParamSpec> model_params;
  // Cheap checks that need no tensor data (input count, parameter ranges); run at plan time so a
  // bad recipe fails before any output is written. May be empty.
  std::function<void(const MergeCall&)> check;
  // Reductions over the whole tensor, then the kernel.
  std::function<std::unique_ptr<MergeKernel>(const MergeCall&)> prepare;
};

// All methods, in the order documented in docs/methods.md.
const std::vector<MethodSpec>& method_registry();
const MethodSpec* find_method(std::string_view name);

}  // namespace alloy
