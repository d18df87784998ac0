#include "methods/blocks/counter_rng.h"
#include "util/lanes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(CounterRng, SameKeySameBits) {
  CounterRng a(7, "model.layers.0.mlp.up_proj.weight", 2), b(7, "model.layers.0.mlp.up_proj.weight", 2);
  for (uint64_t c = 0; c < 1000; ++c) EXPECT_EQ(a.bits(c), b.bits(c));
  // A draw does not depend on which draws came before it.
  EXPECT_EQ(a.bits(123456789), CounterRng(7, "model.layers.0.mlp.up_proj.weight", 2).bits(123456789));
}

TEST(CounterRng, EveryKeyPartChangesTheStream) {
  CounterRng ref(0, "t", 1);
  CounterRng other[] = {CounterRng(1, "t", 1), CounterRng(0, "u", 1), CounterRng(0, "t", 2), CounterRng(0, "t", 0)};
  for (const auto& o : other) {
    int equal = 0;
    for (uint64_t c = 0; c < 1000; ++c) equal += (o.bits(c) == ref.bits(c));
    EXPECT_EQ(equal, 0);
  }
  // Neighbouring streams are not shifted copies of each other.
  for (uint64_t c = 0; c < 1000; ++c) {
    EXPECT_NE(CounterRng(0, "t", 2).bits(c), ref.bits(c + 1));
    EXPECT_NE(CounterRng(0, "t", 2).bits(c + 1), ref.bits(c));
  }
}

TEST(CounterRng, UniformMeanAndChiSquare) {
  CounterRng rng(0, "model.embed_tokens.weight", 1);
  const int n = 1 << 20;
  std::vector<int64_t> buckets(16, 0);
  double sum = 0;
  for (int c = 0; c < n; ++c) {
    double u = rng.uniform(c);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    ++buckets[static_cast<int>(u * 16)];
  }
  // Mean of n uniforms: sd = sqrt(1/12/n) ~ 2.8e-4; allow 5 sd.
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  double chi2 = 0, expect = n / 16.0;
  for (int64_t b : buckets) chi2 += (b - expect) * (b - expect) / expect;
  // 15 degrees of freedom: P(chi2 > 37.7) ~ 0.001.
  EXPECT_LT(chi2, 37.7);
}

TEST(CounterRng, BitsAreBalancedAndConsecutiveDrawsUncorrelated) {
  CounterRng rng(42, "x", 0);
  const int n = 1 << 18;
  std::vector<int> ones(32, 0);
  double cov = 0;
  double prev = rng.uniform(0);
  for (int c = 0; c < n; ++c) {
    uint32_t b = rng.bits(c);
    for (int k = 0; k < 32; ++k) ones[k] += (b >> k) & 1;
    double u = rng.uniform(c + 1);
    cov += (prev - 0.5) * (u - 0.5);
    prev = u;
  }
  for (int k = 0; k < 32; ++k) EXPECT_NEAR(ones[k] / double(n), 0.5, 5 * 0.5 / std::sqrt(n)) << "bit " << k;
  // Lag-1 correlation of uniforms: sd of the estimate = 1/sqrt(n).
  EXPECT_NEAR(cov / n * 12, 0.0, 5 / std::sqrt(n));
}

TEST(CounterRng, NeighbouringStreamsAreUncorrelated) {
  // Masks of the models of one tensor (input indices 1, 2) and of one model in two tensors.
  const CounterRng pairs[][2] = {{CounterRng(0, "t", 1), CounterRng(0, "t", 2)},
                                 {CounterRng(0, "model.layers.0.mlp.up_proj.weight", 1),
                                  CounterRng(0, "model.layers.1.mlp.up_proj.weight", 1)},
                                 {CounterRng(0, "t", 1), CounterRng(1, "t", 1)}};
  const int n = 1 << 18;
  for (const auto& [a, b] : pairs) {
    double cov = 0;
    for (int c = 0; c < n; ++c) cov += (a.uniform(c) - 0.5) * (b.uniform(c) - 0.5);
    EXPECT_NEAR(cov / n * 12, 0.0, 5 / std::sqrt(n));
  }
}

TEST(CounterRng, BernoulliFrequency) {
  CounterRng rng(3, "y", 5);
  const int n = 100000;
  for (double p : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    int kept = 0;
    for (int c = 0; c < n; ++c) kept += rng.bernoulli(c, p);
    double sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(kept, n * p, 5 * sd + 1e-9) << p;
  }
}

TEST(CounterRng, CutoffAgreesWithTheFloatingPointTest) {
  CounterRng rng(9, "z", 3);
  for (double p : {0.0, 1e-300, 0x1p-33, 0x1p-32, 0.1, 0.3, 0.5, 1.0 - 0x1p-32, 1.0 - 0x1p-53, 1.0, 2.0, -1.0}) {
    const uint64_t cut = CounterRng::cutoff(p);
    for (uint64_t c = 0; c < 20000; ++c) ASSERT_EQ(rng.below(c, cut), rng.bernoulli(c, p)) << p << " " << c;
  }
  // Draws right at the boundary: u == p must not pass, u just below must.
  EXPECT_EQ(CounterRng::cutoff(0.5), uint64_t{1} << 31);
  EXPECT_EQ(CounterRng::cutoff(0.5 + 0x1p-32), (uint64_t{1} << 31) + 1);
  EXPECT_EQ(CounterRng::cutoff(1.0 - 0x1p-53), uint64_t{1} << 32);  // keeps every draw, as u < p does
}

TEST(CounterRng, UnitConversionIsExact) {
  for (uint32_t b : {0u, 1u, 0x7fffffffu, 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu})
    EXPECT_EQ(CounterRng::to_unit(b), static_cast<double>(b) * 0x1p-32) << b;
}

TEST(CounterRng, DrawsAreABijectionOfTheLowCounterBits) {
  // Within one key, distinct counters give distinct draws (checked over a window).
  CounterRng rng(5, "w", 1);
  std::vector<uint32_t> seen;
  for (uint64_t c = 0; c < 1 << 16; ++c) seen.push_back(rng.bits(c));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
  // Counters past 2^32 take a different key: not a repeat of the first 2^32.
  int equal = 0;
  for (uint64_t c = 0; c < 1000; ++c) equal += rng.bits(c) == rng.bits(c + (uint64_t{1} << 32));
  EXPECT_EQ(equal, 0);
}

TEST(CounterRng, BitsArePinned) {
  // Changing the generator changes every DARE/DELLA merge made with a given seed, so it must be a
  // deliberate, documented decision: update these values only together with the docs.
  EXPECT_EQ(hash_string("abc"), 0x9ddd0b206061ad94ull);
  CounterRng rng(0, "model.layers.0.mlp.up_proj.weight", 1);
  EXPECT_EQ(rng.bits(0), 0xd36e559cu);
  EXPECT_EQ(rng.bits(1), 0x61aa6ac8u);
  EXPECT_NE(hash_string("ab"), hash_string("ba"));
}

// The vector form the mask loops use gives every lane the scalar draw's bits.
TEST(CounterRng, LaneDrawsMatchScalarDraws) {
  const CounterRng rng(11, "model.layers.2.self_attn.q_proj.weight", 3);
  const uint32_t key = rng.key_for(1);
  for (uint32_t start : {0u, 12345u, 0xfffffff0u}) {
    U32x8 lanes = {0, 1, 2, 3, 4, 5, 6, 7};
    lanes += start;
    rng.draw_lanes(key, lanes);
    U32x4 four = {0, 1, 2, 3};
    four += start;
    rng.draw_lanes(key, four);
    for (uint32_t l = 0; l < 8; ++l) {
      EXPECT_EQ(lanes[l], rng.draw(key, start + l)) << start << " lane " << l;
      if (l < 4) {
        EXPECT_EQ(four[l], rng.draw(key, start + l)) << start << " lane " << l;
      }
    }
  }
}

}  // namespace
}  // namespace alloy
