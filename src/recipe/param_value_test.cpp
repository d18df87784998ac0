// evaluate() on hand-built values; parsing from YAML is tested in recipe_test.cpp.
#include <gtest/gtest.h>

#include "recipe/recipe.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

constexpr double kEps = 1e-12;

ParamValue::Condition when(std::optional<std::string> filter, ParamValue v) {
  return {std::move(filter), std::move(v)};
}

ParamValue conditional(std::vector<ParamValue::Condition> c) {
  ParamValue p;
  p.kind = ParamValue::Kind::Conditional;
  p.conditions = std::move(c);
  return p;
}

TEST(RecipeParamValue, Scalar) {
  ParamValue p = ParamValue::constant(0.42);
  EXPECT_EQ(evaluate(p, "anything", 0.0), 0.42);
  EXPECT_EQ(evaluate(p, "", 1.0), 0.42);
}

TEST(RecipeParamValue, FiveKnotGradientByHand) {
  // s = [0, 0.5, 0.3, 0.7, 1], n = 5, x = 4t.
  ParamValue p = ParamValue::interpolated({0, 0.5, 0.3, 0.7, 1});
  // t=0:    x=0,   i0=0, f=0            -> s[0] = 0
  EXPECT_NEAR(*evaluate(p, "w", 0.0), 0.0, kEps);
  // t=0.1:  x=0.4, i0=0, i1=1, f=0.4    -> 0.6*0 + 0.4*0.5 = 0.2
  EXPECT_NEAR(*evaluate(p, "w", 0.1), 0.2, kEps);
  // t=0.25: x=1,   i0=1, f=0            -> s[1] = 0.5
  EXPECT_NEAR(*evaluate(p, "w", 0.25), 0.5, kEps);
  // t=0.3:  x=1.2, i0=1, i1=2, f=0.2    -> 0.8*0.5 + 0.2*0.3 = 0.46
  EXPECT_NEAR(*evaluate(p, "w", 0.3), 0.46, kEps);
  // t=0.5:  x=2,   i0=2, f=0            -> s[2] = 0.3
  EXPECT_NEAR(*evaluate(p, "w", 0.5), 0.3, kEps);
  // t=0.9:  x=3.6, i0=3, i1=4, f=0.6    -> 0.4*0.7 + 0.6*1 = 0.88
  EXPECT_NEAR(*evaluate(p, "w", 0.9), 0.88, kEps);
  // t=1:    x=4,   i0=4, i1=min(4,5)=4  -> s[4] = 1
  EXPECT_NEAR(*evaluate(p, "w", 1.0), 1.0, kEps);
}

TEST(RecipeParamValue, LayerPositionsOfAFortyLayerSlice) {
  // t = idx/39 over a 40-layer slice; s = [1, 0.5, 0.7, 0.3, 0].
  ParamValue p = ParamValue::interpolated({1, 0.5, 0.7, 0.3, 0});
  // idx=13: t=1/3, x=4/3, i0=1, f=1/3 -> (2/3)*0.5 + (1/3)*0.7 = 1.7/3
  EXPECT_NEAR(*evaluate(p, "w", 13.0 / 39), 1.7 / 3, kEps);
  // idx=39: t=1 -> s[4] = 0
  EXPECT_NEAR(*evaluate(p, "w", 1.0), 0.0, kEps);
}

TEST(RecipeParamValue, OneAndTwoKnotGradients) {
  ParamValue one = ParamValue::interpolated({0.7});
  for (double t : {0.0, 0.3, 1.0}) EXPECT_NEAR(*evaluate(one, "w", t), 0.7, kEps);

  // s = [0.2, 0.8], x = t: value = 0.2 + 0.6t.
  ParamValue two = ParamValue::interpolated({0.2, 0.8});
  EXPECT_NEAR(*evaluate(two, "w", 0.0), 0.2, kEps);
  EXPECT_NEAR(*evaluate(two, "w", 0.25), 0.35, kEps);  // 0.75*0.2 + 0.25*0.8
  EXPECT_NEAR(*evaluate(two, "w", 0.5), 0.5, kEps);
  EXPECT_NEAR(*evaluate(two, "w", 1.0), 0.8, kEps);
}

TEST(RecipeParamValue, TOutsideUnitIntervalIsClamped) {
  ParamValue p = ParamValue::interpolated({0, 0.5, 1});
  EXPECT_NEAR(*evaluate(p, "w", -0.5), 0.0, kEps);
  EXPECT_NEAR(*evaluate(p, "w", 1.5), 1.0, kEps);
}

TEST(RecipeParamValue, FirstMatchingFilterWins) {
  ParamValue p = conditional({when("self_attn", ParamValue::constant(0.1)),
                              when("attn", ParamValue::constant(0.2)),
                              when("mlp", ParamValue::constant(0.3))});
  EXPECT_EQ(evaluate(p, "model.layers.3.self_attn.q_proj.weight", 0.5), 0.1);
  EXPECT_EQ(evaluate(p, "model.layers.3.cross_attn.q_proj.weight", 0.5), 0.2);
  EXPECT_EQ(evaluate(p, "model.layers.3.mlp.up_proj.weight", 0.5), 0.3);
  // No match at this level.
  EXPECT_EQ(evaluate(p, "model.norm.weight", 0.5), std::nullopt);
}

TEST(RecipeParamValue, StarAndMissingFilterMatchEverything) {
  ParamValue star = conditional({when("mlp", ParamValue::constant(1)),
                                 when("*", ParamValue::constant(2)),
                                 when(std::nullopt, ParamValue::constant(3))});
  EXPECT_EQ(evaluate(star, "lm_head.weight", 0), 2);
  EXPECT_EQ(evaluate(star, "x.mlp.y", 0), 1);
  ParamValue none = conditional({when(std::nullopt, ParamValue::constant(3)),
                                 when("mlp", ParamValue::constant(1))});
  EXPECT_EQ(evaluate(none, "x.mlp.y", 0), 3);  // order decides, not specificity
}

TEST(RecipeParamValue, GradientInsideCondition) {
  ParamValue p = conditional({when("mlp", ParamValue::interpolated({0, 1})),
                              when(std::nullopt, ParamValue::interpolated({1, 0.5, 0}))});
  // mlp, t=0.3: 0.7*0 + 0.3*1 = 0.3
  EXPECT_NEAR(*evaluate(p, "layers.0.mlp.down_proj.weight", 0.3), 0.3, kEps);
  // other, t=0.75: x=1.5, i0=1, f=0.5 -> 0.5*0.5 + 0.5*0 = 0.25
  EXPECT_NEAR(*evaluate(p, "layers.0.self_attn.o_proj.weight", 0.75), 0.25, kEps);
}

TEST(RecipeParamValue, EmptyConditionalIsUnset) {
  EXPECT_EQ(evaluate(conditional({}), "w", 0.5), std::nullopt);
}

}  // namespace
}  // namespace alloy
