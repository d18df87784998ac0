#include "recipe/yaml_documents.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::string refusal(const std::string& text) {
  try {
    load_yaml_documents(text, "r.yml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Inputs the fuzzer found on which yaml-cpp 0.7's LoadAll never returns, and which the text check
// lets through (it takes the '{' for an open flow collection; yaml-cpp reads it as part of a plain
// scalar, so the ',' on the next line starts a value).
TEST(YamlDocuments, RefusesTheTokenYamlCppWouldLoopOn) {
  EXPECT_EQ(refusal("- \xce,-m- {:- {:ab\n,\n"),
            "r.yml:2: YAML syntax error: ',' at column 1 cannot start a value here (quote the value, or put a list in [ ])");
  EXPECT_EQ(refusal("- a\n  {\n,\n"),
            "r.yml:3: YAML syntax error: ',' at column 1 cannot start a value here (quote the value, or put a list in [ ])");
}

TEST(YamlDocuments, ReadsEveryDocumentOfAStream) {
  const auto docs = load_yaml_documents("---\na: 1\n---\n---\nb: [2, 3]\n", "r.yml");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["a"].as<int>(), 1);
  EXPECT_TRUE(docs[1].IsNull());
  EXPECT_EQ(docs[2]["b"][1].as<int>(), 3);
}

TEST(YamlDocuments, NamesTheLineOfASyntaxError) {
  EXPECT_EQ(refusal("a: b\n  c: d\n"), "r.yml:2: YAML syntax error: illegal map value");
}

}  // namespace
}  // namespace alloy
