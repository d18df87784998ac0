// Test harness for merge methods: builds a MergeCall over in-memory tensors and runs a method the
// way the executor does (check, prepare, then the kernel over blocks of whole rows), so method
// tests exercise the real code path without files.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "methods/method.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy::testing {

class MethodHarness {
 public:
  explicit MethodHarness(std::string method_name, std::string tensor_name = "model.layers.0.mlp.up_proj.weight")
      : method_(find_method(method_name)) {
    if (!method_) fail("no method '", method_name, "'");
    call.tensor_name = std::move(tensor_name);
  }

  // Adds an input stored as `dtype` (values are rounded to it). Returns its index.
  size_t add(const std::vector<float>& values, Shape shape, DType dtype = DType::F32, std::string label = "") {
    auto& bytes = storage_.emplace_back(values.size() * dtype_size(dtype));
    if (!values.empty()) from_f32(values.data(), dtype, bytes.data(), values.size());
    TensorView v;
    v.dtype = dtype;
    v.shape = std::move(shape);
    v.data = reinterpret_cast<const std::byte*>(bytes.data());
    v.nbytes = bytes.size();
    if (label.empty()) label = "model" + std::to_string(call.inputs.size());
    call.inputs.push_back({v, label, call.tensor_name});
    call.per_model.emplace_back();
    if (call.shape.empty() && !v.shape.empty()) call.shape = v.shape;
    return call.inputs.size() - 1;
  }
  size_t add_base(const std::vector<float>& values, Shape shape, DType dtype = DType::F32) {
    size_t i = add(values, std::move(shape), dtype, "base");
    call.base = static_cast<int>(i);
    return i;
  }

  // Sets a global parameter (applies the method's defaults to the others at run()).
  MethodHarness& global(const std::string& name, double v) {
    call.global[name] = v;
    return *this;
  }
  MethodHarness& per_model(size_t input, const std::string& name, double v) {
    call.per_model[input][name] = v;
    return *this;
  }

  // Runs check + prepare + map over blocks of `block_elements` (rounded to whole rows).
  std::vector<float> run(int64_t block_elements = 1 << 16) {
    for (const auto& spec : method_->global_params)
      if (!call.global.count(spec.name)) call.global[spec.name] = spec.default_value;
    for (auto& pm : call.per_model)
      for (const auto& spec : method_->model_params)
        if (!pm.count(spec.name)) pm[spec.name] = spec.default_value;
    if (method_->check) method_->check(call);
    auto kernel = method_->prepare(call);
    std::vector<float> out(static_cast<size_t>(call.numel()));
    const int64_t cols = call.cols(), rows = call.rows();
    if (rows == 0 || cols == 0) return out;
    const int64_t per = std::max<int64_t>(1, block_elements / cols);
    std::vector<std::vector<float>> in(call.size());
    std::vector<const float*> ptr(call.size());
    for (int64_t r = 0; r < rows; r += per) {
      int64_t end = std::min(rows, r + per);
      for (size_t i = 0; i < call.size(); ++i) {
        in[i].resize(static_cast<size_t>((end - r) * cols));
        call.read_rows(i, r, end, in[i].data());
        ptr[i] = in[i].data();
      }
      RowBlock b{r, end, cols, ptr};
      kernel->map(b, out.data() + r * cols);
    }
    return out;
  }

  // The message of the error run() throws, or "" when it runs through.
  std::string run_error(int64_t block_elements = 1 << 16) {
    try {
      run(block_elements);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  // Rounds f32 results the way the executor writes them in `dtype`.
  static std::vector<float> rounded(const std::vector<float>& v, DType dtype) {
    std::vector<unsigned char> bytes(v.size() * dtype_size(dtype));
    from_f32(v.data(), dtype, bytes.data(), v.size());
    std::vector<float> out(v.size());
    to_f32(dtype, bytes.data(), out.data(), v.size());
    return out;
  }

  MergeCall call;

 private:
  const MethodSpec* method_;
  std::deque<std::vector<unsigned char>> storage_;
};

// Distance in units in the last place of `dtype` between two values (0 if equal).
inline double ulp_distance(double got, double want, DType dtype) {
  if (got == want) return 0;
  int mant = dtype == DType::F16 ? 10 : dtype == DType::BF16 ? 7 : 23;
  int min_exp = dtype == DType::F16 ? -14 : -126;
  double a = std::max(std::fabs(want), std::ldexp(1.0, min_exp));
  int e;
  std::frexp(a, &e);
  double ulp = std::ldexp(1.0, e - 1 - mant);
  return std::fabs(got - want) / ulp;
}

// Deterministic test values sin(seed * 12.9898 + i * 78.233) * scale, i = 0 .. n-1.
inline std::vector<float> sin_values(size_t n, double seed, double scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(seed * 12.9898 + i * 78.233) * scale);
  return v;
}

// n values offset + scale * u, u uniform in [-1, 1) from a 64-bit LCG started at seed and salt.
inline std::vector<float> lcg_values(size_t n, uint64_t seed, uint64_t salt, float scale = 1.0f,
                                     float offset = 0.0f) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + salt;
  for (auto& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = offset + scale * (static_cast<float>(s >> 40) / 16777216.0f * 2.0f - 1.0f);
  }
  return v;
}

// n draws of N(0, scale^2) from std::mt19937(seed).
inline std::vector<float> normal_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// Runs with blocks of 1, 2, 7, 64 and 65536 elements (rounded to whole rows) and requires the
// same bits from each; returns the first result.
inline std::vector<float> run_block_sizes(MethodHarness& h) {
  auto first = h.run(1);
  for (int64_t block : {2, 7, 64, 1 << 16}) {
    auto out = h.run(block);
    EXPECT_EQ(out.size(), first.size());
    EXPECT_EQ(std::memcmp(out.data(), first.data(), out.size() * sizeof(float)), 0) << "block " << block;
  }
  return first;
}

// Runs with blocks of 1 row, 3 rows and the whole tensor; all three must agree bit for bit.
inline std::vector<float> run_row_blocks(MethodHarness& h) {
  const int64_t cols = std::max<int64_t>(1, h.call.cols());
  std::vector<float> whole = h.run(std::max<int64_t>(1, h.call.numel()));
  for (int64_t rows : {1, 3}) {
    std::vector<float> part = h.run(rows * cols);
    EXPECT_EQ(0, std::memcmp(part.data(), whole.data(), whole.size() * sizeof(float)))
        << "blocks of " << rows << " rows differ from one whole-tensor block";
  }
  return whole;
}

// Expects every element of `got` within `max_ulps` units in the last place of `dtype` of `want`.
inline void expect_ulps(const std::vector<float>& got, const std::vector<double>& want, const std::string& what,
                        double max_ulps = 1.0, DType dtype = DType::F32) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_LE(ulp_distance(got[i], want[i], dtype), max_ulps)
        << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

}  // namespace alloy::testing
