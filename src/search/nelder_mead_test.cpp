#include "search/nelder_mead.h"

#include <gtest/gtest.h>

#include <cmath>

#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

NelderMeadOptions box(std::vector<double> lower, std::vector<double> upper, int evaluations) {
  NelderMeadOptions o;
  o.lower = lower;
  o.upper = upper;
  for (size_t i = 0; i < lower.size(); ++i) o.step.push_back(0.25 * (upper[i] - lower[i]));
  o.max_evaluations = evaluations;
  o.f_tolerance = 1e-14;
  o.x_tolerance = 1e-7;
  return o;
}

// f = (x-1)² + 4(y+0.5)² + (x-1)(y+0.5): Hessian [[2,1],[1,8]] is positive definite, so the only
// minimum is where both partial derivatives vanish, (1, -0.5), with f = 0.
double coupled_quadratic(std::span<const double> p) {
  const double a = p[0] - 1, b = p[1] + 0.5;
  return a * a + 4 * b * b + a * b;
}

TEST(NelderMead, FindsTheMinimumOfACoupledQuadratic) {
  NelderMeadResult r = nelder_mead([](std::span<const double> p, const std::string&) { return coupled_quadratic(p); },
                                   {3.0, 2.0}, box({-5, -5}, {5, 5}, 400));
  EXPECT_NEAR(r.x[0], 1.0, 1e-4);
  EXPECT_NEAR(r.x[1], -0.5, 1e-4);
  EXPECT_NEAR(r.value, 0.0, 1e-8);
  EXPECT_LE(r.evaluations, 400);
}

// Minimum of Σ (x_i - c_i)² over a box = c clamped into the box, coordinate by coordinate.
TEST(NelderMead, StaysInsideTheBoxAndFindsTheClampedMinimum) {
  const std::vector<double> c = {0.3, 2.5, -1.0};
  int outside = 0;
  auto f = [&](std::span<const double> p, const std::string&) {
    double s = 0;
    for (size_t i = 0; i < 3; ++i) {
      if (p[i] < 0 || p[i] > 1) ++outside;
      s += (p[i] - c[i]) * (p[i] - c[i]);
    }
    return s;
  };
  NelderMeadResult r = nelder_mead(f, {0.5, 0.5, 0.5}, box({0, 0, 0}, {1, 1, 1}, 600));
  EXPECT_EQ(outside, 0);
  EXPECT_NEAR(r.x[0], 0.3, 1e-4);
  EXPECT_NEAR(r.x[1], 1.0, 1e-4);
  EXPECT_NEAR(r.x[2], 0.0, 1e-4);
}

TEST(NelderMead, KeepsToTheBudgetAndRepeatsItself) {
  std::vector<std::vector<double>> first, second;
  auto run = [&](std::vector<std::vector<double>>& trace) {
    return nelder_mead(
        [&](std::span<const double> p, const std::string&) {
          trace.emplace_back(p.begin(), p.end());
          return coupled_quadratic(p);
        },
        {3.0, 2.0}, box({-5, -5}, {5, 5}, 17));
  };
  NelderMeadResult a = run(first), b = run(second);
  EXPECT_EQ(first.size(), 17u);
  EXPECT_EQ(a.evaluations, 17);
  EXPECT_EQ(first, second);
  EXPECT_EQ(a.x, b.x);
  EXPECT_LT(a.value, coupled_quadratic(std::vector<double>{3.0, 2.0}));
}

TEST(NelderMead, RefusesABudgetTooSmallForTheSimplex) {
  const std::string msg = testing::error_message(
      [] { nelder_mead([](std::span<const double>, const std::string&) { return 0.0; }, {0, 0}, box({0, 0}, {1, 1}, 2)); },
      "a budget of 2");
  EXPECT_NE(msg.find("at least 3"), std::string::npos) << msg;
}

}  // namespace
}  // namespace alloy
