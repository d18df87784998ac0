#include "methods/top_k.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "util/error.h"
#include "util/vectorize.h"

namespace alloy {

namespace {

constexpr size_t kBuckets = 1 << 16;
constexpr size_t kZeroSlots = 8;  // exact zeros are counted in 8 rotating slots after the buckets

// Counts within a call are summed in 32-bit lanes (64-bit ones halve the vector width and add
// widening steps), a chunk of at most 2^31 elements at a time.
constexpr int64_t kCountChunk = int64_t{1} << 31;

// Runs of equal buckets make each histogram increment wait for the previous one; exact zeros
// (frequent in bf16 task vectors, where small updates round away) go to rotating slots instead.
ALLOY_VECTORIZED int64_t count_zeros(const uint32_t* mag, int64_t n) {
  int64_t zeros = 0;
  for (int64_t c = 0; c < n; c += kCountChunk) {
    const int64_t end = std::min(n, c + kCountChunk);
    uint32_t z = 0;
    for (int64_t i = c; i < end; ++i) z += mag[i] == 0;
    zeros += z;
  }
  return zeros;
}

// Past the first eighth of a windowed pass: the exact zeros, the elements above bucket `high`, and
// a flag for each element in buckets [low, low + span].
ALLOY_VECTORIZED void classify_past_window(const uint32_t* mag, int64_t n, uint32_t low, uint32_t span,
                                           uint8_t* in_window, int64_t& zeros, int64_t& above) {
  const uint32_t high = low + span;
  zeros = above = 0;
  for (int64_t c = 0; c < n; c += kCountChunk) {
    const int64_t end = std::min(n, c + kCountChunk);
    uint32_t z = 0, a = 0;
    for (int64_t i = c; i < end; ++i) {
      const uint32_t bucket = mag[i] >> 16;
      z += mag[i] == 0;
      a += bucket > high;
      in_window[i] = bucket - low <= span;  // unsigned: a bucket below low wraps around
    }
    zeros += z;
    above += a;
  }
}

// The same for a Counting window: the elements equal to `value` are counted, and the other
// elements of its bucket flagged.
ALLOY_VECTORIZED void classify_counting(const uint32_t* mag, int64_t n, uint32_t value, uint8_t* other,
                                        int64_t& zeros, int64_t& above, int64_t& equal) {
  const uint32_t bucket = value >> 16;
  zeros = above = equal = 0;
  for (int64_t c = 0; c < n; c += kCountChunk) {
    const int64_t end = std::min(n, c + kCountChunk);
    uint32_t z = 0, a = 0, e = 0;
    for (int64_t i = c; i < end; ++i) {
      const uint32_t b = mag[i] >> 16;
      z += mag[i] == 0;
      a += b > bucket;
      e += mag[i] == value;
      other[i] = (b == bucket) & (mag[i] != value);
    }
    zeros += z;
    above += a;
    equal += e;
  }
}

}  // namespace

TopKSelector::TopKSelector(int64_t n, int64_t k, bool want_sums)
    : n_(n), k_(std::clamp<int64_t>(k, 0, n)), want_sums_(want_sums), range_{0, n} {
  if (k_ == 0) rule_ = TopKRule::none();
  if (k_ == n_) rule_ = TopKRule::all();
  // Keeping nothing or everything needs no data, unless the caller wants the sums.
  if ((k_ == 0 || k_ == n_) && !want_sums_) {
    pass_ = Pass::Done;
    return;
  }
  count_.assign(kBuckets + kZeroSlots, 0);
  if (want_sums_) sum_.assign(kBuckets + kZeroSlots, 0.0);
  if (!want_sums_ && n_ >= kWindowFrom) window_ = Window::Pending;
}

ALLOY_VECTORIZED void magnitudes_of(const float* x, const float* base, int64_t n, uint32_t* out) {
  if (base) {
    for (int64_t i = 0; i < n; ++i) out[i] = magnitude_bits(x[i] - base[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = magnitude_bits(x[i]);
  }
}

void TopKSelector::add(int64_t first, const float* x, const float* base, int64_t count) {
  if (pass_ == Pass::Done || count <= 0) return;
  scratch_.resize(static_cast<size_t>(count));
  magnitudes_of(x, base, count, scratch_.data());
  add(first, scratch_.data(), x, base, count);
}

void TopKSelector::add(int64_t first, const uint32_t* mag, const float* x, const float* base, int64_t count) {
  if (pass_ == Pass::Done || count <= 0) return;
  // Only the part of the block inside the pass's range.
  const int64_t lo = std::max(first, range_.first), hi = std::min(first + count, range_.second);
  if (lo >= hi) return;
  mag += lo - first;
  x += lo - first;
  if (base) base += lo - first;
  first = lo;
  count = hi - lo;
  auto exact = [&](int64_t i) {
    return std::fabs(base ? static_cast<double>(x[i]) - static_cast<double>(base[i]) : static_cast<double>(x[i]));
  };
  // Members copied into locals: the compiler cannot keep them in registers across the stores into
  // the histograms otherwise.
  int64_t* count_of = count_.data();
  double* sum_of = sum_.data();
  switch (pass_) {
    case Pass::Coarse: {
      if (past_window_start()) {
        add_past_window(first, mag, count);
        break;
      }
      zero_runs_.push_back({first, count, count_zeros(mag, count)});
      auto slot = [&](int64_t i) {
        return mag[i] != 0 ? mag[i] >> 16 : static_cast<uint32_t>(kBuckets + (i & (kZeroSlots - 1)));
      };
      if (want_sums_) {
        for (int64_t i = 0; i < count; ++i) {
          const uint32_t h = slot(i);
          ++count_of[h];
          sum_of[h] += exact(i);  // 0 for a zero: the f32 difference is 0 only when x == base
        }
      } else {
        for (int64_t i = 0; i < count; ++i) ++count_of[slot(i)];
      }
      if (window_ == Window::Pending && first + count >= n_ / 8) open_window(first + count);
      break;
    }
    case Pass::Fine: {
      const uint32_t high = high_;
      const bool sums = want_sums_, stash = stashing_;
      for (int64_t i = 0; i < count; ++i) {
        const uint32_t u = mag[i];
        if ((u >> 16) != high) continue;  // rare: one bucket of 65536
        const uint32_t low = u & 0xffffu;
        ++count_of[low];
        const double m = sums || stash ? exact(i) : 0.0;
        if (sums) sum_of[low] += m;
        if (stash) stash_.push_back({first + i, u, m});
      }
      break;
    }
    case Pass::Cut: {
      const uint32_t threshold = threshold_;
      for (int64_t i = 0; i < count; ++i) {
        if (mag[i] != threshold) continue;
        if (want_sums_) kept_sum_ += exact(i);
        if (++seen_equal_ == need_) {
          rule_ = {threshold, first + i + 1};
          ++passes_;  // the pass ends here, before end_pass()
          finish_cut();
          return;
        }
      }
      break;
    }
    case Pass::Done:
      break;
  }
}

// From the counts of the elements seen so far (first `from` of n), the bucket the k-th largest
// would fall in if the rest looked the same. From here on only the elements above a window of
// buckets around it are counted, and the ones inside it remembered; the window is narrowed until
// the first eighth predicts at most half the limit in it. When even the one estimated bucket would
// hold more, its elements are only counted (Window::Counting).
void TopKSelector::open_window(int64_t from) {
  window_ = Window::Off;
  const double want = static_cast<double>(k_) * static_cast<double>(from) / static_cast<double>(n_);
  const double rest = static_cast<double>(n_ - from) / static_cast<double>(from);
  double above = 0;
  for (size_t h = kBuckets; h-- > 1;) {
    above += static_cast<double>(count_[h]);
    if (above < want) continue;
    const uint32_t estimate = static_cast<uint32_t>(h);
    for (uint32_t reach = kWindowBuckets + 1; reach-- > 0;) {
      const uint32_t low = estimate > reach ? estimate - reach : 1;
      const uint32_t high = std::min<uint32_t>(estimate + reach, kBuckets - 1);
      int64_t inside = 0;
      for (uint32_t b = low; b <= high; ++b) inside += count_[b];
      const double expected = static_cast<double>(inside) * rest;
      if (expected > static_cast<double>(kWindowLimit / 2)) continue;
      // Room for what the first eighth predicts, and some: growing it would copy it and touch
      // fresh pages (costly on a VM).
      near_.clear();
      near_.reserve(static_cast<size_t>(expected * 1.25) + 4096);
      near_low_ = low;
      near_high_ = high;
      window_from_ = from;
      window_ = Window::Open;
      return;
    }
    near_low_ = near_high_ = estimate;
    window_from_ = from;
    window_ = Window::Counting;
    return;
  }
  // Fewer non-zero elements than wanted: the k-th largest is likely an exact zero (a sparse task
  // vector). The rest of the pass counts only the zeros (for the cut among them).
  window_from_ = from;
  window_ = Window::Zero;
}

void TopKSelector::add_past_window(int64_t first, const uint32_t* mag, int64_t count) {
  if (window_ == Window::Zero) {
    const int64_t zeros = count_zeros(mag, count);
    zero_runs_.push_back({first, count, zeros});
    zeros_past_window_ += zeros;
    return;
  }
  int64_t zeros = 0, above = 0, equal = 0;
  flags_.resize(static_cast<size_t>(count) + 8);
  uint8_t* in = flags_.data();
  if (window_ == Window::Counting && !have_value_) {
    // The value to count: the majority (Boyer-Moore vote) of the bucket's elements in this block.
    int64_t votes = 0;
    for (int64_t i = 0; i < count; ++i) {
      if ((mag[i] >> 16) != near_low_) continue;
      if (votes == 0) value_ = mag[i];
      votes += mag[i] == value_ ? 1 : -1;
      have_value_ = true;
    }
  }
  if (window_ == Window::Counting && have_value_)
    classify_counting(mag, count, value_, in, zeros, above, equal);
  else
    classify_past_window(mag, count, near_low_, near_high_ - near_low_, in, zeros, above);
  zero_runs_.push_back({first, count, zeros});
  zeros_past_window_ += zeros;
  above_window_ += above;
  if (window_ == Window::Lost) return;
  if (window_ == Window::Counting) {
    equal_past_window_ += equal;
    bucket_runs_.push_back({first, count, equal});
  }
  // A few elements in a hundred are flagged (in the window, or in a Counting window's bucket with
  // another value): the flags are read eight at a time, and only the set ones looked at.
  std::memset(in + count, 0, 8);
  for (int64_t g = 0; g < count; g += 8) {
    uint64_t word;
    std::memcpy(&word, in + g, sizeof word);
    while (word != 0) {
      const int64_t i = g + std::countr_zero(word) / 8;
      near_.push_back({first + i, mag[i]});
      word &= word - 1;
    }
  }
  if (static_cast<int64_t>(near_.size()) > kWindowLimit) {  // the first eighth misled: give up the window
    std::vector<Near>().swap(near_);
    window_ = Window::Lost;
  }
}

// The histogram of the window's buckets completed with the remembered elements, the bucket of the
// k-th largest found when it lies in the window (high_, need_).
bool TopKSelector::settle_window() {
  if (window_ != Window::Open && window_ != Window::Counting) return false;
  count_[near_low_] += equal_past_window_;  // (zero unless Counting)
  for (const Near& e : near_) ++count_[e.bits >> 16];
  int64_t above = above_window_;
  for (size_t h = near_high_ + 1; h < kBuckets; ++h) above += count_[h];
  for (uint32_t h = near_high_ + 1; h-- > near_low_;) {
    if (above >= k_) return false;
    if (above + count_[h] >= k_) {
      high_ = h;
      need_ = k_ - above;
      return true;
    }
    above += count_[h];
  }
  return false;
}

size_t TopKSelector::bucket_reaching(int64_t need, int64_t& above) {
  above = 0;
  size_t h = kBuckets;
  while (h-- > 0) {
    if (above + count_[h] >= need) break;
    above += count_[h];
    if (want_sums_) sum_above_ += sum_[h];
  }
  return h;
}

void TopKSelector::reset_window_counts() {
  above_window_ = zeros_past_window_ = equal_past_window_ = 0;
  std::vector<BucketRun>().swap(bucket_runs_);
  have_value_ = rest_counted_ = false;
}

void TopKSelector::disable_window() {
  window_ = Window::Off;
  std::vector<Near>().swap(near_);
}

void TopKSelector::adopt_first_pass(const TopKSelector& fed) {
  if (pass_ != Pass::Coarse || fed.pass_ != Pass::Coarse || fed.n_ != n_ || fed.want_sums_ != want_sums_)
    fail("TopKSelector: can only share a first pass over the same elements");
  count_ = fed.count_;
  sum_ = fed.sum_;
  zero_runs_ = fed.zero_runs_;
  disable_window();  // the window would be another k's
}

void TopKSelector::adopt_sample(const TopKSelector& fed, int64_t from) {
  if (!sampling() || fed.pass_ != Pass::Coarse || fed.sampling() || fed.n_ != n_ || want_sums_ || fed.want_sums_)
    fail("TopKSelector: can only adopt the finished sample of a selection over the same elements");
  count_ = fed.count_;
  zero_runs_ = fed.zero_runs_;
  open_window(from);
}

void TopKSelector::end_pass() {
  if (pass_ == Pass::Done) return;
  ++passes_;
  switch (pass_) {
    case Pass::Coarse: finish_coarse(); break;
    case Pass::Fine: finish_fine(); break;
    case Pass::Cut: finish_cut(); break;  // not reached for a valid cut: add() finishes it
    case Pass::Done: break;
  }
}

void TopKSelector::start_cut(uint32_t threshold, int64_t need, int64_t begin, int64_t end) {
  threshold_ = threshold;
  need_ = need;
  seen_equal_ = 0;
  range_ = {begin, end};
  pass_ = Pass::Cut;
}

void TopKSelector::finish_cut() {
  kept_sum_ += sum_above_;
  pass_ = Pass::Done;
  range_ = {0, 0};
  std::vector<int64_t>().swap(count_);
  std::vector<double>().swap(sum_);
  std::vector<ZeroRun>().swap(zero_runs_);
}

void TopKSelector::finish_coarse() {
  struct CloseWindow {  // whichever way this pass ends, the window's elements are not needed after
    TopKSelector* s;
    ~CloseWindow() { s->disable_window(); }
  } close_window{this};
  const bool windowed = past_window_start();
  const bool counting = window_ == Window::Counting;
  int64_t zeros = windowed ? zeros_past_window_ : 0;
  for (size_t z = 0; z < kZeroSlots; ++z) zeros += count_[kBuckets + z];
  count_[0] += zeros;
  if (want_sums_)
    for (size_t h = 0; h < kBuckets; ++h) total_sum_ += sum_[h];
  if (k_ == 0 || k_ == n_) {
    kept_sum_ = k_ == 0 ? 0.0 : total_sum_;
    pass_ = Pass::Done;
    return;
  }
  const int64_t nonzero = n_ - zeros;
  if (k_ > nonzero) {
    // The k-th largest is an exact zero: keep every non-zero element (their sum is the total) and
    // the first k - nonzero zeros, whose last one lies in a block the zero runs point to.
    sum_above_ = want_sums_ ? total_sum_ : 0.0;
    int64_t need = k_ - nonzero;
    for (const ZeroRun& run : zero_runs_) {
      if (need <= run.zeros) {
        start_cut(0, need, run.first, run.first + run.count);
        return;
      }
      need -= run.zeros;
    }
    start_cut(0, need, 0, n_);  // the caller fed fewer zeros than it counted: read everything
    return;
  }
  std::vector<ZeroRun>().swap(zero_runs_);
  if (windowed && !settle_window()) {
    // The threshold is outside the window: count the whole tensor again, without one.
    std::fill(count_.begin(), count_.end(), 0);
    window_ = Window::Off;
    reset_window_counts();
    return;
  }
  if (!windowed) {
    int64_t above = 0;
    high_ = static_cast<uint32_t>(bucket_reaching(k_, above));
    need_ = k_ - above;
  }
  const size_t h = high_;
  if (need_ == count_[h]) {
    // The whole bucket is kept (h >= 1 here, else k == n): keep every magnitude >= h << 16.
    rule_ = {(high_ << 16) - 1, 0};
    kept_sum_ = sum_above_ + (want_sums_ ? sum_[h] : 0.0);
    pass_ = Pass::Done;
    return;
  }
  // A Counting window: past the first eighth its value's count is known and the bucket's other
  // elements remembered; pass two reads the first eighth, and the cut is found from the counts
  // (the crowded first eighth is not stashed).
  rest_counted_ = counting;
  stashing_ = !counting && count_[h] <= kStashLimit;
  // Room for all that will be remembered (growing copies it): the first eighth's elements of the
  // bucket, found by pass two, and the window's, kept from pass one.
  size_t in_tail = 0;
  if (windowed)
    for (const Near& e : near_) in_tail += (e.bits >> 16) == high_;
  if (stashing_) stash_.reserve(static_cast<size_t>(count_[h]) + in_tail);
  if (stashing_ || counting) tail_.reserve(in_tail);
  std::fill(count_.begin(), count_.end(), 0);
  if (want_sums_) std::fill(sum_.begin(), sum_.end(), 0.0);
  pass_ = Pass::Fine;
  if (windowed) {
    // The elements of bucket h from window_from_ on are known: count them now, keep them for the
    // cut after the ones pass two finds before window_from_ (flat order), and read only those.
    if (counting) count_[value_ & 0xffffu] += equal_past_window_;
    for (const Near& e : near_)
      if ((e.bits >> 16) == high_) {
        ++count_[e.bits & 0xffffu];
        if (stashing_ || counting) tail_.push_back({e.index, e.bits, 0.0});
      }
    range_ = {0, window_from_};
  }
}

void TopKSelector::finish_fine() {
  stash_.insert(stash_.end(), tail_.begin(), tail_.end());  // indices past every stashed one
  std::vector<Stashed>().swap(tail_);
  range_ = {0, n_};
  int64_t above = 0;
  const size_t low = bucket_reaching(need_, above);
  const uint32_t threshold = (high_ << 16) | static_cast<uint32_t>(low);
  const int64_t need = need_ - above;
  if (need == count_[low]) {
    rule_ = {threshold, std::numeric_limits<int64_t>::max()};
    kept_sum_ = sum_above_ + (want_sums_ ? sum_[low] : 0.0);
    pass_ = Pass::Done;
  } else if (stashing_) {
    // The stash holds the bucket's elements in flat order: take the first `need` equal ones.
    int64_t taken = 0;
    double s = 0;
    for (const Stashed& e : stash_) {
      if (e.bits != threshold) continue;
      s += e.magnitude;
      if (++taken == need) {
        rule_ = {threshold, e.index + 1};
        break;
      }
    }
    kept_sum_ = sum_above_ + s;
    pass_ = Pass::Done;
  } else if (rest_counted_) {
    // The equal elements past the first eighth are the counted value's (in blocks) or among the
    // remembered others (the stash holds those, in flat order); the cut is in the first eighth
    // (a cut pass over it), in the one block the counts point to, or at a remembered element.
    const bool counted = threshold == value_;
    int64_t past = counted ? equal_past_window_ : 0;
    if (!counted)
      for (const Stashed& e : stash_) past += e.bits == threshold;
    int64_t left = need - (count_[low] - past);
    if (left <= 0) {
      start_cut(threshold, need, 0, window_from_);
    } else if (counted) {
      auto run = bucket_runs_.begin();
      while (run != bucket_runs_.end() && left > run->equal) left -= run++->equal;
      if (run != bucket_runs_.end())
        start_cut(threshold, left, run->first, run->first + run->count);
      else
        start_cut(threshold, need, 0, n_);  // not reached: the runs hold past >= left equal elements
    } else {
      auto e = stash_.begin();
      while (e != stash_.end() && !(e->bits == threshold && --left == 0)) ++e;
      if (e != stash_.end()) {
        rule_ = {threshold, e->index + 1};
        finish_cut();
      } else {
        start_cut(threshold, need, 0, n_);  // not reached, as above
      }
    }
    reset_window_counts();
  } else {
    start_cut(threshold, need, 0, n_);
  }
  std::vector<Stashed>().swap(stash_);
  if (pass_ == Pass::Done) {
    std::vector<int64_t>().swap(count_);
    std::vector<double>().swap(sum_);
  }
}

}  // namespace alloy
