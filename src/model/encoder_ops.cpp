#include "model/encoder_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "model/parallel.h"
#include "util/error.h"

namespace alloy::ops {

template <class S>
void layernorm(const S* x, const S* w, const S* b, int64_t rows, int64_t cols, double eps, S* y, S* mean,
               S* inv_std) {
  parallel_for(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const S* xr = x + r * cols;
      double sum = 0;
      for (int64_t j = 0; j < cols; ++j) sum += xr[j];
      const double mu = sum / static_cast<double>(cols);
      double sq = 0;
      for (int64_t j = 0; j < cols; ++j) sq += (xr[j] - mu) * (xr[j] - mu);
      const double inv = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
      mean[r] = static_cast<S>(mu);
      inv_std[r] = static_cast<S>(inv);
      S* yr = y + r * cols;
      for (int64_t j = 0; j < cols; ++j) yr[j] = static_cast<S>((xr[j] - mu) * inv * w[j] + b[j]);
    }
  }, 16);
}

template <class S>
void layernorm_backward(const S* x, const S* w, const S* mean, const S* inv_std, const S* dy, int64_t rows,
                        int64_t cols, S* dx, bool accumulate, S* dw, S* db) {
  // dx = inv * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w.
  parallel_for(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const S* xr = x + r * cols;
      const S* dyr = dy + r * cols;
      const double mu = mean[r], inv = inv_std[r];
      double g_sum = 0, gx_sum = 0;
      for (int64_t j = 0; j < cols; ++j) {
        const double g = double(dyr[j]) * w[j];
        g_sum += g;
        gx_sum += g * (xr[j] - mu) * inv;
      }
      const double g_mean = g_sum / static_cast<double>(cols), gx_mean = gx_sum / static_cast<double>(cols);
      S* dxr = dx + r * cols;
      for (int64_t j = 0; j < cols; ++j) {
        const double xhat = (xr[j] - mu) * inv;
        const S v = static_cast<S>(inv * (double(dyr[j]) * w[j] - g_mean - xhat * gx_mean));
        dxr[j] = accumulate ? dxr[j] + v : v;
      }
    }
  }, 16);
  // Column sums in row order so the result does not depend on threads.
  std::vector<double> dws(cols, 0.0), dbs(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const S* xr = x + r * cols;
    const S* dyr = dy + r * cols;
    const double mu = mean[r], inv = inv_std[r];
    for (int64_t j = 0; j < cols; ++j) {
      dws[j] += double(dyr[j]) * (xr[j] - mu) * inv;
      dbs[j] += dyr[j];
    }
  }
  for (int64_t j = 0; j < cols; ++j) {
    dw[j] = static_cast<S>(dws[j]);
    db[j] = static_cast<S>(dbs[j]);
  }
}

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1 / sqrt(2 pi)

double gelu_value(Activation kind, double x) {
  if (kind == Activation::kGeluErf) return 0.5 * x * (1.0 + std::erf(x * kInvSqrt2));
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
}

double gelu_slope(Activation kind, double x) {
  if (kind == Activation::kGeluErf)
    return 0.5 * (1.0 + std::erf(x * kInvSqrt2)) + x * std::exp(-0.5 * x * x) * kInvSqrt2Pi;
  const double t = std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3 * 0.044715 * x * x);
}

}  // namespace

template <class S>
void gelu(Activation kind, const S* x, int64_t n, S* out) {
  parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = static_cast<S>(gelu_value(kind, x[i]));
  }, 4096);
}

template <class S>
void gelu_backward(Activation kind, const S* x, const S* dout, int64_t n, S* dx) {
  parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dx[i] = static_cast<S>(gelu_slope(kind, x[i]) * dout[i]);
  }, 4096);
}

template <class S>
void masked_attention(const MaskedAttentionShape& sh, const S* q, const S* k, const S* v, const uint8_t* mask,
                      double scale, S* probs, S* out) {
  const int64_t T = sh.seq_len, H = sh.heads, hd = sh.head_dim, width = H * hd;
  for (int64_t b = 0; b < sh.batch; ++b)
    if (std::none_of(mask + b * T, mask + (b + 1) * T, [](uint8_t m) { return m != 0; }))
      fail("encoder batch: sequence ", b, " has no unmasked token");
  parallel_for(sh.batch * H, [&](int64_t begin, int64_t end) {
    std::vector<double> scores(T);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const uint8_t* m = mask + b * T;
      for (int64_t i = 0; i < T; ++i) {
        const S* qi = q + (b * T + i) * width + h * hd;
        double top = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < T; ++j) {
          if (!m[j]) continue;
          const S* kj = k + (b * T + j) * width + h * hd;
          double s = 0;
          for (int64_t e = 0; e < hd; ++e) s += double(qi[e]) * kj[e];
          scores[j] = s * scale;
          top = std::max(top, scores[j]);
        }
        double total = 0;
        for (int64_t j = 0; j < T; ++j) {
          scores[j] = m[j] ? std::exp(scores[j] - top) : 0.0;
          total += scores[j];
        }
        S* p = probs + (bh * T + i) * T;
        for (int64_t j = 0; j < T; ++j) p[j] = static_cast<S>(scores[j] / total);
        S* o = out + (b * T + i) * width + h * hd;
        std::fill(o, o + hd, S(0));
        for (int64_t j = 0; j < T; ++j) {
          if (!m[j]) continue;
          const S* vj = v + (b * T + j) * width + h * hd;
          for (int64_t e = 0; e < hd; ++e) o[e] += p[j] * vj[e];
        }
      }
    }
  });
}

template <class S>
void masked_attention_backward(const MaskedAttentionShape& sh, const S* q, const S* k, const S* v,
                               const S* probs, const S* dout, double scale, S* dq, S* dk, S* dv) {
  const int64_t T = sh.seq_len, H = sh.heads, hd = sh.head_dim, width = H * hd;
  std::fill(dq, dq + sh.batch * T * width, S(0));
  std::fill(dk, dk + sh.batch * T * width, S(0));
  std::fill(dv, dv + sh.batch * T * width, S(0));
  // Each (sequence, head) writes only its own slices, so threads never share an output.
  parallel_for(sh.batch * H, [&](int64_t begin, int64_t end) {
    std::vector<double> dscore(T);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      auto at = [&](const S* base, int64_t t) { return base + (b * T + t) * width + h * hd; };
      auto at_mut = [&](S* base, int64_t t) { return base + (b * T + t) * width + h * hd; };
      for (int64_t i = 0; i < T; ++i) {
        const S* p = probs + (bh * T + i) * T;
        const S* go = at(dout, i);
        // dP_ij = dout_i . v_j; dS_ij = P_ij (dP_ij - sum_l P_il dP_il).
        double weighted = 0;
        for (int64_t j = 0; j < T; ++j) {
          if (p[j] == S(0)) {
            dscore[j] = 0;
            continue;
          }
          const S* vj = at(v, j);
          double dp = 0;
          for (int64_t e = 0; e < hd; ++e) dp += double(go[e]) * vj[e];
          dscore[j] = dp;
          weighted += double(p[j]) * dp;
          S* dvj = at_mut(dv, j);
          for (int64_t e = 0; e < hd; ++e) dvj[e] += p[j] * go[e];
        }
        const S* qi = at(q, i);
        S* dqi = at_mut(dq, i);
        for (int64_t j = 0; j < T; ++j) {
          if (p[j] == S(0)) continue;
          const S ds = static_cast<S>(double(p[j]) * (dscore[j] - weighted) * scale);
          const S* kj = at(k, j);
          S* dkj = at_mut(dk, j);
          for (int64_t e = 0; e < hd; ++e) {
            dqi[e] += ds * kj[e];
            dkj[e] += ds * qi[e];
          }
        }
      }
    }
  });
}

#define ALLOY_ENCODER_OPS(S)                                                                                     \
  template void layernorm<S>(const S*, const S*, const S*, int64_t, int64_t, double, S*, S*, S*);                \
  template void layernorm_backward<S>(const S*, const S*, const S*, const S*, const S*, int64_t, int64_t, S*,    \
                                      bool, S*, S*);                                                             \
  template void gelu<S>(Activation, const S*, int64_t, S*);                                                      \
  template void gelu_backward<S>(Activation, const S*, const S*, int64_t, S*);                                   \
  template void masked_attention<S>(const MaskedAttentionShape&, const S*, const S*, const S*, const uint8_t*,   \
                                    double, S*, S*);                                                             \
  template void masked_attention_backward<S>(const MaskedAttentionShape&, const S*, const S*, const S*,          \
                                             const S*, const S*, double, S*, S*, S*);
ALLOY_ENCODER_OPS(float)
ALLOY_ENCODER_OPS(double)
#undef ALLOY_ENCODER_OPS

}  // namespace alloy::ops
