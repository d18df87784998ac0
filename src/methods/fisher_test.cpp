// fisher against Σ λ_i F_i θ_i / Σ λ_i F_i computed in float64, with the floor where the Fisher
// values vanish, with and without each model's Fisher values normalised to mean 1, and its refusals.
#include <gtest/gtest.h>

#include <algorithm>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

void add_fisher(MethodHarness& h, const std::vector<float>& f, Shape shape) {
  h.call.statistics.push_back({TensorView{DType::F32, std::move(shape), reinterpret_cast<const std::byte*>(f.data()),
                                          f.size() * sizeof(float)},
                               h.call.inputs[h.call.statistics.size()].label, "fisher." + h.call.tensor_name});
}

TEST(Fisher, EqualsTheFisherWeightedAverageInFloat64) {
  const std::vector<float> a = {1, 2, 3, -4, 0.5f, 8}, b = {3, -2, 1, 4, 0.25f, 0};
  const std::vector<float> fa = {0.5f, 2, 0, 1e-3f, 3, 0}, fb = {1.5f, 1, 0, 1e-3f, 1e-12f, 0};
  const double la = 2.0, lb = 0.5, floor = 1e-6;
  MethodHarness h("fisher");
  h.add(a, {2, 3});
  h.add(b, {2, 3});
  add_fisher(h, fa, {2, 3});
  add_fisher(h, fb, {2, 3});
  h.per_model(0, "weight", la).per_model(1, "weight", lb).global("fisher_floor", floor).global("fisher_normalize", 0);
  const std::vector<float> got = h.run(3);
  for (size_t k = 0; k < a.size(); ++k) {
    const double wa = la * std::max<double>(fa[k], floor), wb = lb * std::max<double>(fb[k], floor);
    const double want = (wa * a[k] + wb * b[k]) / (wa + wb);
    EXPECT_NEAR(got[k], want, 1e-6 * (1 + std::fabs(want))) << k;
  }
  // Where both are at the floor (elements 2 and 5) this is the λ-weighted average.
  EXPECT_NEAR(got[2], (la * 3 + lb * 1) / (la + lb), 1e-6);
  EXPECT_NEAR(got[5], (la * 8 + lb * 0) / (la + lb), 1e-6);
}

TEST(Fisher, NormalisedDividesEachModelsFisherByItsMeanOverTheTensor) {
  const std::vector<float> a = {1, 2, 3, -4}, b = {3, -2, 1, 4};
  // b's Fisher is a's pattern times 100 plus noise: unnormalised, b would win almost everywhere.
  const std::vector<float> fa = {0.5f, 2, 0, 1.5f}, fb = {40, 210, 0, 150};
  const double floor = 1e-2;
  MethodHarness h("fisher");
  h.add(a, {4});
  h.add(b, {4});
  add_fisher(h, fa, {4});
  add_fisher(h, fb, {4});
  h.per_model(1, "weight", 3.0).global("fisher_floor", floor);  // fisher_normalize: its default, on
  const std::vector<float> got = h.run(2);
  const double ma = (0.5 + 2 + 0 + 1.5) / 4, mb = (40.0 + 210 + 0 + 150) / 4;
  for (size_t k = 0; k < a.size(); ++k) {
    const double wa = 1.0 * std::max(fa[k] / ma, floor), wb = 3.0 * std::max(fb[k] / mb, floor);
    const double want = (wa * a[k] + wb * b[k]) / (wa + wb);
    EXPECT_NEAR(got[k], want, 1e-6 * (1 + std::fabs(want))) << k;
  }
  EXPECT_NEAR(got[2], (3 + 3.0 * 1) / 4.0, 1e-6);  // both at the floor: the λ-weighted average
}

TEST(Fisher, NormalisedModelWithNoGradientAnywhereGetsOnlyTheFloor) {
  MethodHarness h("fisher");
  h.add({1, 2}, {2});
  h.add({5, 6}, {2});
  const std::vector<float> fa = {2, 6}, fb = {0, 0};
  add_fisher(h, fa, {2});
  add_fisher(h, fb, {2});
  h.global("fisher_floor", 1e-3);
  const std::vector<float> got = h.run(2);
  // a normalised: {0.5, 1.5}; b: floor 1e-3 on both.
  EXPECT_NEAR(got[0], (0.5 * 1 + 1e-3 * 5) / (0.5 + 1e-3), 1e-6);
  EXPECT_NEAR(got[1], (1.5 * 2 + 1e-3 * 6) / (1.5 + 1e-3), 1e-6);
}

TEST(Fisher, MissingFisherValuesNameTheModel) {
  MethodHarness h("fisher");
  h.add({1, 2}, {2}, DType::F32, "models/a");
  h.call.statistics = {MergeInput{{}, "models/a", "fisher.model.layers.0.mlp.up_proj.weight"}};
  const std::string m = h.run_error();
  EXPECT_NE(m.find("no Fisher values"), std::string::npos) << m;
  EXPECT_NE(m.find("models/a"), std::string::npos) << m;
}

TEST(Fisher, ShapeMismatchIsRefused) {
  const std::vector<float> f = {1, 1, 1};
  MethodHarness h("fisher");
  h.add({1, 2}, {2});
  add_fisher(h, f, {3});
  EXPECT_NE(h.run_error().find("fisher needs them equal"), std::string::npos);
}

}  // namespace
}  // namespace alloy
