#include "methods/blocks/sign_consensus.h"

#include <gtest/gtest.h>

#include <vector>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

struct Result {
  std::vector<double> mixed, divisor;
};

Result run(const std::vector<std::vector<double>>& v, const std::vector<double>& w, SignRule rule) {
  std::vector<const double*> rows;
  for (const auto& r : v) rows.push_back(r.data());
  const int64_t len = v.empty() ? 0 : static_cast<int64_t>(v[0].size());
  Result out{std::vector<double>(len), std::vector<double>(len)};
  sign_consensus(rows, w, len, rule, out.mixed.data(), out.divisor.data());
  return out;
}

TEST(SignConsensus, WeightedElectionDisjointSums) {
  // Element 0: votes +2, −0.5 → +, only the first agrees. Element 1: −1 + 0.5·4 > 0 → +, only the
  // second agrees. Element 2: all zero → no agreement, divisor 1. Element 3: S = 1 − 1 = 0 elects +.
  auto r = run({{2, -1, 0, 1}, {-1, 4, 0, -2}}, {1.0, 0.5}, SignRule::Weighted);
  EXPECT_EQ(r.mixed, (std::vector<double>{2, 2, 0, 1}));
  EXPECT_EQ(r.divisor, (std::vector<double>{1, 0.5, 1, 1}));
}

TEST(SignConsensus, WeightsVoteInMergekitsRuleButNotInThePapers) {
  // v = (+1, −1), w = (1, 3): weighted S = 1 − 3 < 0 elects −; unweighted S = 0 elects +.
  auto weighted = run({{1}, {-1}}, {1, 3}, SignRule::Weighted);
  EXPECT_EQ(weighted.mixed[0], -3);
  EXPECT_EQ(weighted.divisor[0], 3);
  auto paper = run({{1}, {-1}}, {1, 3}, SignRule::Unweighted);
  EXPECT_EQ(paper.mixed[0], 1);
  EXPECT_EQ(paper.divisor[0], 1);
}

TEST(SignConsensus, NegativeWeightFlipsTheVote) {
  // Task negation: w·v = −2 is what votes in mergekit's rule; the paper's rule votes with v = +2.
  auto weighted = run({{2}}, {-1}, SignRule::Weighted);
  EXPECT_EQ(weighted.mixed[0], -2);
  EXPECT_EQ(weighted.divisor[0], -1);
  auto paper = run({{2}}, {-1}, SignRule::Unweighted);
  EXPECT_EQ(paper.mixed[0], -2);
  EXPECT_EQ(paper.divisor[0], -1);
}

TEST(SignConsensus, CancellingAgreeingWeightsGiveDivisorOne) {
  auto r = run({{1}, {1}}, {1, -1}, SignRule::Unweighted);  // both agree (+), weights sum to 0
  EXPECT_EQ(r.mixed[0], 0);
  EXPECT_EQ(r.divisor[0], 1);
}

// The fused loops (2 to 4 task vectors) and the tiled ones (any other count) against the rule
// written out per element: the same bits, over lengths around the tile size, with zeros, ties
// and negative weights.
TEST(SignConsensus, EveryModelCountMatchesThePerElementRule) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const int k = static_cast<int>((state >> 33) % 9) - 4;  // -4 .. 4: zeros and equal values
    return k == 0 ? 0.0 : k * 0.37;
  };
  for (SignRule rule : {SignRule::Weighted, SignRule::Unweighted})
    for (size_t models = 1; models <= 6; ++models)
      for (int64_t len : {1, 7, 511, 512, 513, 1500}) {
        std::vector<std::vector<double>> v(models, std::vector<double>(static_cast<size_t>(len)));
        std::vector<double> w(models);
        for (size_t m = 0; m < models; ++m) {
          w[m] = m == 1 ? -0.5 : 0.25 * static_cast<double>(m + 1);
          for (auto& x : v[m]) x = next();
        }
        const Result got = run(v, w, rule);
        for (int64_t j = 0; j < len; ++j) {
          double s = 0;
          for (size_t m = 0; m < models; ++m) s += rule == SignRule::Weighted ? w[m] * v[m][j] : v[m][j];
          const double elected = s >= 0 ? 1.0 : -1.0;
          double mix = 0, div = 0;
          for (size_t m = 0; m < models; ++m) {
            const double wd = w[m] * v[m][j];
            const double voter = rule == SignRule::Weighted ? wd : v[m][j];
            if (voter * elected > 0) {
              mix += wd;
              div += w[m];
            } else {
              mix += wd * 0.0;  // as the kernels do: adds a signed zero
              div += w[m] * 0.0;
            }
          }
          ASSERT_EQ(got.mixed[j], mix) << models << " models, len " << len << ", j " << j;
          ASSERT_EQ(got.divisor[j], div == 0 ? 1.0 : div) << models << " models, len " << len << ", j " << j;
        }
      }
}

TEST(SignConsensus, NoModels) {
  auto r = run({}, {}, SignRule::Weighted);
  EXPECT_TRUE(r.mixed.empty());
}

}  // namespace
}  // namespace alloy
