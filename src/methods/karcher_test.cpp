// karcher against an independent float64 transcription of mergekit's karcher_merge_tensors (spec
// §3.9) running on the vectors themselves, plus hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;
using testing::expect_ulps;
using V = std::vector<double>;

std::vector<float> random_values(size_t n, uint64_t seed, float scale = 1.0f, float offset = 0.0f) {
  return testing::lcg_values(n, seed, 777, scale, offset);
}

double dot(const V& a, const V& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double norm(const V& a) { return std::sqrt(dot(a, a)); }

V ref_karcher(const std::vector<V>& xs, int max_iter = 10, double tol = 1e-5) {
  const size_t n_in = xs.size(), n = xs[0].size();
  if (n_in == 1) return xs[0];
  std::vector<double> norms(n_in);
  std::vector<V> units(n_in, V(n, 0.0));
  for (size_t i = 0; i < n_in; ++i) {
    norms[i] = norm(xs[i]);
    if (norms[i] != 0)
      for (size_t e = 0; e < n; ++e) units[i][e] = xs[i][e] / norms[i];
  }
  std::vector<size_t> valid;
  for (size_t i = 0; i < n_in; ++i)
    if (norms[i] > tol) valid.push_back(i);
  if (valid.empty()) return V(n, 0.0);
  const double alpha = 1.0 / static_cast<double>(valid.size());
  V mean(n, 0.0);
  for (size_t i : valid)
    for (size_t e = 0; e < n; ++e) mean[e] += alpha * units[i][e];
  double mn = norm(mean);
  if (mn < tol) {
    mean = units[valid[0]];
  } else {
    for (auto& x : mean) x /= mn;
  }
  for (int it = 0; it < max_iter; ++it) {
    V tangent(n, 0.0);
    for (size_t i : valid) {
      double d = std::clamp(dot(mean, units[i]), -1.0, 1.0), theta = std::acos(d);
      if (theta < tol) continue;
      for (size_t e = 0; e < n; ++e) tangent[e] += alpha * (theta / std::sin(theta)) * (units[i][e] - d * mean[e]);
    }
    double tn = norm(tangent);
    if (tn < tol) break;
    for (size_t e = 0; e < n; ++e) mean[e] = std::cos(tn) * mean[e] + std::sin(tn) * tangent[e] / tn;
    double un = norm(mean);
    if (un > tol)
      for (auto& x : mean) x /= un;
  }
  double scale = 0;
  for (double nm : norms) scale += nm / static_cast<double>(n_in);
  for (auto& x : mean) x *= scale;
  return mean;
}

TEST(Karcher, TwoEqualNormVectorsGiveTheScaledMidpoint) {
  // |a| = |b| = 5: the midpoint direction (3, 5, 4)/sqrt(50) times the mean norm 5.
  MethodHarness h("karcher");
  h.add({3, 0, 4}, {3});
  h.add({0, 5, 0}, {3});
  const double s = 5 / std::sqrt(50.0);
  expect_ulps(h.run(), {3 * s, 5 * s, 4 * s}, "midpoint");

  MethodHarness h2("karcher");
  h2.add({2, 0}, {1, 2});
  h2.add({0, 2}, {1, 2});
  expect_ulps(h2.run(), {std::sqrt(2.0), std::sqrt(2.0)}, "quarter circle");
}

TEST(Karcher, MatchesFloat64ReferenceOverShapes) {
  uint64_t seed = 1;
  for (const Shape& shape : {Shape{1}, Shape{5}, Shape{3, 1}, Shape{4, 6}})
    for (size_t k : {2u, 3u, 4u}) {
      size_t n = 1;
      for (auto d : shape) n *= static_cast<size_t>(d);
      MethodHarness h("karcher");
      std::vector<V> xs;
      for (size_t i = 0; i < k; ++i) {
        // A shared offset keeps the inputs within ~60 degrees, like fine-tunes of one model.
        auto v = random_values(n, seed++, 1.0f + 0.5f * static_cast<float>(i), 0.8f);
        xs.emplace_back(v.begin(), v.end());
        h.add(v, shape);
      }
      expect_ulps(run_row_blocks(h), ref_karcher(xs), cat("numel ", n, " inputs ", k));
    }
}

TEST(Karcher, IterationConvergesToTheKarcherMean) {
  const size_t n = 24;
  std::vector<V> xs;
  MethodHarness h("karcher");
  for (uint64_t i = 0; i < 3; ++i) {
    auto v = random_values(n, 50 + i, 1.0f + static_cast<float>(i), 0.3f);
    xs.emplace_back(v.begin(), v.end());
    h.add(v, {4, 6});
  }
  // max_iter 0 is the normalised Euclidean mean of the unit vectors; one step already moves it.
  h.global("max_iter", 0);
  auto euclid = h.run();
  expect_ulps(euclid, ref_karcher(xs, 0), "max_iter 0");
  h.global("max_iter", 1);
  auto one = h.run();
  expect_ulps(one, ref_karcher(xs, 1), "max_iter 1");
  EXPECT_NE(euclid, one);
  h.global("max_iter", 100).global("tol", 1e-12);
  auto converged = run_row_blocks(h);
  expect_ulps(converged, ref_karcher(xs, 100, 1e-12), "max_iter 100");

  // At the Karcher mean the log maps of the inputs balance: Σ θ_i/sin θ_i (u_i - cos θ_i u) = 0.
  V u(converged.begin(), converged.end());
  double un = norm(u);
  for (auto& x : u) x /= un;
  V tangent(n, 0.0);
  for (const auto& x : xs) {
    V ui = x;
    double ni = norm(x);
    for (auto& e : ui) e /= ni;
    double d = dot(u, ui), theta = std::acos(d);
    for (size_t e = 0; e < n; ++e) tangent[e] += theta / std::sin(theta) * (ui[e] - d * u[e]);
  }
  EXPECT_LT(norm(tangent), 1e-5);  // the f32 rounding of the output bounds this
}

TEST(Karcher, ZeroInputsHaveNoDirectionButCountInTheScale) {
  auto a = random_values(24, 60, 1.0f, 0.5f), b = random_values(24, 61, 2.0f, 0.5f);
  std::vector<float> z(24, 0.0f);
  MethodHarness h("karcher");
  h.add(a, {4, 6});
  h.add(z, {4, 6});
  h.add(b, {4, 6});
  auto out = run_row_blocks(h);
  expect_ulps(out, ref_karcher({V(a.begin(), a.end()), V(24, 0.0), V(b.begin(), b.end())}), "one zero");
  // Same direction as the karcher mean of a and b alone, scaled by (|a| + 0 + |b|) / 3.
  V pair = ref_karcher({V(a.begin(), a.end()), V(b.begin(), b.end())});
  for (auto& x : pair) x *= 2.0 / 3.0;
  expect_ulps(out, pair, "scale");

  MethodHarness zeros("karcher");
  zeros.add(z, {4, 6});
  zeros.add(z, {4, 6});
  EXPECT_EQ(zeros.run(), z);
}

TEST(Karcher, IdenticalAndSingleInputs) {
  auto a = random_values(24, 70);
  MethodHarness same("karcher");
  for (int i = 0; i < 3; ++i) same.add(a, {4, 6});
  expect_ulps(same.run(), V(a.begin(), a.end()), "identical");

  MethodHarness one("karcher");
  one.add(a, {4, 6});
  EXPECT_EQ(one.run(), a);
}

TEST(Karcher, AntipodalPairKeepsTheFirstDirection) {
  // The unit vectors cancel, so the mean starts at the first input; the other is antipodal to it
  // and has no geodesic direction, so nothing moves (as in mergekit).
  std::vector<float> a = {1, -2, 3}, b = {-1, 2, -3};
  MethodHarness h("karcher");
  h.add(a, {3});
  h.add(b, {3});
  expect_ulps(h.run(), {1, -2, 3}, "antipodal");
}

TEST(Karcher, HalfPrecisionInputsAndOutputs) {
  for (DType dt : {DType::BF16, DType::F16}) {
    MethodHarness h("karcher");
    std::vector<V> xs, xs32;
    MethodHarness h32("karcher");
    for (uint64_t i = 0; i < 3; ++i) {
      auto v = random_values(24, 80 + i, 1.0f, 0.4f);
      auto r = MethodHarness::rounded(v, dt);
      xs.emplace_back(r.begin(), r.end());
      xs32.emplace_back(v.begin(), v.end());
      h.add(v, {4, 6}, dt);
      h32.add(v, {4, 6});
    }
    expect_ulps(run_row_blocks(h), ref_karcher(xs), "half in");
    // Rounded again to half precision by the executor: up to 0.5 ulp plus half an f32 ulp.
    expect_ulps(MethodHarness::rounded(h32.run(), dt), ref_karcher(xs32), "half out", 0.5 + 1.0 / 8192, dt);
  }
}

TEST(Karcher, ParameterChecks) {
  MethodHarness h("karcher");
  h.add({1, 2}, {2});
  h.add({2, 1}, {2});
  h.global("max_iter", 0);
  auto none = h.run();
  h.global("max_iter", -1);  // as in mergekit (an empty range): no iterations
  EXPECT_EQ(h.run(), none);
  h.global("max_iter", 2.5);
  EXPECT_THROW(h.run(), Error);
  h.global("max_iter", 3).global("tol", -1);
  EXPECT_THROW(h.run(), Error);
}

}  // namespace
}  // namespace alloy
