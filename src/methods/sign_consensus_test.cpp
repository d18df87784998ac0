#include "methods/sign_consensus.h"

#include <gtest/gtest.h>

#include <vector>

namespace alloy {
namespace {

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

TEST(SignConsensus, NoModels) {
  auto r = run({}, {}, SignRule::Weighted);
  EXPECT_TRUE(r.mixed.empty());
}

}  // namespace
}  // namespace alloy
