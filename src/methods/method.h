// The merge-method interface every method implements: a registry row (name, parameter schema,
// base-model use, an example) plus a `prepare` function that checks one output tensor's inputs, runs
// any whole-tensor reduction and returns a kernel mapping blocks of whole rows of f32 inputs to f32
// outputs. Kernels run on many blocks, in any order and on any thread: a kernel must be a pure
// function of its prepared state and the block (element index = row * cols + column).
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

// A typical use of a method, from its paper or mergekit's examples (the benchmark merges it): which
// models of a family of a base and fine-tunes it takes, and parameter values as YAML lines.
enum class ExampleModels {
  All,           // every model, the base included, as plain inputs
  BaseAndTunes,  // base_model plus every fine-tune
  BaseAndOne,    // base_model plus the first fine-tune, both under models:
  BaseAndTwo,    // base_model plus the first two fine-tunes
  TunesOnly,     // the fine-tunes, no base
};
struct MethodExample {
  ExampleModels models = ExampleModels::BaseAndTunes;
  int min_fine_tunes = 1;
  std::string model_params;   // under each fine-tune's parameters:, "" for none
  std::string global_params;  // under parameters:, "" for none
  bool single_pass = false;   // no whole-tensor statistics (the benchmark's single-pass target group)
};

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
  std::optional<MethodExample> example;  // none for methods a family merge cannot show (passthrough)
  // Per-model statistics the method learns from ("gram", "fisher"; "" for none): computed from each
  // model's probe data before the merge and given to prepare as call.statistics.
  std::string statistics;
};

// All methods, in the order documented in docs/methods.md.
const std::vector<MethodSpec>& method_registry();
const MethodSpec* find_method(std::string_view name);

}  // namespace alloy
