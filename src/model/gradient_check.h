// Finite-difference checks of the engine's gradients, for tests (header only).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace alloy::gradient_check {

// (loss(w + step) - loss(w - step)) / (2 step), with the step as float rounding leaves it; w is
// restored.
inline double central_difference(float& w, float step, const std::function<double()>& loss) {
  const float original = w, plus = original + step, minus = original - step;
  w = plus;
  const double loss_plus = loss();
  w = minus;
  const double loss_minus = loss();
  w = original;
  return (loss_plus - loss_minus) / (double(plus) - double(minus));
}

// One tensor's gradient `g` against central differences of `loss` over its `values`: at its
// largest element and four random ones, relative error < 1e-4 of max(|fd|, |g|, 1e-3 * largest).
inline void expect_matches_finite_differences(const std::string& name, std::vector<float>& values,
                                              const std::vector<double>& g, float step,
                                              const std::function<double()>& loss, std::mt19937_64& rng) {
  ASSERT_EQ(g.size(), values.size()) << name;
  double largest = 0;
  size_t argmax = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (std::abs(g[i]) > largest) largest = std::abs(g[i]), argmax = i;
  ASSERT_GT(largest, 0.0) << name << " has an all-zero gradient";
  std::vector<size_t> sample{argmax};
  for (int s = 0; s < 4; ++s) sample.push_back(rng() % g.size());
  for (size_t i : sample) {
    const double fd = central_difference(values[i], step, loss);
    const double scale = std::max({std::abs(fd), std::abs(g[i]), 1e-3 * largest});
    EXPECT_LT(std::abs(fd - g[i]) / scale, 1e-4) << name << "[" << i << "]: finite difference " << fd
                                                  << ", gradient " << g[i];
  }
}

}  // namespace alloy::gradient_check
