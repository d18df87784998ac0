// regmean (Jin et al., "Dataless Knowledge Fusion by Merging Weights of Language Models"): per
// linear layer, the weight whose outputs best match every model's outputs on that model's own
// probe inputs in least squares: W = (Σ G̃_i)⁻¹ Σ G̃_i W_i over the rows of W [out, in], with
// G_i = X_iᵀX_i [in, in] and G̃ = α·G + (1−α)·diag(G) (off-diagonal shrinkage). Solved once per
// tensor in f64 by Cholesky, with a growing ridge when Σ G̃_i is not positive definite. The planner
// gives tensors without Gram matrices (embeddings, norms, biases) to the recipe's fallback method;
// called without them, this method itself gives the `weight`-weighted average. With sequential
// (RegMean++) only the Gram matrices change: the planner gathers them through the merge so far.
#include <cmath>
#include <iostream>

#include <cblas.h>

#include "methods/blocks/vector_math.h"
#include "methods/method.h"
#include "tensor/convert.h"

namespace alloy {

namespace {

bool has_grams(const MergeCall& call) {
  if (call.statistics.size() != call.size() || call.shape.size() != 2) return false;
  for (const auto& s : call.statistics)
    if (!s.view.data || s.view.shape != Shape{call.cols(), call.cols()}) return false;
  return true;
}

std::vector<double> fallback_weights(const MergeCall& call) {
  std::vector<double> w(call.size());
  double sum = 0;
  for (size_t i = 0; i < call.size(); ++i) sum += (w[i] = call.model_param(i, "weight"));
  if (std::fabs(sum) < 1e-12) call.fail_here("regmean's fallback weights (weight) sum to zero");
  for (double& x : w) x /= sum;
  return w;
}

// In-place lower Cholesky factor of the n x n row-major A; false when a pivot is not positive.
bool cholesky(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int64_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    const double l = std::sqrt(d);
    a[j * n + j] = l;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int64_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
  }
  return true;
}

// The merged weight [out, in] in f64.
std::vector<double> regmean_solution(const MergeCall& call) {
  const double alpha = call.param("alpha");
  const int64_t out = call.rows(), in = call.cols();
  std::vector<double> a(static_cast<size_t>(in * in), 0.0);   // Σ G̃_i
  std::vector<double> b(static_cast<size_t>(in * out), 0.0);  // Σ G̃_i W_iᵀ  [in, out]
  std::vector<float> f32(static_cast<size_t>(std::max(in * in, out * in)));
  std::vector<double> g(static_cast<size_t>(in * in)), w(static_cast<size_t>(out * in));
  for (size_t i = 0; i < call.size(); ++i) {
    const TensorView& v = call.statistics[i].view;
    to_f32(v.dtype, v.data, f32.data(), static_cast<size_t>(in * in));
    for (int64_t r = 0; r < in; ++r)
      for (int64_t c = 0; c < in; ++c) g[r * in + c] = (r == c ? 1.0 : alpha) * f32[r * in + c];
    for (size_t k = 0; k < g.size(); ++k) a[k] += g[k];
    call.read_rows(i, 0, out, f32.data());
    for (size_t k = 0; k < w.size(); ++k) w[k] = f32[k];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(in), static_cast<int>(out),
                static_cast<int>(in), 1.0, g.data(), static_cast<int>(in), w.data(), static_cast<int>(in), 1.0,
                b.data(), static_cast<int>(out));
  }
  double mean_diag = 0;
  for (int64_t k = 0; k < in; ++k) mean_diag += a[k * in + k];
  mean_diag /= static_cast<double>(in);
  if (!(mean_diag > 0)) return {};  // no input activity seen: nothing to fit
  std::vector<double> l = a;
  double ridge = 0;
  for (double lambda = 1e-8; !cholesky(l, in); lambda *= 10) {
    if (lambda > 1) call.fail_here("regmean: the summed Gram matrix stays singular even with a ridge of mean(diag)");
    ridge = lambda * mean_diag;
    l = a;
    for (int64_t k = 0; k < in; ++k) l[k * in + k] += ridge;
  }
  if (ridge > 0)
    std::cerr << "alloy: regmean: " << call.where() << ": the summed Gram matrix is not positive definite; solved with a ridge of "
              << ridge << " on its diagonal\n";
  // L Lᵀ X = B, column by column of B (one output row of W each).
  std::vector<double> result(static_cast<size_t>(out * in));
  std::vector<double> y(static_cast<size_t>(in));
  for (int64_t r = 0; r < out; ++r) {
    for (int64_t k = 0; k < in; ++k) {
      double s = b[k * out + r];
      for (int64_t j = 0; j < k; ++j) s -= l[k * in + j] * y[j];
      y[k] = s / l[k * in + k];
    }
    for (int64_t k = in - 1; k >= 0; --k) {
      double s = y[k];
      for (int64_t j = k + 1; j < in; ++j) s -= l[j * in + k] * result[r * in + j];
      result[r * in + k] = s / l[k * in + k];
    }
  }
  return result;
}

}  // namespace

MethodSpec regmean_method() {
  MethodSpec m;
  m.name = "regmean";
  m.summary = "least-squares fit of each linear layer to every model's outputs on its own probe data (RegMean)";
  m.base = BaseUse::Ignored;
  m.statistics = "gram";
  m.global_params = {
      {"alpha", 0.9, false, "off-diagonal shrinkage of the Gram matrices (1: none)"},
      {"probe_ctx", 128.0, false, "tokens per probe chunk"},
      {"probe_samples", 0.0, false, "probe chunks (pairs for .jsonl probes) used per model (0: all)"},
      {"pair_batch", 8.0, false, "query/positive pairs per encoder pass (.jsonl probes only)"},
      {"sequential", 0.0, false, "RegMean++: each block's inputs from the blocks below already merged"},
  };
  m.model_params = {{"weight", 1.0, false, "weight in the average of tensors without a Gram matrix"}};
  m.check = [](const MergeCall& call) {
    const double alpha = call.param("alpha");
    if (!(alpha >= 0 && alpha <= 1)) call.fail_here("regmean: alpha must be in [0, 1]");
    if (!has_grams(call)) fallback_weights(call);
  };
  m.prepare = [](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    if (!has_grams(call)) return weighted_sum_kernel(fallback_weights(call));
    std::vector<double> w = regmean_solution(call);
    if (w.empty()) return weighted_sum_kernel(fallback_weights(call));
    return make_kernel([w = std::move(w)](const RowBlock& block, float* out) {
      const double* src = w.data() + block.first_element();
      for (int64_t k = 0; k < block.size(); ++k) out[k] = static_cast<float>(src[k]);
    });
  };
  return m;
}

}  // namespace alloy
