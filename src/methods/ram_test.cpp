#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

std::vector<float> values(size_t n, double seed) { return testing::sin_values(n, seed, 0.9); }

// Independent f64 reference of ram (plus = false) and ramplus_tl (plus = true).
std::vector<double> reference(const std::vector<float>& base, const std::vector<std::vector<float>>& models,
                              double epsilon, bool plus, double r = 0.1, double alpha = 0.2) {
  const size_t n = base.size(), m = models.size();
  auto tv = [&](size_t i, size_t e) { return double(models[i][e]) - double(base[e]); };
  auto active = [&](size_t i, size_t e) { return std::fabs(tv(i, e)) > epsilon; };
  std::vector<int> count(n, 0);
  for (size_t e = 0; e < n; ++e)
    for (size_t i = 0; i < m; ++i) count[e] += active(i, e);
  std::vector<double> lambda(m, 1.0);
  if (plus)
    for (size_t i = 0; i < m; ++i) {
      double shared = 0, unique = 0;
      for (size_t e = 0; e < n; ++e)
        if (active(i, e)) (count[e] == 1 ? unique : shared) += 1;
      double rho = shared / std::max(unique, epsilon);
      lambda[i] = 1 + r * std::min(alpha, std::max(0.0, rho));
    }
  std::vector<double> out(n);
  for (size_t e = 0; e < n; ++e) {
    double sum = 0;
    for (size_t i = 0; i < m; ++i) {
      if (!active(i, e)) continue;
      sum += count[e] == 1 ? tv(i, e) * lambda[i] : tv(i, e) / count[e];
    }
    out[e] = base[e] + sum;
  }
  return out;
}

// Task vectors where about half the elements are below epsilon, so counts vary.
std::vector<float> sparse_model(const std::vector<float>& base, double seed, double epsilon) {
  auto o = values(base.size(), seed);
  for (size_t e = 0; e < o.size(); ++e) o[e] = base[e] + (o[e] > 0 ? o[e] : static_cast<float>(o[e] * epsilon));
  return o;
}

TEST(Ram, MatchesFloat64ReferenceOverShapes) {
  for (bool plus : {false, true})
    for (const Shape& shape : {Shape{1}, Shape{5}, Shape{3, 1}, Shape{4, 6}, Shape{16, 9}})
      for (size_t models : {1, 2, 3}) {
        const size_t n = static_cast<size_t>(numel(shape));
        const double epsilon = 0.01;
        MethodHarness h(plus ? "ramplus_tl" : "ram");
        auto base = values(n, 1);
        h.add_base(base, shape);
        std::vector<std::vector<float>> others;
        for (size_t i = 0; i < models; ++i) {
          others.push_back(sparse_model(base, 2 + i, epsilon));
          h.add(others.back(), shape);
        }
        h.global("epsilon", epsilon);
        if (plus) h.global("r", 0.5).global("alpha", 0.7);
        auto got = run_block_sizes(h);
        auto want = reference(base, others, epsilon, plus, 0.5, 0.7);
        for (size_t e = 0; e < n; ++e)
          EXPECT_LE(testing::ulp_distance(got[e], want[e], DType::F32), 1.0)
              << shape_str(shape) << " models " << models << " plus " << plus << " e " << e;
      }
}

TEST(Ram, EpsilonIsAStrictThreshold) {
  // epsilon 0.25 (exact in f32): |tv| = 0.25 does not contribute, 0.25 + 1 ulp does.
  const float above = std::nextafter(0.25f, 1.0f), below = std::nextafter(0.25f, 0.0f);
  MethodHarness h("ram");
  h.add_base({0, 0, 0, 0}, {4});
  h.add({0.25f, above, -above, 1}, {4});
  h.add({0, 0, below, 0.5f}, {4});
  h.global("epsilon", 0.25);
  // Element 3: both contribute, mean 0.75. Element 2: only the first (unique, kept whole).
  EXPECT_EQ(run_block_sizes(h), (std::vector<float>{0, above, -above, 0.75f}));
}

TEST(Ram, DefaultEpsilon) {
  MethodHarness h("ram");
  h.add_base({1, 1, 1}, {3});
  h.add({1 + 4e-5f, 1 + 5e-6f, 1}, {3});
  h.add({1 + 2e-5f, 1, 1 - 3e-5f}, {3});
  auto got = run_block_sizes(h);
  auto want = reference({1, 1, 1}, {{1 + 4e-5f, 1 + 5e-6f, 1}, {1 + 2e-5f, 1, 1 - 3e-5f}}, 1e-5, false);
  for (size_t e = 0; e < 3; ++e) EXPECT_EQ(got[e], static_cast<float>(want[e])) << e;
  EXPECT_EQ(got[1], 1.0f);  // below epsilon: base
}

TEST(RamPlusTl, HandCountedBoost) {
  // Model A changes elements {0, 1, 2}, B {2, 3}, C {2} only (no unique changes).
  // A: S=1 U=2 rho=0.5; B: S=1 U=1 rho=1; C: S=1 U=0 rho=1/epsilon. With r=1, alpha=0.8:
  // lambda = 1.5, 1.8, 1.8.
  MethodHarness h("ramplus_tl");
  h.add_base({0, 0, 0, 0, 0}, {5});
  h.add({1, 2, 3, 0, 0}, {5});
  h.add({0, 0, 6, 4, 0}, {5});
  h.add({0, 0, 9, 0, 0}, {5});
  h.global("r", 1).global("alpha", 0.8);
  auto got = run_block_sizes(h);
  EXPECT_EQ(got, (std::vector<float>{1.5f, 3, 6, 4 * 1.8f, 0}));
}

TEST(RamPlusTl, DefaultsCapTheBoost) {
  // Defaults r = 0.1, alpha = 0.2: the boost is at most 1.02.
  MethodHarness h("ramplus_tl");
  h.add_base({0, 0, 0}, {3});
  h.add({1, 1, 0}, {3});
  h.add({0, 1, 0}, {3});
  auto got = run_block_sizes(h);
  EXPECT_EQ(got[0], static_cast<float>(1.02));
  EXPECT_EQ(got[1], 1.0f);
  EXPECT_EQ(got[2], 0.0f);
}

TEST(Ram, DegenerateInputsGiveBase) {
  for (const char* method : {"ram", "ramplus_tl"}) {
    auto base = values(24, 3);
    MethodHarness same(method);
    same.add_base(base, {4, 6});
    same.add(base, {4, 6});
    same.add(base, {4, 6});
    EXPECT_EQ(run_block_sizes(same), base) << method;
    MethodHarness alone(method);
    alone.add_base(base, {4, 6});
    EXPECT_EQ(run_block_sizes(alone), base) << method;
    MethodHarness empty(method);
    empty.add_base({}, {0});
    empty.add({}, {0});
    EXPECT_TRUE(empty.run().empty()) << method;
  }
}

TEST(Ram, F16Inputs) {
  MethodHarness h("ramplus_tl");
  auto base = MethodHarness::rounded(values(30, 1), DType::F16);
  h.add_base(base, {5, 6}, DType::F16);
  std::vector<std::vector<float>> others;
  for (int i = 0; i < 2; ++i) {
    others.push_back(MethodHarness::rounded(sparse_model(base, 4 + i, 0.01), DType::F16));
    h.add(others.back(), {5, 6}, DType::F16);
  }
  h.global("epsilon", 0.01);
  auto got = MethodHarness::rounded(run_block_sizes(h), DType::F16);
  auto want = reference(base, others, 0.01, true);
  for (size_t e = 0; e < got.size(); ++e) EXPECT_LE(testing::ulp_distance(got[e], want[e], DType::F16), 0.5 + 1e-4);
}

}  // namespace
}  // namespace alloy
