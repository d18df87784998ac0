#include "search/nelder_mead.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.h"

namespace alloy {

namespace {

struct Vertex {
  std::vector<double> x;
  double f = 0;
};

}  // namespace

NelderMeadResult nelder_mead(const NelderMeadObjective& f, std::vector<double> x0, const NelderMeadOptions& o) {
  const size_t n = x0.size();
  if (n == 0) fail("Nelder-Mead: nothing to search (no coordinates)");
  if (o.lower.size() != n || o.upper.size() != n || o.step.size() != n)
    fail("Nelder-Mead: ", n, " coordinates but ", o.lower.size(), " lower bounds, ", o.upper.size(),
         " upper bounds and ", o.step.size(), " steps");
  for (size_t i = 0; i < n; ++i)
    if (!(o.lower[i] <= o.upper[i])) fail("Nelder-Mead: coordinate ", i, " has lower bound above its upper bound");
  if (o.max_evaluations < static_cast<int>(n) + 1)
    fail("a step budget of ", o.max_evaluations, " evaluations cannot build the first simplex of ", n + 1,
         " points; give at least ", n + 1);

  NelderMeadResult best;
  best.value = INFINITY;
  auto eval = [&](std::vector<double> x, const char* move) {
    for (size_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], o.lower[i], o.upper[i]);
    const double v = f(x, move);
    ++best.evaluations;
    if (v < best.value || best.x.empty()) best.x = x, best.value = v;
    return Vertex{std::move(x), v};
  };

  std::vector<Vertex> simplex;
  simplex.push_back(eval(x0, "start"));
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> x = simplex[0].x;
    const double up = x[i] + o.step[i];
    x[i] = up <= o.upper[i] ? up : x[i] - o.step[i];
    simplex.push_back(eval(std::move(x), "start"));
  }
  auto combine = [&](const std::vector<double>& c, const std::vector<double>& w, double t) {
    std::vector<double> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = c[i] + t * (w[i] - c[i]);
    return x;
  };
  while (best.evaluations < o.max_evaluations) {
    // stable_sort: equal values keep their order, so ties resolve the same way every run.
    std::stable_sort(simplex.begin(), simplex.end(), [](const Vertex& a, const Vertex& b) { return a.f < b.f; });
    double spread = 0;
    for (const Vertex& v : simplex)
      for (size_t i = 0; i < n; ++i) spread = std::max(spread, std::abs(v.x[i] - simplex[0].x[i]));
    if (simplex.back().f - simplex.front().f <= o.f_tolerance && spread <= o.x_tolerance) break;
    std::vector<double> centroid(n, 0.0);
    for (size_t v = 0; v < n; ++v)
      for (size_t i = 0; i < n; ++i) centroid[i] += simplex[v].x[i] / static_cast<double>(n);
    Vertex& worst = simplex.back();
    Vertex r = eval(combine(centroid, worst.x, -1.0), "reflect");
    if (r.f < simplex[0].f) {
      if (best.evaluations >= o.max_evaluations) break;
      Vertex e = eval(combine(centroid, worst.x, -2.0), "expand");
      worst = e.f < r.f ? std::move(e) : std::move(r);
    } else if (r.f < simplex[n - 1].f) {
      worst = std::move(r);
    } else {
      if (best.evaluations >= o.max_evaluations) break;
      // Outside contraction towards the reflected point when it beat the worst, else inside.
      const bool outside = r.f < worst.f;
      Vertex c = eval(combine(centroid, outside ? r.x : worst.x, 0.5), "contract");
      if (c.f < (outside ? r.f : worst.f)) {
        worst = std::move(c);
      } else {
        for (size_t v = 1; v <= n && best.evaluations < o.max_evaluations; ++v)
          simplex[v] = eval(combine(simplex[0].x, simplex[v].x, 0.5), "shrink");
      }
    }
  }
  return best;
}

}  // namespace alloy
