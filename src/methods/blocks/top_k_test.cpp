#include "methods/blocks/top_k.h"

#include "util/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

struct Reference {
  std::vector<bool> kept;
  double sum = 0, total = 0;
};

// Sort-based reference: order by (|x - b| as f32 descending, index ascending), keep the first k.
Reference sort_top_k(const std::vector<float>& x, const std::vector<float>* base, int64_t k) {
  const size_t n = x.size();
  std::vector<uint32_t> key(n);
  std::vector<double> exact(n);
  for (size_t i = 0; i < n; ++i) {
    float d = base ? x[i] - (*base)[i] : x[i];
    key[i] = magnitude_bits(d);
    exact[i] = std::fabs(base ? double(x[i]) - double((*base)[i]) : double(x[i]));
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] != key[b] ? key[a] > key[b] : a < b; });
  Reference r;
  r.kept.assign(n, false);
  for (size_t i = 0; i < n; ++i) r.total += exact[i];
  for (int64_t j = 0; j < k && j < static_cast<int64_t>(n); ++j) {
    r.kept[order[j]] = true;
    r.sum += exact[order[j]];
  }
  return r;
}

TopKSelector select(const std::vector<float>& x, const std::vector<float>* base, int64_t k, int64_t block,
                    bool sums = true) {
  const int64_t n = static_cast<int64_t>(x.size());
  TopKSelector s(n, k, sums);
  while (!s.done()) {
    for (int64_t at = 0; at < n; at += block)
      s.add(at, x.data() + at, base ? base->data() + at : nullptr, std::min(block, n - at));
    s.end_pass();
  }
  return s;
}

void expect_matches(const std::vector<float>& x, const std::vector<float>* base, int64_t k, int64_t block,
                    const std::string& what) {
  SCOPED_TRACE(what + " k=" + std::to_string(k) + " block=" + std::to_string(block));
  Reference ref = sort_top_k(x, base, k);
  TopKSelector s = select(x, base, k, block);
  int64_t kept = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    float d = base ? x[i] - (*base)[i] : x[i];
    bool got = s.rule().keeps(static_cast<int64_t>(i), magnitude_bits(d));
    ASSERT_EQ(got, ref.kept[i]) << "element " << i;
    kept += got;
  }
  EXPECT_EQ(kept, std::clamp<int64_t>(k, 0, static_cast<int64_t>(x.size())));
  EXPECT_NEAR(s.kept_sum(), ref.sum, 1e-12 * std::max(1.0, ref.total));
  EXPECT_NEAR(s.total_sum(), ref.total, 1e-12 * std::max(1.0, ref.total));
  EXPECT_LE(s.passes(), 2);  // small tensors never need the third pass
}

std::vector<float> random_values(size_t n, uint32_t seed, int distinct) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, std::max(distinct - 1, 0));
  std::vector<float> v(n);
  for (auto& x : v) x = distinct > 0 ? static_cast<float>(pick(gen) - distinct / 2) * 0.25f : normal(gen);
  return v;
}

TEST(TopK, MatchesSortOnRandomData) {
  for (size_t n : {1u, 2u, 5u, 13u, 100u, 1000u, 4099u}) {
    auto x = random_values(n, static_cast<uint32_t>(n), 0);
    for (int64_t k : {int64_t{0}, int64_t{1}, static_cast<int64_t>(n / 3), static_cast<int64_t>(n) - 1,
                      static_cast<int64_t>(n)})
      for (int64_t block : {int64_t{1}, int64_t{7}, static_cast<int64_t>(n)}) expect_matches(x, nullptr, k, block, "normal");
  }
}

TEST(TopK, HeavyTiesLowerIndexWins) {
  const size_t n = 3000;
  std::vector<float> zeros(n, 0.0f), equal(n, 0.5f), dup = random_values(n, 1, 7), signs(n);
  for (size_t i = 0; i < n; ++i) signs[i] = (i % 3 == 0) ? -1.0f : 1.0f;  // equal magnitudes, mixed signs
  for (int64_t k : {1, 2, 999, 1500, 2999})
    for (int64_t block : {1, 64, 3000}) {
      expect_matches(zeros, nullptr, k, block, "zeros");
      expect_matches(equal, nullptr, k, block, "equal");
      expect_matches(dup, nullptr, k, block, "duplicates");
      expect_matches(signs, nullptr, k, block, "signs");
    }
  // With all magnitudes equal, exactly the first k indices are kept.
  TopKSelector s = select(equal, nullptr, 10, 100);
  EXPECT_TRUE(s.rule().keeps(9, magnitude_bits(0.5f)));
  EXPECT_FALSE(s.rule().keeps(10, magnitude_bits(0.5f)));
}

TEST(TopK, DifferenceWithBase) {
  const size_t n = 2000;
  auto x = random_values(n, 11, 0), b = random_values(n, 12, 0);
  for (size_t i = 0; i < n; i += 5) x[i] = b[i];  // zero task-vector entries
  for (int64_t k : {1, 500, 1600, 1999}) expect_matches(x, &b, k, 333, "with base");
}

TEST(TopK, ThresholdBucketSplitAcrossSubnormalsAndLargeValues) {
  std::vector<float> x = {1e-45f, -1e-45f, 3e38f, -3e38f, 1.0f, 1.0000001f, 0.0f, -0.0f, 2e-38f, 2e-38f};
  for (int64_t k = 0; k <= static_cast<int64_t>(x.size()); ++k) expect_matches(x, nullptr, k, 3, "extremes");
}

TEST(TopK, ThirdPassWhenTiesOverflowTheStash) {
  // More equal magnitudes in the threshold bucket than pass two remembers: pass three finds the cut.
  const int64_t n = TopKSelector::kStashLimit + 5000;
  std::vector<float> x(static_cast<size_t>(n), 0.25f);
  for (int64_t i = 0; i < n; i += 97) x[static_cast<size_t>(i)] = 3.0f;
  for (int64_t i = 5; i < n; i += 101) x[static_cast<size_t>(i)] = 0.2500001f;  // same high bits as 0.25
  const int64_t k = n / 2;
  Reference ref = sort_top_k(x, nullptr, k);
  TopKSelector s = select(x, nullptr, k, 4096);
  EXPECT_EQ(s.passes(), 3);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(s.rule().keeps(i, magnitude_bits(x[static_cast<size_t>(i)])), ref.kept[static_cast<size_t>(i)]) << i;
  EXPECT_NEAR(s.kept_sum(), ref.sum, 1e-12 * ref.total);
}

// Sparse task vectors: when the k-th largest is an exact zero, the first pass settles everything
// but which zeros are kept, and the cut pass needs only the block holding the last kept zero. A
// caller that skips the blocks outside pass_range() gets the same rule.
TEST(TopK, ZeroThresholdReadsOneBlockAgain) {
  const int64_t n = 50000, block = 1000;
  std::vector<float> x(static_cast<size_t>(n), 0.0f);
  int64_t nonzero = 0;
  for (int64_t i = 0; i < n; i += 7, ++nonzero) x[static_cast<size_t>(i)] = (i % 3 ? 1.0f : -1.0f) * (1 + i % 11);
  x[3] = -0.0f;  // a negative zero is a zero too
  for (int64_t k : {nonzero + 1, nonzero + 12345, n - 1}) {
    SCOPED_TRACE(k);
    Reference ref = sort_top_k(x, nullptr, k);
    TopKSelector s(n, k, true);
    int64_t blocks_read = 0;
    while (!s.done()) {
      const auto [a, b] = s.pass_range();
      for (int64_t at = 0; at < n && !s.done(); at += block) {
        const int64_t len = std::min(block, n - at);
        if (at + len <= a || at >= b) continue;
        ++blocks_read;
        s.add(at, x.data() + at, nullptr, len);
      }
      s.end_pass();
    }
    EXPECT_EQ(s.passes(), 2);
    EXPECT_EQ(blocks_read, n / block + 1);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(s.rule().keeps(i, magnitude_bits(x[static_cast<size_t>(i)])), ref.kept[static_cast<size_t>(i)]) << i;
    EXPECT_NEAR(s.kept_sum(), ref.sum, 1e-9);
    EXPECT_NEAR(s.total_sum(), ref.total, 1e-9);
  }
  // With a base: zeros are the entries equal to the base.
  std::vector<float> base(static_cast<size_t>(n), 0.5f), y = x;
  for (auto& v : y) v += 0.5f;
  for (int64_t k : {nonzero - 1, nonzero, nonzero + 1, n}) expect_matches(y, &base, k, 777, "sparse with base");
}

// A band's lower cut takes the upper cut's first pass instead of counting it again: same rules and
// sums as a selector fed every pass itself.
TEST(TopK, SharedFirstPassGivesTheSameSelection) {
  const int64_t n = 30000, block = 1000;
  auto x = random_values(static_cast<size_t>(n), 5, 0), b = random_values(static_cast<size_t>(n), 6, 0);
  for (int64_t i = 0; i < n; i += 3) x[static_cast<size_t>(i)] = b[static_cast<size_t>(i)];  // zeros
  for (bool sums : {false, true})
    for (int64_t k_low : {int64_t{1}, int64_t{300}, n / 2 + 17}) {
      TopKSelector upper(n, n / 2 + 5000, sums), lower(n, k_low, sums);
      while (!upper.done() || !lower.done()) {
        const bool share = upper.in_first_pass() && lower.in_first_pass();
        for (int64_t at = 0; at < n; at += block) {
          const int64_t len = std::min(block, n - at);
          upper.add(at, x.data() + at, b.data() + at, len);
          if (!share) lower.add(at, x.data() + at, b.data() + at, len);
        }
        if (share) lower.adopt_first_pass(upper);
        upper.end_pass();
        lower.end_pass();
      }
      TopKSelector alone = select(x, &b, k_low, block, sums);
      EXPECT_EQ(lower.rule().bits, alone.rule().bits);
      EXPECT_EQ(lower.rule().cut, alone.rule().cut);
      EXPECT_EQ(lower.kept_sum(), alone.kept_sum());
      EXPECT_EQ(lower.total_sum(), alone.total_sum());
    }
  TopKSelector a(10, 3), c(11, 3);
  EXPECT_THROW(c.adopt_first_pass(a), Error);
}

// The finished selection `s` over v (no base) keeps exactly the k elements a sort would.
void expect_rule_matches_sort(const TopKSelector& s, const std::vector<float>& v, int64_t k) {
  Reference ref = sort_top_k(v, nullptr, k);
  int64_t kept = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const bool got = s.rule().keeps(static_cast<int64_t>(i), magnitude_bits(v[i]));
    ASSERT_EQ(got, ref.kept[i]) << i;
    kept += got;
  }
  EXPECT_EQ(kept, k);
}

// A large tensor: the first pass estimates the threshold bucket from its first eighth, then counts
// only the elements above a window around it and remembers those inside, so pass two reads only
// the first eighth. When the rest of the tensor looks different (the estimate misses), the first
// pass is made again without a window; the selection is exact either way.
TEST(TopK, LargeTensorSecondPassReadsTheFirstEighthWhenTheEstimateHolds) {
  const int64_t n = TopKSelector::kWindowFrom + 12345, block = 4096;
  auto x = random_values(static_cast<size_t>(n), 77, 0);
  std::vector<float> shifted = x;  // the first eighth ten times smaller: the estimate misses
  for (int64_t i = 0; i < n / 8 + block; ++i) shifted[static_cast<size_t>(i)] *= 0.1f;
  for (int which = 0; which < 2; ++which) {
    const std::vector<float>& v = which == 0 ? x : shifted;
    for (int64_t k : {n / 2, n / 10, n - 3}) {
      SCOPED_TRACE(std::to_string(which) + " k=" + std::to_string(k));
      TopKSelector s(n, k, false);
      int64_t second_pass_end = -1;
      while (!s.done()) {
        if (s.passes() == 1) second_pass_end = s.pass_range().second;
        for (int64_t at = 0; at < n; at += block) s.add(at, v.data() + at, nullptr, std::min(block, n - at));
        s.end_pass();
      }
      if (k != n - 3) {  // near the bottom the threshold bucket may be kept whole after one pass
        if (which == 0) {
          EXPECT_EQ(s.passes(), 2);
          EXPECT_GT(second_pass_end, 0);
          EXPECT_LE(second_pass_end, n / 8 + block);
        } else {
          EXPECT_EQ(s.passes(), 3);  // the first pass again, then the fine one
          EXPECT_EQ(second_pass_end, n);
        }
      }
      expect_rule_matches_sort(s, v, k);
    }
  }
}

// A sparse task vector (70% exact zeros) with k above its non-zero count: the first eighth says the
// k-th largest is a zero, so the rest of the first pass counts only zeros, and the cut pass reads
// the one block holding the last zero kept. When the rest of the tensor is dense after all (the
// first eighth misled), the first pass is made again without a window. Exact either way.
TEST(TopK, SparseTaskVectorCountsOnlyZerosPastTheFirstEighth) {
  const int64_t n = TopKSelector::kWindowFrom * 2 + 333, block = 4096;
  auto sparse = random_values(static_cast<size_t>(n), 123, 0);
  for (int64_t i = 0; i < n; ++i)
    if (i % 10 < 7) sparse[static_cast<size_t>(i)] = i % 20 == 3 ? -0.0f : 0.0f;
  std::vector<float> misled = random_values(static_cast<size_t>(n), 124, 0);  // dense past the first eighth
  for (int64_t i = 0; i < n / 8; ++i)
    if (i % 10 < 7) misled[static_cast<size_t>(i)] = 0.0f;
  int misled_cases = 0;
  for (int which = 0; which < 2; ++which) {
    const std::vector<float>& v = which == 0 ? sparse : misled;
    for (int64_t k : {n / 2, n - 5, int64_t{3} * n / 10 + 1000}) {
      SCOPED_TRACE(std::to_string(which) + " k=" + std::to_string(k));
      TopKSelector s(n, k, false);
      ASSERT_TRUE(s.windowed());
      std::vector<std::pair<int64_t, int64_t>> ranges;
      while (!s.done()) {
        ranges.push_back(s.pass_range());
        for (int64_t at = 0; at < n; at += block) s.add(at, v.data() + at, nullptr, std::min(block, n - at));
        s.end_pass();
      }
      const int64_t nonzero = std::count_if(v.begin(), v.end(), [](float e) { return e != 0; });
      if (k > nonzero) {
        ASSERT_EQ(ranges.size(), 2u);  // the first pass, then the cut among the zeros
        EXPECT_LE(ranges[1].second - ranges[1].first, block);
      } else {
        ASSERT_EQ(which, 1);
        ++misled_cases;
        ASSERT_GE(ranges.size(), 3u);  // the windowed first pass, the first pass again, ...
        EXPECT_EQ(ranges[1], std::make_pair(int64_t{0}, n));
      }
      expect_rule_matches_sort(s, v, k);
    }
  }
  EXPECT_EQ(misled_cases, 2);  // n/2 and 3n/10 + 1000: below the misled vector's non-zero count
}

// The first eighth spread out, the rest all within 3% of its median: more elements in the window
// than it may remember. The window is given up and the first pass made again; still exact.
TEST(TopK, WindowOverflowFallsBackToAFullFirstPass) {
  const int64_t n = TopKSelector::kWindowFrom * 2, block = 8192, k = n / 2 + 11;
  auto x = random_values(static_cast<size_t>(n), 91, 0);
  std::vector<float> sorted(x.begin(), x.begin() + n / 8);
  for (auto& v : sorted) v = std::fabs(v);
  std::sort(sorted.begin(), sorted.end());
  const float median = sorted[sorted.size() / 2];
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> near(0.97f, 1.03f);
  for (int64_t i = n / 8 + block; i < n; ++i) x[static_cast<size_t>(i)] = median * near(rng);
  TopKSelector s(n, k, false);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  while (!s.done()) {
    ranges.push_back(s.pass_range());
    for (int64_t at = 0; at < n; at += block) s.add(at, x.data() + at, nullptr, std::min(block, n - at));
    s.end_pass();
  }
  ASSERT_EQ(ranges.size(), 3u);  // the windowed first pass, the first pass again, the fine pass
  EXPECT_EQ(ranges[1], std::make_pair(int64_t{0}, n));
  EXPECT_EQ(ranges[2], std::make_pair(int64_t{0}, n));  // no window: the fine pass reads everything
  Reference ref = sort_top_k(x, nullptr, k);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(s.rule().keeps(i, magnitude_bits(x[static_cast<size_t>(i)])), ref.kept[static_cast<size_t>(i)]) << i;
}

// 40% of the elements hold one magnitude (as a bf16 task vector's smallest steps do): the
// estimated bucket is too crowded to remember, so past the first eighth the elements holding its
// majority value are counted per block and its other elements remembered. Pass two reads the first
// eighth; the cut pass reads the first eighth or one block, or is not needed when the cut falls on
// a remembered element.
TEST(TopK, BandCutsShareTheFirstEighth) {
  // A band's lower cut takes the upper cut's first-eighth counts (adopt_sample) and then watches its
  // own window: both cuts must be those of a sort, as when each counts its own first eighth.
  const int64_t n = TopKSelector::kWindowFrom + 777, block = 16384;
  std::vector<float> x = random_values(static_cast<size_t>(n), 23, 0);
  for (size_t i = 0; i < x.size(); i += 5) x[i] = 0.0f;  // exact zeros, counted apart
  for (auto [k_upper, k_lower] : {std::pair<int64_t, int64_t>{n * 9 / 10, n / 100}, {n / 2, n / 3}, {n - 5, 3}}) {
    SCOPED_TRACE("k=" + std::to_string(k_upper) + "," + std::to_string(k_lower));
    TopKSelector upper(n, k_upper, false), lower(n, k_lower, false);
    ASSERT_TRUE(upper.sampling() && lower.sampling());
    bool adopted = false;
    while (!upper.done() || !lower.done()) {
      for (int64_t at = 0; at < n; at += block) {
        const int64_t len = std::min(block, n - at);
        const bool waits = lower.sampling() && upper.sampling();
        upper.add(at, x.data() + at, nullptr, len);
        if (!waits) lower.add(at, x.data() + at, nullptr, len);
        if (waits && !upper.sampling()) {
          lower.adopt_sample(upper, at + len);
          adopted = true;
        }
      }
      upper.end_pass();
      lower.end_pass();
    }
    EXPECT_TRUE(adopted);
    const Reference up = sort_top_k(x, nullptr, k_upper), low = sort_top_k(x, nullptr, k_lower);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(upper.rule().keeps(static_cast<int64_t>(i), magnitude_bits(x[i])), up.kept[i]) << "upper, element " << i;
      ASSERT_EQ(lower.rule().keeps(static_cast<int64_t>(i), magnitude_bits(x[i])), low.kept[i]) << "lower, element " << i;
    }
  }
}

TEST(TopK, CrowdedThresholdBucketIsCountedPerBlock) {
  const int64_t n = TopKSelector::kWindowFrom * 2, block = 8192, eighth = n / 8 + block;
  auto x = random_values(static_cast<size_t>(n), 17, 0);
  const float v = 0.6745f, v_up = std::nextafter(v, 1.0f);  // about the median of |N(0, 1)|; same bucket
  std::mt19937 rng(3);
  for (auto& e : x)
    if (rng() % 10 < 4) e = rng() % 2 ? v : -v;
  std::vector<float> mixed = x;  // past the first eighth, one v in five a step larger
  for (int64_t i = eighth; i < n; ++i)
    if (float& e = mixed[static_cast<size_t>(i)]; std::fabs(e) == v && rng() % 5 == 0) e = std::copysign(v_up, e);
  auto count = [](const std::vector<float>& values, auto&& pred) {
    return static_cast<int64_t>(std::count_if(values.begin(), values.end(), [&](float e) { return pred(std::fabs(e)); }));
  };
  const int64_t above = count(x, [&](float m) { return m > v; }), equal = count(x, [&](float m) { return m == v; });
  const int64_t above_up = count(mixed, [&](float m) { return m > v_up; });
  const int64_t equal_up = count(mixed, [&](float m) { return m == v_up; });
  const int64_t equal_mixed = count(mixed, [&](float m) { return m == v; });
  enum Cut { InFirstEighth, InOneBlock, Remembered };
  struct Case {
    const std::vector<float>* values;
    int64_t k;
    Cut cut;
  };
  const Case cases[] = {{&x, above + 10, InFirstEighth},
                        {&x, above + equal / 2, InOneBlock},
                        {&x, above + equal - 3, InOneBlock},
                        {&mixed, above_up + equal_up / 2, Remembered},
                        {&mixed, above_up + equal_up + equal_mixed / 2, InOneBlock}};
  for (const Case& c : cases) {
    SCOPED_TRACE("k=" + std::to_string(c.k) + (c.values == &mixed ? " mixed" : ""));
    TopKSelector s(n, c.k, false);
    std::vector<std::pair<int64_t, int64_t>> ranges;
    while (!s.done()) {
      ranges.push_back(s.pass_range());
      for (int64_t at = 0; at < n; at += block)
        s.add(at, c.values->data() + at, nullptr, std::min(block, n - at));
      s.end_pass();
    }
    ASSERT_EQ(ranges.size(), c.cut == Remembered ? 2u : 3u);
    EXPECT_EQ(ranges[1].first, 0);
    EXPECT_LE(ranges[1].second, eighth);
    if (c.cut == InFirstEighth) {
      EXPECT_LE(ranges[2].second, eighth);
    } else if (c.cut == InOneBlock) {
      EXPECT_LE(ranges[2].second - ranges[2].first, block);
    }
    Reference ref = sort_top_k(*c.values, nullptr, c.k);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(s.rule().keeps(i, magnitude_bits((*c.values)[static_cast<size_t>(i)])), ref.kept[static_cast<size_t>(i)])
          << i;
  }
}

TEST(TopK, WithoutSumsKeepAllOrNoneNeedsNoPass) {
  std::vector<float> x = {1, 2, 3};
  EXPECT_EQ(select(x, nullptr, 0, 3, false).passes(), 0);
  EXPECT_EQ(select(x, nullptr, 3, 3, false).passes(), 0);
  EXPECT_TRUE(select(x, nullptr, 3, 3, false).rule().keeps(0, magnitude_bits(1.0f)));
  EXPECT_FALSE(select(x, nullptr, 0, 3, false).rule().keeps(2, magnitude_bits(3.0f)));
  TopKSelector empty(0, 0);
  while (!empty.done()) empty.end_pass();
  EXPECT_EQ(empty.kept_sum(), 0.0);
}

}  // namespace
}  // namespace alloy
