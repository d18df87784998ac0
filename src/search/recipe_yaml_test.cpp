#include "search/recipe_yaml.h"

#include <gtest/gtest.h>

#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(RecipeYaml, NumbersAreShortAndReadByPyYamlAsFloats) {
  EXPECT_EQ(yaml_number(0.1), "0.1");
  EXPECT_EQ(yaml_number(1.0), "1");
  EXPECT_EQ(yaml_number(-0.375), "-0.375");
  EXPECT_EQ(yaml_number(1e-8), "1.0e-08");     // PyYAML's float needs the '.'
  EXPECT_EQ(yaml_number(2.5e-7), "2.5e-07");
  EXPECT_EQ(std::stod(yaml_number(0.1 + 0.2)), 0.1 + 0.2);  // shortest text that reads back exactly
  testing::error_message([] { yaml_number(std::nan("")); }, "NaN written");
}

// Written, then read back: the same recipe, every kind of parameter value included.
TEST(RecipeYaml, RoundTripsThroughTheParser) {
  const std::string text = R"(merge_method: ties
base_model: models/base
models:
  - model: models/a
    parameters:
      weight: [0.25, 0.5, 1.0e-3]
      density:
        - filter: "self_attn"
          value: 0.3
        - value: 0.7
  - model: models/b@rev+lora/x
    parameters: {weight: 0.4}
parameters:
  lambda: 1.5
  normalize: 0
dtype: bfloat16
out_dtype: float32
tokenizer_source: base
)";
  const Recipe a = parse_recipe(text, "a.yml");
  const Recipe b = parse_recipe(recipe_yaml(a), "b.yml");
  EXPECT_EQ(b.merge_method, "ties");
  ASSERT_TRUE(b.base_model);
  EXPECT_EQ(*b.base_model, *a.base_model);
  ASSERT_EQ(b.models.size(), 2u);
  EXPECT_EQ(b.models[1].model, a.models[1].model);
  EXPECT_EQ(b.models[0].parameters.at("weight").gradient, (std::vector<double>{0.25, 0.5, 1e-3}));
  const ParamValue& density = b.models[0].parameters.at("density");
  ASSERT_EQ(density.conditions.size(), 2u);
  EXPECT_EQ(*density.conditions[0].filter, "self_attn");
  EXPECT_EQ(evaluate(density, "model.layers.0.self_attn.q_proj.weight", 0), 0.3);
  EXPECT_EQ(evaluate(density, "model.layers.0.mlp.up_proj.weight", 0), 0.7);
  EXPECT_EQ(b.models[1].parameters.at("weight").scalar, 0.4);
  EXPECT_EQ(b.parameters.at("lambda").scalar, 1.5);
  EXPECT_EQ(b.parameters.at("normalize").scalar, 0.0);
  EXPECT_EQ(b.dtype, DType::BF16);
  EXPECT_EQ(b.out_dtype, DType::F32);
  ASSERT_TRUE(b.tokenizer);
  EXPECT_EQ(b.tokenizer->source, TokenizerSettings::Source::Base);
}

TEST(RecipeYaml, ProbeKeysOnlyWhereTheMethodLearnsFromData) {
  const std::string models = "probe: all.txt\nmodels:\n  - model: a\n    probe: a.txt\n    parameters: {weight: 1}\n";
  const std::string linear = recipe_yaml(parse_recipe("merge_method: linear\n" + models, "r.yml"));
  EXPECT_EQ(linear.find("probe"), std::string::npos) << linear;
  const Recipe regmean = parse_recipe(recipe_yaml(parse_recipe("merge_method: regmean\n" + models, "r.yml")), "b.yml");
  EXPECT_EQ(regmean.probe.path, "all.txt");
  EXPECT_EQ(regmean.models[0].probe.path, "a.txt");
}

TEST(RecipeYaml, SlicesAreRefused) {
  const Recipe r = parse_recipe(
      "merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n", "s.yml");
  EXPECT_NE(testing::error_message([&] { recipe_yaml(r); }, "slices written").find("slices"), std::string::npos);
}

}  // namespace
}  // namespace alloy
