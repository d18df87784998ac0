#include "methods/merge_call.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/adapted_views.h"
#include "tensor/convert.h"
#include "tensor/view_rows.h"
#include "util/error.h"

namespace alloy {

int64_t MergeCall::rows() const {
  int64_t c = cols();
  return c == 0 ? 0 : numel() / c;
}

std::vector<size_t> MergeCall::non_base_inputs() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (static_cast<int>(i) != base) out.push_back(i);
  return out;
}

std::string MergeCall::where() const { return "tensor '" + tensor_name + "'"; }

void MergeCall::fail_here(const std::string& message) const { fail(where(), ": ", message); }

std::optional<double> MergeCall::param_opt(const std::string& name) const {
  auto it = global.find(name);
  return it == global.end() ? std::nullopt : it->second;
}

double MergeCall::param(const std::string& name) const {
  auto v = param_opt(name);
  if (!v) fail_here("parameter '" + name + "' is not set");
  return *v;
}

std::optional<double> MergeCall::model_param_opt(size_t input, const std::string& name) const {
  if (input >= per_model.size()) return std::nullopt;
  auto it = per_model[input].find(name);
  return it == per_model[input].end() ? std::nullopt : it->second;
}

double MergeCall::model_param(size_t input, const std::string& name) const {
  auto v = model_param_opt(input, name);
  if (!v) fail_here("parameter '" + name + "' is not set for " + inputs[input].label);
  return *v;
}

void MergeCall::read_rows(size_t i, int64_t row_begin, int64_t row_end, float* dst) const {
  const MergeInput& in = inputs[i];
  const TensorView& v = in.view;
  const int64_t out_cols = cols();
  const int64_t in_cols = v.row_length();
  const int64_t in_rows = v.rows();
  const size_t esize = dtype_size(v.dtype);
  const int64_t n_rows = row_end - row_begin;
  const size_t n = static_cast<size_t>(n_rows * out_cols);
  size_t bad = n;
  const bool through_view_rows = reads_through_view_rows(v);
  if (in_cols == out_cols && row_end <= in_rows && through_view_rows) {
    read_view_rows(v, row_begin, row_end, dst);
    bad = find_non_finite(dst, n);
  } else if (in_cols == out_cols && row_end <= in_rows) {
    // The common case: a contiguous run of the input, converted and checked in one pass.
    bad = to_f32_checked(v.dtype, v.data + static_cast<size_t>(row_begin * in_cols) * esize, dst, n);
  } else {
    // Embeddings of different vocabulary sizes: copy the overlap, fill the rest from the base.
    const int64_t copy_cols = std::min(in_cols, out_cols);
    std::vector<float> fill;
    for (int64_t r = row_begin; r < row_end; ++r) {
      float* row = dst + (r - row_begin) * out_cols;
      int64_t have = (r < in_rows) ? copy_cols : 0;
      if (have > 0 && through_view_rows) {
        fill.resize(static_cast<size_t>(std::max(in_cols, out_cols)));
        read_view_rows(v, r, r + 1, fill.data());
        std::copy(fill.begin(), fill.begin() + have, row);
      } else if (have > 0) {
        to_f32(v.dtype, v.data + static_cast<size_t>(r * in_cols) * esize, row, static_cast<size_t>(have));
      }
      if (have < out_cols) {
        if (base >= 0 && static_cast<size_t>(base) != i) {
          fill.resize(static_cast<size_t>(out_cols));
          read_rows(static_cast<size_t>(base), r, r + 1, fill.data());
          std::copy(fill.begin() + have, fill.end(), row + have);
        } else {
          std::fill(row + have, row + out_cols, 0.0f);
        }
      }
    }
    bad = find_non_finite(dst, n);
  }
  // "element E (row R)" of the tensor, for entry k of dst.
  auto where = [&](size_t k) {
    const int64_t element = row_begin * out_cols + static_cast<int64_t>(k);
    return cat("element ", element, " (row ", element / std::max<int64_t>(out_cols, 1), ")");
  };
  if (bad < n)
    fail("tensor '", in.name, "' in ", in.label, ": ", std::isnan(dst[bad]) ? "NaN" : "Inf", " at ", where(bad),
         "; alloy does not merge non-finite weights: repair or exclude this checkpoint");
  // Values stored in the load dtype already are exactly representable in it.
  if (load_dtype && *load_dtype != v.dtype) {
    round_to_dtype(*load_dtype, dst, n);
    // A finite value can overflow a narrower dtype (a float32 weight above 65504 in float16):
    // merged as Inf, it would turn the merge's sums into NaN.
    if (size_t k = find_non_finite(dst, n); k < n)
      fail("tensor '", in.name, "' in ", in.label, ": the value at ", where(k), " overflows ",
           traits(*load_dtype).torch_name, ", the recipe's dtype: merge in a wider dtype (float32, or bfloat16 for "
           "float16)");
  }
}

void for_each_block(const MergeCall& call, const std::function<void(const RowBlock&)>& fn,
                    int64_t block_elements, const InputFilter& wanted) {
  const int64_t cols = call.cols();
  const int64_t rows = call.rows();
  if (rows == 0 || cols == 0) return;
  const int64_t rows_per_block = std::max<int64_t>(1, block_elements / cols);
  std::vector<std::vector<float>> buffers(call.size());
  std::vector<const float*> pointers(call.size());
  // Rows read are told every 2M elements (a few MB per input), not per block: releasing their
  // pages costs the executor a TLB shootdown on every core.
  constexpr int64_t kTellElements = int64_t{1} << 21;
  std::vector<int64_t> told(call.size(), 0);  // rows below this were told, per input
  auto tell_up_to = [&](int64_t row) {
    if (!call.rows_done) return;
    for (size_t i = 0; i < call.size(); ++i)
      if ((row - told[i]) * cols >= kTellElements) {
        call.rows_done->rows_done(call, i, told[i], row);
        told[i] = row;
      }
  };
  for (int64_t r = 0; r < rows; r += rows_per_block) {
    int64_t end = std::min(rows, r + rows_per_block);
    tell_up_to(r);
    bool any = false;
    for (size_t i = 0; i < call.size(); ++i) {
      pointers[i] = nullptr;
      if (wanted && !wanted(i, r * cols, end * cols)) continue;
      buffers[i].resize(static_cast<size_t>((end - r) * cols));
      call.read_rows(i, r, end, buffers[i].data());
      pointers[i] = buffers[i].data();
      any = true;
    }
    if (!any) continue;
    RowBlock block{r, end, cols, pointers};
    fn(block);
  }
}

}  // namespace alloy
