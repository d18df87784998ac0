#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

std::vector<float> values(size_t n, double seed) { return testing::sin_values(n, seed, 1.7); }

// Independent f64 reference: groups of `group` consecutive elements share one angle.
std::vector<double> reference(const std::vector<float>& base, const std::vector<std::vector<float>>& others,
                              size_t group) {
  const size_t n = others.size();
  std::vector<double> out(base.size());
  for (size_t g0 = 0; g0 < base.size(); g0 += group) {
    const size_t g1 = std::min(base.size(), g0 + group);
    auto offset = [&](size_t i, size_t e) { return double(others[i][e]) - double(base[e]); };
    double cos_sum = 0;
    int pairs = 0;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j) {
        double dot = 0, ni = 0, nj = 0;
        for (size_t e = g0; e < g1; ++e) {
          dot += offset(i, e) * offset(j, e);
          ni += offset(i, e) * offset(i, e);
          nj += offset(j, e) * offset(j, e);
        }
        double c = dot / std::max(std::sqrt(ni * nj), 1e-6);
        cos_sum += std::min(1.0, std::max(-1.0, c));
        ++pairs;
      }
    const double c = cos_sum / pairs;
    // alloy's guard: where mergekit divides by zero (c = -1/(N-1)), keep the base.
    const double t = std::fabs(1 + (n - 1) * c) < 1e-6 ? 0.0 : n * c / (1 + (n - 1) * c);
    for (size_t e = g0; e < g1; ++e) {
      double mean = 0;
      for (size_t i = 0; i < n; ++i) mean += others[i][e];
      mean /= n;
      out[e] = t * mean + (1 - t) * base[e];
    }
  }
  return out;
}

struct Case {
  Shape shape;
  size_t models;
  bool filter_wise;
};

TEST(ModelStock, MatchesFloat64ReferenceOverShapes) {
  for (const Shape& shape : {Shape{1}, Shape{5}, Shape{3, 1}, Shape{4, 6}, Shape{2, 3, 4}})
    for (size_t models : {2, 3})
      for (bool filter_wise : {false, true}) {
        const size_t n = static_cast<size_t>(numel(shape));
        MethodHarness h("model_stock");
        auto base = values(n, 1);
        h.add_base(base, shape);
        std::vector<std::vector<float>> others;
        for (size_t i = 0; i < models; ++i) {
          // Correlated task vectors, so t lands inside (0, 1) as well as elsewhere.
          auto o = values(n, 2 + i);
          auto shared = values(n, 9);
          for (size_t e = 0; e < n; ++e) o[e] = base[e] + 0.3f * o[e] + 0.5f * shared[e];
          others.push_back(o);
          h.add(o, shape);
        }
        h.global("filter_wise", filter_wise);
        auto got = run_block_sizes(h);
        const size_t cols = static_cast<size_t>(shape.back());
        auto want = reference(base, others, filter_wise ? cols : n);
        for (size_t e = 0; e < n; ++e)
          EXPECT_LE(testing::ulp_distance(got[e], want[e], DType::F32), 1.0)
              << shape_str(shape) << " models " << models << " filter_wise " << filter_wise << " e " << e
              << ": " << got[e] << " vs " << want[e];
      }
}

TEST(ModelStock, ZeroOffsetsGiveBase) {
  for (bool filter_wise : {false, true}) {
    MethodHarness h("model_stock");
    auto base = values(24, 3);
    h.add_base(base, {4, 6});
    h.add(base, {4, 6});
    h.add(base, {4, 6});
    h.global("filter_wise", filter_wise);
    EXPECT_EQ(run_block_sizes(h), base);
  }
}

TEST(ModelStock, IdenticalFineTunesGiveTheFineTune) {
  // Parallel task vectors: cos = 1, t = 1, the result is their mean.
  MethodHarness h("model_stock");
  h.add_base({0, 0, 0, 0}, {4});
  h.add({1, 2, 3, 4}, {4});
  h.add({1, 2, 3, 4}, {4});
  EXPECT_EQ(run_block_sizes(h), (std::vector<float>{1, 2, 3, 4}));
}

TEST(ModelStock, HandComputedRatio) {
  // Orthogonal task vectors (c = 0): t = 0, the base. At 60 degrees (c = 1/2, N = 2): t = 2/3.
  MethodHarness orth("model_stock");
  orth.add_base({1, 1}, {2});
  orth.add({2, 1}, {2});
  orth.add({1, 2}, {2});
  EXPECT_EQ(run_block_sizes(orth), (std::vector<float>{1, 1}));

  MethodHarness sixty("model_stock");
  sixty.add_base({0, 0}, {2});
  sixty.add({1, 0}, {2});
  sixty.add({0.5f, static_cast<float>(std::sqrt(3.0) / 2)}, {2});
  auto out = run_block_sizes(sixty);
  const double t = 2.0 / 3.0;
  EXPECT_LE(testing::ulp_distance(out[0], t * 0.75, DType::F32), 1.0);
  EXPECT_LE(testing::ulp_distance(out[1], t * std::sqrt(3.0) / 4, DType::F32), 2.0);
}

TEST(ModelStock, OpposedTaskVectorsKeepBase) {
  // cos = -1 with N = 2 makes 1 + (N-1)c zero; mergekit divides by it, alloy keeps the base.
  for (bool filter_wise : {false, true}) {
    MethodHarness h("model_stock");
    h.add_base({1, 2, 3}, {3});
    h.add({2, 3, 5}, {3});
    h.add({0, 1, 1}, {3});
    h.global("filter_wise", filter_wise);
    EXPECT_EQ(run_block_sizes(h), (std::vector<float>{1, 2, 3}));
  }
}

TEST(ModelStock, FilterWiseAnglesArePerRow) {
  // Row 0: parallel task vectors (t = 1); row 1: orthogonal (t = 0).
  MethodHarness h("model_stock");
  h.add_base({0, 0, 0, 0}, {2, 2});
  h.add({1, 1, 1, 0}, {2, 2});
  h.add({3, 3, 0, 1}, {2, 2});
  h.global("filter_wise", 1);
  EXPECT_EQ(run_block_sizes(h), (std::vector<float>{2, 2, 0, 0}));
}

TEST(ModelStock, NeedsTwoOtherModels) {
  MethodHarness h("model_stock");
  h.add_base({1, 2}, {2});
  h.add({2, 2}, {2}, DType::F32, "models/ft1");
  const std::string m = h.run_error();
  ASSERT_FALSE(m.empty()) << "expected an error";
  EXPECT_NE(m.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << m;
  EXPECT_NE(m.find("at least 2 other models"), std::string::npos) << m;
  EXPECT_NE(m.find("models/ft1"), std::string::npos) << m;
}

TEST(ModelStock, BaseAloneIsKept) {
  MethodHarness h("model_stock");
  h.add_base({1, -2, 3}, {3});
  EXPECT_EQ(h.run(), (std::vector<float>{1, -2, 3}));
}

TEST(ModelStock, EmptyTensor) {
  MethodHarness h("model_stock");
  h.add_base({}, {0, 4});
  h.add({}, {0, 4});
  h.add({}, {0, 4});
  EXPECT_TRUE(h.run().empty());
  h.global("filter_wise", 1);
  EXPECT_TRUE(h.run().empty());
}

TEST(ModelStock, HalfPrecisionInputs) {
  for (DType dtype : {DType::BF16, DType::F16}) {
    MethodHarness h("model_stock");
    auto base = MethodHarness::rounded(values(24, 1), dtype);
    std::vector<std::vector<float>> others;
    h.add_base(base, {4, 6}, dtype);
    for (int i = 0; i < 3; ++i) {
      auto o = values(24, 5 + i);
      for (size_t e = 0; e < o.size(); ++e) o[e] = base[e] + 0.2f * o[e] + 0.1f;
      others.push_back(MethodHarness::rounded(o, dtype));
      h.add(o, {4, 6}, dtype);
    }
    auto got = MethodHarness::rounded(run_block_sizes(h), dtype);
    auto want = reference(base, others, 24);
    for (size_t e = 0; e < got.size(); ++e) EXPECT_LE(testing::ulp_distance(got[e], want[e], dtype), 0.5 + 1e-4) << e;
  }
}

}  // namespace
}  // namespace alloy
