// Nelder-Mead simplex minimisation (Nelder & Mead, 1965, with the standard coefficients:
// reflection 1, expansion 2, contraction 1/2, shrink 1/2) inside a box: every point is clamped to
// [lower, upper] before it is evaluated. No randomness: the same inputs give the same steps.
#pragma once
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace alloy {

struct NelderMeadOptions {
  std::vector<double> lower, upper;  // the box, one bound per coordinate
  std::vector<double> step;          // initial simplex edge per coordinate (towards the far bound when it does not fit)
  int max_evaluations = 100;
  // Stops early when the simplex's values differ by less than this and its points by less than x_tolerance.
  double f_tolerance = 1e-7;
  double x_tolerance = 1e-4;
};

struct NelderMeadResult {
  std::vector<double> x;  // the best point evaluated
  double value = 0;
  int evaluations = 0;
};

// `f(x, move)` is told what the step that asked for x was ("start", "reflect", "expand",
// "contract", "shrink"), for progress reports.
using NelderMeadObjective = std::function<double(std::span<const double> x, const std::string& move)>;

NelderMeadResult nelder_mead(const NelderMeadObjective& f, std::vector<double> x0, const NelderMeadOptions& options);

}  // namespace alloy
