#include "methods/blocks/fused_combine.h"

#include <algorithm>
#include <cstring>

#include "methods/blocks/keep_bits.h"
#include "methods/blocks/sign_consensus.h"
#include "util/lanes.h"
#include "util/vectorize.h"

namespace alloy {

namespace {

// base + change, rounded once; an unchanged element is the base bit for bit (also −0.0). Chosen
// in f64 and rounded after (f32 → f64 → f32 is exact), so a vector loop selects before narrowing.
inline float add_to_base(float base, double change) {
  const double b = static_cast<double>(base);
  return static_cast<float>(change == 0 ? b : b + change);
}

}  // namespace

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

namespace {

// The change a plain sum makes to one element's base (T = double) or to four lanes' (T = F64x4):
// Σ_m w[m]·v[m] from 0 in model order, ÷ divisor · λ unless Plain (both 1: dividing and multiplying
// by 1 are exact, and a division per four elements would dominate the loop).
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
// without storing the arrays and loading them back. For masks that
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
// fused loop the division's latency, at the end of a long chain, stalls it).
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

}  // namespace

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

}  // namespace alloy
