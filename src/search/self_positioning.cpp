#include "search/self_positioning.h"

#include <algorithm>
#include <cmath>

#include "search/task_vector_search.h"
#include "util/error.h"

namespace alloy {

namespace {

// A value and its derivative along one direction: forward-mode differentiation of the few scalar
// operations that turn positions into SLERP coefficients.
struct Dual {
  double v = 0, d = 0;
};
Dual operator+(Dual x, Dual y) { return {x.v + y.v, x.d + y.d}; }
Dual operator-(Dual x, Dual y) { return {x.v - y.v, x.d - y.d}; }
Dual operator*(Dual x, Dual y) { return {x.v * y.v, x.d * y.v + x.v * y.d}; }
Dual operator/(Dual x, Dual y) { return {x.v / y.v, (x.d * y.v - x.v * y.d) / (y.v * y.v)}; }
Dual sin(Dual x) { return {std::sin(x.v), std::cos(x.v) * x.d}; }
Dual sqrt(Dual x) { return {std::sqrt(x.v), x.v > 0 ? x.d / (2 * std::sqrt(x.v)) : 0.0}; }
Dual acos(Dual x) { return {std::acos(x.v), -x.d / std::sqrt(1 - x.v * x.v)}; }

constexpr double kCollinear = 1e-6;  // below this sin Ω, SLERP is linear interpolation

// s(a) with every value's derivative along a_j (j < 0: none).
std::vector<Dual> slerp_duals(const std::vector<double>& a, const std::vector<double>& gram, int64_t j) {
  const size_t n = a.size();
  auto pos = [&](size_t k) { return Dual{a[k], static_cast<int64_t>(k) == j ? 1.0 : 0.0}; };
  std::vector<Dual> s(n);
  s[0] = {1, 0};
  Dual total = pos(0);
  for (size_t k = 1; k < n; ++k) {
    total = total + pos(k);
    const Dual t = pos(k) / total;
    Dual uu, uw;
    for (size_t p = 0; p < k; ++p) {
      uw = uw + s[p] * Dual{gram[p * n + k], 0};
      for (size_t q = 0; q < k; ++q) uu = uu + s[p] * s[q] * Dual{gram[p * n + q], 0};
    }
    const double ww = gram[k * n + k];
    Dual s0 = Dual{1, 0} - t, s1 = t;
    if (uu.v > 0 && ww > 0) {
      Dual cos = uw / (sqrt(uu) * Dual{std::sqrt(ww), 0});
      cos.v = std::clamp(cos.v, -1.0, 1.0);
      const Dual omega = acos(cos);
      if (std::sin(omega.v) >= kCollinear) {
        const Dual sin_omega = sin(omega);
        s0 = sin((Dual{1, 0} - t) * omega) / sin_omega;
        s1 = sin(t * omega) / sin_omega;
      }
    }
    for (size_t p = 0; p < k; ++p) s[p] = s0 * s[p];
    s[k] = s1;
  }
  return s;
}

}  // namespace

std::vector<double> task_vector_gram(const MergeInputs& inputs) {
  const size_t n = inputs.models.size();
  std::vector<double> gram(n * n, 0.0);
  std::vector<double> delta(n);
  for (const std::string& name : inputs.tensors) {
    const std::vector<float>& base = inputs.base.at(name);
    for (size_t k = 0; k < base.size(); ++k) {
      for (size_t i = 0; i < n; ++i) delta[i] = double(inputs.models[i].at(name)[k]) - double(base[k]);
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) gram[i * n + j] += delta[i] * delta[j];
    }
  }
  return gram;
}

std::vector<double> slerp_coefficients(const std::vector<double>& a, const std::vector<double>& gram,
                                       std::vector<double>* jacobian) {
  const size_t n = a.size();
  if (n == 0 || gram.size() != n * n) fail("slerp_coefficients: ", n, " positions for a Gram matrix of ", gram.size());
  for (size_t k = 0; k < n; ++k)
    if (!(a[k] > 0)) fail("self-positioning: position a_", k + 1, " is ", a[k], "; positions must be positive");
  std::vector<double> s(n);
  const std::vector<Dual> plain = slerp_duals(a, gram, -1);
  for (size_t i = 0; i < n; ++i) s[i] = plain[i].v;
  if (jacobian) {
    jacobian->assign(n * n, 0.0);
    for (size_t j = 0; j < n; ++j) {
      const std::vector<Dual> dj = slerp_duals(a, gram, static_cast<int64_t>(j));
      for (size_t i = 0; i < n; ++i) (*jacobian)[i * n + j] = dj[i].d;
    }
  }
  return s;
}

double self_positioning_objective(const MergeInputs& inputs, const std::vector<double>& gram,
                                  const std::vector<ProbeSet>& sets, double mu, const std::vector<double>& params,
                                  std::vector<double>& grad) {
  const size_t n = inputs.models.size();
  if (params.size() != n + 1) fail("self-positioning: ", params.size(), " parameters for ", n, " models");
  const std::vector<double> a(params.begin(), params.begin() + static_cast<std::ptrdiff_t>(n));
  const double lambda = params[n];
  std::vector<double> jac;
  const std::vector<double> s = slerp_coefficients(a, gram, &jac);
  Coefficients c(1, static_cast<int64_t>(n), 0.0);
  for (size_t i = 0; i < n; ++i) c.c[i] = lambda * s[i];
  const ObjectiveAndGradient og = merge_objective_and_gradient(inputs, c, whole_model_group, sets);
  // θ = θ₀ + Σ_i λ s_i(a) τ_i:  ∂/∂λ = Σ_i g_i s_i,  ∂/∂a_j = λ Σ_i g_i ∂s_i/∂a_j  (g_i = ∂L/∂c_i).
  grad.assign(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) {
    grad[n] += og.gradient.c[i] * s[i];
    for (size_t j = 0; j < n; ++j) grad[j] += lambda * og.gradient.c[i] * jac[i * n + j];
  }
  grad[n] += mu;
  return og.objective + mu * lambda;
}

SelfPositioningResult self_positioning_search(const MergeInputs& inputs, const std::vector<ProbeSet>& sets,
                                              const SelfPositioningSettings& settings) {
  const size_t n = inputs.models.size();
  std::vector<double> params = settings.start_positions.empty() ? std::vector<double>(n, 1.0) : settings.start_positions;
  if (params.size() != n) fail("self-positioning: ", params.size(), " start positions for ", n, " models");
  params.push_back(settings.start_lambda);
  const std::vector<double> gram = task_vector_gram(inputs);
  // Positions stay positive (only their ratios matter); λ stays non-negative.
  auto project = [n](std::vector<double>& p) {
    for (size_t k = 0; k < n; ++k) p[k] = std::max(p[k], 1e-3);
    p[n] = std::max(p[n], 0.0);
  };
  const SearchTrace trace = adam_search(
      params,
      [&](const std::vector<double>& p, const std::vector<ProbeSet>& batch, std::vector<double>& g) {
        return self_positioning_objective(inputs, gram, batch, settings.mu, p, g);
      },
      project, sets, settings.search);
  SelfPositioningResult out;
  out.positions.assign(trace.params.begin(), trace.params.begin() + static_cast<std::ptrdiff_t>(n));
  out.lambda = trace.params[n];
  const std::vector<double> s = slerp_coefficients(out.positions, gram);
  for (double si : s) out.weights.push_back(out.lambda * si);
  out.loss = trace.loss;
  out.losses = trace.losses;
  return out;
}

SearchResult run_self_positioning(const SearchContext& context) {
  TaskVectorSearch search = prepare_task_vector_search(context, "self-positioning", kDefaultGradientSteps);
  SelfPositioningSettings settings;
  settings.search = search.settings;
  report_progress_to(context, settings.search);
  settings.mu = context.settings.mu.value_or(0.0);
  settings.start_positions = search.start;
  for (double& a : settings.start_positions)
    if (!(a > 0)) fail(context.recipe.file, ": --strategy self-positioning starts its positions at the models' weights, "
                       "which must be positive (got ", a, ")");
  const SelfPositioningResult r = self_positioning_search(search.inputs, context.probes, settings);
  Coefficients weights(1, static_cast<int64_t>(r.weights.size()), 0.0);
  weights.c = r.weights;
  nlohmann::json coefficients = {{"lambda", r.lambda}, {"positions", nlohmann::json::object()},
                                 {"weights", nlohmann::json::object()}};
  for (size_t i = 0; i < r.weights.size(); ++i) {
    coefficients["positions"][search.inputs.labels[i]] = r.positions[i];
    coefficients["weights"][search.inputs.labels[i]] = r.weights[i];
  }
  SearchResult result = tuned_task_arithmetic_result(context, search, weights, r.losses, std::move(coefficients));
  // The steps' losses include the penalty; final_loss (the tuned recipe's probe objective) does not.
  result.details = {{"mu", settings.mu}, {"step_loss", "probe objective + mu * lambda"}};
  return result;
}

}  // namespace alloy
