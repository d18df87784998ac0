// Self-Positioning: the SLERP coefficients against hand-worked angles and an explicit float64
// SLERP of the vectors, their Jacobian and the objective's gradient with respect to the positions
// and λ against central finite differences, the penalty μ·λ's value and gradient worked by hand,
// and searches that land on the optimum an exhaustive grid over (t, λ) finds, with and without μ.
#include "search/self_positioning.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "search/search_test_fixture.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace search_fixture;

TEST(SlerpCoefficients, HandWorked) {
  // Orthogonal unit vectors halfway: Ω = π/2, both coefficients sin(π/4).
  const std::vector<double> s = slerp_coefficients({1, 1}, {1, 0, 0, 1});
  EXPECT_NEAR(s[0], std::sqrt(0.5), 1e-15);
  EXPECT_NEAR(s[1], std::sqrt(0.5), 1e-15);
  // 60° apart, t = 1/4 (positions 3 and 1): sin(45°)/sin(60°) and sin(15°)/sin(60°).
  const double pi = std::numbers::pi;
  const std::vector<double> s2 = slerp_coefficients({3, 1}, {1, 0.5, 0.5, 1});
  EXPECT_NEAR(s2[0], std::sin(pi / 4) / std::sin(pi / 3), 1e-14);
  EXPECT_NEAR(s2[1], std::sin(pi / 12) / std::sin(pi / 3), 1e-14);
  // Parallel vectors: linear interpolation.
  const std::vector<double> s3 = slerp_coefficients({1, 3}, {1, 2, 2, 4});
  EXPECT_NEAR(s3[0], 0.25, 1e-15);
  EXPECT_NEAR(s3[1], 0.75, 1e-15);
  EXPECT_THROW(slerp_coefficients({1, 0}, {1, 0, 0, 1}), Error);
}

// slerp(u, w; t) of explicit vectors, in float64.
std::vector<double> slerp_vectors(const std::vector<double>& u, const std::vector<double>& w, double t) {
  double uu = 0, ww = 0, uw = 0;
  for (size_t k = 0; k < u.size(); ++k) uu += u[k] * u[k], ww += w[k] * w[k], uw += u[k] * w[k];
  const double omega = std::acos(uw / std::sqrt(uu * ww));
  std::vector<double> out(u.size());
  for (size_t k = 0; k < u.size(); ++k)
    out[k] = (std::sin((1 - t) * omega) * u[k] + std::sin(t * omega) * w[k]) / std::sin(omega);
  return out;
}

TEST(SlerpCoefficients, EqualTheIterativeSlerpOfTheVectors) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  const size_t n = 4, dim = 9;
  std::vector<std::vector<double>> tau(n, std::vector<double>(dim));
  for (auto& t : tau)
    for (double& x : t) x = normal(rng);
  std::vector<double> gram(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      for (size_t k = 0; k < dim; ++k) gram[i * n + j] += tau[i][k] * tau[j][k];
  const std::vector<double> a{0.7, 1.3, 0.4, 2.0};
  std::vector<double> v = tau[0];
  double total = a[0];
  for (size_t k = 1; k < n; ++k) {
    total += a[k];
    v = slerp_vectors(v, tau[k], a[k] / total);
  }
  std::vector<double> jac;
  const std::vector<double> s = slerp_coefficients(a, gram, &jac);
  for (size_t k = 0; k < dim; ++k) {
    double got = 0;
    for (size_t i = 0; i < n; ++i) got += s[i] * tau[i][k];
    EXPECT_NEAR(got, v[k], 1e-12) << k;
  }
  for (size_t j = 0; j < n; ++j) {
    std::vector<double> plus = a, minus = a;
    plus[j] += 1e-6;
    minus[j] -= 1e-6;
    const std::vector<double> sp = slerp_coefficients(plus, gram), sm = slerp_coefficients(minus, gram);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(jac[i * n + j], (sp[i] - sm[i]) / 2e-6, 1e-7) << i << "," << j;
  }
}

// The objective's value alone, from the coefficients and the merged model (forward passes only).
double objective_value(const MergeInputs& in, const std::vector<double>& gram, const std::vector<ProbeSet>& sets,
                       double mu, const std::vector<double>& p) {
  const size_t n = in.models.size();
  const std::vector<double> s = slerp_coefficients({p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n)}, gram);
  Coefficients c(1, static_cast<int64_t>(n), 0.0);
  for (size_t i = 0; i < n; ++i) c.c[i] = p[n] * s[i];
  return merge_objective(in, c, whole_model_group, sets) + mu * p[n];
}

TEST(SelfPositioning, GradientMatchesFiniteDifferences) {
  const ModelConfig config = tiny_config();
  const MemoryWeights base = test_models::random_weights(config, 21);
  const std::vector<MemoryWeights> models{fine_tune(config, base, 22, 0.15f), fine_tune(config, base, 23, 0.15f),
                                          fine_tune(config, base, 24, 0.15f)};
  const MergeInputs in = merge_inputs(config, base, models);
  const std::vector<ProbeSet> sets = probe_sets(config.vocab_size, 2, 25);
  const std::vector<double> gram = task_vector_gram(in);
  const double mu = 0.05;
  const std::vector<double> p{0.8, 1.2, 0.5, 0.9};
  std::vector<double> grad;
  const double value = self_positioning_objective(in, gram, sets, mu, p, grad);
  EXPECT_NEAR(value, objective_value(in, gram, sets, mu, p), 1e-5);
  ASSERT_EQ(grad.size(), 4u);
  double largest = 0;
  for (double g : grad) largest = std::max(largest, std::abs(g));
  for (size_t k = 0; k < p.size(); ++k) {
    std::vector<double> plus = p, minus = p;
    const double h = 2e-3;
    plus[k] += h;
    minus[k] -= h;
    const double fd = (objective_value(in, gram, sets, mu, plus) - objective_value(in, gram, sets, mu, minus)) / (2 * h);
    EXPECT_NEAR(grad[k], fd, 2e-3 * std::max(largest, std::abs(fd))) << "parameter " << k;
  }
}

// The penalty μ·λ, worked by hand: it adds μ·λ to the value and exactly μ to ∂/∂λ, nothing to ∂/∂a.
TEST(SelfPositioning, TheMuTermAddsMuLambdaAndMuToTheLambdaGradient) {
  const ModelConfig config = tiny_config();
  const MemoryWeights base = test_models::random_weights(config, 21);
  const MergeInputs in =
      merge_inputs(config, base, {fine_tune(config, base, 22, 0.15f), fine_tune(config, base, 23, 0.15f)});
  const std::vector<ProbeSet> sets = probe_sets(config.vocab_size, 2, 25);
  const std::vector<double> gram = task_vector_gram(in);
  const std::vector<double> p{0.8, 1.2, 0.7};
  std::vector<double> plain, penalised;
  const double v0 = self_positioning_objective(in, gram, sets, 0.0, p, plain);
  const double v1 = self_positioning_objective(in, gram, sets, 0.3, p, penalised);
  EXPECT_NEAR(v1 - v0, 0.3 * 0.7, 1e-12);
  EXPECT_EQ(penalised[0], plain[0]);
  EXPECT_EQ(penalised[1], plain[1]);
  EXPECT_NEAR(penalised[2] - plain[2], 0.3, 1e-12);
}

// Two fine-tunes of one random base, each trained on its own probe set, and the search's view of
// them (`in` points into the members above it, so the struct is built in place, never moved).
struct TwoFineTunes {
  const ModelConfig config = tiny_config();
  const MemoryWeights base = test_models::random_weights(config, 31);
  const std::vector<ProbeSet> sets = probe_sets(config.vocab_size, 2, 32);
  const std::vector<MemoryWeights> models{trained(config, base, sets[0], 4, 0.5f), trained(config, base, sets[1], 4, 0.5f)};
  const MergeInputs in = merge_inputs(config, base, models);
  const std::vector<double> gram = task_vector_gram(in);
};

TEST(SelfPositioning, SearchFindsTheGridOptimum) {
  const TwoFineTunes f{};
  const MergeInputs& in = f.in;
  const std::vector<double>& gram = f.gram;
  const std::vector<ProbeSet>& sets = f.sets;
  // Exhaustive: t = a_2 / (a_1 + a_2) and λ on a grid.
  double grid_best = 1e300, best_t = 0, best_lambda = 0;
  for (int i = 1; i < 20; ++i)
    for (int j = 0; j <= 20; ++j) {
      const double t = i / 20.0, lambda = 3.0 * j / 20;
      const double v = objective_value(in, gram, sets, 0.0, {1 - t, t, lambda});
      if (v < grid_best) grid_best = v, best_t = t, best_lambda = lambda;
    }
  ASSERT_GT(best_lambda, 0.2);  // an interior optimum: the fine-tunes help
  ASSERT_LT(best_lambda, 2.8);
  SelfPositioningSettings settings;
  settings.search.steps = 80;
  settings.search.adam.learning_rate = 0.05;
  const SelfPositioningResult r = self_positioning_search(in, sets, settings);
  const double t = r.positions[1] / (r.positions[0] + r.positions[1]);
  EXPECT_LE(r.loss, grid_best + 1e-4);
  EXPECT_NEAR(t, best_t, 0.05);  // within the grid's spacing
  EXPECT_NEAR(r.lambda, best_lambda, 0.15);  // the grid's spacing
  EXPECT_NEAR(r.loss, objective_value(in, gram, sets, 0.0, {r.positions[0], r.positions[1], r.lambda}), 1e-6);
}

// With μ > 0 the optimum moves to a smaller λ: one grid over (t, λ) gives the optimum with and
// without the penalty (the penalty is μ·λ on top of the same loss), and the search with μ lands
// on the penalised one, below the unpenalised λ.
TEST(SelfPositioning, ALargerMuGivesASmallerLambda) {
  const TwoFineTunes f{};
  const MergeInputs& in = f.in;
  const std::vector<double>& gram = f.gram;
  const std::vector<ProbeSet>& sets = f.sets;
  const double mu = 0.2;
  double free_best = 1e300, free_lambda = 0, grid_best = 1e300, best_lambda = 0;
  for (int i = 1; i < 20; ++i)
    for (int j = 0; j <= 20; ++j) {
      const double t = i / 20.0, lambda = 3.0 * j / 20;
      const double loss = objective_value(in, gram, sets, 0.0, {1 - t, t, lambda});
      if (loss < free_best) free_best = loss, free_lambda = lambda;
      if (loss + mu * lambda < grid_best) grid_best = loss + mu * lambda, best_lambda = lambda;
    }
  ASSERT_LT(best_lambda, free_lambda - 0.15) << "mu moves the grid optimum by less than a grid step";
  SelfPositioningSettings settings;
  settings.search.steps = 80;
  settings.search.adam.learning_rate = 0.05;
  settings.mu = mu;
  const SelfPositioningResult r = self_positioning_search(in, sets, settings);
  EXPECT_NEAR(r.lambda, best_lambda, 0.15);  // the grid's spacing
  EXPECT_LT(r.lambda, free_lambda - 0.15);
  EXPECT_LE(r.loss, grid_best + 1e-4);
}

}  // namespace
}  // namespace alloy
