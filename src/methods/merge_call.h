// MergeCall: everything a merge method sees for one output tensor: the input views in recipe
// order, which one is the base model, the resolved parameters, and a reader that converts whole
// rows of an input to f32 (rounding through the recipe's `dtype`, cropping or padding embeddings
// whose vocabulary differs, and refusing NaN/Inf).
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor_view.h"

namespace alloy {

struct MergeCall;

// Whole rows [row_begin, row_end) of every input, converted to f32 (cols floats per row).
struct RowBlock {
  int64_t row_begin = 0;
  int64_t row_end = 0;
  int64_t cols = 0;
  std::span<const float* const> inputs;  // one pointer per MergeCall input
  int64_t size() const { return (row_end - row_begin) * cols; }
  int64_t first_element() const { return row_begin * cols; }
};

struct MergeInput {
  TensorView view;
  std::string label;  // the model, for messages ("models/b")
  std::string name;   // the tensor's name inside that model
};

// What a pass tells its caller about the inputs' rows: rows [row_begin, row_end) of input `input`
// were read and no pass reads them again soon, so their memory may go (the executor releases their
// pages). Values are unaffected.
class RowsDone {
 public:
  virtual ~RowsDone() = default;
  virtual void rows_done(const MergeCall& call, size_t input, int64_t row_begin, int64_t row_end) = 0;
};

using ParamValues = std::map<std::string, std::optional<double>>;

struct MergeCall {
  std::string tensor_name;  // output tensor name
  Shape shape;              // output shape
  std::vector<MergeInput> inputs;
  int base = -1;  // index of the base model in `inputs`, -1 when none
  std::optional<DType> load_dtype;  // inputs are rounded to this dtype on read (recipe `dtype`)
  ParamValues global;                  // resolved global parameters (defaults applied)
  std::vector<ParamValues> per_model;  // resolved per-input parameters, same order as inputs
  uint64_t seed = 0;
  bool is_embed = false;
  RowsDone* rows_done = nullptr;  // told of the rows for_each_block has read; may be null
  // For methods that learn from data (MethodSpec::statistics): per input, in the same order, its
  // statistics tensor for this output tensor (a Gram matrix, a Fisher diagonal), read by the method
  // itself; a view with no data where the model has none for this tensor.
  std::vector<MergeInput> statistics;

  // The output as a matrix: rows x cols, cols = last dimension (1 for scalars).
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const;
  int64_t numel() const { return alloy::numel(shape); }
  size_t size() const { return inputs.size(); }
  bool has_base() const { return base >= 0; }
  // The inputs other than the base (all of them without one), in recipe order.
  std::vector<size_t> non_base_inputs() const;

  // Global parameter; throws Error naming the tensor if it is null.
  double param(const std::string& name) const;
  std::optional<double> param_opt(const std::string& name) const;
  bool flag(const std::string& name) const { return param_opt(name).value_or(0.0) != 0.0; }
  // Per-input parameter; throws Error naming the tensor and model if it is null.
  double model_param(size_t input, const std::string& name) const;
  std::optional<double> model_param_opt(size_t input, const std::string& name) const;

  // Converts rows [row_begin, row_end) of input i to f32 (cols() per row) into dst. An input
  // smaller than the output (extra vocabulary rows elsewhere) reads the base model's values there,
  // or zeros without a base. Throws Error naming the tensor, model and element on NaN/Inf.
  void read_rows(size_t i, int64_t row_begin, int64_t row_end, float* dst) const;

  // "tensor 'model.layers.0.mlp.up_proj.weight'"
  std::string where() const;
  [[noreturn]] void fail_here(const std::string& message) const;
};

// Which inputs a pass reads for the elements [first, last) of a block: wanted(input, first, last).
using InputFilter = std::function<bool(size_t input, int64_t first, int64_t last)>;

// Calls fn(block) for consecutive blocks of whole rows covering the tensor, with every input read
// to f32; blocks hold about `block_elements` elements (at least one row). Single-threaded and in
// row order, so reductions accumulated in fn are deterministic. With a filter, only the wanted
// inputs are read (the others' pointers are null) and blocks wanting none are skipped. The rows
// read are told to call.rows_done every 2M elements, so that resident memory can stay bounded for
// any tensor size.
void for_each_block(const MergeCall& call, const std::function<void(const RowBlock&)>& fn,
                    int64_t block_elements = 1 << 14, const InputFilter& wanted = {});

}  // namespace alloy
