// sce (Select, Calculate, Erase; FuseChat 2.0): task vectors TV_i = w_i - base are
//   select:    optionally kept only at the elements whose variance across models is in the top
//              select_topk fraction of the elements with non-zero variance;
//   calculate: weighted per model by w_i = mean(TV_i^2), normalised to sum 1;
//   erase:     dropped where their sign disagrees with the sign of sum_i TV_i (TIES' election);
// result = base + sum_i TV_i w_i [kept] / max(sum_i w_i [kept], 1e-6), per element.
#include <algorithm>
#include <cmath>

#include "methods/method.h"
#include "methods/blocks/stream_select.h"
#include "util/error.h"

namespace alloy {

namespace {

// Population variance across models of the task vectors at elements [begin, end) of a block.
// Out of line so that prepare (selecting the threshold) and map (applying it) compute the very
// same bits.
[[gnu::noinline]] void variances(const RowBlock& b, int base, const std::vector<size_t>& others, int64_t begin,
                                 int64_t end, double* var) {
  const double n = static_cast<double>(others.size());
  for (int64_t e = begin; e < end; ++e) {
    const double w0 = b.inputs[base][e];
    double sum = 0;
    for (size_t i : others) sum += static_cast<double>(b.inputs[i][e]) - w0;
    const double mean = sum / n;
    double ss = 0;
    for (size_t i : others) {
      const double d = static_cast<double>(b.inputs[i][e]) - w0 - mean;
      ss += d * d;
    }
    var[e - begin] = ss / n;
  }
}

// Which elements survive the select step.
struct Selection {
  enum Kind { All, None, TopK } kind = All;
  StreamSelect::Pick cut;  // TopK: keep (variance, index) at or above this

  bool keeps(double var, int64_t index) const {
    return kind == All || (kind == TopK && StreamSelect::at_or_above(ordered_key(var), index, cut));
  }
};

Selection select_by_variance(const MergeCall& call, const std::vector<size_t>& others, double select_topk) {
  Selection sel;
  if (select_topk >= 1) return sel;
  sel.kind = Selection::None;
  const int64_t n = call.numel();
  if (select_topk <= 0 || n == 0) return sel;
  StreamSelect select(n, 1);
  std::vector<double> var;
  int64_t nonzero = 0;
  bool first_pass = true;
  while (!select.done()) {
    for_each_block(call, [&](const RowBlock& b) {
      var.resize(static_cast<size_t>(b.size()));
      variances(b, call.base, others, 0, b.size(), var.data());
      const int64_t first = b.first_element();
      for (int64_t e = 0; e < b.size(); ++e) {
        if (first_pass) nonzero += (var[e] != 0.0);
        select.visit(ordered_key(var[e]), first + e);
      }
    });
    if (first_pass) {
      const auto k = static_cast<int64_t>(std::floor(static_cast<double>(nonzero) * select_topk));
      if (k <= 0) return sel;
      select.set_rank(0, n - k);
      first_pass = false;
    }
    select.end_pass();
  }
  sel.kind = Selection::TopK;
  sel.cut = select.pick(0);
  return sel;
}

class SceKernel final : public MergeKernel {
 public:
  SceKernel(int base, std::vector<size_t> others, Selection selection)
      : base_(base), others_(std::move(others)), selection_(selection), weights_(others_.size(), 1.0) {}

  // The calculate step: w_i = mean over the tensor of the selected TV_i^2, normalised.
  void compute_weights(const MergeCall& call) {
    const size_t n = others_.size();
    std::vector<double> sq(n, 0.0), var;
    for_each_block(call, [&](const RowBlock& b) {
      const int64_t size = b.size();
      if (selection_.kind == Selection::TopK) {
        var.resize(static_cast<size_t>(size));
        variances(b, base_, others_, 0, size, var.data());
      }
      for (int64_t e = 0; e < size; ++e) {
        if (selection_.kind != Selection::All && !keeps(var, b.first_element(), e)) continue;
        const double w0 = b.inputs[base_][e];
        for (size_t i = 0; i < n; ++i) {
          const double d = static_cast<double>(b.inputs[others_[i]][e]) - w0;
          sq[i] += d * d;
        }
      }
    });
    const double count = static_cast<double>(std::max<int64_t>(call.numel(), 1));
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += (weights_[i] = sq[i] / count);
    for (double& w : weights_) w = std::fabs(total) < 1e-6 ? 1.0 / static_cast<double>(n) : w / total;
  }

  void map(const RowBlock& b, float* out) const override {
    const size_t n = others_.size();
    std::vector<double> tv(n), var;
    const int64_t size = b.size();
    if (selection_.kind == Selection::TopK) {
      var.resize(static_cast<size_t>(size));
      variances(b, base_, others_, 0, size, var.data());
    }
    for (int64_t e = 0; e < size; ++e) {
      const double w0 = b.inputs[base_][e];
      if (selection_.kind != Selection::All && !keeps(var, b.first_element(), e)) {
        out[e] = b.inputs[base_][e];
        continue;
      }
      double sum = 0;
      for (size_t i = 0; i < n; ++i) sum += (tv[i] = static_cast<double>(b.inputs[others_[i]][e]) - w0);
      const double elected = sum >= 0 ? 1.0 : -1.0;
      double mixed = 0, divisor = 0;
      for (size_t i = 0; i < n; ++i) {
        const double sign = tv[i] > 0 ? 1.0 : tv[i] < 0 ? -1.0 : 0.0;
        if (sign != elected) continue;
        mixed += tv[i] * weights_[i];
        divisor += weights_[i];
      }
      out[e] = static_cast<float>(w0 + mixed / std::max(divisor, 1e-6));
    }
  }

 private:
  bool keeps(const std::vector<double>& var, int64_t first, int64_t e) const {
    return selection_.keeps(selection_.kind == Selection::TopK ? var[e] : 0.0, first + e);
  }

  int base_;
  std::vector<size_t> others_;
  Selection selection_;
  std::vector<double> weights_;
};

}  // namespace

MethodSpec sce_method() {
  MethodSpec m;
  m.name = "sce";
  m.summary = "variance-selected, magnitude-weighted, sign-elected task vectors (FuseChat SCE)";
  m.base = BaseUse::Required;
  m.global_params = {
      {"int8_mask", 0.0, false, "accepted for compatibility; no effect"},
      {"select_topk", 1.0, false, "fraction of the elements with non-zero variance to keep"},
  };
  m.check = [](const MergeCall& call) {
    if (!call.has_base()) call.fail_here("sce needs a base_model");
  };
  m.prepare = [](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    if (!call.has_base()) call.fail_here("sce needs a base_model");
    auto others = call.non_base_inputs();
    const int base = call.base;
    if (others.empty())
      return make_kernel([base](const RowBlock& b, float* out) {
        std::copy(b.inputs[base], b.inputs[base] + b.size(), out);
      });
    Selection selection = select_by_variance(call, others, call.param("select_topk"));
    auto kernel = std::make_unique<SceKernel>(base, std::move(others), selection);
    kernel->compute_weights(call);
    return kernel;
  };
  return m;
}

}  // namespace alloy
