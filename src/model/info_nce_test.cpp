// InfoNCE on hand-made embeddings against a hand-worked value, and its gradient against central
// finite differences.
#include "model/info_nce.h"

#include <gtest/gtest.h>

#include <cmath>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(InfoNce, HandWorkedTwoPairs) {
  // q1 = (1,0), q2 = (2,0); p1 = (3,0), p2 = (1,1). Cosines: q.p1 = 1, q.p2 = 1/sqrt2 for both
  // queries. With tau = 0.5: s = [[2, sqrt2], [2, sqrt2]].
  // loss1 = -log(e^2 / (e^2 + e^sqrt2)) = log(1 + e^(sqrt2-2)) = log(1.556668) = 0.442548
  // loss2 = -log(e^sqrt2 / (e^2 + e^sqrt2)) = log(1 + e^(2-sqrt2)) = log(2.796403) = 1.028334
  // mean 0.735441; q1 retrieves p1 (correct), q2 retrieves p1 (wrong): accuracy 1/2.
  const std::vector<double> q{1, 0, 2, 0}, p{3, 0, 1, 1};
  const InfoNceResult r = info_nce(q, p, 2, 2, 0.5, false);
  EXPECT_NEAR(r.loss, 0.735441, 1e-6);
  EXPECT_EQ(r.correct, 1);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.5);
}

TEST(InfoNce, GradientAgreesWithFiniteDifferences) {
  std::vector<double> q{0.3, -1.2, 0.8, 1.1, 0.4, -0.2, -0.7, 0.9, 0.5}, p{1.0, 0.2, -0.4, 0.1, 1.3, 0.6, -0.5, -0.3, 0.8};
  const InfoNceResult r = info_nce(q, p, 3, 3, 0.2, true);
  for (auto* side : {&q, &p}) {
    const std::vector<double>& grad = side == &q ? r.dq : r.dp;
    for (size_t i = 0; i < side->size(); ++i) {
      const double original = (*side)[i], h = 1e-6;
      (*side)[i] = original + h;
      const double plus = info_nce(q, p, 3, 3, 0.2, false).loss;
      (*side)[i] = original - h;
      const double minus = info_nce(q, p, 3, 3, 0.2, false).loss;
      (*side)[i] = original;
      EXPECT_NEAR(grad[i], (plus - minus) / (2 * h), 1e-7) << i;
    }
  }
}

TEST(InfoNce, RefusesZeroVectorsAndBadTemperature) {
  const std::vector<double> q{0, 0, 1, 0}, p{1, 0, 0, 1};
  EXPECT_THROW(info_nce(q, p, 2, 2, 0.05, false), Error);
  EXPECT_THROW(info_nce(p, p, 2, 2, 0.0, false), Error);
}

}  // namespace
}  // namespace alloy
