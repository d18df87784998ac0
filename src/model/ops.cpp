#include "model/ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "model/parallel.h"

namespace alloy {
namespace {
int g_threads = 0;
}
void set_engine_threads(int threads) { g_threads = std::max(threads, 0); }
int engine_threads() {
  if (g_threads > 0) return g_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace alloy

namespace alloy::ops {

template <>
void gemm<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
              lda, b, ldb, beta, c, ldc);
}

template <>
void gemm<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                  const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
              lda, b, ldb, beta, c, ldc);
}

namespace {

// A dot product in eight independent lanes, so the compiler can vectorise it without reordering
// any lane's sum (the result is the same for every build and thread count).
template <class S>
inline S dot(const S* a, const S* b, int64_t n) {
  S lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += a[i + l] * b[i + l];
  S sum = 0;
  for (int l = 0; l < 8; ++l) sum += lanes[l];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Column sums of m[rows, cols] in double, each column range on one thread.
template <class S>
void column_sums(const S* m, int64_t rows, int64_t cols, S* out) {
  parallel_for(
      cols,
      [&](int64_t c0, int64_t c1) {
        std::vector<double> acc(c1 - c0, 0.0);
        for (int64_t r = 0; r < rows; ++r) {
          const S* row = m + r * cols;
          for (int64_t c = c0; c < c1; ++c) acc[c - c0] += row[c];
        }
        for (int64_t c = c0; c < c1; ++c) out[c] = static_cast<S>(acc[c - c0]);
      },
      64);
}

}  // namespace

template <class S>
void linear(const S* x, const S* w, const S* bias, int64_t rows, int64_t in, int64_t out, S* y) {
  gemm<S>(false, true, rows, out, in, S(1), x, in, w, in, S(0), y, out);
  if (!bias) return;
  parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t o = 0; o < out; ++o) y[r * out + o] += bias[o];
      },
      16);
}

template <class S>
void linear_backward(const S* x, const S* w, const S* dy, int64_t rows, int64_t in, int64_t out, S* dw, S* dx,
                     bool accumulate, S* dbias) {
  if (dw) gemm<S>(true, false, out, in, rows, S(1), dy, out, x, in, S(0), dw, in);
  if (dx) gemm<S>(false, false, rows, in, out, S(1), dy, out, w, in, accumulate ? S(1) : S(0), dx, in);
  if (dbias) column_sums(dy, rows, out, dbias);
}

template <class S>
void rmsnorm(const S* x, const S* w, int64_t rows, int64_t cols, double eps, S* y, S* inv_rms) {
  parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const S* xr = x + r * cols;
          double sq = 0;
          for (int64_t c = 0; c < cols; ++c) sq += static_cast<double>(xr[c]) * xr[c];
          const S inv = static_cast<S>(1.0 / std::sqrt(sq / cols + eps));
          inv_rms[r] = inv;
          S* yr = y + r * cols;
          for (int64_t c = 0; c < cols; ++c) yr[c] = w[c] * (xr[c] * inv);
        }
      },
      8);
}

template <class S>
void rmsnorm_backward(const S* x, const S* w, const S* inv_rms, const S* dy, int64_t rows, int64_t cols, S* dx,
                      bool accumulate, S* dw) {
  // y = w * x * r with r = (mean(x^2) + eps)^-1/2:
  // dx = r * w * dy - x * r^3 / cols * sum(w * dy * x).
  parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const S* xr = x + r * cols;
          const S* dyr = dy + r * cols;
          double dot = 0;
          for (int64_t c = 0; c < cols; ++c) dot += static_cast<double>(w[c]) * dyr[c] * xr[c];
          const double inv = inv_rms[r];
          const S k = static_cast<S>(dot * inv * inv * inv / cols);
          const S is = static_cast<S>(inv);
          S* dxr = dx + r * cols;
          for (int64_t c = 0; c < cols; ++c) {
            const S g = is * w[c] * dyr[c] - xr[c] * k;
            dxr[c] = accumulate ? dxr[c] + g : g;
          }
        }
      },
      8);
  parallel_for(
      cols,
      [&](int64_t c0, int64_t c1) {
        std::vector<double> acc(c1 - c0, 0.0);
        for (int64_t r = 0; r < rows; ++r) {
          const S* xr = x + r * cols;
          const S* dyr = dy + r * cols;
          const double inv = inv_rms[r];
          for (int64_t c = c0; c < c1; ++c) acc[c - c0] += static_cast<double>(dyr[c]) * xr[c] * inv;
        }
        for (int64_t c = c0; c < c1; ++c) dw[c] = static_cast<S>(acc[c - c0]);
      },
      64);
}

template <class S>
void rope(S* x, int64_t tokens, int64_t seq_len, int64_t heads, int64_t head_dim, const S* cos, const S* sin,
          bool inverse) {
  const int64_t half = head_dim / 2;
  const S sign = inverse ? S(-1) : S(1);
  parallel_for(
      tokens,
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const S* c = cos + (t % seq_len) * half;
          const S* s = sin + (t % seq_len) * half;
          for (int64_t h = 0; h < heads; ++h) {
            S* v = x + (t * heads + h) * head_dim;
            for (int64_t i = 0; i < half; ++i) {
              const S a = v[i], b = v[i + half], si = sign * s[i];
              v[i] = a * c[i] - b * si;
              v[i + half] = b * c[i] + a * si;
            }
          }
        }
      },
      4);
}

template <class S>
void attention(const AttentionShape& sh, const S* q, const S* k, const S* v, double scale, S* probs, S* out) {
  const int64_t T = sh.seq_len, hd = sh.head_dim, group = sh.heads / sh.kv_heads;
  const int64_t qs = sh.heads * hd, ks = sh.kv_heads * hd;
  parallel_for(sh.batch * sh.heads, [&](int64_t j0, int64_t j1) {
    std::vector<double> e(T);
    for (int64_t job = j0; job < j1; ++job) {
      const int64_t b = job / sh.heads, h = job % sh.heads, g = h / group;
      S* p = probs + job * T * T;
      for (int64_t i = 0; i < T; ++i) {
        const S* qi = q + (b * T + i) * qs + h * hd;
        const int64_t lo = sh.window > 0 ? std::max<int64_t>(0, i - sh.window + 1) : 0;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = lo; j <= i; ++j) {
          const S* kj = k + (b * T + j) * ks + g * hd;
          e[j] = dot(qi, kj, hd) * scale;
          m = std::max(m, e[j]);
        }
        double sum = 0;
        for (int64_t j = lo; j <= i; ++j) sum += (e[j] = std::exp(e[j] - m));
        S* pi = p + i * T;
        std::fill(pi, pi + T, S(0));
        for (int64_t j = lo; j <= i; ++j) pi[j] = static_cast<S>(e[j] / sum);
        S* oi = out + (b * T + i) * qs + h * hd;
        std::fill(oi, oi + hd, S(0));
        for (int64_t j = lo; j <= i; ++j) {
          const S* vj = v + (b * T + j) * ks + g * hd;
          const S pj = pi[j];
          for (int64_t d = 0; d < hd; ++d) oi[d] += pj * vj[d];
        }
      }
    }
  });
}

template <class S>
void attention_backward(const AttentionShape& sh, const S* q, const S* k, const S* v, const S* probs,
                        const S* dout, double scale, S* dq, S* dk, S* dv) {
  const int64_t T = sh.seq_len, hd = sh.head_dim, group = sh.heads / sh.kv_heads;
  const int64_t qs = sh.heads * hd, ks = sh.kv_heads * hd;
  const S sc = static_cast<S>(scale);
  // One job per (sequence, kv head): the query heads sharing a kv head add into its dk and dv.
  parallel_for(sh.batch * sh.kv_heads, [&](int64_t j0, int64_t j1) {
    std::vector<S> ds(T);
    for (int64_t job = j0; job < j1; ++job) {
      const int64_t b = job / sh.kv_heads, g = job % sh.kv_heads;
      for (int64_t i = 0; i < T; ++i) {
        std::fill_n(dk + (b * T + i) * ks + g * hd, hd, S(0));
        std::fill_n(dv + (b * T + i) * ks + g * hd, hd, S(0));
      }
      for (int64_t h = g * group; h < (g + 1) * group; ++h) {
        const S* p = probs + (b * sh.heads + h) * T * T;
        for (int64_t i = 0; i < T; ++i) {
          const int64_t lo = sh.window > 0 ? std::max<int64_t>(0, i - sh.window + 1) : 0;
          const S* pi = p + i * T;
          const S* doi = dout + (b * T + i) * qs + h * hd;
          const S* qi = q + (b * T + i) * qs + h * hd;
          double rowdot = 0;
          for (int64_t j = lo; j <= i; ++j) {
            const S* vj = v + (b * T + j) * ks + g * hd;
            const S dp = dot(doi, vj, hd);
            ds[j] = dp;
            rowdot += static_cast<double>(pi[j]) * dp;
          }
          S* dqi = dq + (b * T + i) * qs + h * hd;
          std::fill(dqi, dqi + hd, S(0));
          const S rd = static_cast<S>(rowdot);
          for (int64_t j = lo; j <= i; ++j) {
            const S dsj = pi[j] * (ds[j] - rd) * sc;
            const S* kj = k + (b * T + j) * ks + g * hd;
            S* dkj = dk + (b * T + j) * ks + g * hd;
            S* dvj = dv + (b * T + j) * ks + g * hd;
            const S pj = pi[j];
            for (int64_t d = 0; d < hd; ++d) {
              dqi[d] += dsj * kj[d];
              dkj[d] += dsj * qi[d];
              dvj[d] += pj * doi[d];
            }
          }
        }
      }
    }
  });
}

template <class S>
void swiglu(const S* gate, const S* up, int64_t n, S* out) {
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const S g = gate[i];
          out[i] = g / (S(1) + std::exp(-g)) * up[i];
        }
      },
      4096);
}

template <class S>
void swiglu_backward(const S* gate, const S* up, const S* dout, int64_t n, S* dgate, S* dup) {
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const S g = gate[i];
          const S s = S(1) / (S(1) + std::exp(-g));
          const S silu = g * s;
          dup[i] = dout[i] * silu;
          dgate[i] = dout[i] * up[i] * s * (S(1) + g * (S(1) - s));
        }
      },
      4096);
}

template <class S>
void softmax_xent(S* logits, const int32_t* targets, int64_t rows, int64_t vocab, double grad_scale, double* nll,
                  S* dlogits) {
  parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          S* l = logits + r * vocab;
          double m = -std::numeric_limits<double>::infinity();
          for (int64_t j = 0; j < vocab; ++j) m = std::max(m, static_cast<double>(l[j]));
          double sum = 0;
          for (int64_t j = 0; j < vocab; ++j) sum += std::exp(static_cast<double>(l[j]) - m);
          const double lse = m + std::log(sum);
          const int32_t t = targets[r];
          nll[r] = lse - static_cast<double>(l[t]);
          if (!dlogits) continue;
          S* d = dlogits + r * vocab;
          for (int64_t j = 0; j < vocab; ++j)
            d[j] = static_cast<S>((std::exp(static_cast<double>(l[j]) - lse) - (j == t ? 1.0 : 0.0)) * grad_scale);
        }
      },
      4);
}

#define ALLOY_OPS_INSTANTIATE(S)                                                                              \
  template void linear<S>(const S*, const S*, const S*, int64_t, int64_t, int64_t, S*);                       \
  template void linear_backward<S>(const S*, const S*, const S*, int64_t, int64_t, int64_t, S*, S*, bool, S*); \
  template void rmsnorm<S>(const S*, const S*, int64_t, int64_t, double, S*, S*);                             \
  template void rmsnorm_backward<S>(const S*, const S*, const S*, const S*, int64_t, int64_t, S*, bool, S*);   \
  template void rope<S>(S*, int64_t, int64_t, int64_t, int64_t, const S*, const S*, bool);                    \
  template void attention<S>(const AttentionShape&, const S*, const S*, const S*, double, S*, S*);            \
  template void attention_backward<S>(const AttentionShape&, const S*, const S*, const S*, const S*, const S*, \
                                      double, S*, S*, S*);                                                    \
  template void swiglu<S>(const S*, const S*, int64_t, S*);                                                   \
  template void swiglu_backward<S>(const S*, const S*, const S*, int64_t, S*, S*);                            \
  template void softmax_xent<S>(S*, const int32_t*, int64_t, int64_t, double, double*, S*);

ALLOY_OPS_INSTANTIATE(float)
ALLOY_OPS_INSTANTIATE(double)

}  // namespace alloy::ops
