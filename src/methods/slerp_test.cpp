// slerp, nuslerp and multislerp against independent float64 implementations written from the
// formulas of spec §3.2-3.4 (vector-space loops, no Gram-matrix shortcuts), on hand-made tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;
using testing::expect_ulps;
using V = std::vector<double>;

const std::vector<Shape> kShapes = {{1}, {5}, {3, 1}, {4, 6}};

// Positive scales only: lcg_values adds its 0 offset, which would turn a -0 into +0.
std::vector<float> random_values(size_t n, uint64_t seed, float scale = 1.0f) {
  return testing::lcg_values(n, seed, 12345, scale);
}

V as_double(const std::vector<float>& v) { return V(v.begin(), v.end()); }
double dot(const V& a, const V& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double norm(const V& a) { return std::sqrt(dot(a, a)); }
V axpby(double x, const V& a, double y, const V& b) {
  V r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = x * a[i] + y * b[i];
  return r;
}
size_t count(const Shape& s) {
  size_t n = 1;
  for (auto d : s) n *= static_cast<size_t>(d);
  return n;
}

std::string expect_error(MethodHarness& h) {
  std::string m = h.run_error();
  if (m.empty()) ADD_FAILURE() << "expected an error";
  return m;
}

// ---------------------------------------------------------------------------------------------
// slerp reference (mergekit merge_methods/slerp.py in f64)

V ref_slerp(double t, const V& a, const V& b) {
  V an = a, bn = b;
  double na = norm(a), nb = norm(b);
  if (na > 1e-8)
    for (auto& x : an) x /= na;
  if (nb > 1e-8)
    for (auto& x : bn) x /= nb;
  double d = dot(an, bn);
  if (std::fabs(d) > 0.9995) return axpby(1 - t, a, t, b);
  double theta0 = std::acos(d), s = std::sin(theta0), theta_t = theta0 * t;
  return axpby(std::sin(theta0 - theta_t) / s, a, std::sin(theta_t) / s, b);
}

std::vector<float> run_slerp(const std::vector<float>& a, const std::vector<float>& b, const Shape& shape, double t,
                             DType dtype = DType::F32) {
  MethodHarness h("slerp");
  h.add_base(a, shape, dtype);
  h.add(b, shape, dtype);
  h.global("t", t);
  return run_row_blocks(h);
}

TEST(Slerp, MatchesFloat64ReferenceOverShapesAndT) {
  uint64_t seed = 1;
  for (const Shape& shape : kShapes) {
    const size_t n = count(shape);
    auto a = random_values(n, seed++), b = random_values(n, seed++, 2.5f);
    for (double t : {0.0, 0.3, 1.0, 1.5}) {
      auto out = run_slerp(a, b, shape, t);
      expect_ulps(out, ref_slerp(t, as_double(a), as_double(b)), "shape " + std::to_string(n) + " t " + std::to_string(t));
      if (t == 0) {
        EXPECT_EQ(out, a);
      }
      if (t == 1) {
        EXPECT_EQ(out, b);
      }
    }
  }
}

TEST(Slerp, SphericalPathKeepsNormBetweenEqualNormInputs) {
  // a = (1, 0), b = (0, 1): the result at t is (cos(t pi/2), sin(t pi/2)), also for t = 1.5.
  for (double t : {0.3, 1.5}) {
    auto out = run_slerp({1, 0}, {0, 1}, {2}, t);
    expect_ulps(out, {std::cos(t * std::numbers::pi / 2), std::sin(t * std::numbers::pi / 2)}, "quarter circle");
  }
}

TEST(Slerp, ColinearInputsFallBackToLerp) {
  auto a = random_values(24, 7);
  std::vector<float> twice(a.size()), negated(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    twice[i] = 2 * a[i];
    negated[i] = -3 * a[i];
  }
  for (const auto* b : {&twice, &negated}) {
    auto out = run_slerp(a, *b, {4, 6}, 0.3);
    expect_ulps(out, axpby(0.7, as_double(a), 0.3, as_double(*b)), "colinear");
  }
  // Just past the 0.9995 threshold it is lerp, just inside it the spherical formula.
  for (double cosine : {0.9996, 0.9994}) {
    std::vector<float> b = {static_cast<float>(cosine), static_cast<float>(std::sqrt(1 - cosine * cosine))};
    auto out = run_slerp({1, 0}, b, {2}, 0.4);
    expect_ulps(out, ref_slerp(0.4, {1, 0}, as_double(b)), "threshold");
  }
}

TEST(Slerp, ZeroTensorIsNotNormalised) {
  // A zero base gives dot 0, theta0 = pi/2: result = sin(t pi/2) * b.
  auto b = random_values(6, 3);
  for (double t : {0.3, 1.5}) {
    auto out = run_slerp(std::vector<float>(6, 0.0f), b, {2, 3}, t);
    V want = as_double(b);
    for (auto& x : want) x *= std::sin(t * std::numbers::pi / 2);
    expect_ulps(out, want, "zero base");
    expect_ulps(run_slerp(b, std::vector<float>(6, 0.0f), {2, 3}, t),
                ref_slerp(t, as_double(b), V(6, 0.0)), "zero other");
  }
}

TEST(Slerp, IdenticalModelsGiveTheInput) {
  auto a = random_values(24, 11);
  for (double t : {0.3, 1.0, 1.5}) EXPECT_EQ(run_slerp(a, a, {4, 6}, t), a);
}

TEST(Slerp, BaseIsTheStartWhateverItsPosition) {
  MethodHarness h("slerp");
  h.add({0, 1}, {2});
  h.add_base({1, 0}, {2});
  h.global("t", 0);
  EXPECT_EQ(h.run(), (std::vector<float>{1, 0}));
}

TEST(Slerp, SingleInputIsReturnedUnchanged) {
  MethodHarness h("slerp");
  auto a = random_values(5, 2);
  h.add_base(a, {5});
  h.global("t", 0.5);
  EXPECT_EQ(h.run(), a);
}

TEST(Slerp, ThreeInputsAreAnError) {
  MethodHarness h("slerp");
  h.add_base({1, 0}, {2});
  h.add({0, 1}, {2});
  h.add({1, 1}, {2});
  h.global("t", 0.5);
  std::string m = expect_error(h);
  EXPECT_NE(m.find("slerp merges exactly two models (the base and one other)"), std::string::npos) << m;
  EXPECT_NE(m.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << m;
}

TEST(Slerp, HalfPrecisionInputsAndOutputs) {
  const Shape shape = {4, 6};
  auto a = random_values(24, 21), b = random_values(24, 22);
  for (DType in : {DType::BF16, DType::F16}) {
    // Half-precision inputs, f32 output: the reference sees the rounded inputs.
    auto ra = MethodHarness::rounded(a, in), rb = MethodHarness::rounded(b, in);
    expect_ulps(run_slerp(a, b, shape, 0.3, in), ref_slerp(0.3, as_double(ra), as_double(rb)), "half in");
    // f32 inputs, half-precision output: the f32 kernel result is rounded again by the executor,
    // so a double rounding can add up to half an f32 ulp (2^-16 of a bf16 ulp) to the 0.5.
    auto out = MethodHarness::rounded(run_slerp(a, b, shape, 0.3), in);
    expect_ulps(out, ref_slerp(0.3, as_double(a), as_double(b)), "half out", 0.5 + 1.0 / 8192, in);
  }
}

// ---------------------------------------------------------------------------------------------
// nuslerp reference (mergekit merge_methods/nuslerp.py in f64)

// The flat indices of each vector the tensor splits into.
std::vector<std::vector<size_t>> nuslerp_vectors(const Shape& shape, bool flatten, bool row_wise) {
  const size_t n = count(shape);
  std::vector<std::vector<size_t>> vs;
  if (flatten || shape.size() < 2) {
    vs.emplace_back();
    for (size_t i = 0; i < n; ++i) vs.back().push_back(i);
  } else if (row_wise) {  // along axis 0, one per index of the remaining axes
    const size_t inner = n / static_cast<size_t>(shape[0]);
    for (size_t j = 0; j < inner; ++j) {
      vs.emplace_back();
      for (size_t k = 0; k < static_cast<size_t>(shape[0]); ++k) vs.back().push_back(j + k * inner);
    }
  } else {  // along the last axis
    const size_t cols = static_cast<size_t>(shape.back());
    for (size_t r = 0; r < n / cols; ++r) {
      vs.emplace_back();
      for (size_t k = 0; k < cols; ++k) vs.back().push_back(r * cols + k);
    }
  }
  return vs;
}

V ref_nuslerp(double t, const V& v0, const V& v1, const Shape& shape, bool flatten, bool row_wise) {
  V res(v0.size());
  for (const auto& idx : nuslerp_vectors(shape, flatten, row_wise)) {
    double n0 = 0, n1 = 0;
    for (size_t i : idx) {
      n0 += v0[i] * v0[i];
      n1 += v1[i] * v1[i];
    }
    n0 = std::max(std::sqrt(n0), 1e-7);
    n1 = std::max(std::sqrt(n1), 1e-7);
    double c = 0;
    for (size_t i : idx) c += (v0[i] / n0) * (v1[i] / n1);
    double theta = std::acos(std::clamp(c, -1.0, 1.0)), s = std::sin(theta);
    for (size_t i : idx)
      res[i] = std::fabs(s) < 1e-8 ? (1 - t) * v0[i] + t * v1[i]
                                   : (std::sin((1 - t) * theta) * v0[i] + std::sin(t * theta) * v1[i]) / s;
  }
  return res;
}

V ref_nuslerp_call(double w0, double w1, const V& m0, const V& m1, const V* base, const Shape& shape, bool flatten,
                   bool row_wise) {
  double t = std::fabs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
  if (!base) return ref_nuslerp(t, m0, m1, shape, flatten, row_wise);
  V r = ref_nuslerp(t, axpby(1, m0, -1, *base), axpby(1, m1, -1, *base), shape, flatten, row_wise);
  for (size_t i = 0; i < r.size(); ++i) r[i] += (*base)[i];
  return r;
}

TEST(Nuslerp, AllModesWithAndWithoutBase) {
  uint64_t seed = 100;
  std::vector<Shape> shapes = kShapes;
  shapes.push_back({2, 3, 4});
  for (const Shape& shape : shapes)
    for (bool flatten : {false, true})
      for (bool row_wise : {false, true})
        for (bool with_base : {false, true}) {
          const size_t n = count(shape);
          auto m0 = random_values(n, seed++), m1 = random_values(n, seed++, 3.0f), b = random_values(n, seed++, 0.5f);
          MethodHarness h("nuslerp");
          if (with_base) h.add_base(b, shape);
          size_t i0 = h.add(m0, shape), i1 = h.add(m1, shape);
          h.per_model(i0, "weight", 1.0).per_model(i1, "weight", 3.0);
          h.global("nuslerp_flatten", flatten).global("nuslerp_row_wise", row_wise);
          V bd = as_double(b);
          V want = ref_nuslerp_call(1, 3, as_double(m0), as_double(m1), with_base ? &bd : nullptr, shape, flatten,
                                    row_wise);
          expect_ulps(run_row_blocks(h), want,
                      cat("numel ", n, " flatten ", flatten, " row_wise ", row_wise, " base ", with_base));
        }
}

TEST(Nuslerp, ModesAreDistinctOnAMatrix) {
  const Shape shape = {4, 6};
  auto m0 = random_values(24, 5), m1 = random_values(24, 6);
  auto run = [&](bool flatten, bool row_wise) {
    MethodHarness h("nuslerp");
    h.add(m0, shape);
    h.add(m1, shape);
    h.per_model(0, "weight", 0.5).per_model(1, "weight", 0.5);
    h.global("nuslerp_flatten", flatten).global("nuslerp_row_wise", row_wise);
    return h.run();
  };
  auto flat = run(true, false), rows = run(false, false), cols = run(false, true);
  EXPECT_NE(flat, rows);
  EXPECT_NE(flat, cols);
  EXPECT_NE(rows, cols);
  EXPECT_EQ(flat, run(true, true));  // flatten wins over row_wise
}

TEST(Nuslerp, WeightsSummingToZeroMeanTHalf) {
  auto m0 = random_values(24, 8), m1 = random_values(24, 9);
  MethodHarness h("nuslerp");
  h.add(m0, {4, 6});
  h.add(m1, {4, 6});
  h.per_model(0, "weight", 1.0).per_model(1, "weight", -1.0);
  expect_ulps(run_row_blocks(h), ref_nuslerp(0.5, as_double(m0), as_double(m1), {4, 6}, true, false), "t = 0.5");
}

TEST(Nuslerp, ColinearAndZeroRows) {
  // Row 0: m1 = 2 m0 (sin theta = 0: lerp). Row 1: m0 = 0 (cos 0: theta = pi/2). Row 2: generic.
  std::vector<float> m0 = {1, 2, 3, 0, 0, 0, 1, -1, 2}, m1 = {2, 4, 6, 1, 2, -1, 3, 1, -1};
  MethodHarness h("nuslerp");
  h.add(m0, {3, 3});
  h.add(m1, {3, 3});
  h.per_model(0, "weight", 0.75).per_model(1, "weight", 0.25);
  h.global("nuslerp_flatten", 0);
  auto out = run_row_blocks(h);
  expect_ulps(out, ref_nuslerp(0.25, as_double(m0), as_double(m1), {3, 3}, false, false), "rows");
  for (int k = 0; k < 3; ++k) EXPECT_FLOAT_EQ(out[k], 0.75f * m0[k] + 0.25f * m1[k]);
  for (int k = 3; k < 6; ++k) EXPECT_FLOAT_EQ(out[k], static_cast<float>(std::sin(0.25 * std::numbers::pi / 2) * m1[k]));
}

TEST(Nuslerp, ReplicatesSlerpWithWeightsOneMinusTAndT) {
  auto a = random_values(24, 31), b = random_values(24, 32);
  MethodHarness h("nuslerp");
  h.add(a, {4, 6});
  h.add(b, {4, 6});
  h.per_model(0, "weight", 0.7).per_model(1, "weight", 0.3);
  expect_ulps(h.run(), ref_slerp(0.3, as_double(a), as_double(b)), "as slerp");
}

TEST(Nuslerp, InputCountErrors) {
  MethodHarness with_base("nuslerp");
  with_base.add_base({1, 0}, {2});
  with_base.add({0, 1}, {2});
  with_base.per_model(1, "weight", 1);
  std::string m = expect_error(with_base);
  EXPECT_NE(m.find("base_model can not be one of the two models"), std::string::npos) << m;

  MethodHarness three("nuslerp");
  for (int i = 0; i < 3; ++i) three.per_model(three.add({1, static_cast<float>(i)}, {2}), "weight", 1);
  m = expect_error(three);
  EXPECT_NE(m.find("exactly two models"), std::string::npos) << m;

  MethodHarness one("nuslerp");
  one.add({1, 2}, {2});
  one.per_model(0, "weight", 1);
  EXPECT_EQ(one.run(), (std::vector<float>{1, 2}));
}

TEST(Nuslerp, HalfPrecisionInputs) {
  auto m0 = random_values(24, 41), m1 = random_values(24, 42), b = random_values(24, 43);
  for (DType dt : {DType::BF16, DType::F16}) {
    MethodHarness h("nuslerp");
    h.add_base(b, {4, 6}, dt);
    h.add(m0, {4, 6}, dt);
    h.add(m1, {4, 6}, dt);
    h.per_model(1, "weight", 2).per_model(2, "weight", 1);
    h.global("nuslerp_flatten", 0).global("nuslerp_row_wise", 1);
    V rb = as_double(MethodHarness::rounded(b, dt));
    V want = ref_nuslerp_call(2, 1, as_double(MethodHarness::rounded(m0, dt)), as_double(MethodHarness::rounded(m1, dt)),
                              &rb, {4, 6}, false, true);
    expect_ulps(run_row_blocks(h), want, "half in");
  }
}

// ---------------------------------------------------------------------------------------------
// multislerp reference (mergekit merge_methods/multislerp.py in f64). Returns nullopt where
// mergekit raises (weighted mean of the unit vectors ~ 0 with three or more models).

std::optional<V> ref_multislerp(const std::vector<V>& models, V w, bool normalize, double eps, const V* base) {
  const size_t k = models.size(), n = models[0].size();
  std::vector<V> x = models;
  if (base)
    for (auto& xi : x) xi = axpby(1, xi, -1, *base);
  if (normalize) {
    double s = 0;
    for (double wi : w) s += wi;
    for (double& wi : w) wi /= s;
  }
  auto add_base = [&](V r) {
    if (base)
      for (size_t i = 0; i < n; ++i) r[i] += (*base)[i];
    return r;
  };
  std::vector<double> norms(k);
  std::vector<V> u(k);
  V mean(n, 0.0);
  for (size_t i = 0; i < k; ++i) {
    norms[i] = norm(x[i]);
    u[i] = x[i];
    for (auto& e : u[i]) e /= norms[i] + eps;
    mean = axpby(1, mean, w[i], u[i]);
  }
  double mn = norm(mean);
  if (mn < eps) {
    if (k != 2) return std::nullopt;
    return add_base(axpby(w[0], x[0], w[1], x[1]));
  }
  for (auto& e : mean) e /= mn;
  V tangent(n, 0.0);
  for (size_t i = 0; i < k; ++i) tangent = axpby(1, tangent, w[i], axpby(1, u[i], -dot(u[i], mean), mean));
  double tau = norm(tangent) + eps, avg = 0;
  for (size_t i = 0; i < k; ++i) avg += norms[i] * w[i];
  V r = axpby(std::cos(tau), mean, std::sin(tau) / tau, tangent);
  for (auto& e : r) e *= avg;
  return add_base(r);
}

TEST(Multislerp, TwoAndThreeModelsNormalizeOnAndOff) {
  uint64_t seed = 200;
  for (const Shape& shape : {Shape{5}, Shape{3, 1}, Shape{4, 6}})
    for (size_t k : {2u, 3u})
      for (bool normalize : {true, false})
        for (bool with_base : {false, true}) {
          const size_t n = count(shape);
          MethodHarness h("multislerp");
          auto b = random_values(n, seed++);
          if (with_base) h.add_base(b, shape);
          std::vector<V> models;
          V w = {0.5, 0.8, 0.3};
          w.resize(k);
          for (size_t i = 0; i < k; ++i) {
            auto m = random_values(n, seed++, 1.0f + static_cast<float>(i));
            models.push_back(as_double(m));
            h.per_model(h.add(m, shape), "weight", w[i]);
          }
          h.global("normalize_weights", normalize);
          V bd = as_double(b);
          auto want = ref_multislerp(models, w, normalize, 1e-8, with_base ? &bd : nullptr);
          ASSERT_TRUE(want);
          expect_ulps(run_row_blocks(h), *want,
                      cat("numel ", n, " k ", k, " normalize ", normalize, " base ", with_base));
        }
}

TEST(Multislerp, EqualNormPairGivesNormalisedMidpoint) {
  // (2, 0) and (0, 2), equal weights: direction (1, 1)/sqrt 2, norm 2.
  MethodHarness h("multislerp");
  h.per_model(h.add({2, 0}, {2}), "weight", 1);
  h.per_model(h.add({0, 2}, {2}), "weight", 1);
  expect_ulps(h.run(), {std::sqrt(2.0), std::sqrt(2.0)}, "midpoint");
}

TEST(Multislerp, AllZeroTaskVectorsGiveTheBase) {
  auto b = random_values(24, 300);
  for (size_t k : {2u, 3u}) {
    MethodHarness h("multislerp");
    h.add_base(b, {4, 6});
    for (size_t i = 0; i < k; ++i) h.per_model(h.add(b, {4, 6}), "weight", 1.0 + static_cast<double>(i));
    EXPECT_EQ(run_row_blocks(h), b) << k << " models";  // mergekit: linear fallback for 2, error for 3
  }
}

TEST(Multislerp, CancellingDirectionsFallBackToLinear) {
  // a and -a with equal weights: the mean direction is zero. Two models: mergekit's linear
  // fallback (here 0). Three (the third weighted 0): alloy uses the same combination.
  auto a = random_values(6, 301);
  std::vector<float> neg(a.size());
  for (size_t i = 0; i < a.size(); ++i) neg[i] = -a[i];
  MethodHarness two("multislerp");
  two.per_model(two.add(a, {6}), "weight", 1);
  two.per_model(two.add(neg, {6}), "weight", 1);
  EXPECT_EQ(two.run(), std::vector<float>(6, 0.0f));

  auto c = random_values(6, 302);
  MethodHarness three("multislerp");
  three.per_model(three.add(a, {6}), "weight", 1);
  three.per_model(three.add(neg, {6}), "weight", 1);
  three.per_model(three.add(c, {6}), "weight", 0);
  three.global("normalize_weights", 0);
  expect_ulps(three.run(), V(6, 0.0), "three");
}

TEST(Multislerp, SingleModelBesidesTheBaseIsReturned) {
  MethodHarness h("multislerp");
  h.add_base({1, 2, 3}, {3});
  h.per_model(h.add({4, 5, 6}, {3}), "weight", 0.3);
  EXPECT_EQ(h.run(), (std::vector<float>{4, 5, 6}));
}

TEST(Multislerp, ZeroWeightSumWithNormalizeIsAnError) {
  MethodHarness h("multislerp");
  h.per_model(h.add({1, 0}, {2}), "weight", 1);
  h.per_model(h.add({0, 1}, {2}), "weight", -1);
  std::string m = expect_error(h);
  EXPECT_NE(m.find("sum to zero"), std::string::npos) << m;
}

TEST(Multislerp, HalfPrecisionInputs) {
  for (DType dt : {DType::BF16, DType::F16}) {
    MethodHarness h("multislerp");
    std::vector<V> models;
    V w = {0.2, 0.5, 0.3};
    for (size_t i = 0; i < 3; ++i) {
      auto m = random_values(24, 400 + i);
      models.push_back(as_double(MethodHarness::rounded(m, dt)));
      h.per_model(h.add(m, {4, 6}, dt), "weight", w[i]);
    }
    auto want = ref_multislerp(models, w, true, 1e-8, nullptr);
    expect_ulps(run_row_blocks(h), *want, "half in");
  }
}

}  // namespace
}  // namespace alloy
