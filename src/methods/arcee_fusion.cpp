// arcee_fusion: keeps the base model a except where the other model b differs "importantly":
//   kl_r = KL(softmax(b_r) + 1e-8 || softmax(a_r) + 1e-8) per row r of the last axis,
//   importance = |b - a| * kl_r,  threshold = Q(0.5) + 1.5 (Q(0.75) - Q(0.25))
// over the importance of the whole tensor (Q(x) = sorted[floor(x (n - 1))]), and takes b where
// importance >= threshold. The quantiles are exact (a streaming selection over the tensor),
// where mergekit sorts a random sample of a million elements for larger tensors.
#include <algorithm>
#include <cmath>

#include "methods/blocks/other_than_base.h"
#include "methods/method.h"
#include "methods/blocks/stream_select.h"
#include "util/error.h"

namespace alloy {

namespace {

// softmax(x) over n values into p, in f64.
void softmax(const float* x, int64_t n, double* p) {
  double peak = -INFINITY;
  for (int64_t j = 0; j < n; ++j) peak = std::max(peak, static_cast<double>(x[j]));
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += (p[j] = std::exp(static_cast<double>(x[j]) - peak));
  for (int64_t j = 0; j < n; ++j) p[j] /= sum;
}

// KL divergence of one row: KL(softmax(b) + 1e-8 || softmax(a) + 1e-8). p and q: scratch.
double row_divergence(const float* a, const float* b, int64_t cols, double* p, double* q) {
  softmax(b, cols, p);
  softmax(a, cols, q);
  double sum = 0;
  for (int64_t j = 0; j < cols; ++j) {
    const double pj = p[j] + 1e-8, qj = q[j] + 1e-8;
    sum += pj * std::log(pj / qj);
  }
  return sum;
}

inline double importance(float a, float b, double kl) {
  return std::fabs(static_cast<double>(b) - static_cast<double>(a)) * kl;
}

struct Fusion {
  std::vector<double> kl;  // per row
  double threshold = 0;
};

// The row divergences and Q(0.5) + 1.5 (Q(0.75) - Q(0.25)) of the importance of all n elements.
// The first pass computes the divergences and feeds the selection at once.
Fusion analyse(const MergeCall& call, int a, int b) {
  Fusion f;
  const int64_t n = call.numel(), last = n - 1, cols = call.cols();
  f.kl.reserve(static_cast<size_t>(call.rows()));
  std::vector<double> p(static_cast<size_t>(cols)), q(static_cast<size_t>(cols));
  const int64_t ranks[3] = {last / 4, last / 2, (3 * last) / 4};
  StreamSelect select(n, 3);
  for (size_t j = 0; j < 3; ++j) select.set_rank(j, ranks[j]);
  for (bool first = true; !select.done(); first = false) {
    for_each_block(call, [&](const RowBlock& blk) {
      const float* pa = blk.inputs[a];
      const float* pb = blk.inputs[b];
      for (int64_t r = blk.row_begin, e = 0; r < blk.row_end; ++r) {
        if (first) f.kl.push_back(row_divergence(pa + e, pb + e, cols, p.data(), q.data()));
        const double k = f.kl[static_cast<size_t>(r)];
        for (int64_t end = e + cols; e < end; ++e)
          select.visit(ordered_key(importance(pa[e], pb[e], k)), blk.first_element() + e);
      }
    });
    select.end_pass();
  }
  const double q1 = key_value(select.pick(0).key);
  const double median = key_value(select.pick(1).key);
  const double q3 = key_value(select.pick(2).key);
  f.threshold = median + 1.5 * (q3 - q1);
  return f;
}

}  // namespace

MethodSpec arcee_fusion_method() {
  MethodSpec m;
  m.name = "arcee_fusion";
  m.summary = "take the other model where its change is important (|b-a| x row KL above a quantile threshold)";
  m.base = BaseUse::Required;
  m.check = [](const MergeCall& call) { other_than_base(call, "arcee_fusion"); };
  m.prepare = [](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    const int a = call.base, b = other_than_base(call, "arcee_fusion");
    if (b < 0 || call.numel() == 0)
      return make_kernel([a](const RowBlock& blk, float* out) {
        std::copy(blk.inputs[a], blk.inputs[a] + blk.size(), out);
      });
    Fusion f = analyse(call, a, b);
    return make_kernel([a, b, thr = f.threshold, kl = std::move(f.kl)](const RowBlock& blk, float* out) {
      const float* pa = blk.inputs[a];
      const float* pb = blk.inputs[b];
      for (int64_t r = blk.row_begin, e = 0; r < blk.row_end; ++r) {
        const double k = kl[static_cast<size_t>(r)];
        for (int64_t end = e + blk.cols; e < end; ++e) out[e] = importance(pa[e], pb[e], k) >= thr ? pb[e] : pa[e];
      }
    });
  };
  return m;
}

}  // namespace alloy
