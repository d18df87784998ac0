// regmean against its closed form solved independently in float64 (Gauss-Jordan elimination with
// partial pivoting, not the method's Cholesky), and against the plain average when all Gram
// matrices are equal.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "../../tests/method_harness.h"
#include "stats/stats_test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

// G = XᵀX of a random X [rows, in]: symmetric positive definite for rows >= in.
std::vector<float> random_gram(int64_t in, int64_t rows, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(static_cast<size_t>(rows * in));
  for (double& v : x) v = normal(rng);
  std::vector<float> g(static_cast<size_t>(in * in));
  for (int64_t a = 0; a < in; ++a)
    for (int64_t b = 0; b < in; ++b) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r) s += x[r * in + a] * x[r * in + b];
      g[a * in + b] = static_cast<float>(s);
    }
  return g;
}

using stats_test::solve;

struct Fixture {
  std::vector<std::vector<float>> weights;  // [out, in] each
  std::vector<std::vector<float>> grams;    // [in, in] each
};

void add_statistics(MethodHarness& h, const Fixture& f, int64_t in) {
  for (size_t i = 0; i < f.grams.size(); ++i)
    h.call.statistics.push_back({TensorView{DType::F32, {in, in}, reinterpret_cast<const std::byte*>(f.grams[i].data()),
                                            f.grams[i].size() * sizeof(float)},
                                 "model" + std::to_string(i), "gram." + h.call.tensor_name});
}

TEST(RegMean, EqualsClosedFormInFloat64) {
  const int64_t out = 3, in = 4;
  const double alpha = 0.7;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    std::vector<float> w(static_cast<size_t>(out * in));
    for (float& v : w) v = normal(rng);
    f.weights.push_back(w);
    f.grams.push_back(random_gram(in, 6 + i, rng));
  }
  MethodHarness h("regmean");
  for (const auto& w : f.weights) h.add(w, {out, in});
  add_statistics(h, f, in);
  h.global("alpha", alpha);
  const std::vector<float> got = h.run(in);  // one row per block

  // A = Σ G̃_i, B = Σ G̃_i W_iᵀ [in, out]; W = (A⁻¹ B)ᵀ.
  std::vector<double> a(static_cast<size_t>(in * in), 0.0), b(static_cast<size_t>(in * out), 0.0);
  for (size_t i = 0; i < f.grams.size(); ++i)
    for (int64_t r = 0; r < in; ++r)
      for (int64_t c = 0; c < in; ++c) {
        const double g = (r == c ? 1.0 : alpha) * f.grams[i][r * in + c];
        a[r * in + c] += g;
        for (int64_t o = 0; o < out; ++o) b[r * out + o] += g * f.weights[i][o * in + c];
      }
  const std::vector<double> x = solve(a, b, in, out);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t c = 0; c < in; ++c)
      EXPECT_NEAR(got[o * in + c], x[c * out + o], 1e-5 * (1 + std::fabs(x[c * out + o]))) << o << "," << c;
}

TEST(RegMean, EqualGramMatricesGiveThePlainAverage) {
  const int64_t out = 2, in = 3;
  std::mt19937_64 rng(11);
  Fixture f;
  const std::vector<float> g = random_gram(in, 5, rng);
  f.weights = {{1, 2, 3, 4, 5, 6}, {-1, 0.5f, 2, 0, 1, -3}};
  f.grams = {g, g};
  MethodHarness h("regmean");
  for (const auto& w : f.weights) h.add(w, {out, in});
  add_statistics(h, f, in);
  // weight only steers the fallback: it has no say where Gram matrices exist.
  h.per_model(0, "weight", 5.0);
  const std::vector<float> got = h.run();
  for (size_t k = 0; k < got.size(); ++k)
    EXPECT_NEAR(got[k], (f.weights[0][k] + f.weights[1][k]) / 2.0, 1e-5) << k;
}

TEST(RegMean, TensorsWithoutGramAreTheWeightedAverage) {
  MethodHarness h("regmean", "model.layers.0.input_layernorm.weight");
  h.add({1, 2, 4}, {3});
  h.add({3, 6, 0}, {3});
  h.call.statistics = {MergeInput{{}, "model0", "gram.x"}, MergeInput{{}, "model1", "gram.x"}};
  h.per_model(0, "weight", 3.0).per_model(1, "weight", 1.0);
  EXPECT_EQ(h.run(), (std::vector<float>{1.5f, 3.0f, 3.0f}));
}

TEST(RegMean, SingularSumIsSolvedWithARidge) {
  // Both Gram matrices see only the first input coordinate: Σ G̃ is singular with alpha = 1.
  const int64_t out = 1, in = 2;
  Fixture f;
  f.weights = {{2, 7}, {4, -7}};
  f.grams = {{1, 0, 0, 0}, {3, 0, 0, 0}};
  MethodHarness h("regmean");
  for (const auto& w : f.weights) h.add(w, {out, in});
  add_statistics(h, f, in);
  h.global("alpha", 1.0);
  const std::vector<float> got = h.run();
  // The seen coordinate is the Gram-weighted mean (2·1 + 4·3)/4; the unseen one is driven to 0.
  EXPECT_NEAR(got[0], 3.5, 1e-6);
  EXPECT_NEAR(got[1], 0.0, 1e-6);
}

}  // namespace
}  // namespace alloy
