// karcher: the Karcher (Riemannian) mean of the inputs' directions on the unit sphere, scaled by
// their mean norm; every input, a base model included, has equal weight. The fixed-point iteration
// only ever forms combinations of the unit inputs, so it runs on coefficient vectors with the f64
// Gram matrix supplying dot products, and the kernel is a weighted sum of the inputs.
#include <algorithm>
#include <cmath>

#include "methods/method.h"
#include "methods/blocks/vector_math.h"
#include "util/error.h"

namespace alloy {

namespace {

// An input this close to antipodal to the current mean (sin θ below this) has no numerically
// meaningful geodesic direction: the tangent u_i - cos θ·u cancels to rounding noise, which
// θ / sin θ would blow up. mergekit's exactly antipodal case yields a zero tangent; alloy skips
// such inputs for that step.
constexpr double kAntipodalSin = 1e-6;

struct KarcherParams {
  int max_iter = 10;
  double tol = 1e-5;
};

KarcherParams karcher_params(const MergeCall& call) {
  KarcherParams p;
  const double iters = call.param("max_iter");
  if (iters != std::floor(iters) || iters > 1e6)
    call.fail_here(cat("karcher max_iter must be a whole number of at most 1000000, got ", iters));
  p.max_iter = std::max(0, static_cast<int>(iters));  // negative: no iterations, as in mergekit
  p.tol = call.param("tol");
  if (!(p.tol >= 0)) call.fail_here(cat("karcher tol must be zero or positive, got ", p.tol));
  return p;
}

// Coefficients c with the merged tensor = Σ c_i x_i (spec §3.9, mergekit karcher_merge_tensors).
std::vector<double> karcher_coefficients(const MergeCall& call, const KarcherParams& p) {
  const size_t n_in = call.size();
  std::vector<size_t> all(n_in);
  for (size_t i = 0; i < n_in; ++i) all[i] = i;
  const Gram g = gram_matrix(call, all);

  std::vector<double> norm(n_in);
  std::vector<size_t> valid;  // inputs long enough to have a direction
  double scale = 0;           // mean norm over all inputs (short ones included)
  for (size_t i = 0; i < n_in; ++i) {
    norm[i] = std::sqrt(g(i, i));
    if (norm[i] > p.tol && norm[i] > 0) valid.push_back(i);
    scale += norm[i] / static_cast<double>(n_in);
  }
  std::vector<double> coeff(n_in, 0.0);
  if (valid.empty()) return coeff;  // all (near) zero: the result is zero

  // Gram matrix of the unit vectors of the valid inputs.
  const size_t k = valid.size();
  Gram u;
  u.n = k;
  u.g.resize(k * k);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j)
      u(i, j) = i == j ? 1.0 : g(valid[i], valid[j]) / (norm[valid[i]] * norm[valid[j]]);
  const double alpha = 1.0 / static_cast<double>(k);

  // mean: coefficients of the current estimate on the unit vectors.
  std::vector<double> mean(k, alpha);
  const double mean_norm = u.norm(mean);
  if (mean_norm < p.tol) {
    std::fill(mean.begin(), mean.end(), 0.0);
    mean[0] = 1.0;
  } else {
    for (double& x : mean) x /= mean_norm;
  }

  std::vector<double> tangent(k), dots(k);
  for (int iter = 0; iter < p.max_iter; ++iter) {
    std::fill(tangent.begin(), tangent.end(), 0.0);
    for (size_t i = 0; i < k; ++i) {
      double d = 0;
      for (size_t j = 0; j < k; ++j) d += u(i, j) * mean[j];
      dots[i] = std::clamp(d, -1.0, 1.0);
    }
    for (size_t i = 0; i < k; ++i) {
      const double theta = std::acos(dots[i]);
      if (theta < p.tol) continue;
      const double s = std::sin(theta);
      if (s < kAntipodalSin) continue;
      // log map: alpha θ/sin θ (u_i - cos θ·mean)
      const double f = alpha * theta / s;
      tangent[i] += f;
      for (size_t j = 0; j < k; ++j) tangent[j] -= f * dots[i] * mean[j];
    }
    const double t_norm = u.norm(tangent);
    if (t_norm < p.tol) break;
    // exp map: move along the geodesic by |tangent|
    const double c = std::cos(t_norm), sn = std::sin(t_norm) / t_norm;
    for (size_t j = 0; j < k; ++j) mean[j] = c * mean[j] + sn * tangent[j];
    const double unit_norm = u.norm(mean);
    if (unit_norm > p.tol)
      for (double& x : mean) x /= unit_norm;
  }
  for (size_t i = 0; i < k; ++i) coeff[valid[i]] = scale * mean[i] / norm[valid[i]];
  return coeff;
}

}  // namespace

MethodSpec karcher_method() {
  MethodSpec m;
  m.name = "karcher";
  m.summary = "Karcher mean on the unit sphere of all models (equal weights), scaled by their mean norm";
  m.base = BaseUse::Ignored;
  m.global_params = {
      {"max_iter", 10.0, false, "most fixed-point iterations"},
      {"tol", 1e-5, false, "stop when the tangent step is shorter than this; shorter inputs have no direction"},
  };
  m.check = [](const MergeCall& call) { karcher_params(call); };
  m.prepare = [](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    const KarcherParams p = karcher_params(call);
    if (call.size() == 1) return copy_kernel(0);
    return weighted_sum_kernel(karcher_coefficients(call, p));
  };
  return m;
}

}  // namespace alloy
