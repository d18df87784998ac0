// The probe keys of a recipe: where they may appear, what they hold, and their errors' lines.
#include <gtest/gtest.h>

#include "recipe/recipe.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::string parse_error(const std::string& yaml) {
  try {
    parse_recipe(yaml, "r.yml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RecipeProbe, ModelAndTopLevelProbesKeepPathAndLine) {
  const Recipe r = parse_recipe(
      "merge_method: fisher\n"
      "probe: all.txt\n"
      "models:\n"
      "  - model: a\n"
      "    probe: a.txt\n"
      "  - model: b\n"
      "    fisher: b.fisher.safetensors\n",
      "r.yml");
  EXPECT_EQ(r.probe.path, "all.txt");
  EXPECT_EQ(r.probe.loc.line, 2);
  EXPECT_EQ(r.models[0].probe.path, "a.txt");
  EXPECT_EQ(r.models[0].probe.loc.line, 5);
  EXPECT_FALSE(r.models[0].fisher.given());
  EXPECT_FALSE(r.models[1].probe.given());
  EXPECT_EQ(r.models[1].fisher.path, "b.fisher.safetensors");
  EXPECT_EQ(r.models[1].fisher.loc.line, 7);
}

TEST(RecipeProbe, EmptyOrMisplacedProbeIsAnError) {
  EXPECT_NE(parse_error("merge_method: regmean\nmodels:\n  - model: a\n    probe: ''\n").find("r.yml:4"), std::string::npos);
  const std::string in_params = parse_error("merge_method: regmean\nmodels:\n  - model: a\n    parameters: {probe: a.txt}\n");
  EXPECT_NE(in_params.find("r.yml:4"), std::string::npos) << in_params;
  const std::string typo = parse_error("merge_method: regmean\nmodels:\n  - model: a\n    prob: a.txt\n");
  EXPECT_NE(typo.find("unknown key 'prob'"), std::string::npos) << typo;
  EXPECT_NE(typo.find("did you mean 'probe'"), std::string::npos) << typo;
}

}  // namespace
}  // namespace alloy
