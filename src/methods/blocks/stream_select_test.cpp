#include "methods/blocks/stream_select.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

struct Element {
  uint64_t key;
  int64_t index;
};

// The reference: a full sort by (key ascending, index descending).
std::vector<Element> sorted(const std::vector<uint64_t>& keys) {
  std::vector<Element> v;
  for (size_t i = 0; i < keys.size(); ++i) v.push_back({keys[i], static_cast<int64_t>(i)});
  std::sort(v.begin(), v.end(), [](const Element& a, const Element& b) {
    return a.key < b.key || (a.key == b.key && a.index > b.index);
  });
  return v;
}

std::vector<StreamSelect::Pick> select(const std::vector<uint64_t>& keys, const std::vector<int64_t>& ranks,
                                       int64_t limit, int* passes = nullptr) {
  StreamSelect s(static_cast<int64_t>(keys.size()), ranks.size(), limit);
  for (size_t j = 0; j < ranks.size(); ++j) s.set_rank(j, ranks[j]);
  int n = 0;
  while (!s.done()) {
    for (size_t i = 0; i < keys.size(); ++i) s.visit(keys[i], static_cast<int64_t>(i));
    s.end_pass();
    ++n;
  }
  if (passes) *passes = n;
  std::vector<StreamSelect::Pick> out;
  for (size_t j = 0; j < ranks.size(); ++j) out.push_back(s.pick(j));
  return out;
}

TEST(StreamSelect, OrderedKeyOrdersLikeDoubles) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> v = {-inf, -1e300, -2.5, -1, -1e-310, -0.0, 0.0, 1e-310, 1e-300, 0.5, 1, 3, 1e300, inf};
  for (size_t i = 0; i + 1 < v.size(); ++i) EXPECT_LT(ordered_key(v[i]), ordered_key(v[i + 1])) << v[i];
  for (double x : v) EXPECT_EQ(std::bit_cast<uint64_t>(key_value(ordered_key(x))), std::bit_cast<uint64_t>(x));
}

TEST(StreamSelect, EveryRankMatchesFullSortWithTies) {
  std::mt19937_64 rng(7);
  for (int64_t n : {1, 2, 3, 17, 300}) {
    for (uint64_t distinct : {uint64_t{1}, uint64_t{3}, uint64_t{1000}}) {
      std::vector<uint64_t> keys(static_cast<size_t>(n));
      // Keys spread over all 64 bits, so every histogram level is exercised.
      for (auto& k : keys) k = (rng() % distinct) * 0x9E3779B97F4A7C15ull;
      auto want = sorted(keys);
      std::vector<int64_t> ranks;
      for (int64_t r = 0; r < n; r += (n > 20 ? 7 : 1)) ranks.push_back(r);
      ranks.push_back(n - 1);
      for (int64_t limit : {int64_t{1}, int64_t{5}, int64_t{1} << 20}) {
        auto got = select(keys, ranks, limit);
        for (size_t j = 0; j < ranks.size(); ++j) {
          const int64_t r = ranks[j];
          EXPECT_EQ(got[j].key, want[r].key) << "n " << n << " rank " << r << " limit " << limit;
          EXPECT_EQ(got[j].index, want[r].index) << "n " << n << " rank " << r << " limit " << limit;
        }
      }
    }
  }
}

TEST(StreamSelect, AllEqualKeysScanByIndex) {
  std::vector<uint64_t> keys(50, 42);
  int passes = 0;
  auto got = select(keys, {0, 10, 49}, 1, &passes);
  // Descending index order: rank 0 is the last element.
  EXPECT_EQ(got[0].index, 49);
  EXPECT_EQ(got[1].index, 39);
  EXPECT_EQ(got[2].index, 0);
  EXPECT_EQ(passes, 5);  // four histogram levels, then the scan
}

TEST(StreamSelect, LargeInputNeedsFewPasses) {
  std::mt19937_64 rng(11);
  std::vector<uint64_t> keys(200000);
  std::normal_distribution<double> normal;
  for (auto& k : keys) k = ordered_key(normal(rng));
  auto want = sorted(keys);
  int passes = 0;
  const int64_t n = static_cast<int64_t>(keys.size());
  auto got = select(keys, {0, n / 4, n / 2, n - 1}, 1 << 12, &passes);
  EXPECT_EQ(got[0].index, want[0].index);
  EXPECT_EQ(got[1].index, want[n / 4].index);
  EXPECT_EQ(got[2].index, want[n / 2].index);
  EXPECT_EQ(got[3].index, want[n - 1].index);
  EXPECT_LE(passes, 3);
}

TEST(StreamSelect, TopKByAtOrAbove) {
  // Ties at the threshold go to the lower index.
  std::vector<uint64_t> keys = {5, 9, 5, 5, 1, 9, 5};
  const int64_t n = static_cast<int64_t>(keys.size());
  for (int64_t k = 1; k <= n; ++k) {
    auto cut = select(keys, {n - k}, 1)[0];
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) kept += StreamSelect::at_or_above(keys[i], i, cut);
    EXPECT_EQ(kept, k);
  }
  auto cut = select(keys, {n - 4}, 1 << 20)[0];  // both 9s, then the 5s at 0 and 2
  std::vector<bool> kept;
  for (int64_t i = 0; i < n; ++i) kept.push_back(StreamSelect::at_or_above(keys[i], i, cut));
  EXPECT_EQ(kept, (std::vector<bool>{true, true, true, false, false, true, false}));
}

TEST(StreamSelect, BadRanksAreErrors) {
  EXPECT_THROW(StreamSelect(0, 1), Error);
  StreamSelect s(4, 1);
  EXPECT_THROW(s.set_rank(0, 4), Error);
  EXPECT_THROW(s.set_rank(0, -1), Error);
}

}  // namespace
}  // namespace alloy
