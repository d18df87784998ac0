#include "recipe/stages.h"

#include <gtest/gtest.h>

#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::error_message;

std::vector<Stage> stages_of(const std::string& yaml) {
  return order_stages(parse_recipe_documents(yaml, "m.yml"), "/tmp/stages");
}
std::string refusal(const std::string& yaml) {
  return error_message([&] { stages_of(yaml); }, "the stages ordered");
}
std::string doc(const std::string& name, const std::string& a, const std::string& b) {
  return (name.empty() ? "" : "name: " + name + "\n") + "merge_method: linear\nmodels: [{model: " + a +
         "}, {model: " + b + "}]\n";
}

TEST(Stages, RunInDependencyOrderWithTheFinalMergeLast) {
  // Written final first, then b (reads a), then a.
  const auto s = stages_of(doc("", "b", "ext/x") + "---\n" + doc("b", "a", "ext/y") + "---\n" + doc("a", "ext/y", "ext/z"));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].recipe.name, "a");
  EXPECT_EQ(s[1].recipe.name, "b");
  EXPECT_EQ(s[2].recipe.name, "");
  EXPECT_TRUE(s[2].final);
  EXPECT_FALSE(s[0].final || s[1].final);
  EXPECT_EQ(s[0].inputs, std::vector<size_t>{});
  EXPECT_EQ(s[1].inputs, std::vector<size_t>{0});
  EXPECT_EQ(s[2].inputs, std::vector<size_t>{1});
  // References to stages read their outputs; other models are left as written.
  EXPECT_EQ(s[1].recipe.models[0].model.path, "/tmp/stages/a");
  EXPECT_EQ(s[1].recipe.models[1].model.path, "ext/y");
  EXPECT_EQ(s[2].recipe.models[0].model.path, "/tmp/stages/b");
}

TEST(Stages, WithoutAnUnnamedDocumentTheLastOneIsFinal) {
  const auto s = stages_of(doc("one", "ext/a", "ext/b") + "---\n" + doc("two", "one", "ext/c"));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].recipe.name, "two");
  EXPECT_TRUE(s[1].final);
  // slices: sources and base_model are rewritten too.
  const auto t = stages_of(doc("one", "ext/a", "ext/b") +
                           "---\nmerge_method: slerp\nbase_model: one\nslices:\n  - sources:\n"
                           "      - {model: one, layer_range: [0, 2]}\n      - {model: ext/c, layer_range: [0, 2]}\n"
                           "parameters: {t: 0.5}\n");
  EXPECT_EQ(t[1].recipe.base_model->path, "/tmp/stages/one");
  EXPECT_EQ(t[1].recipe.slices[0].sources[0].model.path, "/tmp/stages/one");
}

TEST(Stages, RefusesGraphsThatCannotRun) {
  std::string m = refusal(doc("a", "b", "ext/x") + "---\n" + doc("b", "c", "ext/x") + "---\n" + doc("c", "a", "ext/x") +
                          "---\n" + doc("", "a", "ext/x"));
  EXPECT_NE(m.find("m.yml: the stages form a cycle: 'a' (m.yml:1) -> 'b' (m.yml:5) -> 'c' (m.yml:9) -> 'a' (m.yml:1)"),
            std::string::npos) << m;
  m = refusal(doc("a", "a", "ext/x") + "---\n" + doc("", "a", "ext/x"));
  EXPECT_NE(m.find("cycle: 'a' (m.yml:1) -> 'a' (m.yml:1)"), std::string::npos) << m;
  m = refusal(doc("a", "ext/x", "ext/y") + "---\n" + doc("a", "ext/x", "ext/z") + "---\n" + doc("", "a", "ext/x"));
  EXPECT_NE(m.find("m.yml:5: name: 'a' is also the name of the document at m.yml:1"), std::string::npos) << m;
  m = refusal(doc("", "ext/x", "ext/y") + "---\n" + doc("", "ext/x", "ext/z"));
  EXPECT_NE(m.find("m.yml:4: a second document without name:"), std::string::npos) << m;
  m = refusal(doc("a", "ext/x", "ext/y") + "---\n" + doc("", "a@main", "ext/x"));
  EXPECT_NE(m.find("'a@main': stage 'a' is an output of this recipe; it has no @revision"), std::string::npos) << m;
  // The unnamed document is final wherever it stands; c is a stage nobody reads, and still runs.
  const auto s = stages_of(doc("", "ext/x", "ext/y") + "---\n" + doc("b", "ext/x", "ext/z") + "---\n" + doc("c", "b", "ext/x"));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_TRUE(s[2].final);
  EXPECT_EQ(s[2].recipe.name, "");
  const auto chain = stages_of(doc("a", "ext/x", "ext/y") + "---\n" + doc("b", "a", "ext/z") + "---\n" + doc("c", "b", "ext/x") +
              "---\n" + doc("d", "c", "ext/x") + "---\n" + doc("e", "d", "ext/x") + "---\n" + doc("f", "e", "ext/x") +
              "---\n" + doc("g", "f", "ext/x") + "---\n" + doc("h", "g", "ext/x") + "---\n" + doc("x", "h", "ext/x") +
              "---\n" + doc("y", "x", "ext/q"));
  EXPECT_EQ(chain.back().recipe.name, "y");
  m = refusal(doc("a", "ext/x", "ext/y") + "---\n" + doc("b", "final", "ext/z") + "---\n" + doc("final", "a", "ext/x"));
  EXPECT_NE(m.find(": uses 'final' (m.yml:9), the final merge (written to OUT)"), std::string::npos) << m;
  m = refusal(doc("../up", "ext/x", "ext/y") + "---\n" + doc("", "ext/x", "ext/z"));
  EXPECT_NE(m.find("m.yml:1: name: '../up' is not a directory name"), std::string::npos) << m;
}

}  // namespace
}  // namespace alloy
