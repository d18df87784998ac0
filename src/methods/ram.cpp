// ram and ramplus_tl (Reinforced Agent Merging): per element, the task vectors TV_i = w_i - base
// whose magnitude exceeds epsilon "contribute". An element changed by one model only takes that
// change in full; one changed by several takes the mean of their changes; untouched elements keep
// the base. ramplus_tl also boosts a model's unique changes by lambda_i = 1 + r clamp(rho_i, 0,
// alpha), where rho_i = (its shared changes) / (its unique changes), counted over the tensor.
#include <algorithm>
#include <cmath>
#include <limits>

#include "methods/method.h"
#include "util/error.h"

namespace alloy {

namespace {

void need_base(const MergeCall& call) {
  if (!call.has_base()) call.fail_here("this method needs a base_model");
}

// base + sum_i (TV_i lambda_i [unique] + TV_i / c [shared]) over the contributing models.
class RamKernel final : public MergeKernel {
 public:
  RamKernel(int base, std::vector<size_t> others, double epsilon)
      : base_(base), others_(std::move(others)), epsilon_(epsilon), lambda_(others_.size(), 1.0) {}

  // ramplus_tl: shared and unique contribution counts of each model over the whole tensor.
  void boost_unique(const MergeCall& call, double r, double alpha) {
    const size_t n = others_.size();
    std::vector<int64_t> shared(n, 0), unique(n, 0);
    std::vector<double> tv(n);
    for_each_block(call, [&](const RowBlock& b) {
      for (int64_t e = 0; e < b.size(); ++e) {
        const int contributors = task_vectors(b, e, tv.data());
        if (contributors == 0) continue;
        auto& count = contributors == 1 ? unique : shared;
        for (size_t i = 0; i < n; ++i) count[i] += contributes(tv[i]);
      }
    });
    for (size_t i = 0; i < n; ++i) {
      // rho = S / max(U, epsilon); a model with no changes at all gets rho = 0 (mergekit: 0/0).
      const double s = static_cast<double>(shared[i]);
      const double u = std::max(static_cast<double>(unique[i]), epsilon_);
      const double rho = s == 0 ? 0.0 : u > 0 ? s / u : std::numeric_limits<double>::infinity();
      lambda_[i] = 1.0 + r * std::min(std::max(rho, 0.0), alpha);
    }
  }

  void map(const RowBlock& b, float* out) const override {
    std::vector<double> tv(others_.size());
    for (int64_t e = 0; e < b.size(); ++e) {
      const int contributors = task_vectors(b, e, tv.data());
      double mixed = 0;
      for (size_t i = 0; i < others_.size(); ++i) {
        if (!contributes(tv[i])) continue;
        mixed += contributors == 1 ? tv[i] * lambda_[i] : tv[i] / contributors;
      }
      out[e] = static_cast<float>(static_cast<double>(b.inputs[base_][e]) + mixed);
    }
  }

 private:
  bool contributes(double tv) const { return std::fabs(tv) > epsilon_; }

  // Fills tv with the task vectors at element e; returns how many contribute.
  int task_vectors(const RowBlock& b, int64_t e, double* tv) const {
    const double w0 = b.inputs[base_][e];
    int contributors = 0;
    for (size_t i = 0; i < others_.size(); ++i) {
      tv[i] = static_cast<double>(b.inputs[others_[i]][e]) - w0;
      contributors += contributes(tv[i]);
    }
    return contributors;
  }

  int base_;
  std::vector<size_t> others_;
  double epsilon_;
  std::vector<double> lambda_;
};

std::unique_ptr<MergeKernel> make_ram(const MergeCall& call, bool plus) {
  need_base(call);
  auto kernel = std::make_unique<RamKernel>(call.base, call.non_base_inputs(), call.param("epsilon"));
  if (plus) kernel->boost_unique(call, call.param("r"), call.param("alpha"));
  return kernel;
}

}  // namespace

MethodSpec ram_method() {
  MethodSpec m;
  m.name = "ram";
  m.summary = "keep unique task-vector changes, average shared ones (Reinforced Agent Merging)";
  m.base = BaseUse::Required;
  m.global_params = {{"epsilon", 1e-5, false, "a task vector element contributes when its magnitude exceeds this"}};
  m.check = need_base;
  m.prepare = [](const MergeCall& call) { return make_ram(call, false); };
  return m;
}

MethodSpec ramplus_tl_method() {
  MethodSpec m;
  m.name = "ramplus_tl";
  m.summary = "ram with unique changes boosted by each model's shared/unique ratio (tensor-local)";
  m.base = BaseUse::Required;
  m.global_params = {
      {"r", 0.1, false, "boost strength"},
      {"alpha", 0.2, false, "cap of the shared/unique ratio"},
      {"epsilon", 1e-5, false, "a task vector element contributes when its magnitude exceeds this"},
  };
  m.check = need_base;
  m.prepare = [](const MergeCall& call) { return make_ram(call, true); };
  return m;
}

}  // namespace alloy
