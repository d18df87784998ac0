// TopKSelector's window estimator (top_k.h): from the first eighth of a pass, the bucket the k-th
// largest would fall in; past it, only the elements above a window of buckets around that estimate
// are counted and the ones inside it remembered, so that the exact selection (top_k.cpp) needs no
// second pass over the tensor when the estimate holds.
#include <algorithm>
#include <bit>
#include <cstring>

#include "methods/blocks/top_k.h"
#include "methods/blocks/top_k_histogram.h"
#include "util/error.h"
#include "util/vectorize.h"

namespace alloy {

using namespace top_k_detail;

namespace {

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

void TopKSelector::reset_window_counts() {
  above_window_ = zeros_past_window_ = equal_past_window_ = 0;
  std::vector<BucketRun>().swap(bucket_runs_);
  have_value_ = rest_counted_ = false;
}

void TopKSelector::disable_window() {
  window_ = Window::Off;
  std::vector<Near>().swap(near_);
}

void TopKSelector::adopt_sample(const TopKSelector& fed, int64_t from) {
  if (!sampling() || fed.pass_ != Pass::Coarse || fed.sampling() || fed.n_ != n_ || want_sums_ || fed.want_sums_)
    fail("TopKSelector: can only adopt the finished sample of a selection over the same elements");
  count_ = fed.count_;
  zero_runs_ = fed.zero_runs_;
  open_window(from);
}

}  // namespace alloy
