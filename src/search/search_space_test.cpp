#include "search/search_space.h"

#include <gtest/gtest.h>

#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

const char* kTies = R"(merge_method: ties
base_model: base
models:
  - model: base
  - model: a
    parameters: {weight: 0.6, density: 0.4}
  - model: b
    parameters: {weight: 1.5}
parameters:
  lambda: 0.9
)";

TEST(SearchSpace, OneCoordinatePerModelOrOneForAGlobal) {
  const Recipe r = parse_recipe(kTies, "r.yml");
  const std::vector<TunedParameter> s = search_space(r, {"weight", "density=0.2:0.8", "lambda"});
  ASSERT_EQ(s.size(), 5u);  // weight of a and b (not the base), density of a and b, lambda
  EXPECT_EQ(s[0].label, "weight[a]");
  EXPECT_EQ(s[0].entry, 1);
  EXPECT_EQ(s[0].start, 0.6);
  EXPECT_EQ(s[1].start, 1.0);  // 1.5 clamped into the default weight range 0:1
  EXPECT_EQ(s[2].label, "density[a]");
  EXPECT_EQ(s[2].lower, 0.2);
  EXPECT_EQ(s[2].upper, 0.8);
  EXPECT_EQ(s[2].start, 0.4);
  EXPECT_EQ(s[3].start, 0.8);  // ties' default density 1, clamped
  EXPECT_EQ(s[4].label, "lambda");
  EXPECT_EQ(s[4].entry, -1);
  EXPECT_EQ(s[4].start, 0.9);
  EXPECT_EQ(s[4].upper, 2.0);
}

TEST(SearchSpace, ThePointIsWrittenIntoTheRecipe) {
  const Recipe r = parse_recipe(kTies, "r.yml");
  const std::vector<TunedParameter> s = search_space(r, {"weight", "lambda"});
  const Recipe t = recipe_at(r, s, std::vector<double>{0.1, 0.2, 1.7});
  EXPECT_EQ(t.models[1].parameters.at("weight").scalar, 0.1);
  EXPECT_EQ(t.models[1].parameters.at("density").scalar, 0.4);  // not tuned: as it was
  EXPECT_EQ(t.models[2].parameters.at("weight").scalar, 0.2);
  EXPECT_EQ(t.models[0].parameters.count("weight"), 0u);
  EXPECT_EQ(t.parameters.at("lambda").scalar, 1.7);
}

TEST(SearchSpace, BadNamesAndRangesAreRefused) {
  const Recipe r = parse_recipe(kTies, "r.yml");
  auto msg = [&](std::vector<std::string> tune) {
    return testing::error_message([&] { search_space(r, tune); }, "search_space");
  };
  EXPECT_NE(msg({"wieght"}).find("ties has no parameter wieght (it has: weight, density"), std::string::npos)
      << msg({"wieght"});
  EXPECT_NE(msg({"normalize"}).find("normalize=LOW:HIGH"), std::string::npos);
  EXPECT_NE(msg({"density=0.9:0.1"}).find("low end must be below"), std::string::npos);
  EXPECT_NE(msg({"density=a:1"}).find("'a' is not a number"), std::string::npos);
  EXPECT_NE(msg({"weight", "weight=0:2"}).find("named twice"), std::string::npos);
}

}  // namespace
}  // namespace alloy
