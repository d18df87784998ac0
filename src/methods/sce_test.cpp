#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

std::vector<float> values(size_t n, double seed) { return testing::sin_values(n, seed, 1.3); }

// Independent f64 reference of sce, written from the formulas.
std::vector<double> reference(const std::vector<float>& base, const std::vector<std::vector<float>>& models,
                              double select_topk) {
  const size_t n = base.size(), m = models.size();
  std::vector<std::vector<double>> tv(m, std::vector<double>(n));
  for (size_t i = 0; i < m; ++i)
    for (size_t e = 0; e < n; ++e) tv[i][e] = double(models[i][e]) - double(base[e]);
  if (select_topk < 1) {
    std::vector<double> var(n);
    size_t nonzero = 0;
    for (size_t e = 0; e < n; ++e) {
      double mean = 0;
      for (size_t i = 0; i < m; ++i) mean += tv[i][e];
      mean /= m;
      for (size_t i = 0; i < m; ++i) var[e] += (tv[i][e] - mean) * (tv[i][e] - mean);
      var[e] /= m;
      nonzero += var[e] != 0;
    }
    size_t k = select_topk <= 0 ? 0 : static_cast<size_t>(std::floor(nonzero * select_topk));
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return var[a] > var[b]; });
    std::vector<bool> keep(n, false);
    for (size_t r = 0; r < k; ++r) keep[order[r]] = true;
    for (size_t i = 0; i < m; ++i)
      for (size_t e = 0; e < n; ++e)
        if (!keep[e]) tv[i][e] = 0;
  }
  std::vector<double> w(m);
  double total = 0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t e = 0; e < n; ++e) w[i] += tv[i][e] * tv[i][e];
    w[i] /= n;
    total += w[i];
  }
  for (auto& x : w) x = std::fabs(total) < 1e-6 ? 1.0 / m : x / total;
  std::vector<double> out(n);
  for (size_t e = 0; e < n; ++e) {
    double s = 0;
    for (size_t i = 0; i < m; ++i) s += tv[i][e];
    int elected = s >= 0 ? 1 : -1;
    double num = 0, den = 0;
    for (size_t i = 0; i < m; ++i) {
      int sign = (tv[i][e] > 0) - (tv[i][e] < 0);
      if (sign != elected) continue;
      num += tv[i][e] * w[i];
      den += w[i];
    }
    out[e] = base[e] + num / std::max(den, 1e-6);
  }
  return out;
}

TEST(Sce, MatchesFloat64ReferenceOverShapes) {
  for (const Shape& shape : {Shape{1}, Shape{5}, Shape{3, 1}, Shape{4, 6}, Shape{33, 7}})
    for (size_t models : {1, 2, 3})
      for (double topk : {1.0, 0.5, 0.3, 0.0}) {
        const size_t n = static_cast<size_t>(numel(shape));
        MethodHarness h("sce");
        auto base = values(n, 1);
        h.add_base(base, shape);
        std::vector<std::vector<float>> others;
        for (size_t i = 0; i < models; ++i) {
          auto o = values(n, 2 + i);
          for (size_t e = 0; e < n; ++e) o[e] = base[e] + o[e];
          others.push_back(o);
          h.add(o, shape);
        }
        h.global("select_topk", topk);
        auto got = run_block_sizes(h);
        auto want = reference(base, others, topk);
        for (size_t e = 0; e < n; ++e)
          EXPECT_LE(testing::ulp_distance(got[e], want[e], DType::F32), 1.0)
              << shape_str(shape) << " models " << models << " topk " << topk << " e " << e;
      }
}

TEST(Sce, VarianceTiesGoToLowerIndex) {
  // Every element has variance 1: with select_topk 0.5 of 5 non-zero, the first 2 are kept.
  MethodHarness h("sce");
  h.add_base({0, 0, 0, 0, 0}, {5});
  h.add({1, 1, 1, 1, 2}, {5});
  h.add({-1, -1, -1, -1, 0}, {5});
  h.global("select_topk", 0.5);
  // Kept elements: sum 0 elects +, so only the first model's +1 survives there.
  EXPECT_EQ(run_block_sizes(h), (std::vector<float>{1, 1, 0, 0, 0}));
}

TEST(Sce, ZeroVarianceIsNotCounted) {
  // Elements 0-2 have equal task vectors (variance 0); k = floor(2 * 0.5) = 1 of the other two.
  MethodHarness h("sce");
  std::vector<float> base = {0, 0, 0, 0, 0};
  std::vector<float> a = {1, 1, 1, 3, 5}, b = {1, 1, 1, 1, 1};
  h.add_base(base, {5});
  h.add(a, {5});
  h.add(b, {5});
  h.global("select_topk", 0.5);
  auto got = run_block_sizes(h);
  auto want = reference(base, {a, b}, 0.5);
  for (size_t e = 0; e < 5; ++e) EXPECT_LE(testing::ulp_distance(got[e], want[e], DType::F32), 1.0) << e;
  // Only element 4 (variance 4) keeps its task vectors.
  EXPECT_EQ(got[0], 0);
  EXPECT_EQ(got[3], 0);
  EXPECT_NE(got[4], 0);
}

TEST(Sce, WeightsFollowMeanSquaredTaskVector) {
  // Agreeing signs: result = base + (w1 tv1 + w2 tv2) / (w1 + w2), w_i = mean(tv_i^2).
  MethodHarness h("sce");
  h.add_base({1, 1}, {2});
  h.add({2, 3}, {2});    // tv (1, 2), mean sq 2.5
  h.add({1.5f, 1}, {2});  // tv (0.5, 0), mean sq 0.125
  auto got = run_block_sizes(h);
  const double w1 = 2.5 / 2.625, w2 = 0.125 / 2.625;
  EXPECT_LE(testing::ulp_distance(got[0], 1 + (w1 * 1 + w2 * 0.5) / (w1 + w2), DType::F32), 1.0);
  EXPECT_EQ(got[1], 3);  // the second model's zero is not an agreeing sign
}

TEST(Sce, TinyTaskVectorsGetUniformWeights) {
  // sum of mean squares < 1e-6: weights 1/N (mergekit behaviour).
  MethodHarness h("sce");
  h.add_base({0, 0}, {2});
  h.add({1e-4f, 1e-4f}, {2});
  h.add({3e-4f, 0}, {2});
  auto got = run_block_sizes(h);
  EXPECT_LE(testing::ulp_distance(got[0], (1e-4f + 3e-4f) / 2.0, DType::F32), 1.0);
  EXPECT_LE(testing::ulp_distance(got[1], double(1e-4f), DType::F32), 1.0);
}

TEST(Sce, DegenerateInputsGiveBase) {
  auto base = values(24, 4);
  {  // all-zero task vectors
    MethodHarness h("sce");
    h.add_base(base, {4, 6});
    h.add(base, {4, 6});
    h.add(base, {4, 6});
    EXPECT_EQ(run_block_sizes(h), base);
    h.global("select_topk", 0.5);
    EXPECT_EQ(run_block_sizes(h), base);
  }
  {  // nothing selected
    MethodHarness h("sce");
    h.add_base(base, {4, 6});
    h.add(values(24, 5), {4, 6});
    h.add(values(24, 6), {4, 6});
    h.global("select_topk", 0);
    EXPECT_EQ(run_block_sizes(h), base);
  }
  {  // no other model
    MethodHarness h("sce");
    h.add_base(base, {4, 6});
    EXPECT_EQ(run_block_sizes(h), base);
  }
  {  // empty tensor
    MethodHarness h("sce");
    h.add_base({}, {0, 3});
    h.add({}, {0, 3});
    h.global("select_topk", 0.5);
    EXPECT_TRUE(h.run().empty());
  }
}

TEST(Sce, LargeTensorTopKIsExact) {
  // Past the in-memory candidate limit of the selection: the threshold is found by histogram
  // passes. Few distinct task-vector values make many ties at the threshold.
  const size_t rows = 1030, cols = 1024, n = rows * cols;
  std::vector<float> base(n, 0.5f), a(n), b(n);
  for (size_t e = 0; e < n; ++e) {
    a[e] = 0.5f + 0.125f * static_cast<float>(e % 5);
    b[e] = 0.5f - 0.25f * static_cast<float>((e / 3) % 4);
  }
  MethodHarness h("sce");
  h.add_base(base, {static_cast<int64_t>(rows), static_cast<int64_t>(cols)});
  h.add(a, {static_cast<int64_t>(rows), static_cast<int64_t>(cols)});
  h.add(b, {static_cast<int64_t>(rows), static_cast<int64_t>(cols)});
  h.global("select_topk", 0.3);
  auto got = h.run(cols * 100);
  EXPECT_EQ(h.run(cols * 7), got);
  auto want = reference(base, {a, b}, 0.3);
  size_t bad = 0;
  for (size_t e = 0; e < n; ++e) bad += testing::ulp_distance(got[e], want[e], DType::F32) > 1.0;
  EXPECT_EQ(bad, 0u);
}

TEST(Sce, Bf16Inputs) {
  MethodHarness h("sce");
  auto base = MethodHarness::rounded(values(40, 1), DType::BF16);
  h.add_base(base, {5, 8}, DType::BF16);
  std::vector<std::vector<float>> others;
  for (int i = 0; i < 3; ++i) {
    auto o = values(40, 7 + i);
    others.push_back(MethodHarness::rounded(o, DType::BF16));
    h.add(o, {5, 8}, DType::BF16);
  }
  h.global("select_topk", 0.6);
  auto got = MethodHarness::rounded(run_block_sizes(h), DType::BF16);
  auto want = reference(base, others, 0.6);
  for (size_t e = 0; e < got.size(); ++e) EXPECT_LE(testing::ulp_distance(got[e], want[e], DType::BF16), 0.5 + 1e-4);
}

}  // namespace
}  // namespace alloy
