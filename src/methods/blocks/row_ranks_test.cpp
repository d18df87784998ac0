#include "methods/blocks/row_ranks.h"

#include "methods/blocks/top_k.h"
#include "tensor/convert.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

// The reference, in f64: each key's mean position (from 1) among the keys of a sort, doubled.
std::vector<uint32_t> reference_doubled_mean_ranks(const std::vector<uint32_t>& key) {
  const size_t n = key.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] < key[b]; });
  std::vector<uint32_t> out(n);
  for (size_t j = 0; j < n;) {
    size_t end = j;
    double sum = 0;
    for (; end < n && key[order[end]] == key[order[j]]; ++end) sum += static_cast<double>(end + 1);
    const double mean = sum / static_cast<double>(end - j);
    for (; j < end; ++j) out[order[j]] = static_cast<uint32_t>(2 * mean);
  }
  return out;
}

void expect_mean_ranks(const std::vector<uint32_t>& key, RankScratch& scratch, const std::string& what) {
  const size_t n = key.size();
  const std::vector<uint32_t> want = reference_doubled_mean_ranks(key);
  std::vector<uint32_t> got(n, 0);
  doubled_mean_ranks(key.data(), static_cast<int64_t>(n), got.data(), scratch);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << what << ", n=" << n << ", entry " << i;
  // With a value per doubled rank (DELLA's keep thresholds), each entry gets its value.
  std::vector<uint32_t> value(n == 0 ? 0 : 2 * n - 1), valued(n, 0);
  for (size_t d = 0; d < value.size(); ++d) value[d] = static_cast<uint32_t>(d * 2654435761u ^ 0x5bd1e995u);
  doubled_mean_ranks(key.data(), static_cast<int64_t>(n), valued.data(), scratch, value.data());
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(valued[i], value[want[i] - 2]) << what << " (valued), n=" << n << ", entry " << i;
}

// Magnitudes of a bf16 task vector: |ft − base| in f32 for bf16 base and fine-tuned values; with
// `zero_share` of the updates rounded away (a sparse task vector).
std::vector<uint32_t> bf16_task_vector_keys(size_t n, uint32_t seed, float update, double zero_share = 0) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> weight(0.0f, 0.02f), change(0.0f, update);
  std::bernoulli_distribution zero(zero_share);
  std::vector<uint32_t> key(n);
  for (auto& k : key) {
    const float base = bf16_to_f32(f32_to_bf16(weight(gen)));
    const float tuned = zero(gen) ? base : bf16_to_f32(f32_to_bf16(base + change(gen)));
    k = magnitude_bits(tuned - base);
  }
  return key;
}

TEST(DoubledMeanRanks, BfloatTaskVectorRowsAreRankedByCounting) {
  RankScratch scratch;
  for (double zero_share : {0.0, 0.7}) {
    for (float update : {1e-4f, 1e-3f}) {
      for (size_t n : {1u, 2u, 9u, 64u, 2048u, 5632u}) {
        auto key = bf16_task_vector_keys(n, static_cast<uint32_t>(n) + 7, update, zero_share);
        // These rows take the counting path: few keys with low bits, a narrow range of high halves.
        size_t fine = 0, zeros = 0;
        uint32_t lowest = ~0u, highest = 0;
        for (uint32_t k : key) {
          fine += (k & 0xffffu) != 0;
          zeros += k == 0;
          if (k != 0) {
            lowest = std::min(lowest, k >> 16);
            highest = std::max(highest, k >> 16);
          }
        }
        if (n >= 2048) {
          ASSERT_LE(fine * 8, n);
          ASSERT_GT(fine, 0u);
          ASSERT_LE(highest - lowest + 1, kDirectRankSpan);
          if (zero_share > 0) {
            ASSERT_GT(zeros * 2, n);
          }
        }
        expect_mean_ranks(key, scratch, "bf16 task vector, zero share " + std::to_string(zero_share));
      }
    }
  }
}

TEST(DoubledMeanRanks, KeysSharingHighHalvesOrderByLowHalves) {
  RankScratch scratch;
  const uint32_t h = 0x3c000000u;
  // Within one high half: the key with a zero low half first, then the others by low half (equal
  // ones sharing their mean rank); zeros before everything.
  std::vector<uint32_t> key = {h | 5, h, 0, h | 2, h | 5, h + 0x10000u, h, h | 2, 0, h | 1};
  for (int i = 0; i < 70; ++i) key.push_back(i % 5 == 0 ? 0 : h + static_cast<uint32_t>(i % 3) * 0x10000u);
  expect_mean_ranks(key, scratch, "shared high halves");
  // A key with low bits alone in its high half, among keys without.
  std::vector<uint32_t> alone = {h + 0x10000u, h | 3, h, h + 0x10000u, (h + 0x20000u) | 9, h, 0, h + 0x20000u};
  alone.resize(64, h + 0x30000u);
  expect_mean_ranks(alone, scratch, "alone in its high half");
  // Keys with low bits only, several per high half, some equal.
  std::vector<uint32_t> only_fine;
  for (int i = 0; i < 96; ++i) only_fine.push_back((h + static_cast<uint32_t>(i % 4) * 0x10000u) | (1 + i % 3));
  for (int i = 0; i < 800; ++i) only_fine.push_back(h + static_cast<uint32_t>(i % 9) * 0x10000u);
  expect_mean_ranks(only_fine, scratch, "equal keys with low bits");
  // At and past the limits of the counting path (an eighth of the keys with low bits; the span).
  for (size_t fine : {10u, 11u}) {
    std::vector<uint32_t> k(80, h);
    for (size_t i = 0; i < fine; ++i) k[i * 7] = h | static_cast<uint32_t>(fine - i);
    expect_mean_ranks(k, scratch, "fine keys " + std::to_string(fine));
  }
  for (uint32_t span : {kDirectRankSpan, kDirectRankSpan + 1}) {
    std::vector<uint32_t> k = {h + (span - 1) * 0x10000u, h, h + 0x10000u, 0, h, h + (span - 1) * 0x10000u};
    expect_mean_ranks(k, scratch, "span " + std::to_string(span));
  }
  expect_mean_ranks(std::vector<uint32_t>(33, 0), scratch, "all zero");
  expect_mean_ranks(std::vector<uint32_t>(33, h), scratch, "all equal");
  expect_mean_ranks({0}, scratch, "one zero");
  expect_mean_ranks({h | 7}, scratch, "one key");
}

TEST(DoubledMeanRanks, MatchesReferenceOnRandomRows) {
  // Normal floats (full mantissas: the sorting path) and few distinct values (large tie groups),
  // with and without zeros; scratch reused across row lengths, as DELLA does.
  RankScratch scratch;
  for (int distinct : {0, 1, 2, 5, 1000}) {
    for (size_t n : {1u, 2u, 3u, 17u, 128u, 129u, 1000u, 5000u}) {
      std::mt19937 gen(static_cast<uint32_t>(n * 31 + distinct));
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::uniform_int_distribution<int> pick(0, std::max(distinct - 1, 0));
      std::vector<uint32_t> key(n);
      for (auto& k : key)
        k = magnitude_bits(distinct > 0 ? static_cast<float>(pick(gen) - distinct / 2) * 0.25f : normal(gen));
      expect_mean_ranks(key, scratch, "distinct " + std::to_string(distinct));
    }
  }
}

TEST(DoubledMeanRanks, HandWorkedExample) {
  // Sorted: 0, 0 (ranks 1, 2: mean 1.5), 1e-45 (3), 1 (4), 2 (5), 3e38, 3e38 (6, 7: mean 6.5).
  std::vector<float> v = {3e38f, 0.0f, 1e-45f, 1.0f, 0.0f, 3e38f, 2.0f};
  std::vector<uint32_t> key, out(v.size());
  RankScratch scratch;
  for (float x : v) key.push_back(magnitude_bits(x));
  doubled_mean_ranks(key.data(), static_cast<int64_t>(key.size()), out.data(), scratch);
  EXPECT_EQ(out, (std::vector<uint32_t>{13, 3, 6, 8, 3, 13, 10}));
}

TEST(DoubledMeanRanks, ColumnOrderDoesNotMatter) {
  // A key's value depends only on the row's multiset of keys: permuted rows, permuted values.
  RankScratch scratch;
  auto key = bf16_task_vector_keys(3000, 99, 1e-4f, 0.3);
  std::vector<uint32_t> a(key.size()), b(key.size());
  doubled_mean_ranks(key.data(), static_cast<int64_t>(key.size()), a.data(), scratch);
  std::vector<size_t> perm(key.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(5));
  std::vector<uint32_t> permuted(key.size());
  for (size_t i = 0; i < key.size(); ++i) permuted[i] = key[perm[i]];
  doubled_mean_ranks(permuted.data(), static_cast<int64_t>(key.size()), b.data(), scratch);
  for (size_t i = 0; i < key.size(); ++i) ASSERT_EQ(b[i], a[perm[i]]) << i;
}

}  // namespace
}  // namespace alloy
