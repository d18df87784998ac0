#include "methods/blocks/vector_math.h"

#include <gtest/gtest.h>

#include <cmath>

#include "../../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

std::vector<float> ramp(size_t n, float a, float b) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = a * std::sin(b * static_cast<float>(i) + 0.25f);
  return v;
}

TEST(VectorMath, DotsMatchLongDoubleForOddSizes) {
  for (size_t n : {0u, 1u, 3u, 4u, 5u, 7u, 1000u, 1001u}) {
    auto a = ramp(n, 3, 0.7f), b = ramp(n, 0.5f, 1.3f), c = ramp(n, 0.1f, 0.2f);
    long double d = 0, dc = 0;
    for (size_t i = 0; i < n; ++i) {
      d += static_cast<long double>(a[i]) * b[i];
      dc += (static_cast<long double>(a[i]) - c[i]) * (static_cast<long double>(b[i]) - c[i]);
    }
    EXPECT_NEAR(dot_f64(a.data(), b.data(), static_cast<int64_t>(n)), static_cast<double>(d), 1e-13) << n;
    EXPECT_NEAR(centred_dot_f64(a.data(), b.data(), c.data(), static_cast<int64_t>(n)), static_cast<double>(dc), 1e-13)
        << n;
  }
}

// The fused Gram pass gives each pair the bits of its own dot product, for every array count (the
// fused loops for 1 to 4, pair by pair beyond) and every length (the four lanes and the tail).
TEST(VectorMath, GramUpperIsEveryPairwiseDotBitForBit) {
  for (size_t k = 1; k <= 6; ++k)
    for (size_t n : {0u, 1u, 3u, 4u, 5u, 7u, 1001u}) {
      std::vector<std::vector<float>> v;
      for (size_t m = 0; m < k; ++m) v.push_back(ramp(n, 1.0f + static_cast<float>(m), 0.3f + 0.17f * static_cast<float>(m)));
      auto c = ramp(n, 0.4f, 0.05f);
      std::vector<const float*> x;
      for (auto& a : v) x.push_back(a.data());
      std::vector<double> plain(k * (k + 1) / 2, -1), centred(plain);
      gram_upper_f64(x.data(), k, nullptr, static_cast<int64_t>(n), plain.data());
      gram_upper_f64(x.data(), k, c.data(), static_cast<int64_t>(n), centred.data());
      size_t q = 0;
      for (size_t a = 0; a < k; ++a)
        for (size_t b = a; b < k; ++b, ++q) {
          SCOPED_TRACE(std::to_string(k) + " arrays, n=" + std::to_string(n) + ", pair " + std::to_string(a) + "," +
                       std::to_string(b));
          EXPECT_EQ(plain[q], dot_f64(x[a], x[b], static_cast<int64_t>(n)));
          EXPECT_EQ(centred[q], centred_dot_f64(x[a], x[b], c.data(), static_cast<int64_t>(n)));
        }
    }
}

TEST(VectorMath, GramMatrixWithAndWithoutCentre) {
  MethodHarness h("linear");
  auto a = ramp(300, 1, 0.3f), b = ramp(300, 2, 0.11f), c = ramp(300, 0.5f, 0.05f);
  h.add(a, {100, 3});
  h.add(b, {100, 3});
  h.add(c, {100, 3});
  Gram g = gram_matrix(h.call, {0, 1});
  EXPECT_DOUBLE_EQ(g(0, 1), g(1, 0));
  EXPECT_NEAR(g(0, 0), dot_f64(a.data(), a.data(), 300), 1e-12);
  EXPECT_NEAR(g(0, 1), dot_f64(a.data(), b.data(), 300), 1e-12);
  Gram gc = gram_matrix(h.call, {0, 1}, 2);
  EXPECT_NEAR(gc(0, 1), centred_dot_f64(a.data(), b.data(), c.data(), 300), 1e-12);
  // <2 v0 - v1, v1> from the coefficients
  std::vector<double> x = {2, -1}, y = {0, 1};
  EXPECT_NEAR(g.inner(x, y), 2 * g(0, 1) - g(1, 1), 1e-12);
  EXPECT_NEAR(g.norm(y), std::sqrt(g(1, 1)), 1e-12);
}

TEST(VectorMath, WeightedSumKernelAroundACentre) {
  std::vector<float> x0 = {1, 2, 3}, x1 = {5, -1, 0.5f}, c = {1, 1, 1}, out(3);
  std::vector<const float*> in = {x0.data(), x1.data(), c.data()};
  RowBlock b{0, 1, 3, in};
  weighted_sum_kernel({0.5, 2, 99}, 2)->map(b, out.data());
  for (size_t i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(out[i], c[i] + 0.5f * (x0[i] - c[i]) + 2 * (x1[i] - c[i]));
  weighted_sum_kernel({0.5, 2, 0})->map(b, out.data());
  for (size_t i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(out[i], 0.5f * x0[i] + 2 * x1[i]);
  copy_kernel(1)->map(b, out.data());
  EXPECT_EQ(out, x1);
}

}  // namespace
}  // namespace alloy
