// Tests of the advice rule at and around its thresholds, with sums chosen so each cosine and
// conflict is an exact number.
#include "analyze/merge_advice.h"

#include <gtest/gtest.h>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

// Two unit task vectors with cosine `cos`, and `differ` of 100 common non-zero elements in conflict.
GeometrySums two_models(double cos, uint64_t differ) {
  GeometrySums s(2);
  s.squares = {1.0, 1.0};
  s.dots = {cos};
  s.both_nonzero = {100};
  s.signs_differ = {differ};
  s.several_nonzero = 100;
  s.signs_mixed = differ;
  return s;
}

TEST(MergeAdvice, AlignedFavoursAveraging) {
  MergeAdvice a = merge_advice(two_models(0.3, 45));
  EXPECT_EQ(a.method, "linear");
  EXPECT_DOUBLE_EQ(*a.mean_cosine, 0.3);
  EXPECT_DOUBLE_EQ(*a.conflict, 0.45);
  EXPECT_FALSE(a.density.has_value());
  EXPECT_NE(a.text.find("mean cosine 0.300, sign conflict 45.0%"), std::string::npos) << a.text;
}

TEST(MergeAdvice, UnrelatedAndConflictingFavoursTies) {
  MergeAdvice a = merge_advice(two_models(0.05, 47));
  EXPECT_EQ(a.method, "ties");
  EXPECT_DOUBLE_EQ(*a.density, 0.5);  // 1 - 0.47 to one decimal
  EXPECT_NE(a.text.find("density 0.5"), std::string::npos) << a.text;
  EXPECT_DOUBLE_EQ(*merge_advice(two_models(-0.5, 40)).density, 0.6);
  EXPECT_DOUBLE_EQ(*merge_advice(two_models(-0.9, 98)).density, 0.1);  // clamped from 0.0
}

TEST(MergeAdvice, OtherwiseTaskArithmetic) {
  EXPECT_EQ(merge_advice(two_models(0.1, 47)).method, "task_arithmetic");   // cosine not below 0.1
  EXPECT_EQ(merge_advice(two_models(0.05, 39)).method, "task_arithmetic");  // conflict below 0.4
  EXPECT_EQ(merge_advice(two_models(0.2999, 50)).method, "task_arithmetic");
}

TEST(MergeAdvice, MeanOverPairsSkipsZeroTaskVectors) {
  // Three models, the third equal to the base: only the pair (0, 1) has a cosine.
  GeometrySums s(3);
  s.squares = {4.0, 1.0, 0.0};
  s.dots = {1.0, 0.0, 0.0};  // cos(0, 1) = 1 / (2 * 1)
  MergeAdvice a = merge_advice(s);
  EXPECT_DOUBLE_EQ(*a.mean_cosine, 0.5);
  EXPECT_EQ(a.method, "linear");
  EXPECT_FALSE(a.conflict.has_value());
  s.squares = {4.0, 0.0, 0.0};
  EXPECT_EQ(merge_advice(s).method, "none");
}

}  // namespace
}  // namespace alloy
