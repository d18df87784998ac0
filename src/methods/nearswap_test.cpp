#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../../tests/method_harness.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;

std::vector<float> values(size_t n, double seed) { return testing::sin_values(n, seed, 0.8); }

double reference(float a, float b, double t) {
  double diff = std::fabs(double(a) - double(b));
  double w = t / std::max(diff, 1e-6);
  w = std::min(1.0, std::max(0.0, w));
  return w * b + (1 - w) * a;
}

TEST(Nearswap, MatchesFloat64ReferenceOverShapes) {
  for (const Shape& shape : {Shape{1}, Shape{5}, Shape{3, 1}, Shape{4, 6}})
    for (double t : {1e-9, 1e-3, 0.1, 0.5, 100.0}) {
      const size_t n = static_cast<size_t>(numel(shape));
      auto a = values(n, 1), b = values(n, 2);
      MethodHarness h("nearswap");
      h.add_base(a, shape);
      h.add(b, shape);
      h.global("t", t);
      auto got = run_block_sizes(h);
      for (size_t e = 0; e < n; ++e)
        EXPECT_LE(testing::ulp_distance(got[e], reference(a[e], b[e], t), DType::F32), 1.0)
            << shape_str(shape) << " t " << t << " e " << e;
    }
}

TEST(Nearswap, SmallAndLargeT) {
  MethodHarness h("nearswap");
  h.add_base({1, 1, 1, 2}, {4});
  h.add({1.001f, 2, 5, 2}, {4});
  h.global("t", 1e-12);  // everything stays at the base (identical elements are either)
  EXPECT_EQ(run_block_sizes(h), (std::vector<float>{1, 1, 1, 2}));
  h.global("t", 1e6);  // everything moves to the other model
  EXPECT_EQ(run_block_sizes(h), (std::vector<float>{1.001f, 2, 5, 2}));
  h.global("t", 2);  // |diff| <= 2 swapped; |diff| = 4 gets weight 1/2
  EXPECT_EQ(run_block_sizes(h), (std::vector<float>{1.001f, 2, 3, 2}));
}

TEST(Nearswap, BaseOnlyIsKept) {
  MethodHarness h("nearswap");
  h.add_base({1, 2}, {2});
  h.global("t", 0.5);
  EXPECT_EQ(h.run(), (std::vector<float>{1, 2}));
}

TEST(Nearswap, ThreeModelsAreAnError) {
  MethodHarness h("nearswap");
  h.add_base({1}, {1});
  h.add({2}, {1}, DType::F32, "models/ft1");
  h.add({3}, {1}, DType::F32, "models/ft2");
  h.global("t", 0.5);
  const std::string m = h.run_error();
  ASSERT_FALSE(m.empty()) << "expected an error";
  EXPECT_NE(m.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << m;
  EXPECT_NE(m.find("exactly two models"), std::string::npos) << m;
  EXPECT_NE(m.find("models/ft2"), std::string::npos) << m;
}

TEST(Nearswap, TIsRequired) {
  const MethodSpec* m = find_method("nearswap");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->global_params.size(), 1u);
  EXPECT_TRUE(m->global_params[0].required);
  MethodHarness h("nearswap");
  h.add_base({1}, {1});
  h.add({2}, {1});
  EXPECT_THROW(h.run(), Error);
}

TEST(Nearswap, Bf16Inputs) {
  auto a = MethodHarness::rounded(values(24, 3), DType::BF16), b = MethodHarness::rounded(values(24, 4), DType::BF16);
  MethodHarness h("nearswap");
  h.add_base(a, {4, 6}, DType::BF16);
  h.add(b, {4, 6}, DType::BF16);
  h.global("t", 0.3);
  auto got = MethodHarness::rounded(run_block_sizes(h), DType::BF16);
  for (size_t e = 0; e < got.size(); ++e)
    EXPECT_LE(testing::ulp_distance(got[e], reference(a[e], b[e], 0.3), DType::BF16), 0.5 + 1e-4) << e;
}

}  // namespace
}  // namespace alloy
