#include "methods/blocks/sparsify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "../../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;
using testing::normal_values;

// A call with a base (input 0) and one model (input 1); the method name only supplies the harness.
struct TwoInputs {
  MethodHarness h{"task_arithmetic"};
  std::vector<float> base, model;
  TwoInputs(std::vector<float> b, std::vector<float> m, Shape shape) : base(std::move(b)), model(std::move(m)) {
    h.add_base(base, shape);
    h.add(model, shape);
  }
  std::vector<TaskVectorMask> plan(Sparsification kind, SparsifyParams p, bool rescale) {
    return plan_masks(h.call, kind, {SparsifyParams{}, p}, rescale);
  }
  // The sparsified task vector of input 1, computed in segments of `segment` elements.
  std::vector<double> apply(const TaskVectorMask& m, int64_t segment) {
    const int64_t n = static_cast<int64_t>(model.size()), cols = h.call.cols();
    std::vector<double> v(model.size());
    MaskScratch scratch;
    for (int64_t at = 0; at < n; at += segment)
      apply_mask(m, at, std::min(segment, n - at), cols, model.data() + at, base.data() + at, v.data() + at, scratch);
    return v;
  }
};

int64_t nonzero(const std::vector<double>& v) {
  return std::count_if(v.begin(), v.end(), [](double x) { return x != 0; });
}

double l1(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += std::fabs(x);
  return s;
}

TEST(Sparsify, ParameterErrors) {
  using S = Sparsification;
  EXPECT_EQ(sparsify_params_error(S::Magnitude, {0.5}), "");
  EXPECT_NE(sparsify_params_error(S::Magnitude, {0.0}).find("prune the whole task vector"), std::string::npos);
  EXPECT_NE(sparsify_params_error(S::Magnitude, {-1.0}), "");
  EXPECT_EQ(sparsify_params_error(S::Random, {0.0}), "");
  EXPECT_NE(sparsify_params_error(S::Random, {-0.1}), "");
  EXPECT_NE(sparsify_params_error(S::MagnitudeOutliers, {0.5, -0.1}).find("gamma"), std::string::npos);
  EXPECT_EQ(sparsify_params_error(S::DellaMagprune, {0.5, 0.01, 0.2}), "");
  EXPECT_NE(sparsify_params_error(S::DellaMagprune, {0.5, 0.01, 0.5}).find("epsilon"), std::string::npos);
  EXPECT_NE(sparsify_params_error(S::DellaMagprune, {0.9, 0.01, 0.1}), "");  // 0.9 + 0.1 is not < 1
  EXPECT_EQ(sparsify_params_error(S::DellaMagprune, {0.0, 0.01, 0.5}), "");  // dropped, as in mergekit
  EXPECT_EQ(sparsify_params_error(S::DellaMagprune, {1.0, 0.01, 0.5}), "");  // kept whole
  EXPECT_EQ(sparsify_params_error(S::None, {-5.0}), "");
  EXPECT_NE(sparsify_params_error(S::Random, {NAN}), "");
}

TEST(Sparsify, DensityOneKeepsEverythingWithoutRescale) {
  TwoInputs t(normal_values(50, 1), normal_values(50, 2), {5, 10});
  for (auto kind : {Sparsification::Magnitude, Sparsification::Random, Sparsification::MagnitudeOutliers,
                    Sparsification::DellaMagprune}) {
    auto masks = t.plan(kind, {1.0}, true);
    EXPECT_EQ(masks[1].rule, TaskVectorMask::Rule::All);
    EXPECT_EQ(masks[1].scale, 1.0);
    auto v = t.apply(masks[1], 50);
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], double(t.model[i]) - double(t.base[i]));
  }
}

TEST(Sparsify, MagnitudeKeepsExactlyKAndRescalesL1) {
  const size_t n = 7 * 13;
  TwoInputs t(normal_values(n, 3), normal_values(n, 4), {7, 13});
  for (double density : {0.02, 0.2, 0.5, 0.99}) {
    auto masks = t.plan(Sparsification::Magnitude, {density}, true);
    auto v = t.apply(masks[1], 13);
    EXPECT_EQ(nonzero(v), static_cast<int64_t>(std::floor(density * n))) << density;
    double before = 0;
    for (size_t i = 0; i < n; ++i) before += std::fabs(double(t.model[i]) - double(t.base[i]));
    EXPECT_NEAR(l1(v), before, 1e-12 * before) << density;
  }
}

TEST(Sparsify, MagnitudeWithKZeroKeepsNothing) {
  TwoInputs t({0, 0, 0}, {1, 2, 3}, {3});
  auto masks = t.plan(Sparsification::Magnitude, {0.2}, true);  // floor(0.6) = 0
  EXPECT_EQ(masks[1].rule, TaskVectorMask::Rule::None);
  EXPECT_EQ(nonzero(t.apply(masks[1], 3)), 0);
}

TEST(Sparsify, OutliersDropTheLargestAndSmallest) {
  // |δ| = 1..100 (shuffled): gamma 0.05 drops 96..100, density 0.3 keeps 66..95, the rest is small.
  std::vector<float> model(100), base(100, 0.0f);
  std::iota(model.begin(), model.end(), 1.0f);
  std::mt19937 gen(5);
  std::shuffle(model.begin(), model.end(), gen);
  for (size_t i = 0; i < 100; i += 2) model[i] = -model[i];
  TwoInputs t(base, model, {100});
  auto v = t.apply(t.plan(Sparsification::MagnitudeOutliers, {0.3, 0.05}, false)[1], 100);
  for (size_t i = 0; i < 100; ++i) {
    float m = std::fabs(model[i]);
    EXPECT_EQ(v[i] != 0, m >= 66 && m <= 95) << m;
  }
}

// On a tensor large enough for top-k windows each cut of the band selects with its own window
// (without rescale), or the lower cut takes the upper cut's first pass (with it); bf16-like steps
// make the 90%-density cut land on a value repeated ~400 000 times. Either way: exactly the band of
// ranks [n_top, n_top + target) by (|δ| descending, index ascending).
TEST(Sparsify, OutliersOnALargeTensorKeepExactlyTheBand) {
  const int64_t rows = 2051, cols = 1024;  // read in blocks of 16 rows: the window opens after an eighth
  const size_t n = static_cast<size_t>(rows * cols);
  std::vector<float> model = normal_values(n, 21), base(n, 0.0f);
  for (auto& x : model)  // whole steps of 2^-8, a fifth of them one step: heavy ties
    x = std::copysign((1.0f + std::floor(std::fabs(x) * 4.0f)) / 256.0f, x);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return std::fabs(model[a]) > std::fabs(model[b]); });
  const double density = 0.9, gamma = 0.01;
  const size_t target = static_cast<size_t>(std::floor(density * static_cast<double>(n)));
  const size_t top = static_cast<size_t>(std::floor(gamma * static_cast<double>(n)));
  std::vector<bool> keep(n, false);
  for (size_t j = top; j < top + target; ++j) keep[order[j]] = true;
  TwoInputs t(base, model, {rows, cols});
  for (bool rescale : {false, true}) {
    SCOPED_TRACE(rescale ? "rescaled" : "not rescaled");
    auto masks = t.plan(Sparsification::MagnitudeOutliers, {density, gamma}, rescale);
    ASSERT_EQ(masks[1].rule, TaskVectorMask::Rule::Band);
    auto v = t.apply(masks[1], 1 << 16);
    for (size_t e = 0; e < n; ++e) ASSERT_EQ(v[e] != 0, keep[e] && model[e] != 0) << e;
  }
}

TEST(Sparsify, OutliersWithNoTopToDropKeepTheTargetLargest) {
  // gamma·n = 0.5 < 1: mergekit zeroes the whole task vector (QUIRK 3); alloy keeps the 2 largest.
  TwoInputs t({0, 0, 0, 0, 0}, {1, -5, 3, 4, -2}, {5});
  auto masks = t.plan(Sparsification::MagnitudeOutliers, {0.5, 0.1}, false);
  EXPECT_EQ(masks[1].rule, TaskVectorMask::Rule::TopK);
  EXPECT_EQ(t.apply(masks[1], 5), (std::vector<double>{0, -5, 0, 4, 0}));
}

TEST(Sparsify, OutliersWhenDensityPlusGammaExceedsOne) {
  // n_bottom < 0: n_top shrinks to n − target, so the target smallest survive.
  TwoInputs t({0, 0, 0, 0}, {1, 2, 3, 4}, {4});
  auto v = t.apply(t.plan(Sparsification::MagnitudeOutliers, {0.5, 0.75}, false)[1], 4);
  EXPECT_EQ(v, (std::vector<double>{1, 2, 0, 0}));
}

TEST(Sparsify, RandomMaskIsChunkIndependentAndRescaled) {
  const size_t n = 3000;
  TwoInputs t(normal_values(n, 6), normal_values(n, 7), {100, 30});
  auto masks = t.plan(Sparsification::Random, {0.3}, true);
  auto whole = t.apply(masks[1], n);
  EXPECT_EQ(t.apply(masks[1], 1), whole);
  EXPECT_EQ(t.apply(masks[1], 7), whole);
  double before = 0;
  for (size_t i = 0; i < n; ++i) before += std::fabs(double(t.model[i]) - double(t.base[i]));
  EXPECT_NEAR(l1(whole), before, 1e-12 * before);
  EXPECT_GT(masks[1].scale, 2.5);
  EXPECT_LT(masks[1].scale, 4.0);
}

TEST(Sparsify, DellaSingleColumnUsesDensity) {
  // A [n, 1] tensor: every row has one element, so p = density (mergekit computes 0/0 = NaN).
  const size_t n = 20000;
  TwoInputs t(std::vector<float>(n, 0.0f), normal_values(n, 8), {static_cast<int64_t>(n), 1});
  auto v = t.apply(t.plan(Sparsification::DellaMagprune, {0.4, 0.01, 0.2}, false)[1], 1);
  double sd = std::sqrt(n * 0.4 * 0.6);
  EXPECT_NEAR(static_cast<double>(nonzero(v)), 0.4 * n, 5 * sd);
}

TEST(Sparsify, DellaIsRowLocalAndChunkIndependent) {
  TwoInputs t(normal_values(40 * 50, 9), normal_values(40 * 50, 10), {40, 50});
  auto masks = t.plan(Sparsification::DellaMagprune, {0.5, 0.01, 0.3}, true);
  auto whole = t.apply(masks[1], 40 * 50);
  EXPECT_EQ(t.apply(masks[1], 50), whole);
  EXPECT_EQ(t.apply(masks[1], 350), whole);
  double before = 0;
  for (size_t i = 0; i < t.model.size(); ++i) before += std::fabs(double(t.model[i]) - double(t.base[i]));
  EXPECT_NEAR(l1(whole), before, 1e-12 * before);
}

TEST(Sparsify, KeepBitsGiveTheDrawnOrRankedMask) {
  // The rescale pass keeps DARE's and DELLA's decisions as bits; the merge reads them back at
  // every bit offset (37-column rows; blocks of whole rows start anywhere in a word) and must get
  // what drawing again, or ranking the rows again, gives.
  for (auto kind : {Sparsification::Random, Sparsification::DellaMagprune}) {
    for (int64_t cols : {37, 64, 1408}) {
      const int64_t rows = (int64_t{1} << 15) / cols + 3;  // more than one block of the rescale pass
      TwoInputs t(normal_values(rows * cols, 12), normal_values(rows * cols, 13), {rows, cols});
      TaskVectorMask cached = t.plan(kind, {0.5, 0.01, 0.3}, true)[1];
      ASSERT_TRUE(cached.kept) << cols;
      TaskVectorMask again = cached;
      again.kept = nullptr;
      for (int64_t segment : {cols, 5 * cols, rows * cols})
        EXPECT_EQ(t.apply(cached, segment), t.apply(again, segment)) << cols;
    }
  }
}

TEST(Sparsify, AllZeroTaskVectorIsNotRescaled) {
  std::vector<float> same = normal_values(64, 11);
  TwoInputs t(same, same, {8, 8});
  for (auto kind : {Sparsification::Magnitude, Sparsification::Random, Sparsification::MagnitudeOutliers,
                    Sparsification::DellaMagprune}) {
    auto masks = t.plan(kind, {0.5, 0.1, 0.2}, true);
    EXPECT_EQ(masks[1].scale, 1.0);
    EXPECT_EQ(nonzero(t.apply(masks[1], 8)), 0);
  }
}

// The message plan_masks fails with ("" when it does not fail).
std::string plan_error(TwoInputs& t, Sparsification kind, SparsifyParams p) {
  try {
    t.plan(kind, p, true);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Sparsify, DellaRefusesRowsLongerThanItsRanks) {
  // Doubled ranks are 32-bit: a row of 2^31 entries is refused when planning, before any of the
  // (here absent) data is read.
  TwoInputs t({0, 0}, {1, 2}, {2});
  t.h.call.shape = {2, int64_t{1} << 31};
  const std::string m = plan_error(t, Sparsification::DellaMagprune, {0.5, 0.01, 0.1});
  EXPECT_NE(m.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << m;
  EXPECT_NE(m.find("2147483648 elements"), std::string::npos) << m;
  // At density 0 the task vector is dropped and nothing is ranked: no error.
  EXPECT_EQ(t.plan(Sparsification::DellaMagprune, {0.0, 0.01, 0.1}, true)[1].rule, TaskVectorMask::Rule::None);
}

TEST(Sparsify, PlanNamesTheModelOnBadParameters) {
  TwoInputs t({0, 0}, {1, 2}, {2});
  const std::string m = plan_error(t, Sparsification::DellaMagprune, {0.5, 0.01, 0.6});
  EXPECT_NE(m.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << m;
  EXPECT_NE(m.find("model1"), std::string::npos) << m;
  EXPECT_NE(m.find("epsilon"), std::string::npos) << m;
}

}  // namespace
}  // namespace alloy
