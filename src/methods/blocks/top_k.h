// Exact top-k selection by magnitude over a tensor streamed in passes. Magnitudes are compared as
// f32 bit patterns (for finite non-negative floats the bit order is the value order); equal
// magnitudes are ordered by lower flat index first. Selection is a two-level radix select (a
// histogram of the high 16 bits, then of the low 16 bits inside the one bucket that holds the
// k-th largest), never a sort, so it streams in bounded memory.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace alloy {

// Bits of |v| for a finite float (sign cleared).
inline uint32_t magnitude_bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u & 0x7fffffffu;
}

// The outcome of a selection: element `index` with magnitude bits `m` is among the k largest iff
// m > bits, or m == bits and index < cut.
struct TopKRule {
  uint32_t bits = std::numeric_limits<uint32_t>::max();  // default: keeps nothing
  int64_t cut = 0;
  bool keeps(int64_t index, uint32_t m) const { return m > bits || (m == bits && index < cut); }
  static TopKRule all() { return {0, std::numeric_limits<int64_t>::max()}; }
  static TopKRule none() { return {}; }
};

// Selects the k largest magnitudes of n elements fed in flat order, pass by pass:
//   TopKSelector s(n, k);
//   while (!s.done()) { for each block in order: s.add(first, x, base, count); s.end_pass(); }
// The magnitude of element i is |x[i] - base[i]| (base may be null: |x[i]|), compared as the f32
// difference; sums of the selected magnitudes use the exact double difference. Usually two passes;
// one when the k-th largest is an exact zero (sparse task vectors: the zeros kept are the first
// ones, found by re-reading one block); a third when equal magnitudes straddle the cut and are
// too many to remember in pass two. On a large tensor (without sums) the first pass counts only its
// first eighth into the histogram and estimates the threshold's bucket from it; from then on it
// only counts the elements above a window of buckets around the estimate and remembers the ones
// inside it (or, when the estimated bucket is too crowded to remember, counts its majority value
// block by block and remembers only its other values, or, when the estimate is an exact zero,
// counts only the zeros). When the threshold falls in the window (the rest of the tensor looks
// like its first eighth), pass two reads only that eighth; when it does not, the first pass is
// made again without a window. A pass may need only part of the tensor (pass_range()); a caller
// may skip the blocks outside it, and may stop a pass early once done().
class TopKSelector {
 public:
  TopKSelector(int64_t n, int64_t k, bool want_sums = true);

  bool done() const { return pass_ == Pass::Done; }
  int passes() const { return passes_; }  // passes consumed so far (for tests)
  // Elements [first, second) that the current pass reads; blocks outside it are ignored.
  std::pair<int64_t, int64_t> pass_range() const { return range_; }
  void add(int64_t first, const float* x, const float* base, int64_t count);
  // The same with the magnitude bits of the block already computed (magnitudes_of), so that
  // several selectors over one task vector share them.
  void add(int64_t first, const uint32_t* magnitude, const float* x, const float* base, int64_t count);
  void end_pass();

  // Two selections over the same magnitudes (a band's two cuts) see the same first pass: feed one,
  // then, before either's end_pass(), let the other take its counts instead of being fed.
  bool in_first_pass() const { return pass_ == Pass::Coarse; }
  void adopt_first_pass(const TopKSelector& fed);
  // Whether the first pass may use a threshold window; a selection that does cannot share its
  // first pass with another (adopt_first_pass), since it does not count every element.
  bool windowed() const { return window_ != Window::Off; }
  // Still counting its first eighth into the histogram (a windowed first pass, window not open).
  bool sampling() const { return pass_ == Pass::Coarse && window_ == Window::Pending; }
  // Two windowed selections over the same magnitudes (a band's two cuts) can share that first
  // eighth: feed only `fed` while both are sampling; right after the add() that ends fed's sample
  // (the elements before `from`), let this one take its counts and open its own window there;
  // then feed both.
  void adopt_sample(const TopKSelector& fed, int64_t from);
  // No threshold window (for tests, and for a selection whose first pass is shared).
  void disable_window();

  // Valid once done().
  const TopKRule& rule() const { return rule_; }
  double kept_sum() const { return kept_sum_; }    // Σ |δ| over the kept elements
  double total_sum() const { return total_sum_; }  // Σ |δ| over all elements

  // Remember at most this many elements of the threshold bucket in pass two (16 bytes each).
  static constexpr int64_t kStashLimit = int64_t{1} << 18;
  // The window: tensors from this size, estimated after the first eighth, buckets within this
  // distance of the estimate (fewer when the first eighth predicts too many elements in them), at
  // most this many elements remembered (16 bytes each).
  static constexpr int64_t kWindowFrom = int64_t{1} << 20;
  static constexpr uint32_t kWindowBuckets = 4;
  static constexpr int64_t kWindowLimit = int64_t{1} << 19;

 private:
  enum class Pass { Coarse, Fine, Cut, Done };
  struct Stashed {
    int64_t index;
    uint32_t bits;
    double magnitude;
  };
  struct ZeroRun {  // exact zeros among the elements of one add() call of the coarse pass
    int64_t first, count, zeros;
  };
  struct Near {  // an element whose bucket is near the estimated threshold bucket
    int64_t index;
    uint32_t bits;
  };
  // Pending: counting the first eighth. Open: past it, counting only what is above the window and
  // remembering what is in it. Lost: more elements in the window than the limit; the first pass
  // is made again without a window. Counting: the estimated bucket is too crowded to remember (in
  // bf16 task vectors, mostly one value repeated many times); past the first eighth the
  // elements holding its majority value are counted block by block, and the others remembered.
  // Zero: the first eighth has fewer non-zero elements than its share of k, so the k-th largest is
  // likely an exact zero (sparse task vectors); past it only the zeros are counted, and when the
  // tensor has k or more non-zero elements after all, the first pass is made again without a window.
  enum class Window { Off, Pending, Open, Lost, Counting, Zero };
  struct BucketRun {  // elements holding the Counting window's value in one add() call
    int64_t first, count, equal;
  };
  void open_window(int64_t from);
  void add_past_window(int64_t first, const uint32_t* mag, int64_t count);
  bool past_window_start() const {  // the first pass's rest: not counted into the histogram
    return window_ == Window::Open || window_ == Window::Lost || window_ == Window::Counting ||
           window_ == Window::Zero;
  }
  bool settle_window();  // false: the threshold is outside the window
  // Walking the histogram down from the top: the first bucket at which the count reaches `need`;
  // `above` gets the count of the buckets above it (and sum_above_ their sum).
  size_t bucket_reaching(int64_t need, int64_t& above);
  void reset_window_counts();
  void finish_coarse();
  void finish_fine();
  void start_cut(uint32_t threshold, int64_t need, int64_t begin, int64_t end);
  void finish_cut();

  int64_t n_, k_;
  bool want_sums_;
  Pass pass_ = Pass::Coarse;
  int passes_ = 0;
  std::pair<int64_t, int64_t> range_;
  std::vector<int64_t> count_;  // 65536 buckets, by high (then low) 16 bits, and the zero counters
  std::vector<double> sum_;
  std::vector<ZeroRun> zero_runs_;
  Window window_ = Window::Off;
  int64_t window_from_ = 0;          // elements from here on are not in the histogram
  uint32_t near_low_ = 0, near_high_ = 0;  // the window's buckets, inclusive (near_low_ >= 1)
  int64_t above_window_ = 0;         // elements from window_from_ on in buckets above near_high_
  int64_t zeros_past_window_ = 0;    // exact zeros from window_from_ on
  // Counting window: the value counted (the majority of its bucket in the first block past the
  // first eighth that has any), and its elements from window_from_ on, per add() call and in all.
  std::vector<BucketRun> bucket_runs_;
  int64_t equal_past_window_ = 0;
  uint32_t value_ = 0;
  bool have_value_ = false;
  bool rest_counted_ = false;  // a Counting window settled: pass two reads the first eighth
  std::vector<Near> near_;  // the elements in the window, from window_from_ on
  uint32_t high_ = 0;           // the bucket that holds the k-th largest
  int64_t need_ = 0;            // elements still to take at or below the current candidate
  double sum_above_ = 0;
  bool stashing_ = false;
  std::vector<Stashed> stash_;
  std::vector<Stashed> tail_;  // the threshold bucket's elements from window_from_ on
  uint32_t threshold_ = 0;      // exact bits, once known
  int64_t seen_equal_ = 0;      // cut pass: equal elements met so far
  TopKRule rule_;
  double kept_sum_ = 0, total_sum_ = 0;
  std::vector<uint32_t> scratch_;  // magnitudes for add() without them
  std::vector<uint8_t> flags_;     // past the window's start: which elements of a block are in it
};

// out[i] = magnitude_bits(x[i] - base[i]) (of x[i] when base is null), for i < n. Vectorised.
void magnitudes_of(const float* x, const float* base, int64_t n, uint32_t* out);

}  // namespace alloy
