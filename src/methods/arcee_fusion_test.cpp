#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

std::vector<float> values(size_t n, double seed, double scale = 1.0) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(seed * 12.9898 + i * 78.233) * scale);
  return v;
}

std::vector<float> run_chunked(MethodHarness& h, std::vector<int64_t> blocks = {2, 7, 64, 1 << 16}) {
  auto first = h.run(1);
  for (int64_t block : blocks) {
    auto out = h.run(block);
    EXPECT_EQ(out.size(), first.size());
    EXPECT_EQ(std::memcmp(out.data(), first.data(), out.size() * sizeof(float)), 0) << "block " << block;
  }
  return first;
}

// Independent f64 reference: row KL, importance, sorted quantiles, threshold.
std::vector<float> reference(const std::vector<float>& a, const std::vector<float>& b, size_t cols) {
  const size_t n = a.size(), rows = n / cols;
  auto softmax = [&](const std::vector<float>& x, size_t row) {
    std::vector<double> p(cols);
    double peak = *std::max_element(x.begin() + row * cols, x.begin() + (row + 1) * cols);
    double sum = 0;
    for (size_t j = 0; j < cols; ++j) sum += p[j] = std::exp(double(x[row * cols + j]) - peak);
    for (auto& v : p) v /= sum;
    return p;
  };
  std::vector<double> importance(n);
  for (size_t r = 0; r < rows; ++r) {
    auto p = softmax(b, r), q = softmax(a, r);
    double kl = 0;
    for (size_t j = 0; j < cols; ++j) kl += (p[j] + 1e-8) * std::log((p[j] + 1e-8) / (q[j] + 1e-8));
    for (size_t j = 0; j < cols; ++j) importance[r * cols + j] = std::fabs(double(b[r * cols + j]) - a[r * cols + j]) * kl;
  }
  auto sorted = importance;
  std::sort(sorted.begin(), sorted.end());
  auto quantile = [&](double x) { return sorted[static_cast<size_t>(std::floor(x * (n - 1)))]; };
  const double threshold = quantile(0.5) + 1.5 * (quantile(0.75) - quantile(0.25));
  std::vector<float> out(n);
  for (size_t e = 0; e < n; ++e) out[e] = importance[e] >= threshold ? b[e] : a[e];
  return out;
}

TEST(ArceeFusion, MatchesFloat64ReferenceOverShapes) {
  for (const Shape& shape : {Shape{1}, Shape{5}, Shape{3, 1}, Shape{4, 6}, Shape{7, 13}, Shape{2, 3, 5}}) {
    const size_t n = static_cast<size_t>(numel(shape));
    auto a = values(n, 1, 2.0), b = values(n, 2, 2.0);
    MethodHarness h("arcee_fusion");
    h.add_base(a, shape);
    h.add(b, shape);
    auto got = run_chunked(h);
    EXPECT_EQ(got, reference(a, b, static_cast<size_t>(shape.back()))) << shape_str(shape);
  }
}

TEST(ArceeFusion, HandCheckedThreshold) {
  // One row: importance = kl * (0, 1, 2, 3, 10); quartiles kl, 2kl, 3kl; threshold 5kl.
  MethodHarness h("arcee_fusion");
  h.add_base({0, 0, 0, 0, 0}, {5});
  h.add({0, 1, 2, 3, 10}, {5});
  EXPECT_EQ(run_chunked(h), (std::vector<float>{0, 0, 0, 0, 10}));
}

TEST(ArceeFusion, IdenticalInputsGiveBase) {
  auto a = values(24, 3);
  MethodHarness h("arcee_fusion");
  h.add_base(a, {4, 6});
  h.add(a, {4, 6});
  EXPECT_EQ(run_chunked(h), a);
}

TEST(ArceeFusion, SingleColumnTakesTheOtherModel) {
  // softmax over one element is 1 for both models: kl = 0, threshold 0, every element selected.
  MethodHarness h("arcee_fusion");
  h.add_base({1, 2, 3}, {3, 1});
  h.add({4, 5, 6}, {3, 1});
  EXPECT_EQ(run_chunked(h), (std::vector<float>{4, 5, 6}));
}

TEST(ArceeFusion, LargeTensorUsesExactQuantiles) {
  // Past the in-memory candidate limit of the selection (and mergekit's sampling size).
  const Shape shape{1100, 1000};
  const size_t n = 1100 * 1000;
  auto a = values(n, 5, 0.05), b = values(n, 6, 0.05);
  for (size_t e = 0; e < n; ++e) b[e] = a[e] + 0.1f * b[e] * static_cast<float>(e % 7);
  MethodHarness h("arcee_fusion");
  h.add_base(a, shape);
  h.add(b, shape);
  auto got = run_chunked(h, {1000 * 37});
  auto want = reference(a, b, 1000);
  size_t differing = 0, taken = 0;
  for (size_t e = 0; e < n; ++e) {
    differing += std::memcmp(&got[e], &want[e], sizeof(float)) != 0;
    taken += got[e] != a[e];
  }
  EXPECT_EQ(differing, 0u);
  EXPECT_GT(taken, 0u);
  EXPECT_LT(taken, n / 2);
}

TEST(ArceeFusion, InputCounts) {
  {
    MethodHarness h("arcee_fusion");
    h.add_base({1, 2}, {2});
    EXPECT_EQ(h.run(), (std::vector<float>{1, 2}));
  }
  {
    MethodHarness h("arcee_fusion");
    h.add_base({1}, {1});
    h.add({2}, {1}, DType::F32, "models/ft1");
    h.add({3}, {1}, DType::F32, "models/ft2");
    const std::string m = h.run_error();
    ASSERT_FALSE(m.empty()) << "expected an error";
    EXPECT_NE(m.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("exactly two models"), std::string::npos) << m;
  }
  {
    MethodHarness h("arcee_fusion");
    h.add_base({}, {0, 8});
    h.add({}, {0, 8});
    EXPECT_TRUE(h.run().empty());
  }
}

TEST(ArceeFusion, HalfPrecisionInputsSelectExactValues) {
  for (DType dtype : {DType::BF16, DType::F16}) {
    auto a = MethodHarness::rounded(values(48, 7, 3.0), dtype), b = MethodHarness::rounded(values(48, 8, 3.0), dtype);
    MethodHarness h("arcee_fusion");
    h.add_base(a, {6, 8}, dtype);
    h.add(b, {6, 8}, dtype);
    EXPECT_EQ(run_chunked(h), reference(a, b, 8));
  }
}

}  // namespace
}  // namespace alloy
