// The task-arithmetic family (mergekit's generalized_task_arithmetic): task_arithmetic, ties,
// dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, della, della_linear. Each is
//   δ_m = model_m − base;  δ'_m = sparsify(δ_m) [· L1 rescale];  combine with weights
//   (plain sum, or sign consensus);  [÷ Σ weights];  · lambda;  + base
// and the methods differ only in the sparsification, the consensus and two defaults.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "methods/keep_bits.h"
#include "methods/method.h"
#include "methods/sign_consensus.h"
#include "methods/sparsify.h"
#include "util/lanes.h"
#include "util/vectorize.h"

namespace alloy {

namespace {

struct Family {
  const char* name;
  const char* summary;
  Sparsification sparsify;
  bool consensus;
  bool normalize;  // default
  bool rescale;    // default
};

// Inputs other than the base, in recipe order: the models with task vectors.
std::vector<size_t> task_models(const MergeCall& call) {
  std::vector<size_t> out;
  for (size_t i = 0; i < call.size(); ++i)
    if (static_cast<int>(i) != call.base) out.push_back(i);
  return out;
}

std::vector<SparsifyParams> sparsify_params(const MergeCall& call, Sparsification kind) {
  std::vector<SparsifyParams> params(call.size());
  for (size_t i : task_models(call)) {
    SparsifyParams& p = params[i];
    if (kind == Sparsification::None) continue;
    p.density = call.model_param(i, "density");
    if (kind == Sparsification::MagnitudeOutliers) p.gamma = call.model_param(i, "gamma");
    if (kind == Sparsification::DellaMagprune) p.epsilon = call.model_param(i, "epsilon");
  }
  return params;
}

void check_family(const MergeCall& call, Sparsification kind) {
  if (call.base < 0) call.fail_here("a base model is required");
  std::vector<SparsifyParams> params = sparsify_params(call, kind);
  for (size_t i : task_models(call)) {
    call.model_param(i, "weight");
    if (std::string why = sparsify_params_error(kind, params[i]); !why.empty())
      call.fail_here(call.inputs[i].label + ": " + why);
  }
}

// base + change, rounded once; an unchanged element is the base bit for bit (also −0.0). Chosen
// in f64 and rounded after (f32 → f64 → f32 is exact), so a vector loop selects before narrowing.
inline float add_to_base(float base, double change) {
  const double b = static_cast<double>(base);
  return static_cast<float>(change == 0 ? b : b + change);
}

// out[j] = base[j] + mixed[j] / divisor · λ; dividing and multiplying by 1 are exact, so with
// divisor and λ both 1 ("not normalised", the default λ) the loop leaves them out.
ALLOY_VECTORIZED void add_change(const float* base, const double* mixed, double divisor, double lambda, int64_t n,
                                 float* out) {
  if (divisor == 1 && lambda == 1)
    for (int64_t j = 0; j < n; ++j) out[j] = add_to_base(base[j], mixed[j]);
  else
    for (int64_t j = 0; j < n; ++j) out[j] = add_to_base(base[j], mixed[j] / divisor * lambda);
}

ALLOY_VECTORIZED void add_divided_change(const float* base, const double* mixed, const double* divisor,
                                         double lambda, int64_t n, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = add_to_base(base[j], mixed[j] / divisor[j] * lambda);
}

// acc[j] += w · v[j]
ALLOY_VECTORIZED void accumulate_scaled_f64(double* acc, const double* v, double w, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] += w * v[j];
}

// The change a plain sum makes to one element's base (T = double) or to four lanes' (T = F64x4):
// Σ_m w[m]·v[m] from 0 in model order, ÷ divisor · λ unless Plain (both 1: dividing and multiplying
// by 1 are exact, and a division per four elements took most of the fused loops' time).
template <int N, bool Plain>
struct SumChange {
  double w[N], divisor, lambda;
  template <class T>
  __attribute__((always_inline)) void operator()(const T (&v)[N], T& change) const {
    T mix = T{} + 0.0;
#pragma GCC unroll 8
    for (int m = 0; m < N; ++m) mix += w[m] * v[m];
    if constexpr (Plain)
      change = mix;
    else
      change = mix / divisor * lambda;
  }
};

// The plain-sum combine for a fixed number N of task vectors in one loop over elements:
// out[j] = base[j] + SumChange(v[·][j]). The same operations per element as zeroing,
// accumulate_scaled_f64 per model and add_change, so the same bits, without N + 2 passes over an
// intermediate array.
template <int N, bool Plain>
__attribute__((always_inline)) inline void combine_fixed(const double* const* v, const double* w, const float* base,
                                                       double divisor, double lambda, int64_t n, float* out) {
  SumChange<N, Plain> change{{}, divisor, lambda};
  for (int m = 0; m < N; ++m) change.w[m] = w[m];
  for (int64_t j = 0; j < n; ++j) {
    double e[N], c;
#pragma GCC unroll 8
    for (int m = 0; m < N; ++m) e[m] = v[m][j];
    change(e, c);
    out[j] = add_to_base(base[j], c);
  }
}

#define ALLOY_COMBINE(N)                                                                                    \
  ALLOY_VECTORIZED void combine_##N(const double* const* v, const double* w, const float* base, double divisor, \
                                    double lambda, int64_t n, float* out) {                                 \
    if (divisor == 1 && lambda == 1)                                                                        \
      combine_fixed<N, true>(v, w, base, divisor, lambda, n, out);                                          \
    else                                                                                                    \
      combine_fixed<N, false>(v, w, base, divisor, lambda, n, out);                                         \
  }
ALLOY_COMBINE(1)
ALLOY_COMBINE(2)
ALLOY_COMBINE(3)
ALLOY_COMBINE(4)
#undef ALLOY_COMBINE

// The fused combines: v[m] = (x[m] − base) · (kept ? scale[m] : 0) as apply_mask computes it, then
// what the loops over its f64 arrays do with it, per element and in their order (so the same bits),
// without the arrays (stored and loaded back, that was a fifth of dare_linear). For masks that
// kept their decisions (DARE's and DELLA's rescale pass, TaskVectorMask::kept) and for magnitude
// bands (ties, breadcrumbs). The parts below take one element (T = double) or four, lane by lane
// (T = F64x4). The change to the base: the plain sum (SumChange, above) ...

// ... or the sign consensus, not normalised (sign_consensus, then add_change with a divisor of 1:
// x / 1 is x, so mixed · λ).
template <int N, bool Weighted>
struct ConsensusChange {
  double w[N], lambda;
  template <class T>
  __attribute__((always_inline)) void operator()(const T (&v)[N], T& change) const {
    T mixed, divisor;
    elect_and_merge<N, Weighted>(v, w, mixed, divisor);
    change = mixed * lambda;
  }
};

// Where the results go: out = base + change, rounded once (add_to_base) ...
template <int N, class Change>
struct AddToBase {
  Change change;
  float* out;
  __attribute__((always_inline)) void lanes(int64_t at, const F64x4 (&v)[N], const F64x4& base) const {
    F64x4 c;
    change(v, c);
    // add_to_base per lane: the base where the change is 0, else base + change, rounded once.
    const I64x4 unchanged = c == 0;
    const I64x4 pick = (reinterpret_cast<I64x4>(base) & unchanged) | (reinterpret_cast<I64x4>(base + c) & ~unchanged);
    const F32x4 rounded = __builtin_convertvector(reinterpret_cast<F64x4>(pick), F32x4);
    std::memcpy(out + at, &rounded, sizeof rounded);
  }
  void one(int64_t j, const double (&v)[N], float base) const {
    double c;
    change(v, c);
    out[j] = add_to_base(base, c);
  }
};

// ... or the sign consensus's sums, for add_divided_change to divide in a loop of its own (in the
// fused loop the division's latency, at the end of a long chain, stalled it: no faster than the
// three loops over arrays).
template <int N, bool Weighted>
struct ConsensusSums {
  double w[N];
  double *mixed, *divisor;
  __attribute__((always_inline)) void lanes(int64_t at, const F64x4 (&v)[N], const F64x4&) const {
    F64x4 mix, div;
    elect_and_merge<N, Weighted>(v, w, mix, div);
    std::memcpy(mixed + at, &mix, sizeof mix);
    std::memcpy(divisor + at, &div, sizeof div);
  }
  void one(int64_t j, const double (&v)[N], float) const { elect_and_merge<N, Weighted>(v, w, mixed[j], divisor[j]); }
};

// The keep decisions: the kept bits of elements first, first + 1, ... (first a multiple of 8) ...
template <int N>
struct KeptLanes {
  const uint32_t* bits[N];
  uint64_t first;
  U32x8 words[N] = {};
  I32x8 keep[N] = {};
  KeptLanes from(int64_t t) const {  // the same bits from element t on (t a multiple of 8)
    KeptLanes k = *this;
    k.first += static_cast<uint64_t>(t);
    return k;
  }
  __attribute__((always_inline)) void step(int64_t j, const float* const*, const float*) {
#pragma GCC unroll 8
    for (int m = 0; m < N; ++m) next_keep_lanes(bits[m], first + static_cast<uint64_t>(j), j == 0, words[m], keep[m]);
  }
  __attribute__((always_inline)) void lanes(int m, int half, I64x4& out) const { half_as_i64(keep[m], half, out); }
  bool one(int m, int64_t j, float, float) const { return is_kept(bits[m], first + static_cast<uint64_t>(j)); }
};

// ... or magnitude bands (sparsify.h): |x − base| bits (of the f32 difference) in [at_least,
// below), eight lanes a step. As signed compares (AVX2 has none unsigned): the bits are at most
// 0x7fffffff, so bits >= t is bits > min(t, 2^31) − 1 in int32, and bits < t is its negation.
template <int N>
struct BandLanes {
  int32_t above[N], not_above[N];  // kept: bits > above[m] and not bits > not_above[m]
  I32x8 keep[N] = {};
  static int32_t bound(uint32_t t) { return static_cast<int32_t>(std::min(t, 0x80000000u) - 1); }
  BandLanes from(int64_t) const { return *this; }  // (bands are constant over the range)
  __attribute__((always_inline)) void step(int64_t j, const float* const* x, const float* base) {
    F32x8 b;
    std::memcpy(&b, base + j, sizeof b);
#pragma GCC unroll 8
    for (int m = 0; m < N; ++m) {
      F32x8 v;
      std::memcpy(&v, x[m] + j, sizeof v);
      const I32x8 bits = reinterpret_cast<I32x8>(v - b) & 0x7fffffff;
      keep[m] = (bits > above[m]) & ~(bits > not_above[m]);
    }
  }
  __attribute__((always_inline)) void lanes(int m, int half, I64x4& out) const { half_as_i64(keep[m], half, out); }
  bool one(int m, int64_t, float x, float base) const {
    const auto bits = static_cast<int32_t>(magnitude_bits(x - base));
    return bits > above[m] && !(bits > not_above[m]);
  }
};

// The loop over elements 0 .. n − 1: the masked entries to sink.lanes / sink.one.
template <int N, class Masks, class Sink>
__attribute__((always_inline)) inline void combine_masked_fixed(const float* const* x, const double* scale,
                                                              const float* base, int64_t n, const Masks& masks,
                                                              const Sink& to) {
  // Locals: stores to the outputs could alias the arrays, which made every step load them again.
  const Sink sink = to;
  Masks keep = masks;
  const float* xs[N];
  F64x4 scales[N];
  for (int m = 0; m < N; ++m) {
    xs[m] = x[m];
    scales[m] = F64x4{} + scale[m];
  }
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    keep.step(j, xs, base);
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const int64_t at = j + 4 * half;
      F64x4 bd;
      load_f64x4(base + at, bd);
      F64x4 v[N];
#pragma GCC unroll 8
      for (int m = 0; m < N; ++m) {
        F64x4 xd;
        load_f64x4(xs[m] + at, xd);
        I64x4 lanes;
        keep.lanes(m, half, lanes);
        const F64x4 factor = reinterpret_cast<F64x4>(reinterpret_cast<I64x4>(scales[m]) & lanes);  // scale or 0
        v[m] = (xd - bd) * factor;
      }
      sink.lanes(at, v, bd);
    }
  }
  for (; j < n; ++j) {
    double v[N];
    for (int m = 0; m < N; ++m) {
      const double factor = keep.one(m, j, x[m][j], base[j]) ? scale[m] : 0.0;
      v[m] = (static_cast<double>(x[m][j]) - static_cast<double>(base[j])) * factor;
    }
    sink.one(j, v, base[j]);
  }
}

// The plain sum (normalised: ÷ divisor) or the sign consensus (normalised: ÷ the agreeing
// weights' sum), · λ, of 1 to 4 task vectors.
struct FusedMerge {
  bool consensus, weighted_vote, normalize;
  double divisor, lambda;
};

// `part` with the weights w[0 .. N).
template <int N, class Part>
Part with_weights(Part part, const double* w) {
  for (int m = 0; m < N; ++m) part.w[m] = w[m];
  return part;
}

template <int N, bool Weighted, class Masks>
__attribute__((always_inline)) inline void consensus_masked(const float* const* x, const Masks& masks,
                                                            const double* scale, const double* w,
                                                            const FusedMerge& how, const float* base, int64_t n,
                                                            float* out) {
  if (!how.normalize) {
    const AddToBase<N, ConsensusChange<N, Weighted>> sink{with_weights<N>(ConsensusChange<N, Weighted>{{}, how.lambda}, w),
                                                          out};
    combine_masked_fixed<N>(x, scale, base, n, masks, sink);
    return;
  }
  constexpr int64_t kTile = 512;  // (a multiple of 8: the keep bits' steps)
  double mixed[kTile], divisor[kTile];
  const ConsensusSums<N, Weighted> sink = with_weights<N>(ConsensusSums<N, Weighted>{{}, mixed, divisor}, w);
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = std::min(kTile, n - t);
    const float* xt[N];
    for (int m = 0; m < N; ++m) xt[m] = x[m] + t;
    combine_masked_fixed<N>(xt, scale, base + t, len, masks.from(t), sink);
    add_divided_change(base + t, mixed, divisor, how.lambda, len, out + t);
  }
}

// (Inlined into each merge_*_N, so that its AVX2 clone has the loops.)
template <int N, class Masks>
__attribute__((always_inline)) inline void merge_masked(const float* const* x, const Masks& masks, const double* scale,
                                                        const double* w, const FusedMerge& how, const float* base,
                                                        int64_t n, float* out) {
  if (how.consensus) {
    if (how.weighted_vote)
      consensus_masked<N, true>(x, masks, scale, w, how, base, n, out);
    else
      consensus_masked<N, false>(x, masks, scale, w, how, base, n, out);
    return;
  }
  const double divisor = how.normalize ? how.divisor : 1.0;
  if (divisor == 1 && how.lambda == 1) {  // (dividing and multiplying by 1 left out, as in add_change)
    const SumChange<N, true> change = with_weights<N>(SumChange<N, true>{{}, divisor, how.lambda}, w);
    combine_masked_fixed<N>(x, scale, base, n, masks, AddToBase<N, SumChange<N, true>>{change, out});
  } else {
    const SumChange<N, false> change = with_weights<N>(SumChange<N, false>{{}, divisor, how.lambda}, w);
    combine_masked_fixed<N>(x, scale, base, n, masks, AddToBase<N, SumChange<N, false>>{change, out});
  }
}

// merge_kept_N: masks that kept their bits (bits[m] of elements first, first + 1, ...: first a
// multiple of 8); merge_band_N: magnitude bands (at_least[m], below[m]).
#define ALLOY_MERGE_FUSED(N)                                                                                    \
  ALLOY_VECTORIZED void merge_kept_##N(const float* const* x, const uint32_t* const* bits, uint64_t first,      \
                                       const double* scale, const double* w, const FusedMerge& how,             \
                                       const float* base, int64_t n, float* out) {                              \
    KeptLanes<N> masks{{}, first, {}, {}};                                                                      \
    for (int m = 0; m < N; ++m) masks.bits[m] = bits[m];                                                        \
    merge_masked<N>(x, masks, scale, w, how, base, n, out);                                                     \
  }                                                                                                             \
  ALLOY_VECTORIZED void merge_band_##N(const float* const* x, const MagnitudeBand* bands, const double* scale,  \
                                       const double* w, const FusedMerge& how, const float* base, int64_t n,    \
                                       float* out) {                                                            \
    BandLanes<N> masks;                                                                                         \
    for (int m = 0; m < N; ++m) {                                                                               \
      masks.above[m] = BandLanes<N>::bound(bands[m].at_least);                                                  \
      masks.not_above[m] = BandLanes<N>::bound(bands[m].below);                                                 \
    }                                                                                                           \
    merge_masked<N>(x, masks, scale, w, how, base, n, out);                                                     \
  }
ALLOY_MERGE_FUSED(1)
ALLOY_MERGE_FUSED(2)
ALLOY_MERGE_FUSED(3)
ALLOY_MERGE_FUSED(4)
#undef ALLOY_MERGE_FUSED

using FixedCombine = void (*)(const double* const*, const double*, const float*, double, double, int64_t, float*);
using KeptMerge = void (*)(const float* const*, const uint32_t* const*, uint64_t, const double*, const double*,
                           const FusedMerge&, const float*, int64_t, float*);
using BandMerge = void (*)(const float* const*, const MagnitudeBand*, const double*, const double*, const FusedMerge&,
                           const float*, int64_t, float*);

// The fused combines for 1 to 4 task vectors (the common recipes), nullptr otherwise.
FixedCombine fixed_combine(size_t models) {
  static const FixedCombine table[] = {combine_1, combine_2, combine_3, combine_4};
  return models >= 1 && models <= 4 ? table[models - 1] : nullptr;
}

KeptMerge kept_merge(size_t models) {
  static const KeptMerge table[] = {merge_kept_1, merge_kept_2, merge_kept_3, merge_kept_4};
  return models >= 1 && models <= 4 ? table[models - 1] : nullptr;
}

BandMerge band_merge(size_t models) {
  static const BandMerge table[] = {merge_band_1, merge_band_2, merge_band_3, merge_band_4};
  return models >= 1 && models <= 4 ? table[models - 1] : nullptr;
}

// The prepared merge of one tensor.
class TaskArithmeticKernel final : public MergeKernel {
 public:
  static constexpr int64_t kTile = 4096;  // elements combined at a time (scratch stays in cache)

  TaskArithmeticKernel(const MergeCall& call, const Family& family)
      : base_(static_cast<size_t>(call.base)),
        models_(task_models(call)),
        consensus_(family.consensus),
        sign_rule_(call.flag("ties_paper_sign") ? SignRule::Unweighted : SignRule::Weighted),
        normalize_(call.flag("normalize")),
        lambda_(call.param("lambda")) {
    const bool rescale = call.flag("rescale");
    std::vector<TaskVectorMask> all = plan_masks(call, family.sparsify, sparsify_params(call, family.sparsify), rescale);
    double sum = 0;
    bool all_kept = kept_merge(models_.size()) != nullptr;
    all_bands_ = band_merge(models_.size()) != nullptr;
    bool any_cut = false;  // (task vectors kept whole take the loops over arrays: as fast without compares)
    for (size_t i : models_) {
      all_kept &= all[i].kept != nullptr;
      all_bands_ &= is_band(all[i]);
      any_cut |= all[i].rule != TaskVectorMask::Rule::All;
      masks_.push_back(all[i]);
      weights_.push_back(call.model_param(i, "weight"));
      sum += weights_.back();
      whole_rows_ |= all[i].rule == TaskVectorMask::Rule::Della;
    }
    all_bands_ &= any_cut;
    divisor_ = std::fabs(sum) < 1e-8 ? 1.0 : sum;  // mergekit's guard for the plain sum
    for (const TaskVectorMask& m : masks_) {
      if (all_kept) kept_.push_back(m.kept->data());
      scales_.push_back(m.scale);
    }
  }

  void map(const RowBlock& block, float* out) const override {
    const int64_t len = block.size(), cols = block.cols;
    if (len <= 0) return;
    const float* base = block.inputs[base_];
    const size_t n_models = models_.size();
    // Per-thread buffers, grown once: every value is written before it is read, and zeroing
    // fresh ones for each block cost more than some of the arithmetic.
    struct Scratch {
      std::vector<double> v, mixed, divisor;
      std::vector<const double*> rows;
      std::vector<const float*> inputs;  // the fused merges' inputs
      MaskScratch mask;
    };
    thread_local Scratch t;
    const FusedMerge how{consensus_, sign_rule_ == SignRule::Weighted, normalize_, divisor_, lambda_};
    const int64_t first = block.first_element();
    if (!kept_.empty() && first % 8 == 0) {  // no scratch arrays: the whole block at once
      t.inputs.resize(n_models);
      for (size_t m = 0; m < n_models; ++m) t.inputs[m] = block.inputs[models_[m]];
      kept_merge(n_models)(t.inputs.data(), kept_.data(), static_cast<uint64_t>(first), scales_.data(),
                           weights_.data(), how, base, len, out);
      return;
    }
    if (all_bands_) {  // likewise, in pieces over which every band is constant
      t.inputs.resize(n_models);
      MagnitudeBand bands[4];
      for (int64_t a = 0; a < len;) {
        int64_t b = len;
        for (size_t m = 0; m < n_models; ++m) {
          bands[m] = band_at(masks_[m], first + a);
          b = std::min(b, band_changes_after(masks_[m], first + a) - first);
          t.inputs[m] = block.inputs[models_[m]] + a;
        }
        band_merge(n_models)(t.inputs.data(), bands, scales_.data(), weights_.data(), how, base + a, b - a, out + a);
        a = b;
      }
      return;
    }
    // Segments of whole rows when a mask ranks within rows (DELLA), else of kTile elements.
    const int64_t segment = whole_rows_ ? std::max<int64_t>(1, kTile / cols) * cols : kTile;
    const int64_t seg_cap = std::min(segment, len);
    t.v.resize(std::max(t.v.size(), n_models * static_cast<size_t>(seg_cap)));
    t.mixed.resize(std::max(t.mixed.size(), static_cast<size_t>(seg_cap)));
    t.divisor.resize(std::max(t.divisor.size(), static_cast<size_t>(seg_cap)));
    t.rows.resize(n_models);
    std::vector<double>& v = t.v;
    std::vector<const double*>& rows = t.rows;
    std::vector<double>& mixed = t.mixed;
    std::vector<double>& divisor = t.divisor;
    MaskScratch& scratch = t.mask;
    for (int64_t s0 = 0; s0 < len; s0 += segment) {
      const int64_t n = std::min(segment, len - s0);
      for (size_t m = 0; m < n_models; ++m) {
        double* vm = v.data() + m * static_cast<size_t>(seg_cap);
        apply_mask(masks_[m], block.first_element() + s0, n, cols, block.inputs[models_[m]] + s0, base + s0, vm,
                   scratch);
        rows[m] = vm;
      }
      if (consensus_) {
        sign_consensus(rows, weights_, n, sign_rule_, mixed.data(), divisor.data());
        if (normalize_)
          add_divided_change(base + s0, mixed.data(), divisor.data(), lambda_, n, out + s0);
        else
          add_change(base + s0, mixed.data(), 1.0, lambda_, n, out + s0);
      } else if (FixedCombine fused = fixed_combine(n_models)) {
        fused(rows.data(), weights_.data(), base + s0, normalize_ ? divisor_ : 1.0, lambda_, n, out + s0);
      } else {
        std::fill(mixed.begin(), mixed.begin() + n, 0.0);
        for (size_t m = 0; m < n_models; ++m) accumulate_scaled_f64(mixed.data(), rows[m], weights_[m], n);
        add_change(base + s0, mixed.data(), normalize_ ? divisor_ : 1.0, lambda_, n, out + s0);
      }
    }
  }

 private:
  size_t base_;
  std::vector<size_t> models_;        // input index of each task vector
  std::vector<TaskVectorMask> masks_;  // per task vector
  std::vector<double> weights_;        // per task vector
  bool consensus_;
  SignRule sign_rule_;
  bool normalize_;
  double lambda_;
  double divisor_ = 1.0;
  bool whole_rows_ = false;
  // Masks that all kept their bits (merge_kept_N): their bits per task vector; empty otherwise.
  std::vector<const uint32_t*> kept_;
  bool all_bands_ = false;      // every mask a magnitude band (merge_band_N)
  std::vector<double> scales_;  // per task vector: its mask's rescale factor
};

MethodSpec family_method(const Family& f) {
  MethodSpec m;
  m.name = f.name;
  m.summary = f.summary;
  m.base = BaseUse::Required;
  m.global_params = {
      {"int8_mask", 0.0, false, "accepted for mergekit compatibility; no effect"},
      {"normalize", f.normalize ? 1.0 : 0.0, false, "divide the merged task vector by the sum of the weights"},
      {"rescale", f.rescale ? 1.0 : 0.0, false, "rescale each sparsified task vector to its original L1 norm"},
      {"lambda", 1.0, false, "scale of the merged task vector"},
  };
  if (f.consensus)
    m.global_params.push_back({"ties_paper_sign", 0.0, false,
                               "elect signs from the unweighted task vectors (TIES paper) instead of the weighted "
                               "ones (mergekit)"});
  m.model_params = {
      {"weight", std::nullopt, true, "weight of this model's task vector"},
      {"density", 1.0, false, "fraction of the task vector to keep"},
  };
  if (f.sparsify == Sparsification::MagnitudeOutliers)
    m.model_params.push_back({"gamma", 0.01, false, "fraction of the largest task-vector entries to drop"});
  if (f.sparsify == Sparsification::DellaMagprune)
    m.model_params.push_back({"epsilon", 0.15, false, "spread of keep probabilities: density ± epsilon"});
  const Family family = f;
  m.check = [family](const MergeCall& call) { check_family(call, family.sparsify); };
  m.prepare = [family](const MergeCall& call) -> std::unique_ptr<MergeKernel> {
    return std::make_unique<TaskArithmeticKernel>(call, family);
  };
  return m;
}

}  // namespace

MethodSpec task_arithmetic_method() {
  return family_method({"task_arithmetic", "base + weighted sum of task vectors (model − base)",
                        Sparsification::None, false, false, false});
}
MethodSpec ties_method() {
  return family_method({"ties", "TIES: keep the largest task-vector entries, elect signs, merge the agreeing ones",
                        Sparsification::Magnitude, true, true, false});
}
MethodSpec dare_linear_method() {
  return family_method({"dare_linear", "DARE: drop task-vector entries at random, rescale, add up",
                        Sparsification::Random, false, false, true});
}
MethodSpec dare_ties_method() {
  return family_method({"dare_ties", "DARE sparsification with TIES sign consensus", Sparsification::Random, true,
                        false, true});
}
MethodSpec breadcrumbs_method() {
  return family_method({"breadcrumbs", "Breadcrumbs: drop the largest and the smallest task-vector entries",
                        Sparsification::MagnitudeOutliers, false, false, false});
}
MethodSpec breadcrumbs_ties_method() {
  return family_method({"breadcrumbs_ties", "Breadcrumbs sparsification with TIES sign consensus",
                        Sparsification::MagnitudeOutliers, true, false, false});
}
MethodSpec della_method() {
  return family_method({"della", "DELLA: magnitude-ranked random pruning per row, with TIES sign consensus",
                        Sparsification::DellaMagprune, true, true, true});
}
MethodSpec della_linear_method() {
  return family_method({"della_linear", "DELLA: magnitude-ranked random pruning per row, added up",
                        Sparsification::DellaMagprune, false, false, true});
}

}  // namespace alloy
