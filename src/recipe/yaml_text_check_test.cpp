// The raw-text checks before yaml-cpp: every input here made yaml-cpp 0.7's LoadAll loop forever
// (found by fuzz/recipe_yaml; checked by hand with a 3 s timeout), and each is now refused at its
// line. Valid YAML with commas in the places YAML allows them still reaches yaml-cpp.
#include "recipe/yaml_text_check.h"

#include <gtest/gtest.h>

#include "recipe/yaml_reader.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::string refusal(const std::string& text) {
  try {
    check_yaml_text(text, "r.yml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(YamlTextCheck, CommasWhereYamlCppNeverReturnsAreRefusedAtTheirLine) {
  const std::pair<const char*, int> hangs[] = {
      {",a", 1},        {",", 1},           {"  ,a", 1},       {"- a\n,", 2},        {"- [a]\n,", 2},
      {"\"x\"\n,", 2},  {"- {a: b}\n,", 2}, {"\"x\" ,", 1},    {"[a] ,", 1},         {"{a: b} ,", 1},
      {"--- ,", 1},     {"--- \n,", 2},     {"a: b\n---\n,", 3}, {"# c\n,", 2},      {"&x ,", 1},
      {"!t ,", 1},
  };
  for (const auto& [text, line] : hangs) {
    const std::string message = refusal(text);
    EXPECT_NE(message.find("r.yml:" + std::to_string(line) + ": a ',' where a value should start"), std::string::npos)
        << "'" << text << "': " << message;
  }
}

TEST(YamlTextCheck, CommasYamlAllowsPass) {
  for (const char* text : {"models: [a, b]", "x: [1,\n  ,2]", "[a\n,b]", "x: a, b", "x: \"a, b\"",
                           "x: |\n  ,starts a block scalar line\ny: 1", "x: >-\n  , folded\n", "# a, comment\nx: 1",
                           "x: {a: 1,\n  b: 2}", "x: don't, stop", "- a, b\n- c"})
    EXPECT_EQ(refusal(text), "") << text;
}

TEST(YamlTextCheck, ControlCharactersAreRefusedAtTheirLine) {
  EXPECT_NE(refusal("a: 1\nb: \x01").find("r.yml:2: control character 0x1"), std::string::npos);
  EXPECT_EQ(refusal("a:\t1\r\nb: 2\n"), "");
}

TEST(YamlTextCheck, TheRecipeReaderRunsIt) {
  YamlReader reader("recipe.yml");
  try {
    reader.load_all("merge_method: linear\nmodels:\n  - model: a\n,\n");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("recipe.yml:4: a ','"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace alloy
