#include <gtest/gtest.h>

#include "recipe/recipe.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::string parse_error(std::string_view text) {
  try {
    ModelRef::parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ModelRef::parse to fail for '" << text << "'";
  return "";
}

TEST(RecipeModelRef, PathOnly) {
  ModelRef r = ModelRef::parse("org/model");
  EXPECT_EQ(r.path, "org/model");
  EXPECT_EQ(r.revision, "");
  EXPECT_FALSE(r.has_lora());
  EXPECT_EQ(r.str(), "org/model");
}

TEST(RecipeModelRef, RevisionAndLora) {
  ModelRef r = ModelRef::parse("org/model@v1.0+org/adapter@abc123");
  EXPECT_EQ(r.path, "org/model");
  EXPECT_EQ(r.revision, "v1.0");
  EXPECT_EQ(r.lora_path, "org/adapter");
  EXPECT_EQ(r.lora_revision, "abc123");
  EXPECT_TRUE(r.has_lora());

  ModelRef l = ModelRef::parse("./local/dir+./lora");
  EXPECT_EQ(l.path, "./local/dir");
  EXPECT_EQ(l.revision, "");
  EXPECT_EQ(l.lora_path, "./lora");
  EXPECT_EQ(l.lora_revision, "");
}

TEST(RecipeModelRef, StrRoundTrips) {
  for (const char* text : {"m", "org/m", "org/m@main", "org/m+org/l", "org/m@r1+org/l",
                           "org/m+org/l@r2", "org/m@r1+org/l@r2", "/abs/path/model",
                           "../rel/model@refs/pr/1"}) {
    ModelRef r = ModelRef::parse(text);
    EXPECT_EQ(r.str(), text);
    EXPECT_EQ(ModelRef::parse(r.str()), r) << text;
  }
}

TEST(RecipeModelRef, EqualityIgnoresLocation) {
  EXPECT_EQ(ModelRef::parse("a@r", {3, 1}), ModelRef::parse("a@r", {9, 5}));
  EXPECT_FALSE(ModelRef::parse("a@r") == ModelRef::parse("a"));
  EXPECT_FALSE(ModelRef::parse("a+l") == ModelRef::parse("a"));
  EXPECT_EQ(ModelRef::parse("a", {7, 2}).loc.line, 7);
}

TEST(RecipeModelRef, Errors) {
  EXPECT_NE(parse_error("@@@@@").find("multiple @"), std::string::npos);
  EXPECT_NE(parse_error("a@b@c").find("multiple @"), std::string::npos);
  EXPECT_NE(parse_error("a+l@b@c").find("multiple @"), std::string::npos);
  EXPECT_NE(parse_error("a+b+c").find("Can't parse model reference 'a+b+c'"), std::string::npos);
  EXPECT_NE(parse_error("a+b+c@d+e@f@g").find("Can't parse"), std::string::npos);
  EXPECT_NE(parse_error("").find("empty model path"), std::string::npos);
  EXPECT_NE(parse_error("@rev").find("empty model path"), std::string::npos);
  EXPECT_NE(parse_error("a+").find("empty model path"), std::string::npos);
  EXPECT_NE(parse_error("+lora").find("empty model path"), std::string::npos);
}

}  // namespace
}  // namespace alloy
