#include <gtest/gtest.h>

#include <cmath>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

TEST(Linear, WeightedAverageMatchesFloat64) {
  MethodHarness h("linear");
  std::vector<float> a = {1, 2, 3, -4, 0.1f, 1e-3f}, b = {3, 2, 1, 4, 0.2f, -1e-3f}, c = {0, 0, 0, 1, 0.3f, 5};
  h.add(a, {2, 3});
  h.add(b, {2, 3});
  h.add(c, {2, 3});
  h.per_model(0, "weight", 0.5).per_model(1, "weight", 0.3).per_model(2, "weight", 0.2);
  auto out = h.run(3);  // one row per block
  for (size_t e = 0; e < a.size(); ++e) {
    double want = (0.5 * a[e] + 0.3 * b[e] + 0.2 * c[e]) / 1.0;
    EXPECT_LE(testing::ulp_distance(out[e], static_cast<float>(want), DType::F32), 1.0) << e;
  }
}

TEST(Linear, NormalizeOffKeepsRawSum) {
  MethodHarness h("linear");
  h.add({2, 4}, {2});
  h.add({1, 1}, {2});
  h.per_model(0, "weight", 1).per_model(1, "weight", -1).global("normalize", 0);
  auto out = h.run();
  EXPECT_EQ(out, (std::vector<float>{1, 3}));
}

TEST(Linear, ZeroWeightSumWithNormalizeIsAnError) {
  MethodHarness h("linear");
  h.add({2, 4}, {2});
  h.add({1, 1}, {2});
  h.per_model(0, "weight", 1).per_model(1, "weight", -1);
  try {
    h.run();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sum to zero"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.up_proj.weight"), std::string::npos);
  }
}

TEST(Linear, MissingWeightNamesModel) {
  MethodHarness h("linear");
  h.add({1}, {1}, DType::F32, "models/a");
  EXPECT_THROW(h.run(), Error);
}

TEST(Linear, NaNInputIsReported) {
  MethodHarness h("linear");
  h.add({1, NAN}, {2}, DType::F32, "models/a");
  h.per_model(0, "weight", 1);
  const std::string m = h.run_error();
  ASSERT_FALSE(m.empty()) << "expected an error";
  EXPECT_NE(m.find("NaN"), std::string::npos) << m;
  EXPECT_NE(m.find("models/a"), std::string::npos) << m;
}

TEST(Linear, ValueOverflowingTheRecipeDtypeIsReported) {
  // 1e5 is a finite float32 but Inf in float16 (largest finite 65504): refused like an Inf input.
  MethodHarness h("linear");
  h.add({0.5f, 1e5f, 2.0f}, {3}, DType::F32, "models/a");
  h.per_model(0, "weight", 1);
  h.call.load_dtype = DType::F16;
  const std::string m = h.run_error();
  ASSERT_FALSE(m.empty()) << "expected an overflow error";
  EXPECT_NE(m.find("models/a"), std::string::npos) << m;
  EXPECT_NE(m.find("element 1"), std::string::npos) << m;
  EXPECT_NE(m.find("overflows float16"), std::string::npos) << m;
  h.call.load_dtype = DType::BF16;  // the same value fits bfloat16
  EXPECT_EQ(h.run(), (std::vector<float>{0.5f, 99840.0f, 2.0f}));
}

TEST(Linear, Bf16InputsRoundOnceAtOutput) {
  MethodHarness h("linear");
  std::vector<float> a, b;
  for (int i = 0; i < 64; ++i) {
    a.push_back(std::sin(i * 0.37f) * 3);
    b.push_back(std::cos(i * 0.11f) * 2);
  }
  h.add(a, {64}, DType::BF16);
  h.add(b, {64}, DType::BF16);
  h.per_model(0, "weight", 0.7).per_model(1, "weight", 0.3);
  auto out = MethodHarness::rounded(h.run(), DType::BF16);
  auto ra = MethodHarness::rounded(a, DType::BF16), rb = MethodHarness::rounded(b, DType::BF16);
  for (size_t e = 0; e < a.size(); ++e) {
    double want = 0.7 * ra[e] + 0.3 * rb[e];
    EXPECT_LE(testing::ulp_distance(out[e], want, DType::BF16), 0.5 + 1e-9) << e;  // one rounding
  }
}

TEST(Passthrough, ScaleAndSingleInput) {
  MethodHarness h("passthrough");
  h.add({1, -2, 3}, {3});
  h.per_model(0, "scale", 0.5);
  EXPECT_EQ(h.run(), (std::vector<float>{0.5f, -1, 1.5f}));
  MethodHarness two("passthrough");
  two.add({1}, {1});
  two.add({2}, {1});
  EXPECT_THROW(two.run(), Error);
}

}  // namespace
}  // namespace alloy
