#include "methods/blocks/top_k.h"

#include <algorithm>
#include <cmath>

#include "methods/blocks/top_k_histogram.h"
#include "util/error.h"
#include "util/vectorize.h"

namespace alloy {

namespace top_k_detail {

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

}  // namespace top_k_detail

using namespace top_k_detail;

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

void TopKSelector::adopt_first_pass(const TopKSelector& fed) {
  if (pass_ != Pass::Coarse || fed.pass_ != Pass::Coarse || fed.n_ != n_ || fed.want_sums_ != want_sums_)
    fail("TopKSelector: can only share a first pass over the same elements");
  count_ = fed.count_;
  sum_ = fed.sum_;
  zero_runs_ = fed.zero_runs_;
  disable_window();  // the window would be another k's
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
