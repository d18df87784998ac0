// slerp, nuslerp and multislerp: interpolation along great circles instead of straight lines, so
// the merged weights keep the norm of their inputs. Each result is a linear combination of the
// inputs (or of task vectors around a base) whose coefficients depend only on whole-vector norms
// and dot products: prepare computes those in f64, the kernel is a weighted sum. nuslerp's
// per-row and per-column variants have one coefficient pair per vector instead.
#include <algorithm>
#include <cmath>
#include <string>

#include "methods/method.h"
#include "methods/blocks/vector_math.h"
#include "util/error.h"

namespace alloy {

namespace {

struct Pair {
  double c0, c1;
};

std::string input_list(const MergeCall& call) {
  std::string s;
  for (const auto& in : call.inputs) s += (s.empty() ? "" : ", ") + in.label;
  return s;
}

// ---------------------------------------------------------------------------------------------
// slerp (spec §3.2): a = base, b = the other model.

// Coefficients of a and b from |a|^2, |b|^2 and a.b. A norm at or below 1e-8 is not divided out,
// so a zero tensor gives dot 0 (theta = pi/2); nearly colinear tensors fall back to lerp.
Pair slerp_coefficients(double t, double aa, double bb, double ab) {
  const double na = std::sqrt(aa), nb = std::sqrt(bb);
  const double dot = ab / ((na > 1e-8 ? na : 1.0) * (nb > 1e-8 ? nb : 1.0));
  if (std::fabs(dot) > 0.9995) return {1 - t, t};
  const double theta0 = std::acos(dot), s = std::sin(theta0), theta_t = theta0 * t;
  return {std::sin(theta0 - theta_t) / s, std::sin(theta_t) / s};
}

void check_slerp(const MergeCall& call) {
  if (call.size() == 1) return;
  if (call.size() != 2)
    call.fail_here(cat("slerp merges exactly two models (the base and one other), but ", call.size(),
                       " models provide this tensor (", input_list(call),
                       "; a base_model not listed under models counts as one more); use nuslerp, "
                       "multislerp or karcher to combine more models"));
  if (!call.has_base()) call.fail_here("slerp needs a base_model, and it must be one of the two models");
}

std::unique_ptr<MergeKernel> prepare_slerp(const MergeCall& call) {
  check_slerp(call);
  if (call.size() == 1) return copy_kernel(0);
  const size_t a = static_cast<size_t>(call.base), b = 1 - a;
  const Gram g = gram_matrix(call, {a, b});
  const Pair p = slerp_coefficients(call.param("t"), g(0, 0), g(1, 1), g(0, 1));
  std::vector<double> c(2);
  c[a] = p.c0;
  c[b] = p.c1;
  return weighted_sum_kernel(std::move(c));
}

// ---------------------------------------------------------------------------------------------
// nuslerp (spec §3.3): slerp of two models (or of their task vectors around a base) with t from
// the weights, over the whole tensor, each row, or each column.

struct Nuslerp {
  size_t m0 = 0, m1 = 0;  // the two models, recipe order
  int base = -1;
  double t = 0.5;
  bool flatten = true;
  bool row_wise = false;
};

Nuslerp nuslerp_setup(const MergeCall& call) {
  Nuslerp s;
  s.base = call.base;
  std::vector<size_t> models = call.non_base_inputs();
  if (call.has_base() && call.size() != 3)
    call.fail_here(cat("nuslerp with a base_model merges exactly two other models, but this tensor has ",
                       models.size(), " besides the base (", input_list(call),
                       "); the base_model can not be one of the two models to merge"));
  if (!call.has_base() && call.size() != 2)
    call.fail_here(cat("nuslerp merges exactly two models (plus an optional base_model), but ", call.size(),
                       " models provide this tensor (", input_list(call), ")"));
  s.m0 = models[0];
  s.m1 = models[1];
  const double w0 = call.model_param(s.m0, "weight"), w1 = call.model_param(s.m1, "weight");
  // mergekit's choice for weights that cancel: an even mix rather than a division by ~0.
  s.t = std::fabs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
  s.flatten = call.flag("nuslerp_flatten");
  s.row_wise = call.flag("nuslerp_row_wise");
  return s;
}

// From |v0|^2, |v1|^2 and v0.v1: norms clamped at 1e-7 (zero vectors give cos 0), cos clamped to
// [-1, 1], lerp where |sin theta| < 1e-8.
Pair nuslerp_coefficients(double t, double n0sq, double n1sq, double d) {
  const double n0 = std::max(std::sqrt(n0sq), 1e-7), n1 = std::max(std::sqrt(n1sq), 1e-7);
  const double theta = std::acos(std::clamp(d / (n0 * n1), -1.0, 1.0));
  const double s = std::sin(theta);
  if (std::fabs(s) < 1e-8) return {1 - t, t};
  return {std::sin((1 - t) * theta) / s, std::sin(t * theta) / s};
}

// One coefficient pair per vector; vector j holds the elements e with e % period == j (columns of a
// matrix: period = numel / shape[0]).
class NuslerpColumns final : public MergeKernel {
 public:
  NuslerpColumns(const Nuslerp& s, int64_t period, std::vector<Pair> pairs)
      : s_(s), period_(period), pairs_(std::move(pairs)) {}

  void map(const RowBlock& b, float* out) const override {
    const float* x0 = b.inputs[s_.m0];
    const float* x1 = b.inputs[s_.m1];
    const float* c = s_.base >= 0 ? b.inputs[static_cast<size_t>(s_.base)] : nullptr;
    for (int64_t r = 0; r < b.row_end - b.row_begin; ++r) {
      const int64_t off = r * b.cols;
      const Pair* p = pairs_.data() + ((b.row_begin + r) * b.cols) % period_;
      for (int64_t k = 0; k < b.cols; ++k) {
        const int64_t e = off + k;
        if (c) {
          double v = p[k].c0 * (static_cast<double>(x0[e]) - c[e]) + p[k].c1 * (static_cast<double>(x1[e]) - c[e]);
          out[e] = static_cast<float>(c[e] + v);
        } else {
          out[e] = static_cast<float>(p[k].c0 * x0[e] + p[k].c1 * static_cast<double>(x1[e]));
        }
      }
    }
  }

 private:
  Nuslerp s_;
  int64_t period_;
  std::vector<Pair> pairs_;
};

// Vectors along the last axis: each row is one vector, so its coefficients come from the row
// itself and need no reduction pass.
class NuslerpRows final : public MergeKernel {
 public:
  explicit NuslerpRows(const Nuslerp& s) : s_(s) {}

  void map(const RowBlock& b, float* out) const override {
    const float* c = s_.base >= 0 ? b.inputs[static_cast<size_t>(s_.base)] : nullptr;
    const int64_t n = b.cols;
    for (int64_t r = 0; r < b.row_end - b.row_begin; ++r) {
      const int64_t off = r * n;
      const float* x0 = b.inputs[s_.m0] + off;
      const float* x1 = b.inputs[s_.m1] + off;
      float* o = out + off;
      if (c) {
        const float* cr = c + off;
        const Pair p = nuslerp_coefficients(s_.t, centred_dot_f64(x0, x0, cr, n), centred_dot_f64(x1, x1, cr, n),
                                            centred_dot_f64(x0, x1, cr, n));
        for (int64_t k = 0; k < n; ++k)
          o[k] = static_cast<float>(
              cr[k] + (p.c0 * (static_cast<double>(x0[k]) - cr[k]) + p.c1 * (static_cast<double>(x1[k]) - cr[k])));
      } else {
        const Pair p = nuslerp_coefficients(s_.t, dot_f64(x0, x0, n), dot_f64(x1, x1, n), dot_f64(x0, x1, n));
        for (int64_t k = 0; k < n; ++k) o[k] = static_cast<float>(p.c0 * x0[k] + p.c1 * static_cast<double>(x1[k]));
      }
    }
  }

 private:
  Nuslerp s_;
};

std::unique_ptr<MergeKernel> prepare_nuslerp(const MergeCall& call) {
  if (call.size() == 1) return copy_kernel(0);
  const Nuslerp s = nuslerp_setup(call);
  // How many vectors the tensor splits into (1: the whole tensor is one vector).
  const int64_t numel = call.numel();
  int64_t period = 1;  // row_wise: vectors along axis 0, one per index of the other axes
  if (!s.flatten && s.row_wise && call.shape.size() >= 2) period = numel / call.shape[0];
  const bool per_row = !s.flatten && !s.row_wise && call.rows() > 1;

  if (per_row) return std::make_unique<NuslerpRows>(s);
  if (period <= 1) {
    const Gram g = gram_matrix(call, {s.m0, s.m1}, s.base);
    const Pair p = nuslerp_coefficients(s.t, g(0, 0), g(1, 1), g(0, 1));
    std::vector<double> c(call.size());
    c[s.m0] = p.c0;
    c[s.m1] = p.c1;
    return weighted_sum_kernel(std::move(c), s.base);
  }
  // Per-column norms and dots in f64, accumulated over the rows in order.
  std::vector<double> n0(static_cast<size_t>(period)), n1(n0.size()), d(n0.size());
  for_each_block(call, [&](const RowBlock& b) {
    const float* x0 = b.inputs[s.m0];
    const float* x1 = b.inputs[s.m1];
    const float* c = s.base >= 0 ? b.inputs[static_cast<size_t>(s.base)] : nullptr;
    for (int64_t r = 0; r < b.row_end - b.row_begin; ++r) {
      const size_t j0 = static_cast<size_t>(((b.row_begin + r) * b.cols) % period);
      for (int64_t k = 0; k < b.cols; ++k) {
        const int64_t e = r * b.cols + k;
        const double v0 = c ? static_cast<double>(x0[e]) - c[e] : x0[e];
        const double v1 = c ? static_cast<double>(x1[e]) - c[e] : x1[e];
        const size_t j = j0 + static_cast<size_t>(k);
        n0[j] += v0 * v0;
        n1[j] += v1 * v1;
        d[j] += v0 * v1;
      }
    }
  });
  std::vector<Pair> pairs(n0.size());
  for (size_t j = 0; j < pairs.size(); ++j) pairs[j] = nuslerp_coefficients(s.t, n0[j], n1[j], d[j]);
  return std::make_unique<NuslerpColumns>(s, period, std::move(pairs));
}

// ---------------------------------------------------------------------------------------------
// multislerp (spec §3.4): a weighted spherical mean of any number of models (or task vectors).

std::vector<double> multislerp_weights(const MergeCall& call, const std::vector<size_t>& models) {
  std::vector<double> w;
  double sum = 0;
  for (size_t i : models) sum += w.emplace_back(call.model_param(i, "weight"));
  if (call.flag("normalize_weights")) {
    if (std::fabs(sum) < 1e-12)
      call.fail_here("multislerp weights sum to zero, so normalize_weights: true would divide by zero; "
                     "set normalize_weights: false or change the weights");
    for (double& x : w) x /= sum;
  }
  return w;
}

void check_multislerp(const MergeCall& call) {
  std::vector<size_t> models = call.non_base_inputs();
  if (models.size() >= 2) multislerp_weights(call, models);
}

// With x_i the flattened inputs (minus the base), u_i = x_i / (|x_i| + eps) and the weighted mean
// m = Σ w_i u_i, mergekit computes
//   r = (m̂ cos τ + T sin τ / τ) Σ w_i |x_i|,  T = Σ w_i (u_i - (u_i·m̂) m̂),  τ = |T| + eps.
// Every vector here is a combination of the x_i, so the algebra runs on coefficient vectors with the
// Gram matrix supplying the dot products; the output is Σ r_i x_i (+ base).
std::unique_ptr<MergeKernel> prepare_multislerp(const MergeCall& call) {
  const std::vector<size_t> models = call.non_base_inputs();
  if (models.size() <= 1) return copy_kernel(models.empty() ? 0 : models[0]);
  const std::vector<double> w = multislerp_weights(call, models);
  const double eps = call.param("eps");
  const Gram g = gram_matrix(call, models, call.base);
  const size_t k = models.size();

  std::vector<double> norm(k), m(k);  // m: coefficients of the weighted mean of the u_i on the x_i
  double avg_norm = 0;
  for (size_t i = 0; i < k; ++i) {
    norm[i] = std::sqrt(g(i, i));
    const double denom = norm[i] + eps;
    m[i] = denom > 0 ? w[i] / denom : 0.0;  // a zero vector's unit vector is zero
    avg_norm += w[i] * norm[i];
  }
  std::vector<double> coeff(call.size(), 0.0);
  const double m_norm = g.norm(m);
  if (m_norm < eps || m_norm == 0) {
    // The unit vectors cancel (or every task vector is zero): no direction to interpolate
    // around. mergekit falls back to Σ w_i x_i for two models and raises an error for more;
    // alloy uses the same linear combination for any count (deviation, docs/compatibility).
    for (size_t i = 0; i < k; ++i) coeff[models[i]] = w[i];
    return weighted_sum_kernel(std::move(coeff), call.base);
  }
  std::vector<double> mhat(k);
  for (size_t i = 0; i < k; ++i) mhat[i] = m[i] / m_norm;
  // u_i·m̂ = (Σ_j G_ij m̂_j) / (|x_i| + eps)
  double w_dots = 0;
  for (size_t i = 0; i < k; ++i) {
    double gi = 0;
    for (size_t j = 0; j < k; ++j) gi += g(i, j) * mhat[j];
    const double denom = norm[i] + eps;
    w_dots += w[i] * (denom > 0 ? gi / denom : 0.0);
  }
  // T = m - (Σ w_i u_i·m̂) m̂; zero in exact arithmetic (Σ w_i u_i·m̂ = |m|), kept as the formula.
  std::vector<double> tangent(k);
  for (size_t i = 0; i < k; ++i) tangent[i] = m[i] - w_dots * mhat[i];
  const double tau = g.norm(tangent) + eps;
  const double sin_ratio = tau > 0 ? std::sin(tau) / tau : 1.0;
  for (size_t i = 0; i < k; ++i)
    coeff[models[i]] = (mhat[i] * std::cos(tau) + tangent[i] * sin_ratio) * avg_norm;
  return weighted_sum_kernel(std::move(coeff), call.base);
}

}  // namespace

MethodSpec slerp_method() {
  MethodSpec m;
  m.name = "slerp";
  m.summary = "spherical interpolation from the base model (t = 0) to one other model (t = 1)";
  m.base = BaseUse::Required;
  m.global_params = {{"t", std::nullopt, true, "interpolation factor: 0 = base model, 1 = the other model"}};
  m.check = check_slerp;
  m.prepare = prepare_slerp;
  return m;
}

MethodSpec nuslerp_method() {
  MethodSpec m;
  m.name = "nuslerp";
  m.summary = "slerp of two models by relative weights, optionally of task vectors around a base, per tensor/row/column";
  m.base = BaseUse::Optional;
  m.global_params = {
      {"nuslerp_row_wise", 0.0, false, "with nuslerp_flatten false: interpolate vectors along the first axis (columns) instead of the last (rows)"},
      {"nuslerp_flatten", 1.0, false, "interpolate the whole tensor as one vector"},
  };
  m.model_params = {{"weight", std::nullopt, true, "relative weight; t = weight of the second model / sum of both"}};
  m.check = [](const MergeCall& call) {
    if (call.size() != 1) nuslerp_setup(call);
  };
  m.prepare = prepare_nuslerp;
  return m;
}

MethodSpec multislerp_method() {
  MethodSpec m;
  m.name = "multislerp";
  m.summary = "weighted spherical mean of any number of models, optionally of task vectors around a base";
  m.base = BaseUse::Optional;
  m.global_params = {
      {"normalize_weights", 1.0, false, "divide the weights by their sum"},
      {"eps", 1e-8, false, "added to norms before dividing; mean directions shorter than this fall back to a linear combination"},
  };
  m.model_params = {{"weight", std::nullopt, true, "weight of this model"}};
  m.check = check_multislerp;
  m.prepare = prepare_multislerp;
  return m;
}

}  // namespace alloy
