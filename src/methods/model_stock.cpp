// model_stock (Jang et al., "Model Stock"): moves from the base model towards the average of the
// fine-tuned models by a ratio t set by how well the fine-tunes' task vectors agree:
//   c = mean over pairs i<j of cos(o_i, o_j), o_i = w_i - w_0;  t = N c / (1 + (N - 1) c)
//   result = t * mean(w_i) + (1 - t) * w_0
// With filter_wise the angle (and t) is per row of the last axis instead of per tensor.
#include <algorithm>
#include <cmath>

#include "methods/method.h"
#include "methods/blocks/vector_math.h"
#include "util/vectorize.h"
#include "util/error.h"

namespace alloy {

namespace {

// Per-tensor (or per-row) statistics of the task vectors o_i, accumulated in f64.
struct OffsetStats {
  explicit OffsetStats(size_t n) : n(n), sq(n, 0.0), dot(n * n, 0.0), x(n), block(n * (n + 1) / 2) {}
  size_t n;
  std::vector<double> sq;   // ||o_i||^2
  std::vector<double> dot;  // o_i . o_j at [i * n + j], i < j
  std::vector<const float*> x;  // scratch for add()
  std::vector<double> block;

  void clear() {
    std::fill(sq.begin(), sq.end(), 0.0);
    std::fill(dot.begin(), dot.end(), 0.0);
  }
  // Adds elements [begin, end) of a block: the centred Gram matrix of vector_math (fixed order,
  // vectorised, every element read once).
  void add(const RowBlock& b, int base, const std::vector<size_t>& others, int64_t begin, int64_t end) {
    for (size_t i = 0; i < n; ++i) x[i] = b.inputs[others[i]] + begin;
    gram_upper_f64(x.data(), n, b.inputs[base] + begin, end - begin, block.data());
    size_t q = 0;
    for (size_t i = 0; i < n; ++i) {
      sq[i] += block[q++];
      for (size_t j = i + 1; j < n; ++j) dot[i * n + j] += block[q++];
    }
  }

  // The interpolation ratio. mergekit divides by 1 + (N-1)c unguarded; where that is (nearly)
  // zero the unit task vectors cancel out, t is meaningless, and the base is kept (t = 0).
  double ratio() const {
    double sum = 0;
    size_t pairs = 0;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j, ++pairs) {
        double norm_product = std::sqrt(sq[i]) * std::sqrt(sq[j]);
        sum += std::clamp(dot[i * n + j] / std::max(norm_product, 1e-6), -1.0, 1.0);
      }
    const double c = sum / static_cast<double>(pairs);
    const double N = static_cast<double>(n);
    const double denominator = 1.0 + (N - 1.0) * c;
    if (std::fabs(denominator) < kSingular) return 0.0;
    return N * c / denominator;
  }

  static constexpr double kSingular = 1e-6;
};

void check_inputs(const MergeCall& call) {
  if (!call.has_base()) call.fail_here("model_stock needs a base_model");
  auto others = call.non_base_inputs();
  if (others.size() == 1)
    call.fail_here("model_stock needs the base model and at least 2 other models, but only " +
                   call.inputs[others[0]].label + " besides the base provides this tensor");
}

ALLOY_VECTORIZED void blend_range(const double* sum, const float* base, double t, double inv_n, int64_t n,
                                  float* out) {
  for (int64_t e = 0; e < n; ++e)
    out[e] = static_cast<float>(t * (sum[e] * inv_n) + (1.0 - t) * static_cast<double>(base[e]));
}

// result = t * mean(w_i) + (1 - t) * w_0 over elements [begin, end) of a block, a tile at a time.
void blend(const RowBlock& b, int base, const std::vector<size_t>& others, double t, int64_t begin, int64_t end,
           float* out) {
  const double inv_n = 1.0 / static_cast<double>(others.size());
  constexpr int64_t kTile = 512;
  double sum[kTile];
  for (int64_t e0 = begin; e0 < end; e0 += kTile) {
    const int64_t n = std::min(kTile, end - e0);
    std::fill(sum, sum + n, 0.0);
    for (size_t i : others) accumulate_scaled(sum, b.inputs[i] + e0, 1.0, n);  // 1·x is exact: a plain sum
    blend_range(sum, b.inputs[base] + e0, t, inv_n, n, out + e0);
  }
}

}  // namespace

MethodSpec model_stock_method() {
  MethodSpec m;
  m.name = "model_stock";
  m.summary = "interpolate from the base towards the average by the agreement of the task vectors";
  m.base = BaseUse::Required;
  m.global_params = {{"filter_wise", 0.0, false, "one angle per row of the last axis instead of per tensor"}};
  m.check = check_inputs;
  m.prepare = [](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    check_inputs(call);
    const int base = call.base;
    auto others = call.non_base_inputs();
    if (others.empty())  // only the base provides this tensor
      return make_kernel([base](const RowBlock& b, float* out) {
        std::copy(b.inputs[base], b.inputs[base] + b.size(), out);
      });
    if (call.flag("filter_wise"))
      return make_kernel([base, others](const RowBlock& b, float* out) {
        OffsetStats stats(others.size());
        for (int64_t r = 0; r < b.row_end - b.row_begin; ++r) {
          const int64_t begin = r * b.cols, end = begin + b.cols;
          stats.clear();
          stats.add(b, base, others, begin, end);
          blend(b, base, others, stats.ratio(), begin, end, out);
        }
      });
    OffsetStats stats(others.size());
    for_each_block(call, [&](const RowBlock& b) { stats.add(b, base, others, 0, b.size()); });
    const double t = stats.ratio();
    return make_kernel([base, others, t](const RowBlock& b, float* out) {
      blend(b, base, others, t, 0, b.size(), out);
    });
  };
  return m;
}

}  // namespace alloy
