// The chain rule through TIES against central finite differences of a float64 TIES written here
// from its definition (mergekit-reference §3.5: top-k of |δ| per task vector, the weighted sign
// election, the disjoint mean), at weights where no element is near an election or agreement
// boundary; and that reference against the method's kernel, so it is the function the search merges.
#include "search/consensus_gradient.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

struct TiesCase {
  std::vector<float> base;
  std::vector<std::vector<float>> models;
  double density = 0.5, lambda = 1.0;
  bool normalize = true, paper_sign = false;
};

// δ_m with all but its floor(density·n) largest |δ| set to zero.
std::vector<std::vector<double>> trimmed(const TiesCase& c) {
  std::vector<std::vector<double>> out;
  const size_t n = c.base.size();
  const auto k = static_cast<size_t>(std::floor(c.density * static_cast<double>(n)));
  for (const std::vector<float>& m : c.models) {
    std::vector<double> d(n);
    for (size_t j = 0; j < n; ++j) d[j] = double(m[j]) - double(c.base[j]);
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return std::fabs(d[a]) > std::fabs(d[b]); });
    for (size_t r = k; r < n; ++r) d[order[r]] = 0;
    out.push_back(std::move(d));
  }
  return out;
}

// The merged change θ − θ₀ per element at weights w, and the smallest distance of any element's
// vote or agreement from its decision boundary.
std::vector<double> ties_change(const TiesCase& c, const std::vector<double>& w, double* margin = nullptr) {
  const std::vector<std::vector<double>> d = trimmed(c);
  std::vector<double> out(c.base.size());
  double closest = 1e300;
  for (size_t j = 0; j < out.size(); ++j) {
    double vote = 0;
    for (size_t m = 0; m < d.size(); ++m) vote += (c.paper_sign ? 1.0 : w[m]) * d[m][j];
    const double sign = vote >= 0 ? 1 : -1;
    double sum = 0, weights = 0;
    bool any = false;  // an element every mask trimmed has no decision to be near
    for (size_t m = 0; m < d.size(); ++m) {
      const double voter = (c.paper_sign ? 1.0 : w[m]) * d[m][j];
      if (voter * sign > 0) sum += w[m] * d[m][j], weights += w[m];
      if (d[m][j] != 0) closest = std::min(closest, std::fabs(voter)), any = true;
    }
    if (any) closest = std::min(closest, std::fabs(vote));
    const double divisor = c.normalize && weights != 0 ? weights : 1.0;
    out[j] = c.lambda * sum / divisor;
  }
  if (margin) *margin = closest;
  return out;
}

TiesCase random_case(uint64_t seed, size_t models, size_t n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  TiesCase c;
  for (size_t j = 0; j < n; ++j) c.base.push_back(normal(rng));
  for (size_t m = 0; m < models; ++m) {
    std::vector<float> x = c.base;
    for (float& v : x) v += 0.1f * normal(rng);
    c.models.push_back(std::move(x));
  }
  return c;
}

MethodHarness harness(const TiesCase& c, const std::vector<double>& w, Shape shape) {
  MethodHarness h("ties");
  h.add_base(c.base, shape);
  for (size_t m = 0; m < c.models.size(); ++m) {
    const size_t i = h.add(c.models[m], shape);
    h.per_model(i, "weight", w[m]).per_model(i, "density", c.density);
  }
  h.global("normalize", c.normalize ? 1 : 0).global("lambda", c.lambda).global("ties_paper_sign", c.paper_sign);
  return h;
}

TEST(ConsensusGradient, TiesMatchesCentralDifferencesOfAFloat64Ties) {
  const Shape shape = {6, 8};
  const std::vector<double> w = {0.7, 0.45, 1.1};
  std::mt19937_64 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> g(48);
  for (float& x : g) x = normal(rng);
  struct Variant {
    bool normalize, paper_sign;
    double lambda;
  };
  for (const Variant v : {Variant{true, false, 1.0}, Variant{false, false, 0.8}, Variant{true, true, 1.3}}) {
    TiesCase c = random_case(3, 3, 48);
    c.normalize = v.normalize, c.paper_sign = v.paper_sign, c.lambda = v.lambda;
    SCOPED_TRACE(::testing::Message() << "normalize " << v.normalize << " paper sign " << v.paper_sign);
    double margin = 0;
    const std::vector<double> change = ties_change(c, w, &margin);
    ASSERT_GT(margin, 1e-4) << "a point away from every boundary";
    MethodHarness h = harness(c, w, shape);
    const std::vector<float> merged = h.run();  // also fills in the defaults the terms read
    for (size_t j = 0; j < merged.size(); ++j)
      ASSERT_NEAR(merged[j], double(c.base[j]) + change[j], 1e-6) << "the reference is the method, element " << j;
    const ConsensusTerms terms = consensus_terms(h.call, Sparsification::Magnitude);
    std::vector<double> grad(3, 0.0);
    add_consensus_weight_gradient(terms, w, g, 0.5, grad);
    const double h_step = 1e-6;
    for (size_t m = 0; m < 3; ++m) {
      std::vector<double> up = w, down = w;
      up[m] += h_step, down[m] -= h_step;
      const std::vector<double> a = ties_change(c, up), b = ties_change(c, down);
      double fd = 0;
      for (size_t j = 0; j < g.size(); ++j) fd += double(g[j]) * (a[j] - b[j]) / (2 * h_step);
      EXPECT_NEAR(grad[m], 0.5 * fd, 1e-6 * std::max(1.0, std::fabs(fd))) << "weight " << m;
      EXPECT_GT(std::fabs(grad[m]), 1e-3) << "weight " << m << " matters";
    }
  }
}

// Where the agreeing weights cancel, the merge divides by 1 instead of 0: the divisor is then no
// function of the weights and the derivative is λ·v_m for each agreeing model.
TEST(ConsensusGradient, ACancellingDivisorIsTreatedAsTheConstantOne) {
  ConsensusTerms terms;
  terms.normalize = true;
  terms.v = {{0.5}, {-0.25}};
  const std::vector<double> w = {1.0, -1.0};  // both vote +: w·v = 0.5 and 0.25; D = 1 − 1 = 0
  std::vector<double> grad(2, 0.0);
  const std::vector<float> g = {2.0f};
  add_consensus_weight_gradient(terms, w, g, 1.0, grad);
  EXPECT_DOUBLE_EQ(grad[0], 2.0 * 0.5);
  EXPECT_DOUBLE_EQ(grad[1], 2.0 * -0.25);
}

// DARE-TIES' terms are the kernel's: each entry is δ kept whole times one rescale factor, or zero,
// and the factor restores the task vector's L1 norm (rescale: true, mergekit's L1 match).
TEST(ConsensusGradient, DareTermsAreRescaledKeptDeltas) {
  const TiesCase c = random_case(5, 2, 64);
  MethodHarness h("dare_ties");
  const Shape shape = {8, 8};
  h.add_base(c.base, shape);
  for (const std::vector<float>& m : c.models) {
    const size_t i = h.add(m, shape);
    h.per_model(i, "weight", 1.0).per_model(i, "density", 0.5);
  }
  h.call.seed = 17;
  h.run();
  const ConsensusTerms terms = consensus_terms(h.call, Sparsification::Random);
  ASSERT_EQ(terms.v.size(), 2u);
  for (size_t m = 0; m < 2; ++m) {
    double before = 0, after = 0, scale = 0;
    size_t kept = 0;
    for (size_t j = 0; j < 64; ++j) {
      const double d = double(c.models[m][j]) - double(c.base[j]);
      before += std::fabs(d);
      if (terms.v[m][j] == 0) continue;
      ++kept;
      after += std::fabs(d);
      if (scale == 0) scale = terms.v[m][j] / d;
      EXPECT_NEAR(terms.v[m][j], scale * d, 1e-12) << "one factor for every kept entry";
    }
    EXPECT_GT(kept, 16u);
    EXPECT_LT(kept, 48u);
    EXPECT_NEAR(scale, before / after, 1e-9);
  }
}

}  // namespace
}  // namespace alloy
