#include "recipe/yaml_reader.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(RecipeYamlReader, ParseNumber) {
  EXPECT_EQ(parse_number("0.5"), 0.5);
  EXPECT_EQ(parse_number(" 0.5 "), 0.5);
  EXPECT_EQ(parse_number("+2"), 2.0);
  EXPECT_EQ(parse_number("-1e-2"), -0.01);
  EXPECT_EQ(parse_number(".25"), 0.25);
  EXPECT_EQ(parse_number("3."), 3.0);
  for (const char* bad : {"", " ", "abc", "0.5x", "1,5", "+-1", "inf", "nan", "1e999", "0x10"})
    EXPECT_EQ(parse_number(bad), std::nullopt) << bad;
}

TEST(RecipeYamlReader, ClosestMatch) {
  constexpr std::string_view keys[] = {"merge_method", "models", "slices", "dtype", "out_dtype",
                                       "base_model", "parameters"};
  EXPECT_EQ(closest_match("merge_methd", keys), "merge_method");
  EXPECT_EQ(closest_match("model", keys), "models");
  EXPECT_EQ(closest_match("slice", keys), "slices");
  EXPECT_EQ(closest_match("dtpye", keys), "dtype");
  EXPECT_EQ(closest_match("paramters", keys), "parameters");
  EXPECT_EQ(closest_match("frobnicate", keys), std::nullopt);
  EXPECT_EQ(closest_match("xyz", keys), std::nullopt);
}

TEST(RecipeYamlReader, LocationsAndPaths) {
  YamlReader r("t.yml");
  YamlItem root = r.load_all("top:\n  - a: 1\n  - b:\n      c: [1, 2]\n").front();
  auto entries = r.entries(root);
  ASSERT_EQ(entries.size(), 1u);
  std::vector<YamlItem> items = r.list(entries[0].second);
  EXPECT_EQ(items[1].path, "top[1]");
  EXPECT_EQ(items[1].loc.line, 3);
  auto inner = r.entries(items[1]);
  EXPECT_EQ(inner[0].second.path, "top[1].b");
  try {
    r.integer(inner[0].second);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "t.yml:3: top[1].b: expected an integer, got a map");
  }
}

}  // namespace
}  // namespace alloy
