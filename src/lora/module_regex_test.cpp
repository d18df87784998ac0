#include "lora/module_regex.h"

#include <gtest/gtest.h>

#include <limits>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(ModuleRegex, SizeIsTheLengthTimesEveryRepetitionsCopies) {
  EXPECT_EQ(module_regex_size(".*q_proj"), 8u);
  EXPECT_EQ(module_regex_size("a{3}"), 4u * 4);             // up to 4 copies: the bound + 1
  EXPECT_EQ(module_regex_size("a{2,5}b{3}"), 10u * 6 * 4);  // each repetition may copy the whole
  EXPECT_EQ(module_regex_size("[\\d]{1,}"), 8u * 2);
  EXPECT_EQ(module_regex_size("a{x}{}{"), 7u);             // not repetitions
  EXPECT_EQ(module_regex_size("a{99999999999999999999999}"), std::numeric_limits<size_t>::max());
}

TEST(ModuleRegex, CompilesPeftPatternsAndRefusesWhatTheMatcherCannotBound) {
  const std::regex re = compile_module_regex(R"(.*\.(q_proj|v_proj)$)");
  EXPECT_TRUE(std::regex_match(std::string("model.layers.0.self_attn.q_proj"), re));
  EXPECT_FALSE(std::regex_match(std::string("model.layers.0.self_attn.k_proj"), re));
  EXPECT_TRUE(std::regex_match(std::string("model.layers.10.mlp"),
                               compile_module_regex(R"(model\.layers\.[\d]{1,}\.mlp)")));
  auto error_of = [](const std::string& pattern) -> std::string {
    try {
      compile_module_regex(pattern);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("(){4096}").find("8 characters, up to 32776 with its counted repetitions written out (at most 4096)"), std::string::npos) << error_of("(){4096}");
  EXPECT_NE(error_of("(a)\\1").find("back-references"), std::string::npos);
  EXPECT_NE(error_of("(q_proj").find("ECMAScript"), std::string::npos);
}

}  // namespace
}  // namespace alloy
